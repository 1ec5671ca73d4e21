//! [`BenchmarkEvaluation`]: one candidate through engine and benchmark (`tuning.md` §3.1).
//!
//! prepare → write → start → wait ready → pass 1 (unthrottled) → pass 2 (1.05 × measured
//! request rate, clamped) → stop → restore → collect, up to `attempts` times for retryable
//! failures. A candidate with an explicit `REQUESTRATE` value (a fine-tuning run) gets one
//! pass at that rate instead (see [`BenchmarkEvaluation::run`]). A guard stops the engine and
//! restores every written file on every exit path, including errors and panics.

use std::path::PathBuf;
use std::sync::Arc;

use perf_model_core::{BenchmarkPoint, PerformanceIndex};
use serde::{Deserialize, Serialize};

use crate::benchmark::{Benchmark, CandidateLoad, Pass};
use crate::config::DecodedConfig;
use crate::engine::{Engine, Running};
use crate::error::{NpuError, Result};
use crate::logscan::{LogClass, LogPatterns};
use crate::plan::Plan;
use crate::runner::ProcessRunner;

/// Protocol settings.
///
/// The candidate's own load knobs come first (`tuning.md` §3.1, §6): a candidate whose
/// `REQUESTRATE` env field has a value is benchmarked in one pass at that rate, whatever
/// `two_phase` says, and a candidate `CONCURRENCY` (or `MAXCONCURRENCY`) value replaces
/// `concurrency`. These options govern the rest: the swarm's candidates, whose `REQUESTRATE`
/// is frozen without a value (or absent).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationOptions {
    /// For a candidate without a `REQUESTRATE` value: pass 1 unthrottled, then pass 2 at
    /// `rate_factor` × pass 1's request throughput, the scored one (else one unthrottled
    /// pass). Ignored for a candidate with a `REQUESTRATE` value (one pass at that rate).
    pub two_phase: bool,
    /// Pass-2 rate factor.
    pub rate_factor: f64,
    /// Lower clamp of the pass-2 rate, req/s.
    pub rate_min: f64,
    /// Upper clamp of the pass-2 rate, req/s.
    pub rate_max: f64,
    /// Client concurrency of every pass when the candidate has no `CONCURRENCY` (or
    /// `MAXCONCURRENCY`) value (none: the benchmark's default, e.g. AisBench's 1000).
    pub concurrency: Option<u32>,
    /// Prompts per pass (overrides the benchmark's own setting).
    pub num_prompts: Option<u32>,
    /// Attempts per candidate (retryable errors only).
    pub attempts: u32,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        Self {
            two_phase: true,
            rate_factor: 1.05,
            rate_min: 1.0,
            rate_max: 1000.0,
            concurrency: None,
            num_prompts: None,
            attempts: 3,
        }
    }
}

/// One pass's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassResult {
    /// The pass.
    pub pass: Pass,
    /// Its index.
    pub index: PerformanceIndex,
}

/// A finished evaluation: the scored (last) pass and all passes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    /// Index of the scored pass.
    pub index: PerformanceIndex,
    /// Point of the scored pass.
    pub point: BenchmarkPoint,
    /// Every pass, in order.
    pub passes: Vec<PassResult>,
    /// Attempts used (1 when the first succeeded).
    pub attempts: u32,
    /// Errors of failed attempts before the successful one.
    pub retried_errors: Vec<String>,
}

/// An engine and a benchmark evaluated together through a [`ProcessRunner`].
///
/// This is the entry point a `perf_pso::Evaluator` adapter wraps: per candidate call
/// [`BenchmarkEvaluation::run`] and map `Err` to a failed evaluation (+inf, error text).
pub struct BenchmarkEvaluation {
    engine: Box<dyn Engine>,
    bench: Box<dyn Benchmark>,
    runner: Arc<dyn ProcessRunner>,
    opts: EvaluationOptions,
    service_patterns: LogPatterns,
    benchmark_patterns: LogPatterns,
    setup_done: bool,
}

