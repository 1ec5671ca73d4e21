//! The [`Benchmark`] trait: run a load generator for one pass and collect its results.

use std::time::Duration;

use perf_model_core::{BenchmarkPoint, PerformanceIndex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{DecodedConfig, is_unset};
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

impl Pass {
    /// This pass with the candidate's own load knobs ([`CandidateLoad`]) in place of the
    /// pass's where the candidate carries a value: `CONCURRENCY` (or `MAXCONCURRENCY`) wins
    /// over [`Pass::concurrency`] and `REQUESTRATE` over [`Pass::rate`] (`npu.md` §3.1). A knob
    /// without a value (absent, `null`, NaN, ±inf) leaves the pass's value, so the two-phase
    /// protocol's measured pass-2 rate still applies to a candidate whose `REQUESTRATE` is
    /// frozen without a value.
    ///
    /// # Examples
    /// ```
    /// use npu_backends::{DecodedConfig, Pass};
    /// let pass = Pass { rate: Some(3.78), concurrency: Some(1000), num_prompts: Some(8) };
    /// let cfg = DecodedConfig::new()
    ///     .with_env("CONCURRENCY", 64)
    ///     .with_env("REQUESTRATE", serde_json::Value::Null);
    /// let p = pass.with_candidate_load(&cfg)?;
    /// assert_eq!((p.rate, p.concurrency, p.num_prompts), (Some(3.78), Some(64), Some(8)));
    /// # Ok::<(), npu_backends::NpuError>(())
    /// ```
    ///
    /// # Errors
    /// As [`CandidateLoad::of`].
    pub fn with_candidate_load(self, cfg: &DecodedConfig) -> Result<Self> {
        let load = CandidateLoad::of(cfg)?;
        Ok(Self {
            rate: load.rate.or(self.rate),
            concurrency: load.concurrency.or(self.concurrency),
            num_prompts: self.num_prompts,
        })
    }
}

/// The benchmark load a candidate sets itself: its `CONCURRENCY` (or `MAXCONCURRENCY`) and
/// `REQUESTRATE` env fields (`tuning.md` §1.2, §6; `npu.md` §3.1), when they carry a value.
///
/// During the swarm the seed freezes `CONCURRENCY` at its maximum and `REQUESTRATE` without a
/// value (unthrottled); the fine-tuning stage then sets both explicitly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidateLoad {
    /// `CONCURRENCY`, else `MAXCONCURRENCY` (the first of the two with a value), truncated to
    /// an integer as the seed's `int()` does; `None` when neither has a value.
    pub concurrency: Option<u32>,
    /// `REQUESTRATE` in req/s; `None` when absent or without a value (`null`, NaN, ±inf,
    /// `"inf"`, `"none"`), which means unthrottled.
    pub rate: Option<f64>,
}

