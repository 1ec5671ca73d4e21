//! Distributed tuning: each batch of candidates a tuner asks for — one PSO iteration's
//! particles — runs as **one array job** of a cluster scheduler, each task evaluating one
//! candidate with the same evaluator code as a local run, the results read back from a shared
//! directory and told to the tuner.
//!
//! ```text
//!  Tuner (perf_pso: ask ─► batch of candidates ─► tell ─► checkpoint)      driver
//!     │ try_evaluate_streaming(batch)                        ▲ evaluations, in batch order
//!     ▼                                                      │
//!  ClusterEvaluator ── tasks-<hash>.json ──► Scheduler::submit (SLURM array │ Indexed Job)
//!     │  waits (Scheduler::state), reads ◄── result-<particle>.json ◄── task I: run_task(I)
//!  ROOT/iter-NNNN/                                        (the evaluator, one candidate)
//! ```
//!
//! * **Shard assignment.** Task `I` of the array evaluates `candidates[I]` of the task list
//!   ([`TaskList`], `ROOT/iter-NNNN/tasks-<hash>.json`, named by its content so a job still
//!   running keeps its own list). [`run_task`] is what a task runs (`llm-perf tune-task FILE
//!   --index I` for the CLI's evaluators).
//! * **Atomic result store.** A task writes `ROOT/iter-NNNN/result-<particle>.json`
//!   ([`TaskResult`]: the evaluation and a key of the candidate it evaluated) with
//!   [`crate::sweep::write_atomic`] (temporary file, fsync, rename): a retried or duplicated
//!   task never leaves a torn file, and a candidate with a result is never evaluated again.
//! * **Merge.** [`ClusterEvaluator`] reads the results back in batch order while the job runs
//!   and after it ends; a task that ended without a result, or did not finish before
//!   [`ClusterOptions::deadline`] (the job is then cancelled), is a failed evaluation, which the
//!   tuner scores as it scores any failed evaluation (cost +∞).
//! * **The ask/tell driver.** [`ClusterEvaluator`] is a [`perf_pso::Evaluator`]:
//!   `perf_pso::Tuner::run` asks it for one batch per iteration, tells the swarm the outcome and
//!   checkpoints, exactly as with a local evaluator — so the same seed gives the same records,
//!   bit for bit. A custom tuner calls [`ClusterEvaluator::evaluate_batch`] with its own batches.
//! * **Resume.** Everything lives in the shared directory: a restarted driver resumes from the
//!   tuner's checkpoint, waits for a job its predecessor submitted for the same iteration
//!   (`submission.json`) if the scheduler still lists it, reads every result present and
//!   submits only the candidates without one.
//! * **Schedulers.** Any [`Scheduler`] ("submit these tasks, tell me when they end"); the
//!   built-ins are [`crate::sweep::Slurm`] and [`crate::sweep::Kubernetes`].
//!
//! ```text
//! ROOT/iter-0002/tasks-<hash>.json   candidates of one submission (task I → candidates[I]) and
//!                                    the driver's context (how tasks build the evaluator)
//! ROOT/iter-0002/result-0003.json    particle 3's evaluation, written by its task
//! ROOT/iter-0002/submission.json     the job submitted last for this iteration
//! ROOT/<job file>, ROOT/logs/        the scheduler's job file (the latest) and task logs
//! ```
//!
//! # Examples
//! A driver over a custom scheduler that runs every task in this process when the job is
//! submitted; the run equals a local one with the same seed.
//! ```
//! use llm_perf::distributed::{ClusterEvaluator, TaskCommand, run_task};
//! use llm_perf::model::{PerformanceIndex, PerformanceIndexData};
//! use llm_perf::pso::{Candidate, Evaluator, FieldSpec, Fitness, FnEvaluator, PsoParams,
//!                     SearchSpace, SeedCompat, Tuner};
//! use llm_perf::sweep::{ArrayJob, JobState, Scheduler, Submission, SweepError};
//!
//! /// The evaluator every task runs: throughput peaks at n = 40.
//! fn evaluator() -> impl Evaluator {
//!     FnEvaluator::new(|c: &Candidate| {
//!         let n = c.config.get_f64("n").ok_or("no n")?;
//!         PerformanceIndex::new(PerformanceIndexData {
//!             output_throughput: Some(4000.0 - (n - 40.0).powi(2)),
//!             success_rate: Some(1.0),
//!             ..Default::default()
//!         })
//!         .map_err(|e| e.to_string())
//!     })
//! }
//!
//! /// Runs the tasks at once, one after the other, in this process.
//! struct InProcess;
//!
//! impl Scheduler for InProcess {
//!     fn job_file(&self) -> &'static str {
//!         "job.txt"
//!     }
//!     // one line per task: its arguments, `TASKS_FILE --index I`
//!     fn render(&self, job: &ArrayJob) -> llm_perf::Result<String> {
//!         Ok((0..job.tasks).map(|i| job.task_args(i).join("\t") + "\n").collect())
//!     }
//!     fn submit(&self, path: &std::path::Path) -> llm_perf::Result<Submission> {
//!         let bad = |m: String| SweepError::Scheduler { what: "in-process".into(), message: m };
//!         let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
//!         for line in text.lines() {
//!             let args: Vec<&str> = line.split('\t').collect();
//!             let index = args[2].parse().map_err(|_| bad(line.to_owned()))?;
//!             run_task(args[0].as_ref(), index, &mut evaluator())?;
//!         }
//!         Ok(Submission { id: "local".into() })
//!     }
//!     fn state(&self, _job: &Submission) -> llm_perf::Result<JobState> {
//!         Ok(JobState::Ended)
//!     }
//! }
//!
//! let shared = tempfile::tempdir()?;
//! let space = SearchSpace::new(&[FieldSpec::int("n", "engine.n", 1, 64)], SeedCompat::Fixed)?;
//! let params = PsoParams { n_particles: 4, iters: 3, seed: 7, ..PsoParams::default() };
//! let tuner = || Tuner::new(space.clone(), params.clone(), Fitness::default()).record_timing(false);
//!
//! let mut cluster = ClusterEvaluator::new(Box::new(InProcess), shared.path(), TaskCommand::new("-"))?;
//! let distributed = tuner().run(&mut cluster)?;
//! let local = tuner().run(&mut evaluator())?;
//! assert_eq!(distributed.records, local.records);
//! assert_eq!(distributed.best_config, local.best_config);
//! assert_eq!(cluster.submissions(), 3); // one array job per iteration
//! assert!(shared.path().join("iter-0002/result-0003.json").is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use perf_pso::{Candidate, Evaluation, Evaluator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::sweep::{
    ArrayJob, JobState, Scheduler, Submission, SweepError, TaskArg, fnv1a, submit_array,
    write_atomic,
};

