//! Cluster schedulers behind one trait: describe an array of N tasks running one command
//! with the task's index spliced in, submit it, and ask whether it has ended. `sweep submit`
//! uses it for one array per sweep; a distributed tuner (ask/tell) can submit one array per
//! iteration the same way and wait for it before reading the results directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::SweepError;
use crate::Result;

/// One argument of the command every task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskArg {
    /// A fixed argument.
    Text(String),
    /// `prefix`, the task's index (0 to N − 1, from the scheduler's environment), `suffix`:
    /// `TaskIndex { prefix: "", suffix: "/4" }` is `--shard`'s value `I/4`.
    TaskIndex {
        /// Text before the index.
        prefix: String,
        /// Text after the index.
        suffix: String,
    },
}

/// An array of `tasks` tasks, each running `program args…` with its own index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayJob {
    /// A name for the job (each scheduler makes it fit its own rules).
    pub name: String,
    /// A one-line description, written as a comment at the top of the job file.
    pub comment: String,
    /// Number of tasks, ≥ 1.
    pub tasks: usize,
    /// The program (an absolute path on a shared filesystem, or a name on the image's PATH).
    pub program: String,
    /// Its arguments.
    pub args: Vec<TaskArg>,
    /// The results directory, an absolute path: logs go to `logs/` in it; Kubernetes mounts
    /// it at the same path in every pod.
    pub dir: PathBuf,
    /// At most this many tasks at once (`None`: as many as the cluster allows): SLURM's
    /// `--array=0-N%P`, a Kubernetes Job's `parallelism`. One engine per node, or engines that
    /// listen on the same port, need `Some(1)` on a single node.
    pub parallel: Option<usize>,
}

impl ArrayJob {
    /// The arguments task `index` runs with, its index spliced into each
    /// [`TaskArg::TaskIndex`]: what a custom [`Scheduler`] (threads, local processes) passes to
    /// [`ArrayJob::program`].
    ///
    /// # Examples
    /// ```
    /// use llm_perf::sweep::{ArrayJob, TaskArg};
    /// let job = ArrayJob {
    ///     name: "demo".into(),
    ///     comment: String::new(),
    ///     tasks: 4,
    ///     program: "llm-perf".into(),
    ///     args: vec![TaskArg::Text("--shard".into()),
    ///                TaskArg::TaskIndex { prefix: String::new(), suffix: "/4".into() }],
    ///     dir: "/shared/out".into(),
    ///     parallel: None,
    /// };
    /// assert_eq!(job.task_args(2), ["--shard", "2/4"]);
    /// ```
    #[must_use]
    pub fn task_args(&self, index: usize) -> Vec<String> {
        self.args
            .iter()
            .map(|a| match a {
                TaskArg::Text(t) => t.clone(),
                TaskArg::TaskIndex { prefix, suffix } => format!("{prefix}{index}{suffix}"),
            })
            .collect()
    }
}

/// Where a submitted job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Some tasks are pending or running (how many, when the scheduler says).
    Active {
        /// Tasks (or array elements) still listed by the scheduler.
        tasks: usize,
    },
    /// Every task has ended (successfully or not: the results directory tells which items
    /// are missing or failed).
    Ended,
}

/// A submitted job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The scheduler's id: SLURM's job id, the Kubernetes Job's name.
    pub id: String,
}

/// A cluster scheduler: SLURM ([`super::Slurm`]) or Kubernetes ([`super::Kubernetes`]).
pub trait Scheduler {
    /// The job file's name in the results directory (`sweep.sbatch`, `sweep-job.yaml`).
    fn job_file(&self) -> &'static str;

    /// The job file's text for `job`.
    ///
    /// # Errors
    /// [`SweepError::Scheduler`] naming the option when a value cannot be written safely
    /// (white space or a line break in a directive, an empty image name…).
    fn render(&self, job: &ArrayJob) -> Result<String>;

    /// Submits the job file at `path` (written by [`submit_array`]).
    ///
    /// # Errors
    /// [`SweepError::Scheduler`] with the command's message when it is missing or fails.
    fn submit(&self, path: &Path) -> Result<Submission>;

    /// Asks the scheduler where `job` stands.
    ///
    /// # Errors
    /// [`SweepError::Scheduler`] when the scheduler cannot be asked.
    fn state(&self, job: &Submission) -> Result<JobState>;

    /// Ends the tasks of `job` still pending or running (the driver of a distributed tuner
    /// gave up waiting for them). The default does nothing: the tasks run on until the
    /// scheduler's own time limit, and whatever they write later is ignored.
    ///
    /// # Errors
    /// [`SweepError::Scheduler`] when the scheduler refuses.
    fn cancel(&self, job: &Submission) -> Result<()> {
        let _ = job;
        Ok(())
    }

