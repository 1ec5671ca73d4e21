//! `llm-perf tune --scheduler slurm|k8s` (distributed PSO) and its task, the hidden
//! `llm-perf tune-task`. The logic is the facade's `llm_perf::distributed`; this file parses the
//! flags, builds the scheduler and tells the tasks how to build the evaluator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use llm_perf::distributed::{ClusterEvaluator, ClusterOptions, TaskCommand, TaskList, TaskOutcome};
use llm_perf::sweep::{Kubernetes, Scheduler, Slurm, Volume};
use serde::{Deserialize, Serialize};

use crate::tune_cmd::{EvaluatorSpec, build_evaluator};

const HEADING: &str = "Distributed PSO (docs/tuning.md §6)";

/// The flags of a distributed `tune`.
#[derive(Args, Debug, Default)]
pub struct ClusterArgs {
    /// Evaluate each iteration's particles as one array job: `slurm` (sbatch, squeue, scancel)
    /// or `k8s` (an Indexed Job applied with kubectl). Tasks run `llm-perf tune-task` with the
    /// same evaluator as a local run; the shared directory is `--out`/distributed (same path on
    /// every node), and `--resume` continues after the driver died, reusing every result.
    #[arg(long, value_name = "slurm|k8s", help_heading = HEADING)]
    scheduler: Option<String>,
    /// The longest wait for one iteration's job, from its submission; then it is cancelled and
    /// the particles without a result are failed evaluations (default 86400).
    #[arg(long, value_name = "SECONDS", help_heading = HEADING)]
    deadline: Option<f64>,
    /// At most N tasks at once (SLURM `--array=…%N`, the Job's `parallelism`): 1 when the
    /// engines of several tasks on one node would share a port or the devices.
    #[arg(long, value_name = "N", help_heading = HEADING)]
    max_running: Option<usize>,
    /// The llm-perf the tasks run (default: this binary's absolute path for SLURM, `llm-perf`
    /// on the image's PATH for Kubernetes).
    #[arg(long, value_name = "PATH", help_heading = HEADING)]
    program: Option<String>,
    /// SLURM time limit per task (`01:00:00`; default: the partition's).
    #[arg(long, help_heading = HEADING)]
    time: Option<String>,
    /// SLURM partition.
    #[arg(long, help_heading = HEADING)]
    partition: Option<String>,
    /// SLURM account.
    #[arg(long, help_heading = HEADING)]
    account: Option<String>,
    /// SLURM generic resources per task (`gpu:1`, `npu:8`).
    #[arg(long, help_heading = HEADING)]
    gres: Option<String>,
    /// Kubernetes: the container image with `llm-perf` on its PATH.
    #[arg(long, help_heading = HEADING)]
    image: Option<String>,
    /// Kubernetes: an extended resource per pod, NAME=COUNT (`huawei.com/Ascend910=1`);
    /// repeatable.
    #[arg(long, value_name = "NAME=COUNT", help_heading = HEADING)]
    gpu: Vec<String>,
    /// Kubernetes: mount this PersistentVolumeClaim at the shared directory's path (default:
    /// the node's directory, hostPath).
    #[arg(long, value_name = "CLAIM", help_heading = HEADING)]
    pvc: Option<String>,
    /// Kubernetes: CPU request and limit per pod (default 1).
    #[arg(long, help_heading = HEADING)]
    cpu: Option<String>,
    /// Kubernetes: memory request and limit per pod (default 2Gi).
    #[arg(long, help_heading = HEADING)]
    memory: Option<String>,
    /// Kubernetes: the namespace.
    #[arg(long, help_heading = HEADING)]
    namespace: Option<String>,
}

impl ClusterArgs {
    /// Whether `--scheduler` was given.
    pub fn is_distributed(&self) -> bool {
        self.scheduler.is_some()
    }
}

/// A validated `--scheduler` and its options.
pub struct Cluster {
    scheduler: Box<dyn Scheduler>,
    program: String,
    options: ClusterOptions,
}

/// What the driver tells every task: where to run and how to build the evaluator.
#[derive(Debug, Serialize, Deserialize)]
struct TaskContext {
    /// The driver's working directory: the tuning config's relative paths (and an engine's
    /// relative log and result directories) mean the same in a task.
    cwd: PathBuf,
    /// The evaluator's flags.
    evaluator: EvaluatorSpec,
}