/// The `format` of a task list.
pub const TASKS_FORMAT: &str = "llm-perf.tune-tasks";
/// The `format` of a task's result.
pub const RESULT_FORMAT: &str = "llm-perf.tune-result";
/// The version of both formats.
pub const FORMAT_VERSION: u32 = 1;

/// The candidates of one submission: task `I` of the array evaluates `candidates[I]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskList {
    format: String,
    version: u32,
    /// What the driver tells every task (the CLI: its working directory and how to build the
    /// evaluator); `null` when none.
    pub context: Value,
    /// The candidates, one per task.
    pub candidates: Vec<Candidate>,
}

/// What one task wrote: `result-<particle>.json` beside its task list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskResult {
    format: String,
    version: u32,
    /// The candidate's iteration.
    pub iteration: usize,
    /// The candidate's particle.
    pub particle: usize,
    /// [`candidate_key`] of the candidate evaluated: a result for another candidate of the same
    /// particle (an earlier run in the same directory) is not this one's.
    pub candidate: String,
    /// The outcome, as the evaluator returned it (a failed evaluation carries its error).
    pub evaluation: Evaluation,
}

/// What [`run_task`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    /// The candidate was evaluated now and its result written.
    Evaluated(TaskResult),
    /// The candidate already had a result (a retried or duplicated task): nothing was run.
    AlreadyPresent(TaskResult),
}

impl TaskOutcome {
    /// The result, new or present.
    #[must_use]
    pub fn result(&self) -> &TaskResult {
        match self {
            Self::Evaluated(r) | Self::AlreadyPresent(r) => r,
        }
    }
}

/// A stable key of a candidate: 16 hex digits of the FNV-1a-64 hash of its JSON (iteration,
/// particle, position bits, configuration).
#[must_use]
pub fn candidate_key(candidate: &Candidate) -> String {
    let json = serde_json::to_string(candidate).unwrap_or_default();
    format!("{:016x}", fnv1a(&json))
}

/// `ROOT/iter-NNNN`: the directory of an iteration's task lists and results.
#[must_use]
pub fn iteration_dir(root: &Path, iteration: usize) -> PathBuf {
    root.join(format!("iter-{iteration:04}"))
}

/// `DIR/result-NNNN.json`: where `particle`'s result goes.
#[must_use]
pub fn result_path(dir: &Path, particle: usize) -> PathBuf {
    dir.join(format!("result-{particle:04}.json"))
}

/// Reads `candidate`'s result from its iteration directory `dir`: `None` when there is none,
/// or only one for another candidate of the same particle.
///
/// # Errors
/// [`SweepError::Store`] naming the file when it cannot be read or is not a result.
pub fn read_result(dir: &Path, candidate: &Candidate) -> Result<Option<TaskResult>> {
    let path = result_path(dir, candidate.particle);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SweepError::store(&path, e).into()),
    };
    let result: TaskResult = serde_json::from_str(&text).map_err(|e| {
        SweepError::store(
            &path,
            format!("not a tune result ({e}): remove it to evaluate the candidate again"),
        )
    })?;
    if result.format != RESULT_FORMAT || result.version != FORMAT_VERSION {
        return Err(SweepError::store(
            &path,
            format!(
                "format {} v{} is not {RESULT_FORMAT} v{FORMAT_VERSION}",
                result.format, result.version
            ),
        )
        .into());
    }
    if result.candidate != candidate_key(candidate) {
        tracing::debug!(path = %path.display(), "a result for another candidate: not reused");
        return Ok(None);
    }
    Ok(Some(result))
}

