//! Submitting a sweep as one array job: which items, how many tasks, the command each task
//! runs.

use std::path::PathBuf;

use super::error::SweepError;
use super::file::Sweep;
use super::scheduler::{ArrayJob, Scheduler, Submission, TaskArg, submit_array};
use super::store::{ItemStatus, ResultStore};
use crate::Result;

/// How to submit a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitOptions {
    /// The `llm-perf` each task runs: an absolute path on a shared filesystem (SLURM), or a
    /// name on the image's PATH (Kubernetes).
    pub program: String,
    /// What each task loads: the sweep file's absolute path, or the results directory's
    /// `plan.json` (what pods see on the mounted volume).
    pub input: String,
    /// Tasks in the array (default: one per item to run); never more than the items.
    pub tasks: Option<usize>,
    /// Submit only the items without a result (missing or failed), through an item list
    /// the tasks read, so the shard mapping covers exactly them.
    pub only_missing: bool,
    /// Write the job file but do not submit it.
    pub dry_run: bool,
}

/// What [`submit_sweep`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitOutcome {
    /// Items in the sweep.
    pub items: usize,
    /// Items the job runs (all, or the missing and failed ones).
    pub to_run: usize,
    /// Tasks in the array (0 when there was nothing to run and nothing was written).
    pub tasks: usize,
    /// The job file (`None` when there was nothing to run).
    pub job_file: Option<PathBuf>,
    /// Its text.
    pub text: String,
    /// The item list the tasks read (`--only-missing`).
    pub list: Option<PathBuf>,
    /// The scheduler's job, unless a dry run or nothing to run.
    pub submission: Option<Submission>,
}

/// Writes the plan into `store`, chooses the items to run, writes the job file (and the item
/// list for `only_missing`) and, unless a dry run, submits the array to `scheduler`. Each
/// task `I` of `N` runs `program sweep run INPUT --out DIR [--items LIST] --shard I/N`.
///
/// # Errors
/// [`SweepError::Scheduler`] for `tasks = 0` or a scheduler failure; the store's errors.
pub fn submit_sweep(
    sweep: &Sweep,
    store: &ResultStore,
    scheduler: &dyn Scheduler,
    options: &SubmitOptions,
) -> Result<SubmitOutcome> {
    if options.tasks == Some(0) {
        return Err(SweepError::Scheduler {
            what: "--tasks 0".to_owned(),
            message: "must be at least 1".to_owned(),
        }
        .into());
    }
    store.write_plan(sweep)?;
    let dir = std::path::absolute(store.dir()).unwrap_or_else(|_| store.dir().to_path_buf());
    let items = sweep.items();
    let to_run: Vec<&str> = if options.only_missing {
        items
            .iter()
            .filter(|i| store.status(i) != ItemStatus::Done)
            .map(|i| i.id.as_str())
            .collect()
    } else {
        items.iter().map(|i| i.id.as_str()).collect()
    };
    if to_run.is_empty() {
        return Ok(SubmitOutcome {
            items: items.len(),
            to_run: 0,
            tasks: 0,
            job_file: None,
            text: String::new(),
            list: None,
            submission: None,
        });
    }
    let tasks = options.tasks.unwrap_or(to_run.len()).min(to_run.len());
    let list = if options.only_missing {
        Some(store.write_list(&to_run)?)
    } else {
        None
    };
    let mut args: Vec<TaskArg> = ["sweep", "run", options.input.as_str(), "--out"]
        .iter()
        .map(|s| TaskArg::Text((*s).to_owned()))
        .collect();
    args.push(TaskArg::Text(dir.display().to_string()));
    let mut name = format!("llm-perf-sweep-{}", sweep.name());
    if let Some(list) = &list {
        args.push(TaskArg::Text("--items".to_owned()));
        args.push(TaskArg::Text(list.display().to_string()));
        if let Some(stem) = list.file_stem().and_then(|s| s.to_str()) {
            name.push('-');
            name.push_str(&stem[..stem.len().min(8)]);
        }
    }
    args.push(TaskArg::Text("--shard".to_owned()));
    args.push(TaskArg::TaskIndex {
        prefix: String::new(),
        suffix: format!("/{tasks}"),
    });
    let what = if options.only_missing {
        format!(
            "the {} missing or failed of {} items",
            to_run.len(),
            items.len()
        )
    } else {
        format!("{} items", items.len())
    };
    let job = ArrayJob {
        name,
        comment: format!(
            "llm-perf sweep `{}`: {what} in {tasks} tasks (written by `llm-perf sweep submit`)",
            sweep.name()
        ),
        tasks,
        program: options.program.clone(),
        args,
        dir,
        parallel: None,
    };
    let (path, text, submission) = submit_array(scheduler, &job, options.dry_run)?;
    Ok(SubmitOutcome {
        items: items.len(),
        to_run: to_run.len(),
        tasks,
        job_file: Some(path),
        text,
        list,
        submission,
    })
}