impl std::fmt::Debug for BenchmarkEvaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchmarkEvaluation")
            .field("engine", &self.engine.name())
            .field("benchmark", &self.bench.name())
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// Stops the engine and restores files when dropped (errors and panics included).
struct Guard<'a> {
    runner: &'a dyn ProcessRunner,
    engine: &'a dyn Engine,
    running: Option<Running>,
    engine_plan: Option<Plan>,
    bench_plans: Vec<Plan>,
}

impl Guard<'_> {
    fn finish(&mut self) -> Result<()> {
        let mut first = None;
        if let Some(running) = self.running.take()
            && let Err(e) = self.engine.stop(&running, self.runner)
        {
            first.get_or_insert(e);
        }
        for p in std::mem::take(&mut self.bench_plans).iter().rev() {
            if let Err(e) = p.restore_files() {
                first.get_or_insert(e);
            }
        }
        if let Some(p) = self.engine_plan.take()
            && let Err(e) = self.engine.restore(&p)
        {
            first.get_or_insert(e);
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::warn!(error = %e, "clean-up after a failed evaluation");
        }
    }
}

impl BenchmarkEvaluation {
    /// Composes an engine and a benchmark.
    #[must_use]
    pub fn new(
        engine: Box<dyn Engine>,
        bench: Box<dyn Benchmark>,
        runner: Arc<dyn ProcessRunner>,
    ) -> Self {
        Self {
            engine,
            bench,
            runner,
            opts: EvaluationOptions::default(),
            service_patterns: LogPatterns::default(),
            benchmark_patterns: LogPatterns::default(),
            setup_done: false,
        }
    }

    /// Sets the protocol options.
    #[must_use]
    pub fn with_options(mut self, opts: EvaluationOptions) -> Self {
        self.opts = opts;
        self
    }