impl TaskList {
    /// A task list of `candidates` with the driver's `context`.
    #[must_use]
    pub fn new(context: Value, candidates: Vec<Candidate>) -> Self {
        Self {
            format: TASKS_FORMAT.to_owned(),
            version: FORMAT_VERSION,
            context,
            candidates,
        }
    }

    /// Reads a task list.
    ///
    /// # Errors
    /// [`SweepError::File`] naming the file when it cannot be read, does not parse or is of
    /// another format.
    pub fn load(path: &Path) -> Result<Self> {
        let file = path.display().to_string();
        let bad = |message: String| SweepError::File {
            file: file.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let list: Self =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a tune task list: {e}")))?;
        if list.format != TASKS_FORMAT || list.version != FORMAT_VERSION {
            return Err(bad(format!(
                "format {} v{} is not {TASKS_FORMAT} v{FORMAT_VERSION}",
                list.format, list.version
            ))
            .into());
        }
        Ok(list)
    }

    /// Candidate `index` of the list at `path`.
    ///
    /// # Errors
    /// [`SweepError::Shard`] naming the index and the file when the list is shorter.
    pub fn candidate(&self, path: &Path, index: usize) -> Result<&Candidate> {
        self.candidates.get(index).ok_or_else(|| {
            SweepError::Shard {
                source_text: format!("--index {index}"),
                message: format!(
                    "out of range: {} has {} candidate(s)",
                    path.display(),
                    self.candidates.len()
                ),
            }
            .into()
        })
    }

    /// Evaluates candidate `index` of this list (read from `path`) with `evaluator` and writes
    /// its result beside the list, atomically — unless it already has one.
    ///
    /// # Errors
    /// As [`TaskList::candidate`] and [`read_result`]; the evaluator failing as a whole
    /// ([`Evaluator::try_evaluate_streaming`]); [`SweepError::Store`] when the result cannot be
    /// written. A failed *evaluation* is not an error: it is the result.
    pub fn run(
        &self,
        path: &Path,
        index: usize,
        evaluator: &mut dyn Evaluator,
    ) -> Result<TaskOutcome> {
        let candidate = self.candidate(path, index)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        if let Some(present) = read_result(dir, candidate)? {
            return Ok(TaskOutcome::AlreadyPresent(present));
        }
        let evaluation = evaluator
            .try_evaluate_streaming(std::slice::from_ref(candidate), &mut |_, _| {})
            .map_err(|e| SweepError::Scheduler {
                what: format!("task {index} ({})", path.display()),
                message: format!("the evaluator failed: {e}"),
            })?
            .into_iter()
            .next()
            .unwrap_or_else(|| Evaluation::failed("the evaluator returned no result", 0.0));
        let result = TaskResult {
            format: RESULT_FORMAT.to_owned(),
            version: FORMAT_VERSION,
            iteration: candidate.iteration,
            particle: candidate.particle,
            candidate: candidate_key(candidate),
            evaluation,
        };
        let out = result_path(dir, candidate.particle);
        let text = serde_json::to_string_pretty(&result).map_err(|e| SweepError::store(&out, e))?;
        write_atomic(&out, (text + "\n").as_bytes()).map_err(|e| SweepError::store(&out, e))?;
        Ok(TaskOutcome::Evaluated(result))
    }
}

/// What a task runs: reads the task list at `tasks_file`, evaluates candidate `index` with
/// `evaluator` and writes its result (see [`TaskList::run`]).
///
/// # Errors
/// As [`TaskList::load`] and [`TaskList::run`].
pub fn run_task(
    tasks_file: &Path,
    index: usize,
    evaluator: &mut dyn Evaluator,
) -> Result<TaskOutcome> {
    TaskList::load(tasks_file)?.run(tasks_file, index, evaluator)
}

/// The command every task runs: `program args… TASKS_FILE --index I`, which must call
/// [`run_task`] (`llm-perf tune-task` does, with the CLI's evaluators).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskCommand {
    /// The program: an absolute path on a shared filesystem (SLURM), or a name on the image's
    /// PATH (Kubernetes).
    pub program: String,
    /// Its leading arguments (`["tune-task"]`).
    pub args: Vec<String>,
}

impl TaskCommand {
    /// `program` without leading arguments.
    #[must_use]
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// With these leading arguments.
    #[must_use]
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}

/// How a [`ClusterEvaluator`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The longest wait for one job, from its submission (or from a restarted driver's first
    /// look at it): then the job is cancelled ([`Scheduler::cancel`]) and its candidates
    /// without a result are failed evaluations. Default 24 h.
    pub deadline: Duration,
    /// How often the results directory and the scheduler are polled. Default 1 s.
    pub poll: Duration,
    /// After the scheduler says the job has ended, how long results still missing are looked
    /// for (a shared filesystem may show a file late). Default 10 s.
    pub settle: Duration,
    /// At most this many tasks at once ([`ArrayJob::parallel`]). Default: no limit.
    pub parallel: Option<usize>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
            settle: Duration::from_secs(10),
            parallel: None,
        }
    }
}

/// The job submitted last for an iteration, so a restarted driver can wait for it.
#[derive(Serialize, Deserialize)]
struct SubmissionRecord {
    /// The scheduler's job id.
    job: String,
    /// The task list's file name.
    tasks: String,
    /// Submissions for the iteration before this one (a Kubernetes Job needs a new name to
    /// run the same list again).
    #[serde(default)]
    attempt: usize,
}