impl Cluster {
    /// The cluster of `args`: `None` without `--scheduler`.
    ///
    /// # Errors
    /// An unknown scheduler, an option of the other scheduler or without one, an invalid value.
    pub fn from_args(args: &ClusterArgs) -> Result<Option<Self>> {
        let slurm_flags = [
            ("--time", args.time.is_some()),
            ("--partition", args.partition.is_some()),
            ("--account", args.account.is_some()),
            ("--gres", args.gres.is_some()),
        ];
        let k8s_flags = [
            ("--image", args.image.is_some()),
            ("--gpu", !args.gpu.is_empty()),
            ("--pvc", args.pvc.is_some()),
            ("--cpu", args.cpu.is_some()),
            ("--memory", args.memory.is_some()),
            ("--namespace", args.namespace.is_some()),
        ];
        let common = [
            ("--deadline", args.deadline.is_some()),
            ("--max-running", args.max_running.is_some()),
            ("--program", args.program.is_some()),
        ];
        let Some(name) = &args.scheduler else {
            if let Some((flag, _)) = slurm_flags
                .iter()
                .chain(&k8s_flags)
                .chain(&common)
                .find(|(_, given)| *given)
            {
                bail!("{flag} is an option of distributed tuning: give --scheduler slurm|k8s");
            }
            return Ok(None);
        };
        let deadline = args.deadline.unwrap_or(86_400.0);
        if !deadline.is_finite() || deadline <= 0.0 {
            bail!("--deadline {deadline}: must be a positive number of seconds");
        }
        if args.max_running == Some(0) {
            bail!("--max-running 0: must be at least 1");
        }
        let options = ClusterOptions {
            deadline: Duration::from_secs_f64(deadline),
            poll: Duration::from_millis(500),
            settle: Duration::from_secs(10),
            parallel: args.max_running,
        };
        let (scheduler, program): (Box<dyn Scheduler>, String) = match name.as_str() {
            "slurm" => {
                if let Some((flag, _)) = k8s_flags.iter().find(|(_, given)| *given) {
                    bail!("{flag} is a Kubernetes option: it needs --scheduler k8s");
                }
                let program = match &args.program {
                    Some(p) => p.clone(),
                    None => std::env::current_exe()
                        .and_then(std::fs::canonicalize)
                        .context("cannot find the path of this llm-perf binary: give --program")?
                        .display()
                        .to_string(),
                };
                let slurm = Slurm {
                    time: args.time.clone(),
                    partition: args.partition.clone(),
                    account: args.account.clone(),
                    gres: args.gres.clone(),
                    ..Slurm::default()
                };
                (Box::new(slurm), program)
            }
            "k8s" | "kubernetes" => {
                if let Some((flag, _)) = slurm_flags.iter().find(|(_, given)| *given) {
                    bail!("{flag} is a SLURM option: it needs --scheduler slurm");
                }
                let Some(image) = &args.image else {
                    bail!("--scheduler k8s needs --image: the container image that has llm-perf");
                };
                let accelerators = args
                    .gpu
                    .iter()
                    .map(|g| crate::sweep_cmd::parse_resource(g))
                    .collect::<Result<Vec<_>>>()?;
                let defaults = Kubernetes::default();
                let k8s = Kubernetes {
                    image: image.clone(),
                    namespace: args.namespace.clone(),
                    volume: args.pvc.clone().map_or(Volume::HostPath, Volume::Claim),
                    cpu: args.cpu.clone().unwrap_or(defaults.cpu),
                    memory: args.memory.clone().unwrap_or(defaults.memory),
                    accelerators,
                    ..Kubernetes::default()
                };
                let program = args
                    .program
                    .clone()
                    .unwrap_or_else(|| "llm-perf".to_owned());
                (Box::new(k8s), program)
            }
            other => bail!("--scheduler {other}: unknown scheduler (expected slurm or k8s)"),
        };
        Ok(Some(Self {
            scheduler,
            program,
            options,
        }))
    }

    /// The driver's evaluator for a run in `out_dir` (shared directory `out_dir/distributed`;
    /// a fresh run, not `--resume`, starts it empty).
    ///
    /// # Errors
    /// The shared directory cannot be emptied, created or written; the working directory is
    /// unknown.
    pub fn evaluator(
        self,
        out_dir: &Path,
        spec: &EvaluatorSpec,
        resume: bool,
    ) -> Result<ClusterEvaluator> {
        let root = out_dir.join("distributed");
        if !resume && root.is_dir() {
            std::fs::remove_dir_all(&root).with_context(|| {
                format!(
                    "{}: cannot remove the shared directory of an earlier run",
                    root.display()
                )
            })?;
        }
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let context = serde_json::to_value(TaskContext {
            cwd,
            evaluator: spec.clone(),
        })?;
        let name = spec
            .config
            .file_stem()
            .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
        Ok(ClusterEvaluator::new(
            self.scheduler,
            &root,
            TaskCommand::new(self.program).args(["tune-task"]),
        )?
        .name(format!("llm-perf-tune-{name}"))
        .context(context)
        .options(self.options))
    }
}

/// Arguments of the hidden `llm-perf tune-task`.
#[derive(Args, Debug)]
pub struct TuneTaskArgs {
    /// The task list a distributed `tune` wrote (`…/distributed/iter-NNNN/tasks-<hash>.json`).
    tasks: PathBuf,
    /// Which candidate of the list (the array task's index).
    #[arg(long, value_name = "I")]
    index: usize,
}

/// Runs `llm-perf tune-task TASKS --index I`: one candidate of a distributed `tune`, evaluated
/// as a local run evaluates it, its result written beside the list.
pub fn tune_task(args: &TuneTaskArgs) -> Result<String> {
    let tasks = std::path::absolute(&args.tasks).unwrap_or_else(|_| args.tasks.clone());
    let list = TaskList::load(&tasks)?;
    // the index first: a wrong one is a one-line error without building anything
    let candidate = list.candidate(&tasks, args.index)?;
    let (iteration, particle) = (candidate.iteration, candidate.particle);
    let context: TaskContext = serde_json::from_value(list.context.clone()).with_context(|| {
        format!(
            "{}: the context is not one of `llm-perf tune --scheduler`",
            tasks.display()
        )
    })?;
    std::env::set_current_dir(&context.cwd).with_context(|| {
        format!(
            "cannot enter the driver's working directory {}: run the driver from a directory \
             every task sees at the same path",
            context.cwd.display()
        )
    })?;
    let mut evaluator = build_evaluator(&context.evaluator)?;
    let started = std::time::Instant::now();
    let outcome = list.run(&tasks, args.index, evaluator.as_mut())?;
    let what = match &outcome {
        TaskOutcome::AlreadyPresent(_) => "already had a result: nothing run".to_owned(),
        TaskOutcome::Evaluated(r) => match &r.evaluation.error {
            None => format!(
                "evaluated in {} s",
                crate::table::num(started.elapsed().as_secs_f64(), 4)
            ),
            Some(e) => format!("failed (recorded as a failed evaluation): {e}"),
        },
    };
    Ok(format!(
        "task {}: iteration {iteration}, particle {particle} {what}\n",
        args.index
    ))
}