    /// Sets the log patterns that classify failures (`[health_check] service_errors` and
    /// `benchmark_errors`): a fatal match is never retried, a retryable one always is (within
    /// `attempts`).
    #[must_use]
    pub fn with_log_patterns(mut self, service: LogPatterns, benchmark: LogPatterns) -> Self {
        self.service_patterns = service;
        self.benchmark_patterns = benchmark;
        self
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The benchmark.
    #[must_use]
    pub fn benchmark(&self) -> &dyn Benchmark {
        self.bench.as_ref()
    }

    /// The runner.
    #[must_use]
    pub fn runner(&self) -> &Arc<dyn ProcessRunner> {
        &self.runner
    }

    /// Evaluates one candidate: the scored pass's index and point.
    ///
    /// Every attempt restarts the engine with the candidate's configuration, then runs the
    /// benchmark passes chosen by the candidate's load knobs (`tuning.md` §3.1, §6):
    /// * `REQUESTRATE` with a value (fine-tuning runs, the seed's `scheduler.run(params)`):
    ///   **one** pass at that rate and at the candidate's `CONCURRENCY` (else
    ///   [`EvaluationOptions::concurrency`]); its index carries that rate as `request_rate`;
    /// * `REQUESTRATE` absent or without a value (the swarm, where the seed freezes it with no
    ///   value): with [`EvaluationOptions::two_phase`] pass 1 unthrottled, then pass 2 at
    ///   clamp(`rate_factor` × pass 1's request throughput) without a restart, the scored
    ///   one; else one unthrottled pass.
    ///
    /// # Errors
    /// The last attempt's error (configuration errors, e.g. a `REQUESTRATE` that is not a
    /// number, are not retried).
    pub fn run(&mut self, cfg: &DecodedConfig) -> Result<(PerformanceIndex, BenchmarkPoint)> {
        self.run_detailed(cfg).map(|e| (e.index, e.point))
    }

    /// As [`BenchmarkEvaluation::run`], with every pass and the retried errors.
    ///
    /// # Errors
    /// As [`BenchmarkEvaluation::run`].
    pub fn run_detailed(&mut self, cfg: &DecodedConfig) -> Result<Evaluated> {
        if !self.setup_done {
            self.bench.setup(self.runner.as_ref())?;
            self.setup_done = true;
        }
        let attempts = self.opts.attempts.max(1);
        let mut retried = Vec::new();
        let mut attempt = 1;
        loop {
            match self.attempt(cfg) {
                Ok((index, point, passes)) => {
                    return Ok(Evaluated {
                        index,
                        point,
                        passes,
                        attempts: attempt,
                        retried_errors: retried,
                    });
                }
                Err(e) if e.is_retryable() && attempt < attempts => {
                    tracing::warn!(attempt, error = %e, "evaluation failed, retrying");
                    retried.push(e.to_string());
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn attempt(
        &self,
        cfg: &DecodedConfig,
    ) -> Result<(PerformanceIndex, BenchmarkPoint, Vec<PassResult>)> {
        let mut logs = Vec::new();
        self.attempt_inner(cfg, &mut logs)
            .map_err(|e| self.classify(e, &logs))
    }

    /// Wraps a failure in [`NpuError::Classified`] when its logs match a pattern.
    fn classify(&self, e: NpuError, logs: &[(bool, PathBuf)]) -> NpuError {
        if e.is_config_error() {
            return e;
        }
        let mut retryable = None;
        for (is_engine, path) in logs {
            let patterns = if *is_engine {
                &self.service_patterns
            } else {
                &self.benchmark_patterns
            };
            match patterns.classify(&crate::runner::read_log(path)) {
                LogClass::Fatal { name, snippet } => {
                    return NpuError::Classified {
                        class: "fatal",
                        name,
                        snippet,
                        source: Box::new(e),
                    };
                }
                LogClass::Retryable { name, snippet } => {
                    retryable.get_or_insert((name, snippet));
                }
                LogClass::Unknown => {}
            }
        }
        match retryable {
            Some((name, snippet)) => NpuError::Classified {
                class: "retryable",
                name,
                snippet,
                source: Box::new(e),
            },
            None => e,
        }
    }

    fn attempt_inner(
        &self,
        cfg: &DecodedConfig,
        logs: &mut Vec<(bool, PathBuf)>,
    ) -> Result<(PerformanceIndex, BenchmarkPoint, Vec<PassResult>)> {
        let runner = self.runner.as_ref();
        // Read before anything starts: a bad knob is a configuration error.
        let load = CandidateLoad::of(cfg)?;
        let mut guard = Guard {
            runner,
            engine: self.engine.as_ref(),
            running: None,
            engine_plan: None,
            bench_plans: Vec::new(),
        };
        let eplan = self.engine.prepare(cfg)?;
        for w in &eplan.warnings {
            tracing::warn!(engine = self.engine.name(), "{w}");
        }
        guard.engine_plan = Some(eplan.clone());
        logs.push((true, eplan.log_path.clone()));
        let running = self.engine.start(&eplan, runner)?;
        guard.running = Some(running.clone());
        self.engine.wait_ready(&running, runner)?;
        // An explicit REQUESTRATE: one pass at it; else unthrottled first.
        let mut pass = Pass {
            rate: load.rate,
            concurrency: load.concurrency.or(self.opts.concurrency),
            num_prompts: self.opts.num_prompts,
        };
        let mut passes = Vec::new();
        let n_passes = if self.opts.two_phase && load.rate.is_none() {
            2
        } else {
            1
        };
        let mut last = None;
        for i in 0..n_passes {
            if i == 1 {
                let measured = passes
                    .last()
                    .and_then(|p: &PassResult| p.index.request_throughput())
                    .ok_or_else(|| {
                        NpuError::Output("pass 1 measured no request throughput".to_owned())
                    })?;
                let r = (self.opts.rate_factor * measured).clamp(
                    self.opts.rate_min,
                    self.opts.rate_max.max(self.opts.rate_min),
                );
                pass.rate = Some(r);
            }
            let bplan = self.bench.prepare(cfg, &pass)?;
            guard.bench_plans.push(bplan.clone());
            logs.push((false, bplan.log_path.clone()));
            self.bench
                .run(&bplan, runner, Some((running.child, &running.plan)))?;
            let (index, point) = self.bench.collect(&bplan)?;
            tracing::debug!(pass = i + 1, ?index, "benchmark pass");
            // The load the benchmark actually rendered (the candidate's knobs included).
            passes.push(PassResult {
                pass: bplan.pass.unwrap_or(pass),
                index,
            });
            last = Some((index, point));
        }
        guard.finish()?;
        let (index, point) =
            last.ok_or_else(|| NpuError::Output("no benchmark pass ran".to_owned()))?;
        Ok((index, point, passes))
    }
}