/// An [`Evaluator`] that runs each batch as one array job of a [`Scheduler`] and reads the
/// results back from the shared directory (see the [module documentation](self)).
pub struct ClusterEvaluator {
    scheduler: Box<dyn Scheduler>,
    root: PathBuf,
    command: TaskCommand,
    name: String,
    context: Value,
    options: ClusterOptions,
    submissions: usize,
}

impl std::fmt::Debug for ClusterEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterEvaluator")
            .field("root", &self.root)
            .field("command", &self.command)
            .field("name", &self.name)
            .field("options", &self.options)
            .field("submissions", &self.submissions)
            .finish_non_exhaustive()
    }
}

impl ClusterEvaluator {
    /// An evaluator submitting to `scheduler`, with `root` as the shared directory (created if
    /// missing; it must be at the same path on every node) and tasks running `command`.
    ///
    /// # Errors
    /// [`SweepError::Store`] naming the directory when it cannot be created or written.
    pub fn new(scheduler: Box<dyn Scheduler>, root: &Path, command: TaskCommand) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| {
            SweepError::store(root, format!("cannot create the shared directory: {e}"))
        })?;
        let probe = root.join(format!(".probe-{}", std::process::id()));
        write_atomic(&probe, b"")
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|e| SweepError::store(root, format!("shared directory not writable: {e}")))?;
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Ok(Self {
            scheduler,
            root,
            command,
            name: "llm-perf-tune".to_owned(),
            context: Value::Null,
            options: ClusterOptions::default(),
            submissions: 0,
        })
    }

    /// Names the jobs `<name>-<iteration>-<hash>` (default `llm-perf-tune`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// What every task list carries for the tasks ([`TaskList::context`]).
    #[must_use]
    pub fn context(mut self, context: Value) -> Self {
        self.context = context;
        self
    }

    /// Waiting options.
    #[must_use]
    pub fn options(mut self, options: ClusterOptions) -> Self {
        self.options = options;
        self
    }

    /// The shared directory (absolute).
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Jobs submitted by this evaluator so far.
    #[must_use]
    pub fn submissions(&self) -> usize {
        self.submissions
    }

    /// Evaluates `batch` on the cluster: reuses the results present, waits for a job of the
    /// same iteration a previous driver submitted, submits the candidates still without a
    /// result as one array job, waits for it (reading results as they come, reported through
    /// `done(i, evaluation)` in batch order) and returns one evaluation per candidate, in
    /// order. Candidates left without a result are failed evaluations.
    ///
    /// # Errors
    /// [`SweepError::Scheduler`] when the batch mixes iterations or repeats a particle, or the
    /// scheduler cannot submit; [`SweepError::Store`] when the shared directory cannot be
    /// written or holds a file that is not a result.
    pub fn evaluate_batch(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Result<Vec<Evaluation>> {
        let mut slots = vec![None; batch.len()];
        let mut next = 0;
        self.fill(batch, &mut slots, &mut next, done)?;
        Ok(slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| Evaluation::failed("no result", 0.0)))
            .collect())
    }

    /// [`ClusterEvaluator::evaluate_batch`] into `slots`, `next` the first not yet reported.
    fn fill(
        &mut self,
        batch: &[Candidate],
        slots: &mut [Option<Evaluation>],
        next: &mut usize,
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Result<()> {
        let Some(first) = batch.first() else {
            return Ok(());
        };
        let iteration = first.iteration;
        let bad_batch = |message: String| SweepError::Scheduler {
            what: format!("the batch of iteration {iteration}"),
            message,
        };
        if let Some(c) = batch.iter().find(|c| c.iteration != iteration) {
            return Err(
                bad_batch(format!("mixes iterations {iteration} and {}", c.iteration)).into(),
            );
        }
        let mut particles: Vec<usize> = batch.iter().map(|c| c.particle).collect();
        particles.sort_unstable();
        if let Some(w) = particles.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad_batch(format!("particle {} appears twice", w[0])).into());
        }
        let dir = iteration_dir(&self.root, iteration);
        std::fs::create_dir_all(&dir).map_err(|e| SweepError::store(&dir, e))?;
        let mut missing = self.collect(&dir, batch, slots, next, done)?;
        if missing == 0 {
            return Ok(());
        }
        // a job for this iteration that a previous driver submitted and the scheduler still
        // lists: its results are on their way
        let record = dir.join("submission.json");
        let earlier = std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| serde_json::from_str::<SubmissionRecord>(&t).ok());
        let attempt = earlier.as_ref().map_or(0, |r| r.attempt + 1);
        if let Some(old) = earlier {
            let job = Submission { id: old.job };
            match self.scheduler.state(&job) {
                Ok(JobState::Active { tasks }) => {
                    tracing::info!(
                        iteration,
                        job = %job.id,
                        tasks,
                        "waiting for the job of an earlier driver"
                    );
                    if self.wait(&job, &dir, batch, slots, next, done)? {
                        self.cancel(&job);
                    }
                    missing = self.collect(&dir, batch, slots, next, done)?;
                }
                Ok(JobState::Ended) => {}
                Err(e) => tracing::warn!(job = %job.id, "cannot ask about an earlier job: {e}"),
            }
            if missing == 0 {
                return Ok(());
            }
        }
        let todo: Vec<usize> = (0..batch.len()).filter(|&k| slots[k].is_none()).collect();
        let list = TaskList::new(
            self.context.clone(),
            todo.iter().map(|&k| batch[k].clone()).collect(),
        );
        let text =
            serde_json::to_string_pretty(&list).map_err(|e| SweepError::store(&dir, e))? + "\n";
        let hash = format!("{:016x}", fnv1a(&text));
        let tasks_path = dir.join(format!("tasks-{hash}.json"));
        write_atomic(&tasks_path, text.as_bytes())
            .map_err(|e| SweepError::store(&tasks_path, e))?;
        let short: String = self.name.chars().take(24).collect();
        let mut args: Vec<TaskArg> = self
            .command
            .args
            .iter()
            .cloned()
            .map(TaskArg::Text)
            .collect();
        args.extend([
            TaskArg::Text(tasks_path.display().to_string()),
            TaskArg::Text("--index".to_owned()),
            TaskArg::TaskIndex {
                prefix: String::new(),
                suffix: String::new(),
            },
        ]);
        let job = ArrayJob {
            name: if attempt == 0 {
                format!("{short}-{iteration}-{}", &hash[..8])
            } else {
                format!("{short}-{iteration}-{}-{attempt}", &hash[..8])
            },
            comment: format!(
                "{}: iteration {iteration}, {} of {} candidates (written by llm-perf's distributed tuner)",
                self.name,
                todo.len(),
                batch.len()
            ),
            tasks: todo.len(),
            program: self.command.program.clone(),
            args,
            dir: self.root.clone(),
            parallel: self.options.parallel,
        };
        let (_, _, submission) = submit_array(self.scheduler.as_ref(), &job, false)?;
        let submission = submission.ok_or_else(|| SweepError::Scheduler {
            what: "submit".to_owned(),
            message: "the scheduler returned no job".to_owned(),
        })?;
        self.submissions += 1;
        tracing::info!(
            iteration,
            job = %submission.id,
            tasks = todo.len(),
            "submitted"
        );
        let record_text = serde_json::to_string(&SubmissionRecord {
            job: submission.id.clone(),
            tasks: format!("tasks-{hash}.json"),
            attempt,
        })
        .map_err(|e| SweepError::store(&record, e))?;
        write_atomic(&record, record_text.as_bytes()).map_err(|e| SweepError::store(&record, e))?;
        let timed_out = self.wait(&submission, &dir, batch, slots, next, done)?;
        if timed_out {
            self.cancel(&submission);
        } else {
            // the job has ended: give a shared filesystem a moment to show late files
            let settled = Instant::now();
            while self.collect(&dir, batch, slots, next, done)? > 0
                && settled.elapsed() < self.options.settle
            {
                std::thread::sleep(self.options.poll.min(self.options.settle));
            }
        }
        let logs = self.root.join("logs");
        for (task, &k) in todo.iter().enumerate() {
            if slots[k].is_none() {
                let error = if timed_out {
                    format!(
                        "no result within the deadline of {} s (job {} cancelled)",
                        self.options.deadline.as_secs_f64(),
                        submission.id
                    )
                } else {
                    format!(
                        "no result from task {task} of job {} (see its log in {})",
                        submission.id,
                        logs.display()
                    )
                };
                tracing::warn!(iteration, particle = batch[k].particle, "{error}");
                slots[k] = Some(Evaluation::failed(error, 0.0));
            }
        }
        self.report(slots, next, done);
        Ok(())
    }

    /// Reads the results present for the empty slots, reports what can be reported in order;
    /// returns how many are still missing.
    fn collect(
        &self,
        dir: &Path,
        batch: &[Candidate],
        slots: &mut [Option<Evaluation>],
        next: &mut usize,
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Result<usize> {
        for (slot, candidate) in slots.iter_mut().zip(batch) {
            if slot.is_none()
                && let Some(result) = read_result(dir, candidate)?
            {
                *slot = Some(result.evaluation);
            }
        }
        self.report(slots, next, done);
        Ok(slots.iter().filter(|s| s.is_none()).count())
    }

    /// Reports the slots from `next` on while they are filled.
    #[allow(clippy::unused_self)]
    fn report(
        &self,
        slots: &[Option<Evaluation>],
        next: &mut usize,
        done: &mut dyn FnMut(usize, &Evaluation),
    ) {
        while let Some(Some(e)) = slots.get(*next) {
            done(*next, e);
            *next += 1;
        }
    }

    /// Polls until every result is there, the job has ended, or the deadline; `true` on the
    /// deadline.
    fn wait(
        &self,
        job: &Submission,
        dir: &Path,
        batch: &[Candidate],
        slots: &mut [Option<Evaluation>],
        next: &mut usize,
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Result<bool> {
        let started = Instant::now();
        loop {
            if self.collect(dir, batch, slots, next, done)? == 0 {
                return Ok(false);
            }
            if self.scheduler.state(job)? == JobState::Ended {
                return Ok(false);
            }
            if started.elapsed() >= self.options.deadline {
                return Ok(true);
            }
            std::thread::sleep(self.options.poll);
        }
    }

    /// Cancels `job`, logging a refusal (its late results are ignored anyway).
    fn cancel(&self, job: &Submission) {
        tracing::warn!(job = %job.id, "deadline passed: cancelling the job");
        if let Err(e) = self.scheduler.cancel(job) {
            tracing::warn!(job = %job.id, "cannot cancel: {e}");
        }
    }
}

impl Evaluator for ClusterEvaluator {
    /// As [`Evaluator::evaluate_streaming`] without a callback.
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation> {
        self.evaluate_streaming(batch, &mut |_, _| {})
    }

    /// [`ClusterEvaluator::evaluate_batch`]; when the batch fails as a whole, its candidates
    /// not yet reported are failed evaluations carrying the error (the tuner calls
    /// [`Evaluator::try_evaluate_streaming`], which stops instead).
    fn evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Vec<Evaluation> {
        let mut slots = vec![None; batch.len()];
        let mut next = 0;
        if let Err(e) = self.fill(batch, &mut slots, &mut next, done) {
            let error = e.to_string();
            tracing::warn!("the batch failed: {error}");
            for slot in slots.iter_mut().filter(|s| s.is_none()) {
                *slot = Some(Evaluation::failed(error.clone(), 0.0));
            }
            self.report(&slots, &mut next, done);
        }
        slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| Evaluation::failed("no result", 0.0)))
            .collect()
    }

    fn try_evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> std::result::Result<Vec<Evaluation>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.evaluate_batch(batch, done)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;

    use perf_model_core::{PerformanceIndex, PerformanceIndexData};
    use perf_pso::{
        FieldSpec, Fitness, FnEvaluator, PsoError, PsoParams, SearchSpace, SeedCompat, Tuner,
    };

    use super::*;

    fn toy(c: &Candidate) -> std::result::Result<PerformanceIndex, String> {
        let n = c.config.get_f64("n").ok_or("no n")?;
        let m = c.config.get_f64("m").ok_or("no m")?;
        if n > 56.0 {
            return Err(format!("out of memory at n = {n}"));
        }
        PerformanceIndex::new(PerformanceIndexData {
            output_throughput: Some(100.0 * n - (m - 3.0).powi(2)),
            ttft_ms: Some(10.0 + n),
            success_rate: Some(1.0),
            ..Default::default()
        })
        .map_err(|e| e.to_string())
    }

    fn tuner(dir: &Path, iters: usize) -> Tuner {
        let space = SearchSpace::new(
            &[
                FieldSpec::int("n", "engine.n", 1, 64),
                FieldSpec::int("m", "engine.m", 0, 8),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        let params = PsoParams {
            n_particles: 5,
            iters,
            seed: 2024,
            ..PsoParams::default()
        };
        Tuner::new(space, params, Fitness::default())
            .record_timing(false)
            .results_file(dir.join("results.jsonl"))
            .checkpoint_file(dir.join("checkpoint.json"))
    }

    /// A scheduler running each task on its own thread: `lose` holds task indices never
    /// started, `fail_state_at` the submission (1-based) whose `state` fails once its first
    /// `keep` tasks have run (the driver "dies" while waiting), `never_ends` a job the
    /// scheduler lists forever.
    #[derive(Default)]
    struct Threads {
        runs: Arc<AtomicUsize>,
        submitted: AtomicUsize,
        jobs: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
        lose: Vec<usize>,
        fail_state_at: Option<(usize, usize)>,
        never_ends: bool,
        cancelled: Arc<AtomicUsize>,
    }

    impl Scheduler for Threads {
        fn job_file(&self) -> &'static str {
            "job.tsv"
        }
        fn render(&self, job: &ArrayJob) -> Result<String> {
            Ok((0..job.tasks)
                .map(|i| job.task_args(i).join("\t") + "\n")
                .collect())
        }
        fn submit(&self, path: &Path) -> Result<Submission> {
            let n = self.submitted.fetch_add(1, Ordering::SeqCst) + 1;
            let text = std::fs::read_to_string(path).map_err(|e| SweepError::store(path, e))?;
            let keep = match self.fail_state_at {
                Some((at, keep)) if at == n => keep,
                _ => usize::MAX,
            };
            let mut handles = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if self.lose.contains(&i) || i >= keep || self.never_ends {
                    continue;
                }
                let args: Vec<String> = line.split('\t').map(str::to_owned).collect();
                assert_eq!(args[1], "--index");
                let runs = Arc::clone(&self.runs);
                handles.push(std::thread::spawn(move || {
                    let mut ev = FnEvaluator::new(move |c: &Candidate| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        toy(c)
                    });
                    let index = args[2].parse().unwrap();
                    run_task(Path::new(&args[0]), index, &mut ev).unwrap();
                }));
            }
            let id = format!("job{n}");
            self.jobs.lock().unwrap().insert(id.clone(), handles);
            Ok(Submission { id })
        }
        fn state(&self, job: &Submission) -> Result<JobState> {
            let n: usize = job.id[3..].parse().unwrap();
            if self.fail_state_at.is_some_and(|(at, _)| at == n) {
                // let the kept tasks finish first, then "lose" the driver
                for h in self
                    .jobs
                    .lock()
                    .unwrap()
                    .remove(&job.id)
                    .unwrap_or_default()
                {
                    h.join().unwrap();
                }
                return Err(SweepError::Scheduler {
                    what: "squeue".into(),
                    message: "the driver died".into(),
                }
                .into());
            }
            if self.never_ends {
                return Ok(JobState::Active { tasks: 1 });
            }
            let jobs = self.jobs.lock().unwrap();
            let active = jobs
                .get(&job.id)
                .map_or(0, |hs| hs.iter().filter(|h| !h.is_finished()).count());
            Ok(if active == 0 {
                JobState::Ended
            } else {
                JobState::Active { tasks: active }
            })
        }
        fn cancel(&self, _job: &Submission) -> Result<()> {
            self.cancelled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn fast() -> ClusterOptions {
        ClusterOptions {
            deadline: Duration::from_secs(60),
            poll: Duration::from_millis(2),
            settle: Duration::ZERO,
            parallel: None,
        }
    }

    fn cluster(root: &Path, scheduler: Threads) -> ClusterEvaluator {
        ClusterEvaluator::new(Box::new(scheduler), root, TaskCommand::new("-"))
            .unwrap()
            .options(fast())
    }

    #[test]
    fn the_driver_equals_a_local_run_and_a_dead_driver_loses_nothing() {
        let local_dir = tempfile::tempdir().unwrap();
        let local_runs = AtomicUsize::new(0);
        let mut local_ev = FnEvaluator::new(|c: &Candidate| {
            local_runs.fetch_add(1, Ordering::SeqCst);
            toy(c)
        });
        let local = tuner(local_dir.path(), 4).run(&mut local_ev).unwrap();
        let local_journal = std::fs::read(local_dir.path().join("results.jsonl")).unwrap();
        let evaluations = local_runs.load(Ordering::SeqCst);
        assert!(local.records.iter().any(|r| r.error.is_some()));
        assert!(local.records.iter().any(|r| r.cached));

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("distributed");
        let runs = Arc::new(AtomicUsize::new(0));
        let threads = Threads {
            runs: Arc::clone(&runs),
            ..Threads::default()
        };
        let mut ev = cluster(&root, threads);
        let report = tuner(dir.path(), 4).run(&mut ev).unwrap();
        assert_eq!(report.records, local.records);
        assert_eq!(report.best_config, local.best_config);
        assert_eq!(report.best_cost.to_bits(), local.best_cost.to_bits());
        assert_eq!(
            std::fs::read(dir.path().join("results.jsonl")).unwrap(),
            local_journal
        );
        assert_eq!(runs.load(Ordering::SeqCst), evaluations);
        // one job per iteration (an iteration of cached particles only submits nothing)
        assert!(ev.submissions() <= 4 && ev.submissions() >= 3);

        // the driver dies while waiting for iteration 2's job, after 2 of its tasks
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("distributed");
        let runs = Arc::new(AtomicUsize::new(0));
        let dying = Threads {
            runs: Arc::clone(&runs),
            fail_state_at: Some((3, 2)),
            ..Threads::default()
        };
        let err = tuner(dir.path(), 4)
            .run(&mut cluster(&root, dying))
            .unwrap_err();
        assert!(
            matches!(err, PsoError::Evaluator { iteration: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("the driver died"), "{err}");
        let before = runs.load(Ordering::SeqCst);
        // restarted: the two results on disk are read, only the others run
        let restarted = Threads {
            runs: Arc::clone(&runs),
            ..Threads::default()
        };
        let resumed = tuner(dir.path(), 4)
            .resume(true)
            .run(&mut cluster(&root, restarted))
            .unwrap();
        assert_eq!(resumed.records, local.records);
        assert_eq!(
            std::fs::read(dir.path().join("results.jsonl")).unwrap(),
            local_journal
        );
        assert_eq!(runs.load(Ordering::SeqCst), evaluations, "{before} before");

        // a third start from the end: nothing is submitted or run again
        let idle = Threads {
            runs: Arc::clone(&runs),
            ..Threads::default()
        };
        let mut ev = cluster(&root, idle);
        let again = tuner(dir.path(), 4).resume(true).run(&mut ev).unwrap();
        assert_eq!(again.records, local.records);
        assert_eq!(ev.submissions(), 0);
        assert_eq!(runs.load(Ordering::SeqCst), evaluations);
    }

    fn candidates(iteration: usize, n: usize) -> Vec<Candidate> {
        let space = SearchSpace::new(
            &[
                FieldSpec::int("n", "engine.n", 1, 64),
                FieldSpec::int("m", "engine.m", 0, 8),
            ],
            SeedCompat::Fixed,
        )
        .unwrap();
        (0..n)
            .map(|p| {
                #[allow(clippy::cast_precision_loss)]
                let position = vec![0.1 * p as f64, 0.5];
                Candidate {
                    iteration,
                    particle: p,
                    config: space.decode(&position).unwrap(),
                    position,
                }
            })
            .collect()
    }

    #[test]
    fn lost_tasks_and_deadlines_are_failed_evaluations() {
        let dir = tempfile::tempdir().unwrap();
        let cancelled = Arc::new(AtomicUsize::new(0));
        let lossy = Threads {
            lose: vec![1],
            cancelled: Arc::clone(&cancelled),
            ..Threads::default()
        };
        let mut ev = cluster(dir.path(), lossy);
        let batch = candidates(0, 3);
        let mut reported = Vec::new();
        let out = ev
            .evaluate_batch(&batch, &mut |i, _| reported.push(i))
            .unwrap();
        assert_eq!(reported, [0, 1, 2]);
        assert!(out[0].index.is_some() && out[2].index.is_some());
        let error = out[1].error.as_deref().unwrap();
        assert!(
            error.starts_with("no result from task 1 of job job1 (see its log in"),
            "{error}"
        );
        assert_eq!(cancelled.load(Ordering::SeqCst), 0);
        // the lost candidate only is submitted again
        let mut ev = cluster(dir.path(), Threads::default());
        let out = ev.evaluate_batch(&batch, &mut |_, _| {}).unwrap();
        assert!(out.iter().all(|e| e.index.is_some()));
        assert_eq!(ev.submissions(), 1);
        let lists = std::fs::read_dir(dir.path().join("iter-0000"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("tasks-"))
            })
            .count();
        assert_eq!(lists, 2);
        // the second submission of the iteration: a new job name for Kubernetes
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("iter-0000/submission.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(record["attempt"], 1);

        // a job that never ends: the deadline makes its candidates failed and cancels it
        let hung = Threads {
            never_ends: true,
            cancelled: Arc::clone(&cancelled),
            ..Threads::default()
        };
        let mut ev = cluster(dir.path(), hung).options(ClusterOptions {
            deadline: Duration::from_millis(30),
            ..fast()
        });
        let out = ev
            .evaluate_batch(&candidates(1, 2), &mut |_, _| {})
            .unwrap();
        assert_eq!(
            out[0].error.as_deref(),
            Some("no result within the deadline of 0.03 s (job job1 cancelled)")
        );
        assert!(out[1].error.is_some());
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_result_for_another_candidate_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let mut ev = cluster(
            dir.path(),
            Threads {
                runs: Arc::clone(&runs),
                ..Threads::default()
            },
        );
        let batch = candidates(0, 2);
        ev.evaluate_batch(&batch, &mut |_, _| {}).unwrap();
        let mut other = batch.clone();
        other[1].position[1] = 0.75;
        ev.evaluate_batch(&other, &mut |_, _| {}).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let kept = read_result(&dir.path().join("iter-0000"), &other[1])
            .unwrap()
            .unwrap();
        assert_eq!(kept.candidate, candidate_key(&other[1]));
        assert!(
            read_result(&dir.path().join("iter-0000"), &batch[1])
                .unwrap()
                .is_none()
        );
        // a duplicated task of the second submission finds its result: nothing runs
        let second = std::fs::read_dir(dir.path().join("iter-0000"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("tasks-"))
                    && TaskList::load(p).unwrap().candidates == other[1..]
            })
            .unwrap();
        let outcome = run_task(&second, 0, &mut FnEvaluator::new(toy)).unwrap();
        assert!(matches!(outcome, TaskOutcome::AlreadyPresent(_)));
        assert_eq!(outcome.result().particle, 1);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn bad_batches_and_directories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut ev = cluster(dir.path(), Threads::default());
        let mut mixed = candidates(0, 2);
        mixed[1].iteration = 1;
        let e = ev.evaluate_batch(&mixed, &mut |_, _| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the batch of iteration 0: mixes iterations 0 and 1"
        );
        let mut twice = candidates(0, 2);
        twice[1].particle = 0;
        let e = ev.evaluate_batch(&twice, &mut |_, _| {}).unwrap_err();
        assert!(e.to_string().ends_with("particle 0 appears twice"), "{e}");
        assert!(ev.evaluate_batch(&[], &mut |_, _| {}).unwrap().is_empty());
        assert_eq!(ev.submissions(), 0);
        // the shared directory below a regular file
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = ClusterEvaluator::new(
            Box::new(Threads::default()),
            &file.join("shared"),
            TaskCommand::new("-"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot create the shared directory"), "{e}");
        assert!(!e.contains('\n'));
        // a foreign file where a result goes
        let iter = dir.path().join("iter-0005");
        std::fs::create_dir_all(&iter).unwrap();
        std::fs::write(iter.join("result-0000.json"), "{}").unwrap();
        let e = ev
            .evaluate_batch(&candidates(5, 1), &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("result-0000.json: not a tune result") && e.contains("remove it"),
            "{e}"
        );
        // a task index beyond the list
        let list = TaskList::new(Value::Null, candidates(0, 2));
        let path = dir.path().join("tasks.json");
        std::fs::write(&path, serde_json::to_string(&list).unwrap()).unwrap();
        let e = run_task(&path, 2, &mut FnEvaluator::new(toy))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--index 2: out of range:"), "{e}");
        assert!(e.ends_with("has 2 candidate(s)"), "{e}");
        std::fs::write(&path, "{\"format\": \"other\"}").unwrap();
        let e = run_task(&path, 0, &mut FnEvaluator::new(toy))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a tune task list"), "{e}");
    }
}
