//! [`Profiler`]: runs a sweep point by point through a [`ProcessRunner`], with the cache,
//! failure recording and cancellation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{NpuError, Result};
use crate::plan::{Plan, Timeouts};
use crate::profile::backends::{
    BackendConfig, BackendKind, PointMeasurement, child_env, parse_sglang_log,
    parse_sglang_results, parse_vllm_latencies, sglang_skipped, vllm_runs,
};
use crate::profile::cache::{SweepCache, config_key};
use crate::profile::failure::{FailureReason, classify_exit};
use crate::profile::openai::{Endpoint, measure_run};
use crate::profile::output::{BenchmarkFile, FailedConfig, Metadata, PointOutcome, ResultRow};
use crate::profile::plan::{SweepPlan, SweepPoint};
use crate::runner::{ChildStatus, ProcessRunner, read_log};

/// The error a cancelled sweep ends with (the one [`SystemRunner::shutdown`] gives every
/// later spawn): [`NpuError::Spawn`] with an [`std::io::ErrorKind::Interrupted`] source.
///
/// [`SystemRunner::shutdown`]: crate::SystemRunner::shutdown
#[must_use]
pub fn interrupted(what: &str) -> NpuError {
    NpuError::Spawn {
        program: what.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "the profile sweep was interrupted",
        ),
    }
}

/// Whether `e` is a cancelled sweep or a shut-down runner (see [`interrupted`]).
#[must_use]
pub fn is_interrupted(e: &NpuError) -> bool {
    matches!(e, NpuError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::Interrupted)
}

/// Everything a sweep needs besides the runner.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileOptions {
    /// The benchmark and its settings.
    pub backend: BackendConfig,
    /// The grid.
    pub plan: SweepPlan,
    /// Directory of the cache files (`benchmark_cache`, as the profiler); engine logs go to
    /// `<cache_dir>/logs/<key>/`.
    pub cache_dir: PathBuf,
    /// Ignore (and replace) cached points.
    pub overwrite_cache: bool,
    /// Limit of one engine invocation (SGLang: all runs of a point; vLLM: one pass; OpenAI:
    /// one run), seconds.
    pub timeout_s: f64,
    /// Child status poll interval, seconds.
    pub poll_s: f64,
    /// SIGTERM → SIGKILL grace when stopping a child, seconds.
    pub stop_grace_s: f64,
    /// `metadata.gpu_type`; `None` asks `nvidia-smi` (`unknown` when that fails).
    pub gpu_type: Option<String>,
    /// Environment added for the benchmark children.
    pub env: BTreeMap<String, String>,
}

impl ProfileOptions {
    /// Defaults around a backend and a grid: cache `benchmark_cache`, 30 min per invocation,
    /// 50 ms polls, 10 s grace, GPU detected.
    #[must_use]
    pub fn new(backend: BackendConfig, plan: SweepPlan) -> Self {
        Self {
            backend,
            plan,
            cache_dir: PathBuf::from("benchmark_cache"),
            overwrite_cache: false,
            timeout_s: 1800.0,
            poll_s: 0.05,
            stop_grace_s: 10.0,
            gpu_type: None,
            env: BTreeMap::new(),
        }
    }
}

/// A progress report, for a caller that prints one line per point.
#[derive(Clone, Debug)]
pub enum Progress<'a> {
    /// Before the first point.
    Start {
        /// Points of the grid.
        total: usize,
        /// Points found in the cache (skipped).
        cached: usize,
        /// The cache file.
        cache_path: &'a Path,
    },
    /// A point finished.
    Point {
        /// 1-based index among the points measured now.
        index: usize,
        /// Points measured now.
        of: usize,
        /// What it came to.
        outcome: &'a PointOutcome,
    },
}

impl std::fmt::Display for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start {
                total,
                cached,
                cache_path,
            } => write!(
                f,
                "{cached} of {total} points cached in {}; measuring {}",
                cache_path.display(),
                total - cached
            ),
            Self::Point { index, of, outcome } => {
                write!(f, "[{index}/{of}] {}: ", outcome.point())?;
                match outcome {
                    PointOutcome::Measured(r) => {
                        write!(f, "prefill {:.1} ms", r.prefill_latency * 1000.0)?;
                        if let Some(d) = r.median_decode_latency {
                            write!(f, ", decode {:.1} ms", d * 1000.0)?;
                        }
                        if let (Some(n), Some(why)) = (r.num_failed_runs, &r.partial_success_reason)
                        {
                            write!(f, " ({} of {} runs; {why})", r.num_runs, r.num_runs + n)?;
                        }
                        Ok(())
                    }
                    PointOutcome::Failed(fc) => f.write_str(&fc.reason),
                }
            }
        }
    }
}

