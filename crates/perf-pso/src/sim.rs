//! The simulator evaluator (feature `sim`): knobs → `perf_sim::SimConfig` through dotted paths,
//! performance from the run's summary (specs/tuning.md §4).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use perf_model_core::{PerformanceIndex, PerformanceIndexData, StepTimeModel};
use perf_sim::{Percentiles, RunOptions, SimConfig, Simulation, Summary, WorkloadTape};
use serde_json::Value;

use crate::equivalent_runs::EquivalentRuns;
use crate::error::{PsoError, Result};
use crate::evaluator::{Candidate, Evaluation, Evaluator, evaluate_parallel};
use crate::space::{DecodedConfig, Placement, set_path};

/// The default mapping of engine knobs (env names, MindIE paths) to `SimConfig` paths.
///
/// | knob | simulator path |
/// |---|---|
/// | `MAX_NUM_SEQS`, `BackendConfig.ScheduleConfig.maxBatchSize` | `cluster.engine.max_batch_size` |
/// | `MAX_NUM_BATCHED_TOKENS`, `BackendConfig.ScheduleConfig.maxPrefillTokens` | `cluster.engine.max_num_batched_tokens` |
/// | `BLOCK_SIZE`, `BackendConfig.ModelDeployConfig.cacheBlockSize` | `cluster.engine.block_size` |
/// | `TP`, `BackendConfig.ModelDeployConfig.ModelConfig.0.tp` | `cluster.engine.tensor_parallel` |
/// | `REQUESTRATE` | `workload.rate` (clients must leave their own rate unset) |
///
/// Fields placed at a path starting with `cluster.`, `workload.`, `seed`, `max_requests` or
/// `horizon_s` are written as they are; other knobs are ignored by the simulator.
#[must_use]
pub fn default_sim_mapping() -> BTreeMap<String, String> {
    [
        ("MAX_NUM_SEQS", "cluster.engine.max_batch_size"),
        (
            "BackendConfig.ScheduleConfig.maxBatchSize",
            "cluster.engine.max_batch_size",
        ),
        (
            "MAX_NUM_BATCHED_TOKENS",
            "cluster.engine.max_num_batched_tokens",
        ),
        (
            "BackendConfig.ScheduleConfig.maxPrefillTokens",
            "cluster.engine.max_num_batched_tokens",
        ),
        ("BLOCK_SIZE", "cluster.engine.block_size"),
        (
            "BackendConfig.ModelDeployConfig.cacheBlockSize",
            "cluster.engine.block_size",
        ),
        ("TP", "cluster.engine.tensor_parallel"),
        (
            "BackendConfig.ModelDeployConfig.ModelConfig.0.tp",
            "cluster.engine.tensor_parallel",
        ),
        ("REQUESTRATE", "workload.rate"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

/// Evaluates candidates by simulation with `perf-sim`, on up to `jobs` threads.
///
/// Performance: G = output tok/s over the run's window, TTFT and TPOT means (TPOT over requests
/// with ≥ 2 output tokens), success rate = completed / arrived (rejected, dropped and unfinished
/// requests fail), request throughput = completed / window. A configuration the simulator
/// rejects (e.g. a token budget below the batch size) is a failed evaluation.
///
/// The workload's request stream is recorded once per seed and workload
/// ([`perf_sim::WorkloadTape`]) and replayed by every simulation of it: the same results,
/// without sampling it again for each candidate.
///
/// Configurations that differ only in a `max_batch_size` that never held a request back
/// share one simulation (on by default, [`SimEvaluator::share_equivalent_runs`]): a run whose
/// limit never acted reports the most requests it ran (`vllm_v1`, `vllm_v0`, `sarathi`,
/// `orca`, `static`), and every larger limit gives that run step for step, so its index is
/// reused as it is. Results are identical with it off.
#[derive(Clone)]
pub struct SimEvaluator {
    base: Value,
    mapping: BTreeMap<String, String>,
    jobs: usize,
    cost_model: Option<Arc<dyn StepTimeModel>>,
    /// Recorded workloads, most recent last (a few: knobs may change the workload).
    tapes: Arc<Mutex<Vec<Arc<WorkloadTape>>>>,
    /// Runs reused for equivalent configurations; `None` when sharing is off.
    equivalent: Option<Arc<Mutex<EquivalentRuns>>>,
}

/// Recorded workloads kept by a [`SimEvaluator`].
const TAPES_KEPT: usize = 4;

impl std::fmt::Debug for SimEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimEvaluator")
            .field("base", &self.base)
            .field("mapping", &self.mapping)
            .field("jobs", &self.jobs)
            .field("cost_model", &self.cost_model.as_ref().map(|_| "custom"))
            .field("share_equivalent_runs", &self.equivalent.is_some())
            .finish()
    }
}

impl SimEvaluator {
    /// Evaluator around a base configuration, with [`default_sim_mapping`], one thread.
    ///
    /// # Errors
    /// [`PsoError::Sim`] when `base` is invalid.
    pub fn new(base: &SimConfig) -> Result<Self> {
        base.validate()?;
        let base = serde_json::to_value(base).map_err(|e| PsoError::InvalidParam {
            name: "base",
            value: String::new(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            base,
            mapping: default_sim_mapping(),
            jobs: 1,
            cost_model: None,
            tapes: Arc::default(),
            equivalent: Some(Arc::default()),
        })
    }
    /// Whether configurations that differ only in a `max_batch_size` that never acted share
    /// one simulation (default `true`; results are the same either way, `false` simulates
    /// every candidate).
    #[must_use]
    pub fn share_equivalent_runs(mut self, share: bool) -> Self {
        self.equivalent = share.then(Arc::default);
        self
    }
    /// Evaluations answered with an equivalent configuration's run instead of a simulation.
    #[must_use]
    pub fn shared_evaluations(&self) -> u64 {
        self.equivalent.as_ref().map_or(0, |e| lock(e).shared())
    }
    /// Uses `model` for every step instead of the config's `cost_model` (e.g. a learned
    /// `perf-predict` predictor: the tuner's "learned model" evaluator).
    #[must_use]
    pub fn with_cost_model(mut self, model: Arc<dyn StepTimeModel>) -> Self {
        self.cost_model = Some(model);
        // Runs of another cost model are not equivalent (a clone shared the store).
        if self.equivalent.is_some() {
            self.equivalent = Some(Arc::default());
        }
        self
    }
    /// Threads for a batch (results identical to one thread).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }
    /// Maps knob `name` (field name, env name or config path) to simulator path `sim_path`.
    #[must_use]
    pub fn map(mut self, name: &str, sim_path: &str) -> Self {
        self.mapping.insert(name.to_owned(), sim_path.to_owned());
        self
    }

    /// The simulator configuration of `config`.
    ///
    /// # Errors
    /// A message naming the path when a value cannot be written or the result is not a valid
    /// `SimConfig`.
    pub fn sim_config(&self, config: &DecodedConfig) -> std::result::Result<SimConfig, String> {
        let mut tree = self.base.clone();
        for e in &config.entries {
            if e.value.is_null() {
                continue;
            }
            let key = match &e.placement {
                Placement::Env => e.name.trim().to_uppercase(),
                Placement::Path(p) => p.clone(),
            };
            let target = self
                .mapping
                .get(&key)
                .or_else(|| self.mapping.get(&e.name))
                .cloned()
                .or_else(|| match &e.placement {
                    Placement::Path(p)
                        if ["cluster.", "workload.", "seed", "max_requests", "horizon_s"]
                            .iter()
                            .any(|s| p.starts_with(s)) =>
                    {
                        Some(p.clone())
                    }
                    _ => None,
                });
            if let Some(t) = target {
                set_path(&mut tree, &t, e.value.clone()).map_err(|err| err.to_string())?;
            }
        }
        let cfg: SimConfig =
            serde_json::from_value(tree).map_err(|e| format!("simulator config: {e}"))?;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    /// Simulates one configuration, or returns the index of an equivalent one's run (see
    /// [`SimEvaluator`]: the same figures, to the bit).
    ///
    /// # Errors
    /// The simulator's error text.
    pub fn simulate(
        &self,
        config: &DecodedConfig,
    ) -> std::result::Result<PerformanceIndex, String> {
        let cfg = self.sim_config(config)?;
        let class = self
            .equivalent
            .as_ref()
            .and_then(|_| EquivalentRuns::class_of(&cfg));
        if let (Some(runs), Some(class)) = (&self.equivalent, &class)
            && let Some(index) = lock(runs).find(class, cfg.cluster.engine.max_batch_size())
        {
            return Ok(index);
        }
        let tape = self.tape(&cfg).map_err(|e| e.to_string())?;
        let mut builder = Simulation::builder(cfg).tape(tape);
        if let Some(model) = &self.cost_model {
            builder = builder.cost_model(Arc::clone(model));
        }
        // The index needs TTFT's p99 alone among the percentiles.
        let options = RunOptions {
            percentiles: Percentiles::TtftOnly,
            ..RunOptions::default()
        };
        let summary = builder
            .build()
            .and_then(|s| s.run_summary_with(options))
            .map_err(|e| e.to_string())?;
        let index = index_from_summary(&summary).map_err(|e| e.to_string())?;
        if let (Some(runs), Some(class)) = (&self.equivalent, class) {
            lock(runs).insert(class, &summary, index);
        }
        Ok(index)
    }
}

/// Locks `m`; a poisoned lock only means another evaluation panicked, and what it guards is
/// still valid (whole entries are inserted under the lock).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SimEvaluator {
    /// The recorded workload of `cfg`, recorded now if no kept one fits.
    fn tape(&self, cfg: &SimConfig) -> perf_sim::Result<Arc<WorkloadTape>> {
        let mut tapes = lock(&self.tapes);
        if let Some(t) = tapes.iter().find(|t| t.fits(cfg)) {
            return Ok(Arc::clone(t));
        }
        let tape = Arc::new(WorkloadTape::record(cfg)?);
        if tapes.len() == TAPES_KEPT {
            tapes.remove(0);
        }
        tapes.push(Arc::clone(&tape));
        Ok(tape)
    }
}

/// The performance index of a simulation summary.
///
/// # Errors
/// [`perf_model_core::Error`] if a figure is not finite.
pub fn index_from_summary(s: &Summary) -> perf_model_core::Result<PerformanceIndex> {
    #[allow(clippy::cast_precision_loss)]
    let success = if s.requests.arrived > 0 {
        s.requests.completed as f64 / s.requests.arrived as f64
    } else {
        0.0
    };
    let lat = &s.latency;
    PerformanceIndex::new(PerformanceIndexData {
        output_throughput: Some(s.throughput.output_tokens_per_second),
        request_throughput: Some(s.throughput.requests_per_second),
        request_rate: None,
        ttft_ms: (lat.ttft_ms.count > 0).then_some(lat.ttft_ms.mean),
        tpot_ms: (lat.tpot_ms.count > 0).then_some(lat.tpot_ms.mean),
        ttft_p99_ms: (lat.ttft_ms.count > 0).then_some(lat.ttft_ms.p99),
        success_rate: Some(success),
    })
}

impl Evaluator for SimEvaluator {
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation> {
        self.evaluate_streaming(batch, &mut |_, _| {})
    }
    fn evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Vec<Evaluation> {
        let this = &*self;
        evaluate_parallel(
            batch,
            self.jobs,
            &|c: &Candidate| this.simulate(&c.config),
            done,
        )
    }
}