impl CandidateLoad {
    /// Env names of the concurrency knob, in order of precedence.
    pub const CONCURRENCY_NAMES: [&'static str; 2] = ["CONCURRENCY", "MAXCONCURRENCY"];
    /// Env name of the request-rate knob.
    pub const RATE_NAME: &'static str = "REQUESTRATE";

    /// Reads the knobs of `cfg` (env fields; names upper-cased as [`DecodedConfig::env_vars`]
    /// does).
    ///
    /// # Examples
    /// ```
    /// use npu_backends::DecodedConfig;
    /// use npu_backends::benchmark::CandidateLoad;
    /// let cfg = DecodedConfig::new()
    ///     .with_env("MAXCONCURRENCY", 25.0)
    ///     .with_env("REQUESTRATE", "inf");
    /// let load = CandidateLoad::of(&cfg)?;
    /// assert_eq!((load.concurrency, load.rate), (Some(25), None));
    /// let cfg = DecodedConfig::new().with_env("REQUESTRATE", 2.5);
    /// assert_eq!(CandidateLoad::of(&cfg)?.rate, Some(2.5));
    /// # Ok::<(), npu_backends::NpuError>(())
    /// ```
    ///
    /// # Errors
    /// [`NpuError::InvalidConfig`]: a value that is not a number (or a numeric string), a
    /// concurrency below 1 or above `u32::MAX`, or a negative request rate.
    pub fn of(cfg: &DecodedConfig) -> Result<Self> {
        let vars = cfg.env_vars();
        let mut concurrency = None;
        for name in Self::CONCURRENCY_NAMES {
            if let Some(x) = vars
                .get(name)
                .map(|v| knob_number(name, v))
                .transpose()?
                .flatten()
            {
                if !(1.0..=f64::from(u32::MAX)).contains(&x) {
                    return Err(NpuError::InvalidConfig(format!(
                        "{name} = {x}: the client concurrency must be in [1, {}]",
                        u32::MAX
                    )));
                }
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = x.trunc() as u32;
                concurrency = Some(n);
                break;
            }
        }
        let rate = vars
            .get(Self::RATE_NAME)
            .map(|v| knob_number(Self::RATE_NAME, v))
            .transpose()?
            .flatten();
        if let Some(r) = rate
            && r < 0.0
        {
            return Err(NpuError::InvalidConfig(format!(
                "{} = {r}: the request rate must be ≥ 0 (no value = unthrottled)",
                Self::RATE_NAME
            )));
        }
        Ok(Self { concurrency, rate })
    }
}

/// A knob's number: `None` when unset (`null`, NaN, ±inf and their spellings).
fn knob_number(name: &str, v: &Value) -> Result<Option<f64>> {
    if is_unset(v) {
        return Ok(None);
    }
    let x = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match x {
        Some(x) if x.is_finite() => Ok(Some(x)),
        Some(_) => Ok(None),
        None => Err(NpuError::InvalidConfig(format!(
            "{name} = {v}: expected a number (or no value)"
        ))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(cfg: &DecodedConfig) -> CandidateLoad {
        CandidateLoad::of(cfg).expect("valid knobs")
    }

    #[test]
    fn candidate_knobs_are_read_from_env_fields() {
        assert_eq!(load(&DecodedConfig::new()), CandidateLoad::default());
        let cfg = DecodedConfig::new()
            .with_env("concurrency", 25.9)
            .with_env("MAXCONCURRENCY", 7)
            .with_env("REQUESTRATE", "2.5");
        assert_eq!(
            load(&cfg),
            CandidateLoad {
                concurrency: Some(25),
                rate: Some(2.5)
            }
        );
        // A CONCURRENCY without a value falls through to MAXCONCURRENCY.
        let cfg = DecodedConfig::new()
            .with_env("CONCURRENCY", Value::Null)
            .with_env("MAXCONCURRENCY", "64");
        assert_eq!(load(&cfg).concurrency, Some(64));
        // A path field of the same name is not a benchmark knob.
        let cfg = DecodedConfig::new().with_path("X.REQUESTRATE", 3.0);
        assert_eq!(load(&cfg).rate, None);
        for none in [
            Value::Null,
            json!("inf"),
            json!("NaN"),
            json!("none"),
            json!("1e999"),
        ] {
            let cfg = DecodedConfig::new()
                .with_env("REQUESTRATE", none.clone())
                .with_env("CONCURRENCY", none.clone());
            assert_eq!(load(&cfg), CandidateLoad::default(), "{none}");
        }
        assert_eq!(
            load(&DecodedConfig::new().with_env("REQUESTRATE", 0)).rate,
            Some(0.0)
        );
    }

    #[test]
    fn bad_knobs_are_configuration_errors() {
        for cfg in [
            DecodedConfig::new().with_env("REQUESTRATE", "fast"),
            DecodedConfig::new().with_env("REQUESTRATE", -1.0),
            DecodedConfig::new().with_env("REQUESTRATE", true),
            DecodedConfig::new().with_env("CONCURRENCY", 0),
            DecodedConfig::new().with_env("CONCURRENCY", 0.5),
            DecodedConfig::new().with_env("MAXCONCURRENCY", 1e12),
        ] {
            let err = CandidateLoad::of(&cfg).unwrap_err();
            assert!(
                matches!(err, NpuError::InvalidConfig(_)) && err.is_config_error(),
                "{cfg:?}: {err}"
            );
        }
    }

    #[test]
    fn candidate_knobs_win_over_the_pass() {
        let pass = Pass {
            rate: Some(3.78),
            concurrency: Some(200),
            num_prompts: Some(8),
        };
        let explicit = DecodedConfig::new()
            .with_env("CONCURRENCY", 64)
            .with_env("REQUESTRATE", 10.0);
        assert_eq!(
            pass.with_candidate_load(&explicit).unwrap(),
            Pass {
                rate: Some(10.0),
                concurrency: Some(64),
                num_prompts: Some(8)
            }
        );
        // Knobs without a value leave the pass as it is (pass 2 of the two-phase protocol).
        let frozen = DecodedConfig::new()
            .with_env("CONCURRENCY", Value::Null)
            .with_env("REQUESTRATE", Value::Null);
        assert_eq!(pass.with_candidate_load(&frozen).unwrap(), pass);
    }
}