    /// Polls [`Scheduler::state`] every `every` until the job has ended or `timeout` has
    /// passed.
    ///
    /// # Errors
    /// [`SweepError::Scheduler`] on timeout (naming the job and the tasks still listed) or
    /// when the scheduler cannot be asked.
    fn wait(&self, job: &Submission, timeout: Duration, every: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.state(job)? {
                JobState::Ended => return Ok(()),
                JobState::Active { tasks } if start.elapsed() >= timeout => {
                    return Err(SweepError::Scheduler {
                        what: format!("job {}", job.id),
                        message: format!(
                            "still {tasks} task(s) listed after {:.0} s",
                            timeout.as_secs_f64()
                        ),
                    }
                    .into());
                }
                JobState::Active { .. } => std::thread::sleep(every),
            }
        }
    }
}

/// Renders `job` with `scheduler`, writes it to `dir/<job file>` and, unless `dry_run`,
/// submits it. Returns the job file's path, its text and the submission.
///
/// # Errors
/// As [`Scheduler::render`] and [`Scheduler::submit`]; [`SweepError::Store`] when the job
/// file or the `logs/` directory cannot be written.
pub fn submit_array(
    scheduler: &dyn Scheduler,
    job: &ArrayJob,
    dry_run: bool,
) -> Result<(PathBuf, String, Option<Submission>)> {
    if job.tasks == 0 {
        return Err(SweepError::Scheduler {
            what: "--tasks".to_owned(),
            message: "must be at least 1".to_owned(),
        }
        .into());
    }
    let text = scheduler.render(job)?;
    let logs = job.dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| SweepError::store(&logs, e))?;
    let path = job.dir.join(scheduler.job_file());
    super::store::write_atomic(&path, text.as_bytes()).map_err(|e| SweepError::store(&path, e))?;
    let submission = if dry_run {
        None
    } else {
        Some(scheduler.submit(&path)?)
    };
    Ok((path, text, submission))
}

/// The command line of `job` for a POSIX shell, the task index read from `${var}`.
pub(crate) fn shell_command(job: &ArrayJob, var: &str) -> String {
    let mut words = vec![shell_quote(&job.program)];
    for a in &job.args {
        words.push(match a {
            TaskArg::Text(t) => shell_quote(t),
            TaskArg::TaskIndex { prefix, suffix } => format!(
                "\"{}${{{var}}}{}\"",
                double_quoted(prefix),
                double_quoted(suffix)
            ),
        });
    }
    words.join(" ")
}

/// `text` as one shell word: as it is when it has only safe characters, else single-quoted.
pub(crate) fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c));
    if safe {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// `text` escaped for the inside of a double-quoted shell word.
fn double_quoted(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Runs `program args…`, returning its stdout, or an error with its stderr on one line.
pub(crate) fn run_command(program: &str, args: &[&str]) -> Result<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| SweepError::Scheduler {
            what: program.to_owned(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "not found on PATH".to_owned()
            } else {
                e.to_string()
            },
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(SweepError::Scheduler {
            what: format!("{program} {}", args.join(" ")),
            message: format!("{}: {err}", out.status),
        }
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An error unless `value` (of option `what`) is one non-empty word without control
/// characters, so it can go on a directive line.
pub(crate) fn one_word(what: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SweepError::Scheduler {
            what: what.to_owned(),
            message: format!("{value:?}: must be one word without spaces or line breaks"),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("/usr/bin/llm-perf"), "/usr/bin/llm-perf");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        let job = ArrayJob {
            name: "x".into(),
            comment: String::new(),
            tasks: 4,
            program: "/bin/llm perf".into(),
            args: vec![
                TaskArg::Text("run".into()),
                TaskArg::TaskIndex {
                    prefix: "$".into(),
                    suffix: "/4".into(),
                },
            ],
            dir: PathBuf::from("/r"),
            parallel: None,
        };
        assert_eq!(
            shell_command(&job, "SLURM_ARRAY_TASK_ID"),
            r#"'/bin/llm perf' run "\$${SLURM_ARRAY_TASK_ID}/4""#
        );
    }

    #[test]
    fn directive_values_are_one_word() {
        assert!(one_word("--partition", "gpu").is_ok());
        for bad in ["", "a b", "a\nb", "a\tb"] {
            assert!(one_word("--partition", bad).is_err(), "{bad:?}");
        }
    }
}
