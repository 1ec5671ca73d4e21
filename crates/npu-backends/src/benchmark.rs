//! The [`Benchmark`] trait: run a load generator for one pass and collect its results.

use std::time::Duration;

use perf_model_core::{BenchmarkPoint, PerformanceIndex};
use serde::{Deserialize, Serialize};

use crate::config::DecodedConfig;
use crate::engine::LOG_TAIL_LINES;
use crate::error::{NpuError, Result};
use crate::plan::{Plan, log_tail};
use crate::runner::{ChildId, ChildStatus, ProcessRunner};

/// One benchmark pass: offered rate (none = unthrottled), client concurrency, prompts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    /// Request rate, req/s; `None` sends everything at once.
    pub rate: Option<f64>,
    /// Maximum in-flight requests.
    pub concurrency: Option<u32>,
    /// Number of prompts (overrides the benchmark's setting).
    pub num_prompts: Option<u32>,
}

/// A load generator (AisBench, `vllm bench serve`, …).
pub trait Benchmark: Send {
    /// Registered name.
    fn name(&self) -> &str;

    /// One-off discovery before the first pass (AisBench: locate the model config file).
    ///
    /// # Errors
    /// As the discovery step.
    fn setup(&mut self, _runner: &dyn ProcessRunner) -> Result<()> {
        Ok(())
    }

    /// Renders a pass: argv, env, rewritten files, output directory. Pure.
    ///
    /// # Errors
    /// Configuration errors.
    fn prepare(&self, cfg: &DecodedConfig, pass: &Pass) -> Result<Plan>;

    /// Empties the output directory, writes files, runs the benchmark to completion.
    ///
    /// `engine`, when given, is watched: if it dies first the run is stopped and
    /// [`NpuError::EngineCrashed`] returned.
    ///
    /// # Errors
    /// [`NpuError::Timeout`], [`NpuError::Exited`] (non-zero exit), [`NpuError::EngineCrashed`].
    fn run(
        &self,
        plan: &Plan,
        runner: &dyn ProcessRunner,
        engine: Option<(ChildId, &Plan)>,
    ) -> Result<()> {
        run_plan(plan, runner, engine)
    }

    /// Parses the results of a finished pass.
    ///
    /// # Errors
    /// [`NpuError::Output`] (missing, ambiguous), [`NpuError::Parse`] (truncated, malformed).
    fn collect(&self, plan: &Plan) -> Result<(PerformanceIndex, BenchmarkPoint)>;
}

/// The default [`Benchmark::run`]: clear output, write files, spawn, wait with timeout.
///
/// # Errors
/// As [`Benchmark::run`].
pub fn run_plan(
    plan: &Plan,
    runner: &dyn ProcessRunner,
    engine: Option<(ChildId, &Plan)>,
) -> Result<()> {
    if let Some(dir) = &plan.output_dir {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NpuError::io(dir, e));
            }
            _ => {}
        }
        std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
    }
    plan.write_files()?;
    let child = runner.spawn(plan)?;
    let started = runner.now();
    let poll = Duration::from_secs_f64(plan.timeouts.poll_s.max(0.001));
    let grace = Duration::from_secs_f64(plan.timeouts.stop_grace_s.max(0.0));
    loop {
        let engine_dead = match engine {
            Some((id, _)) => match runner.status(id)? {
                ChildStatus::Exited { status, .. } => Some(status),
                ChildStatus::Running => None,
            },
            None => None,
        };
        let bench = runner.status(child)?;
        if let (Some(status), Some((_, eplan))) = (engine_dead, engine) {
            runner.stop(child, grace)?;
            return Err(NpuError::EngineCrashed {
                program: eplan.program().to_owned(),
                status,
                log_tail: log_tail(&eplan.log_path, LOG_TAIL_LINES),
            });
        }
        match bench {
            ChildStatus::Exited { success: true, .. } => return Ok(()),
            ChildStatus::Exited { status, .. } => {
                return Err(NpuError::Exited {
                    program: plan.program().to_owned(),
                    status,
                    log_tail: log_tail(&plan.log_path, LOG_TAIL_LINES),
                });
            }
            ChildStatus::Running => {}
        }
        if (runner.now() - started).as_secs_f64() >= plan.timeouts.run_s {
            runner.stop(child, grace)?;
            return Err(NpuError::Timeout {
                what: format!("benchmark `{}`", plan.name),
                timeout_s: plan.timeouts.run_s,
            });
        }
        runner.sleep(poll);
    }
}