/// The result of [`Profiler::run`].
#[derive(Clone, Debug, PartialEq)]
pub struct SweepOutcome {
    /// The benchmark file (every grid point, cached or new).
    pub file: BenchmarkFile,
    /// Grid points taken from the cache.
    pub cached_points: usize,
    /// Grid points measured now.
    pub measured_points: usize,
    /// The cache file.
    pub cache_path: PathBuf,
}

/// How a child ended.
enum Exit {
    Success,
    Failed(String),
    TimedOut,
}

/// Runs sweeps.
pub struct Profiler<'r> {
    opts: ProfileOptions,
    runner: &'r dyn ProcessRunner,
    cancel: Arc<AtomicBool>,
}

impl std::fmt::Debug for Profiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiler")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl<'r> Profiler<'r> {
    /// A profiler starting its children through `runner`.
    #[must_use]
    pub fn new(opts: ProfileOptions, runner: &'r dyn ProcessRunner) -> Self {
        Self {
            opts,
            runner,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Shares a cancellation flag: once set (a Ctrl-C handler sets it, then shuts the runner
    /// down), the child in flight is stopped, nothing more is recorded and
    /// [`run`](Self::run) returns the [`interrupted`] error. Points finished before stay
    /// cached.
    #[must_use]
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = cancel;
        self
    }

    /// The options.
    #[must_use]
    pub fn options(&self) -> &ProfileOptions {
        &self.opts
    }

    fn check_cancel(&self, what: &str) -> Result<()> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(interrupted(what))
        } else {
            Ok(())
        }
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts {
            run_s: self.opts.timeout_s,
            poll_s: self.opts.poll_s,
            stop_grace_s: self.opts.stop_grace_s,
        }
    }

    /// Runs `argv` to its end (or its time limit), output to `log`.
    fn exec(&self, name: &str, argv: Vec<String>, log: &Path, timeout_s: f64) -> Result<Exit> {
        self.check_cancel(name)?;
        let plan = Plan {
            name: name.to_owned(),
            env: child_env(&self.opts.env),
            argv,
            log_path: log.to_path_buf(),
            timeouts: self.timeouts(),
            ..Plan::default()
        };
        tracing::debug!(command = %plan.command_text(), "profile run");
        let id = self.runner.spawn(&plan)?;
        let grace = Duration::from_secs_f64(self.opts.stop_grace_s.max(0.0));
        let limit = Duration::from_secs_f64(timeout_s.max(0.0));
        let start = self.runner.now();
        loop {
            let status = self.runner.status(id)?;
            if self.cancel.load(Ordering::SeqCst) {
                self.runner.stop(id, grace)?;
                return Err(interrupted(name));
            }
            match status {
                ChildStatus::Exited { status, success } => {
                    // Stops what the child left in its process group (TP workers).
                    self.runner.stop(id, grace)?;
                    return Ok(if success {
                        Exit::Success
                    } else {
                        Exit::Failed(status)
                    });
                }
                ChildStatus::Running if self.runner.now() - start >= limit => {
                    tracing::warn!(name, timeout_s, "benchmark run timed out; stopping it");
                    self.runner.stop(id, grace)?;
                    return Ok(Exit::TimedOut);
                }
                ChildStatus::Running => self
                    .runner
                    .sleep(Duration::from_secs_f64(self.opts.poll_s.max(0.001))),
            }
        }
    }

    fn work_dir(&self, key: &str) -> PathBuf {
        self.opts.cache_dir.join("logs").join(key)
    }

    fn measure_sglang(&self, dir: &Path, point: SweepPoint) -> Result<PointMeasurement> {
        let plan = &self.opts.plan;
        let stem = format!("bs{}_il{}", point.batch_size, point.input_len);
        let result = dir.join(format!("{stem}.jsonl"));
        let log = dir.join(format!("{stem}.log"));
        remove_if_exists(&result)?;
        let argv = self
            .opts
            .backend
            .sglang_argv(point, plan.output_len, plan.num_runs, &result);
        let exit = self.exec("sglang.bench_one_batch", argv, &log, self.opts.timeout_s)?;
        let output = read_log(&log);
        let (runs, failure) = match exit {
            Exit::Success => match std::fs::read_to_string(&result) {
                Ok(text) => match parse_sglang_results(&text, &result.display().to_string(), point)
                {
                    Ok(runs) => {
                        let missing = runs.len() < plan.num_runs as usize;
                        let why = if sglang_skipped(&output) {
                            FailureReason::SkippedDueToLimits
                        } else {
                            FailureReason::Exception(format!(
                                "{} of {} runs in {}",
                                runs.len(),
                                plan.num_runs,
                                result.display()
                            ))
                        };
                        (runs, missing.then_some(why))
                    }
                    Err(e) => (Vec::new(), Some(FailureReason::Exception(e.to_string()))),
                },
                Err(_) if sglang_skipped(&output) => {
                    (Vec::new(), Some(FailureReason::SkippedDueToLimits))
                }
                Err(e) => (
                    Vec::new(),
                    Some(FailureReason::Exception(format!(
                        "no result file {}: {e}",
                        result.display()
                    ))),
                ),
            },
            Exit::Failed(status) => (
                parse_sglang_log(&output, point, plan.output_len),
                Some(classify_exit(&output, &status)),
            ),
            Exit::TimedOut => (
                parse_sglang_log(&output, point, plan.output_len),
                Some(FailureReason::Timeout),
            ),
        };
        Ok(PointMeasurement { runs, failure })
    }

    /// One `vllm bench latency` pass: its latencies, or why it failed.
    fn vllm_pass(
        &self,
        dir: &Path,
        point: SweepPoint,
        output_len: u32,
    ) -> Result<std::result::Result<Vec<f64>, FailureReason>> {
        let stem = format!(
            "bs{}_il{}_ol{output_len}",
            point.batch_size, point.input_len
        );
        let json = dir.join(format!("{stem}.json"));
        let log = dir.join(format!("{stem}.log"));
        remove_if_exists(&json)?;
        let argv = self
            .opts
            .backend
            .vllm_argv(point, output_len, self.opts.plan.num_runs, &json);
        let exit = self.exec("vllm bench latency", argv, &log, self.opts.timeout_s)?;
        Ok(match exit {
            Exit::Success => match std::fs::read_to_string(&json) {
                Ok(text) => parse_vllm_latencies(&text, &json.display().to_string())
                    .map_err(|e| FailureReason::Exception(e.to_string())),
                Err(e) => Err(FailureReason::Exception(format!(
                    "no result file {}: {e}",
                    json.display()
                ))),
            },
            Exit::Failed(status) => Err(classify_exit(&read_log(&log), &status)),
            Exit::TimedOut => Err(FailureReason::Timeout),
        })
    }

    fn measure_vllm(&self, dir: &Path, point: SweepPoint) -> Result<PointMeasurement> {
        let n = self.opts.plan.output_len;
        let failed = |reason| PointMeasurement {
            runs: Vec::new(),
            failure: Some(reason),
        };
        let prefill = match self.vllm_pass(dir, point, 1)? {
            Ok(p) => p,
            Err(reason) => return Ok(failed(reason)),
        };
        let full = if n > 1 {
            match self.vllm_pass(dir, point, n)? {
                Ok(f) => f,
                Err(reason) => return Ok(failed(reason)),
            }
        } else {
            Vec::new()
        };
        Ok(match vllm_runs(point, n, &prefill, &full) {
            Ok(runs) => {
                let missing = runs.len() < self.opts.plan.num_runs as usize;
                let why = FailureReason::Exception(format!(
                    "{} of {} iterations reported",
                    runs.len(),
                    self.opts.plan.num_runs
                ));
                PointMeasurement {
                    runs,
                    failure: missing.then_some(why),
                }
            }
            Err(e) => failed(FailureReason::Exception(e.to_string())),
        })
    }

    fn measure_openai(&self, point: SweepPoint) -> Result<PointMeasurement> {
        let url = self.opts.backend.url.as_deref().unwrap_or_default();
        let ep = Endpoint::parse(url)?;
        let mut m = PointMeasurement::default();
        for run in 0..self.opts.plan.num_runs {
            self.check_cancel("openai request")?;
            match measure_run(
                &ep,
                &self.opts.backend.model,
                point,
                self.opts.plan.output_len,
                run,
                Duration::from_secs_f64(self.opts.timeout_s.max(0.0)),
                &self.cancel,
            )? {
                Ok(r) => m.runs.push(r),
                Err(reason) => {
                    m.failure = Some(reason);
                    break;
                }
            }
        }
        Ok(m)
    }

    /// Measures one point (no cache).
    ///
    /// # Errors
    /// What ends a sweep: a child that cannot be started, an unreachable server, a log
    /// directory that cannot be created, cancellation.
    pub fn measure_point(&self, point: SweepPoint) -> Result<PointOutcome> {
        let key = config_key(&self.opts.backend.cache_config(&self.opts.plan));
        let dir = self.work_dir(&key);
        std::fs::create_dir_all(&dir).map_err(|e| NpuError::io(&dir, e))?;
        let m = match self.opts.backend.kind {
            BackendKind::Sglang => self.measure_sglang(&dir, point)?,
            BackendKind::Vllm => self.measure_vllm(&dir, point)?,
            BackendKind::Openai => self.measure_openai(point)?,
        };
        self.check_cancel("profile point")?;
        Ok(outcome(
            point,
            self.opts.plan.output_len,
            self.opts.plan.num_runs,
            m,
        ))
    }

    /// Runs the sweep: cached points are skipped (unless `overwrite_cache`), every other
    /// point is measured, recorded in the cache and reported to `progress`; the benchmark
    /// file of the whole grid is returned (not written: see
    /// [`BenchmarkFile::write_to_dir`]).
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`] for bad settings; a corrupt cache file; what
    /// [`measure_point`](Self::measure_point) returns. Points finished before an error stay
    /// cached.
    pub fn run(&self, progress: &mut dyn FnMut(&Progress<'_>)) -> Result<SweepOutcome> {
        self.opts.backend.validate()?;
        if !(self.opts.timeout_s > 0.0 && self.opts.timeout_s.is_finite()) {
            return Err(NpuError::InvalidConfig(format!(
                "--timeout must be a positive number of seconds, got {}",
                self.opts.timeout_s
            )));
        }
        if self.opts.backend.kind == BackendKind::Openai {
            Endpoint::parse(self.opts.backend.url.as_deref().unwrap_or_default())?;
        }
        let plan = &self.opts.plan;
        let mut cache = SweepCache::open(
            &self.opts.cache_dir,
            self.opts.backend.cache_config(plan),
            self.opts.overwrite_cache,
        )?;
        let points = plan.points();
        let todo: Vec<SweepPoint> = points
            .iter()
            .copied()
            .filter(|p| cache.get(*p).is_none())
            .collect();
        let cached = points.len() - todo.len();
        progress(&Progress::Start {
            total: points.len(),
            cached,
            cache_path: cache.path(),
        });
        for (i, &point) in todo.iter().enumerate() {
            let outcome = self.measure_point(point)?;
            cache.record(outcome.clone())?;
            progress(&Progress::Point {
                index: i + 1,
                of: todo.len(),
                outcome: &outcome,
            });
        }
        let gpu_type = match &self.opts.gpu_type {
            Some(g) => g.clone(),
            None => self.detect_gpu(),
        };
        let mut results = Vec::new();
        let mut failed_configs = Vec::new();
        for p in &points {
            match cache.get(*p) {
                Some(PointOutcome::Measured(r)) => results.push(r.clone()),
                Some(PointOutcome::Failed(f)) => failed_configs.push(f.clone()),
                None => {}
            }
        }
        let file = BenchmarkFile {
            metadata: Metadata {
                benchmark_type: "comprehensive_sweep".to_owned(),
                model_path: self.opts.backend.model.clone(),
                backend: self.opts.backend.kind.name().to_owned(),
                max_batch_size: plan.max_batch_size(),
                max_input_tokens: plan.max_input_tokens(),
                output_len: plan.output_len,
                tp_size: self.opts.backend.tp_size,
                pp_size: self.opts.backend.pp_size,
                gpu_type,
                batch_sizes_tested: plan.batch_sizes.clone(),
                input_lens_tested: plan.input_lens.clone(),
                num_runs: plan.num_runs,
                failed_configs,
                successful_configs: u32::try_from(results.len()).unwrap_or(u32::MAX),
            },
            results,
        };
        Ok(SweepOutcome {
            file,
            cached_points: cached,
            measured_points: todo.len(),
            cache_path: cache.path().to_path_buf(),
        })
    }

    /// The first GPU name `nvidia-smi --query-gpu=name --format=csv,noheader` prints, or
    /// `unknown` (no NVIDIA tool, an error, 15 s without an answer).
    fn detect_gpu(&self) -> String {
        let log = self.opts.cache_dir.join("logs").join("nvidia-smi.log");
        let argv = ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
            .map(str::to_owned)
            .to_vec();
        match self.exec("nvidia-smi", argv, &log, 15.0) {
            Ok(Exit::Success) => read_log(&log)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map_or_else(|| "unknown".to_owned(), str::to_owned),
            _ => "unknown".to_owned(),
        }
    }
}

/// Removes a stale result file.
fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NpuError::io(path, e)),
        _ => Ok(()),
    }
}

/// A point's outcome from its runs: the averaged row (with `num_failed_runs` and
/// `partial_success_reason` when some planned runs are missing), or a failed entry (reason
/// `unknown` if none was given).
#[must_use]
pub fn outcome(
    point: SweepPoint,
    output_len: u32,
    num_runs: u32,
    m: PointMeasurement,
) -> PointOutcome {
    let done = u32::try_from(m.runs.len()).unwrap_or(u32::MAX);
    match ResultRow::from_runs(m.runs) {
        Some(mut row) => {
            if let Some(reason) = m.failure
                && done < num_runs
            {
                row.num_failed_runs = Some(num_runs - done);
                row.partial_success_reason = Some(reason.to_string());
            }
            PointOutcome::Measured(row)
        }
        None => PointOutcome::Failed(FailedConfig {
            batch_size: point.batch_size,
            input_len: point.input_len,
            output_len,
            reason: m
                .failure
                .map_or_else(|| "unknown".to_owned(), |r| r.to_string()),
        }),
    }
}
