//! The event loop: arrivals, routing, replica steps, outputs.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use perf_model_core::inferno::ServiceParams;
use perf_model_core::{BatchShape, Dtype, InfernoStepModel, RooflineModel, StepTimeModel};

use crate::config::{CostModelConfig, SimConfig, roofline_accelerator, roofline_model};
use crate::conversation::{Conversations, PendingTurn, PendingTurns, session_key};
use crate::disagg::Disagg;
use crate::engine::{ArrivalInfo, EngineRegistry, EngineSetup, ReqId, Requests, StepEnd};
use crate::error::{Result, SimError, invalid};
use crate::events::EventQueue;
use crate::kv::derive_num_blocks_pipelined;
use crate::output::{
    Counts, CsvSink, Latencies, ReplicaSummary, Status, StepsSink, Summary, Throughput, rounded_div,
};
use crate::pipeline::{Pipeline, PipelineSetup};
use crate::pool::{Limits, PoolSetup, PoolStats, PoolSummary, max_new};
use crate::replica::{NO_PIPELINE, Replica};
use crate::request::{NEVER, Req, Slab};
use crate::rng::{Purpose, stream};
use crate::router::Router;
use crate::slo::{ClientGoodput, Goodput, SloNs};
use crate::stats::Sketch;
use crate::tape::WorkloadTape;
use crate::workload::{ClientStream, PromptKey};

/// Event classes: at equal times step ends come first, then arrivals, then requests reaching
/// their queue after a pre-schedule delay, then scheduling decisions (so a replica decides its
/// next step after every event of that instant).
const STEP_END: u8 = 0;
const ARRIVAL: u8 = 1;
const ENQUEUE: u8 = 2;
const WAKE: u8 = 3;
/// A routed request clears its replica's busy front end (`frontend_us_per_token`) and joins
/// the waiting queue; last at equal times, after the wake-ups it may have to trigger again.
const ADMIT: u8 = 4;

/// An `ARRIVAL` payload with this bit is a conversation's next turn (the rest: its
/// `PendingTurns` slot); without it, the client whose arrival process fired.
const TURN_BIT: u32 = 1 << 31;

/// Set in an `ENQUEUE` payload: the request's KV reached the decode pool (crate::disagg), it
/// joins a decode replica's queue.
const HANDOFF: u32 = 1 << 31;

/// A configured simulation, ready to run (any number of times: runs are independent and
/// deterministic).
///
/// # Examples
/// ```
/// use perf_sim::{SimConfig, Simulation};
/// let cfg: SimConfig = serde_json::from_str(r#"{
///   "max_requests": 50,
///   "cluster": { "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" } },
///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
///       "input": { "kind": "lognormal", "mean": 512, "std": 256 },
///       "output": { "kind": "fixed", "value": 32 } } ] }
/// }"#)?;
/// let sim = Simulation::new(cfg)?;
/// let summary = sim.run(std::io::sink())?;
/// assert_eq!(summary.requests.completed, 50);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Simulation {
    config: SimConfig,
    model: Arc<dyn StepTimeModel>,
    num_blocks: u64,
    /// The pools (one, `default`, without `cluster.pools`).
    pools: Vec<PoolSetup>,
    /// With disaggregation: KV bytes per token sent to the decode pool.
    kv_bytes_per_token: f64,
    /// Custom engines (`cluster.engine.kind` other than a built-in).
    registry: EngineRegistry,
    /// Decoding requests kept in aggregate (crate::decoders); off only in the cross-check test.
    lazy_decode: bool,
    /// The workload's recorded stream, when given and it fits ([`SimulationBuilder::tape`]).
    tape: Option<Arc<WorkloadTape>>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("config", &self.config)
            .field("num_blocks", &self.num_blocks)
            .field("pools", &self.pools)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// Where a run is, for progress displays (see [`RunOptions::progress`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Simulated time reached, seconds.
    pub simulated_s: f64,
    /// Requests arrived so far.
    pub arrived: u64,
    /// Requests completed so far.
    pub completed: u64,
    /// The configuration's `max_requests`, when it has one (the run's expected size).
    pub max_requests: Option<u64>,
}

/// A progress callback (see [`RunOptions::progress`]).
pub type ProgressFn<'a> = Box<dyn FnMut(&Progress) + 'a>;

/// Optional outputs of [`Simulation::run_with`].
#[derive(Default)]
pub struct RunOptions<'o> {
    /// Where to stream `steps.csv` (see [`Simulation::run_with_steps`]).
    pub steps: Option<Box<dyn Write + 'o>>,
    /// Called every 65 536 events and once at the end of the run.
    pub progress: Option<ProgressFn<'o>>,
    /// Set it (from a Ctrl-C handler, another thread) to stop the run early: the loop looks
    /// at it every 4 096 events, then ends as a `max_simulation_time_s` cut does (a step in
    /// flight is cut, what is live is reported `unfinished`) and the summary says
    /// `interrupted: true`.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Which latency percentiles to compute (default: all).
    pub percentiles: Percentiles,
}

/// Which latency percentiles a run computes; counts, means, minima and maxima always are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Percentiles {
    /// p50, p90, p95 and p99 of every latency metric.
    #[default]
    All,
    /// TTFT's only; the other metrics' percentiles read 0. What a tuner's performance index
    /// needs (its TTFT p99), without a histogram update per step and per request for the
    /// others.
    TtftOnly,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("steps", &self.steps.is_some())
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel)
            .field("percentiles", &self.percentiles)
            .finish()
    }
}

impl Simulation {
    /// Validates `config` and builds its cost model and KV cache size.
    ///
    /// # Errors
    /// [`SimError::InvalidConfig`] naming the field; [`SimError::Core`] for an unknown model or
    /// accelerator or invalid Inferno parameters.
    pub fn new(config: SimConfig) -> Result<Self> {
        SimulationBuilder::new(config).build()
    }

    /// A builder: a cost model of the caller's, custom engines.
    #[must_use]
    pub fn builder(config: SimConfig) -> SimulationBuilder {
        SimulationBuilder::new(config)
    }

    /// The configuration's own cost model.
    fn config_cost_model(config: &SimConfig) -> Result<Arc<dyn StepTimeModel>> {
        config.validate()?;
        let tp = config.cluster.engine.tensor_parallel();
        let model: Arc<dyn StepTimeModel> = match &config.cluster.cost_model {
            CostModelConfig::Inferno { alpha, beta, gamma } => Arc::new(InfernoStepModel::new(
                ServiceParams::new(*alpha, *beta, *gamma)?,
            )),
            CostModelConfig::Roofline {
                model,
                accelerator,
                dtype,
                device,
                spec,
                calibration,
                ..
            } => {
                let roofline = RooflineModel::new(
                    roofline_model(model, spec.as_deref())?,
                    roofline_accelerator(accelerator, device.as_deref())?,
                    *dtype,
                    tp,
                )?;
                Arc::new(match calibration {
                    Some(c) => roofline.with_calibration(c)?,
                    None => roofline,
                })
            }
        };
        Ok(model)
    }

    /// Like [`Simulation::new`] but with a cost model of the caller's (a learned predictor, an
    /// instrumented wrapper); `config.cluster.cost_model` then only serves the KV derivation.
    ///
    /// # Errors
    /// As [`Simulation::new`].
    pub fn with_cost_model(config: SimConfig, model: Arc<dyn StepTimeModel>) -> Result<Self> {
        SimulationBuilder::new(config).cost_model(model).build()
    }

    fn assemble(
        config: SimConfig,
        model: Arc<dyn StepTimeModel>,
        registry: EngineRegistry,
    ) -> Result<Self> {
        config.validate()?;
        let pools = if config.cluster.pools.is_empty() {
            vec![PoolSetup {
                name: "default".to_owned(),
                cluster: config.cluster.clone(),
                model: Arc::clone(&model),
                num_blocks: pool_blocks(&config)?,
                weight: f64::from(config.cluster.replicas),
                pipeline: PipelineSetup::of(
                    &config.cluster.engine,
                    &config.cluster.cost_model,
                    "cluster.engine",
                )?,
            }]
        } else {
            (0..config.cluster.pools.len())
                .map(|i| pool_setup(&config, i, &model))
                .collect::<Result<Vec<_>>>()?
        };
        let kv_bytes_per_token = match &config.cluster.disaggregation {
            Some(d) => disagg_kv_bytes(&config, d)?,
            None => 0.0,
        };
        let sim = Self {
            model: Arc::clone(&pools[0].model),
            num_blocks: pools[0].num_blocks,
            config,
            pools,
            kv_bytes_per_token,
            registry,
            lazy_decode: true,
            tape: None,
        };
        // Builds one engine of each pool now, so a bad custom kind or option fails here, not
        // mid-run.
        for p in 0..sim.pools.len() {
            let engine = sim.build_engine(p, 0)?;
            if let Some(d) = &sim.config.cluster.disaggregation
                && sim.pools[p].name == d.decode_pool
                && !engine.accepts_prefilled()
            {
                return Err(invalid(
                    "cluster.disaggregation.decode_pool",
                    &d.decode_pool,
                    format!(
                        "its engine, {}, cannot decode requests prefilled on another replica \
                         (a decode pool runs vllm_v1)",
                        engine.name()
                    ),
                ));
            }
        }
        Ok(sim)
    }

    /// The engine of replica `replica`, of pool `pool`.
    fn build_engine(&self, pool: usize, replica: u32) -> Result<Box<dyn crate::engine::Engine>> {
        let c = &self.pools[pool].cluster;
        let setup = EngineSetup {
            config: &c.engine,
            num_blocks: self.pools[pool].num_blocks,
            replica,
            preemption: c.preemption,
            prefix_cache_fraction: c.kv_cache.prefix_cache_fraction,
            seed: self.config.seed,
        };
        if matches!(c.engine.kind, crate::engine::EngineKind::VllmV1) && !self.lazy_decode {
            return Ok(Box::new(crate::engine::vllm_v1::VllmV1::with_lazy_decode(
                &setup, false,
            )));
        }
        self.registry.build(&setup)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// KV blocks per replica (derived or given, capped by the engine's own pool limit); of
    /// the first pool's replicas with `cluster.pools` ([`Simulation::pool_gpu_blocks`]).
    #[must_use]
    pub fn num_gpu_blocks(&self) -> u64 {
        self.num_blocks
    }

    /// The step-time model (of the first pool's replicas with `cluster.pools`).
    #[must_use]
    pub fn cost_model(&self) -> &Arc<dyn StepTimeModel> {
        &self.model
    }

    /// Each pool's name and KV blocks per replica, in `cluster.pools` order (one pool,
    /// `default`, without `cluster.pools`).
    #[must_use]
    pub fn pool_gpu_blocks(&self) -> Vec<(&str, u64)> {
        self.pools
            .iter()
            .map(|p| (p.name.as_str(), p.num_blocks))
            .collect()
    }

    /// Runs the simulation, streaming one CSV row per request to `csv_out` (pass
    /// [`std::io::sink()`] to discard them) and returning the summary.
    ///
    /// # Errors
    /// [`SimError::Csv`] / [`SimError::Io`] when writing fails; [`SimError::InvalidStepTime`]
    /// when the cost model returns a negative or non-finite time.
    pub fn run<W: Write>(&self, csv_out: W) -> Result<Summary> {
        tracing::debug!(
            replicas = self.config.cluster.replicas,
            kv_blocks = self.num_blocks,
            seed = self.config.seed,
            "simulation start"
        );
        let summary = Engine::new(self)?.run(CsvSink::new(csv_out)?)?;
        Self::log_end(&summary);
        Ok(summary)
    }

    /// Runs the simulation for its summary only, without formatting per-request rows (what a
    /// tuner evaluating thousands of configurations wants). The summary is identical to
    /// [`Simulation::run`]'s.
    ///
    /// # Errors
    /// [`SimError::InvalidStepTime`] when the cost model returns a negative or non-finite time.
    pub fn run_summary(&self) -> Result<Summary> {
        self.run_summary_with(RunOptions::default())
    }

    /// [`Simulation::run_summary`] with the options of [`RunOptions`]: e.g. only the TTFT
    /// percentiles, for a tuner.
    ///
    /// # Examples
    /// ```
    /// use perf_sim::{Percentiles, RunOptions, SimConfig, Simulation};
    /// let cfg: SimConfig = serde_json::from_str(r#"{ "max_requests": 200,
    ///   "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
    ///                "kv_cache": { "num_gpu_blocks": 100000 } },
    ///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
    ///       "input": { "kind": "fixed", "value": 100 }, "output": { "kind": "fixed", "value": 20 } } ] }
    /// }"#)?;
    /// let sim = Simulation::new(cfg)?;
    /// let full = sim.run_summary()?;
    /// let lean = sim.run_summary_with(RunOptions { percentiles: Percentiles::TtftOnly, ..RunOptions::default() })?;
    /// assert_eq!(lean.latency.ttft_ms, full.latency.ttft_ms);
    /// assert_eq!(lean.latency.tpot_ms.mean, full.latency.tpot_ms.mean);
    /// assert_eq!(lean.latency.tpot_ms.p99, 0.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Simulation::run_with`].
    pub fn run_summary_with(&self, options: RunOptions<'_>) -> Result<Summary> {
        let summary = Engine::new(self)?
            .with_options(options)?
            .run(CsvSink::<std::io::Sink>::disabled())?;
        Self::log_end(&summary);
        Ok(summary)
    }

    /// Like [`Simulation::run`], and also streams one `steps.csv` row per engine step of each
    /// replica to `steps_out` ([`crate::output::STEPS_CSV_HEADER`]: start and end in seconds,
    /// the batch's prefill/decode sequences, tokens and context, KV blocks in use, waiting and
    /// running requests, preemptions): KV-cache and batch use over time. A step cut by
    /// `max_simulation_time_s` gets its row too, ending at the cut, so the rows add up to the
    /// summary's per-replica steps and preemptions.
    ///
    /// # Errors
    /// As [`Simulation::run`], for either output.
    pub fn run_with_steps<W: Write, S: Write>(&self, csv_out: W, steps_out: S) -> Result<Summary> {
        self.run_with(
            csv_out,
            RunOptions {
                steps: Some(Box::new(steps_out)),
                ..RunOptions::default()
            },
        )
    }

    /// [`Simulation::run`] with the optional outputs of [`RunOptions`]: `steps.csv` and a
    /// progress callback.
    ///
    /// # Examples
    /// ```
    /// use perf_sim::{Progress, RunOptions, SimConfig, Simulation};
    /// let cfg: SimConfig = serde_json::from_str(r#"{ "max_requests": 200,
    ///   "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
    ///                "kv_cache": { "num_gpu_blocks": 100000 } },
    ///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
    ///       "input": { "kind": "fixed", "value": 100 }, "output": { "kind": "fixed", "value": 20 } } ] }
    /// }"#)?;
    /// let mut last = None;
    /// let summary = Simulation::new(cfg)?.run_with(
    ///     std::io::sink(),
    ///     RunOptions { progress: Some(Box::new(|p: &Progress| last = Some(*p))), ..RunOptions::default() },
    /// )?;
    /// let last = last.expect("called at least at the end");
    /// assert_eq!((last.arrived, last.completed), (200, summary.requests.completed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Simulation::run`], for every output.
    pub fn run_with<'o, W: Write>(&self, csv_out: W, options: RunOptions<'o>) -> Result<Summary> {
        let summary = Engine::new(self)?
            .with_options(options)?
            .run(CsvSink::new(csv_out)?)?;
        Self::log_end(&summary);
        Ok(summary)
    }

    fn log_end(summary: &Summary) {
        tracing::debug!(
            arrived = summary.requests.arrived,
            completed = summary.requests.completed,
            events = summary.events,
            simulated_s = summary.simulated_time_s,
            "simulation end"
        );
    }
}

/// Builds a [`Simulation`]: its configuration, optionally a cost model of the caller's and
/// custom engines.
///
/// # Examples
/// A custom engine kind (here simply vLLM V1 under another name) is registered by name and
/// selected with `cluster.engine.kind`; its `options` reach the factory.
/// ```
/// use perf_sim::engine::{EngineSetup, vllm_v1::VllmV1};
/// use perf_sim::{SimConfig, Simulation};
/// let cfg: SimConfig = serde_json::from_str(r#"{ "max_requests": 20,
///   "cluster": { "engine": { "kind": "my_vllm", "options": { "speed": 1 } },
///                "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
///                "kv_cache": { "num_gpu_blocks": 1000 } },
///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
///       "input": { "kind": "fixed", "value": 100 }, "output": { "kind": "fixed", "value": 20 } } ] }
/// }"#)?;
/// assert!(Simulation::new(cfg.clone()).is_err()); // not registered
/// let sim = Simulation::builder(cfg)
///     .engine("my_vllm", |s: &EngineSetup<'_>| {
///         Ok(Box::new(VllmV1::new(s)) as Box<dyn perf_sim::engine::Engine>)
///     })?
///     .build()?;
/// assert_eq!(sim.run_summary()?.requests.completed, 20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimulationBuilder {
    config: SimConfig,
    model: Option<Arc<dyn StepTimeModel>>,
    registry: EngineRegistry,
    tape: Option<Arc<WorkloadTape>>,
}

impl std::fmt::Debug for SimulationBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulationBuilder")
            .field("config", &self.config)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl SimulationBuilder {
    /// A builder for `config` (its own cost model, built-in engines).
    #[must_use]
    pub fn new(config: SimConfig) -> Self {
        Self {
            config,
            model: None,
            registry: EngineRegistry::new(),
            tape: None,
        }
    }

    /// Reads the workload's arrivals and lengths from `tape` instead of sampling them: the
    /// same results, without the sampling (a tuner simulating many clusters on one workload
    /// records it once). A tape of another workload or seed is ignored.
    #[must_use]
    pub fn tape(mut self, tape: Arc<WorkloadTape>) -> Self {
        self.tape = Some(tape);
        self
    }

    /// Uses `model` for step times instead of `config.cluster.cost_model` (which then only
    /// serves the KV derivation): a learned predictor, an instrumented wrapper.
    #[must_use]
    pub fn cost_model(mut self, model: Arc<dyn StepTimeModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// Registers a custom engine, selected by `cluster.engine.kind: <name>`.
    ///
    /// # Errors
    /// As [`EngineRegistry::register`].
    pub fn engine(
        mut self,
        name: &str,
        factory: impl crate::engine::EngineFactory + 'static,
    ) -> Result<Self> {
        self.registry.register(name, factory)?;
        Ok(self)
    }

    /// Uses `registry`'s custom engines (replacing any registered so far).
    #[must_use]
    pub fn registry(mut self, registry: EngineRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Validates everything and builds the simulation.
    ///
    /// # Errors
    /// As [`Simulation::new`]; [`SimError::InvalidConfig`] naming `cluster.engine.kind` for
    /// a custom kind that is not registered, or whatever its factory returns.
    pub fn build(self) -> Result<Simulation> {
        let model = match self.model {
            Some(m) => m,
            None => Simulation::config_cost_model(&self.config)?,
        };
        let tape = self.tape.filter(|t| t.fits(&self.config));
        let mut sim = Simulation::assemble(self.config, model, self.registry)?;
        sim.tape = tape;
        Ok(sim)
    }
}

/// A KV cache too small for even the smallest request of some client would reject all of
/// its requests: that is a configuration error, not a result.
fn check_one_request_fits(config: &SimConfig, num_blocks: u64) -> Result<()> {
    let bs = u64::from(config.cluster.engine.block_size());
    let capacity = num_blocks.saturating_mul(bs);
    for (i, client) in config.workload.clients.iter().enumerate() {
        let need = client.min_request_tokens();
        if need > capacity {
            let field = if config.cluster.kv_cache.num_gpu_blocks.is_some() {
                "cluster.kv_cache.num_gpu_blocks"
            } else {
                "cluster.kv_cache"
            };
            return Err(invalid(
                field,
                num_blocks,
                format!(
                    "{num_blocks} blocks of {bs} tokens hold {capacity} tokens, fewer than the \
                     smallest request of workload.clients[{i}] ({need} tokens of prompt and \
                     output): every such request would be rejected"
                ),
            ));
        }
    }
    Ok(())
}

/// KV blocks per replica of a cluster of identical replicas (`config.cluster`): derived or
/// given, capped by the engine's own pool limit, checked to hold the smallest request.
fn pool_blocks(config: &SimConfig) -> Result<u64> {
    // A pipelined replica's blocks are shared by its stages' engines (crate::pipeline).
    let stages = u64::from(config.cluster.engine.pipeline_parallel().max(1));
    let mut num_blocks = resolve_blocks(config)? / stages;
    if let Some(cap) = config.cluster.engine.kv_token_cap() {
        let bs = u64::from(config.cluster.engine.block_size());
        num_blocks = num_blocks.min(cap / bs);
    }
    check_one_request_fits(config, num_blocks)?;
    Ok(num_blocks)
}

/// Pool `i` of `cluster.pools`, built: its own cost model (else `default_model`, the
/// cluster's) and KV blocks; errors name `cluster.pools[i]`.
fn pool_setup(
    config: &SimConfig,
    i: usize,
    default_model: &Arc<dyn StepTimeModel>,
) -> Result<PoolSetup> {
    let pool = &config.cluster.pools[i];
    let own = crate::pool::pool_config(config, i);
    let model = if pool.cost_model.is_some() {
        Simulation::config_cost_model(&own).map_err(|e| crate::pool::in_pool(e, i))?
    } else {
        Arc::clone(default_model)
    };
    let num_blocks = pool_blocks(&own).map_err(|e| crate::pool::in_pool(e, i))?;
    let pipeline = PipelineSetup::of(
        &own.cluster.engine,
        &own.cluster.cost_model,
        &format!("cluster.pools[{i}].engine"),
    )?;
    Ok(PoolSetup {
        name: pool.name.clone(),
        weight: pool.effective_weight(),
        cluster: own.cluster,
        model,
        num_blocks,
        pipeline,
    })
}

/// KV bytes per token a disaggregated cluster sends: given, or from the prefill pool's model
/// (its `kv_cache.model`, else its roofline's) in its KV dtype.
fn disagg_kv_bytes(config: &SimConfig, d: &crate::disagg::DisaggregationConfig) -> Result<f64> {
    if let Some(b) = d.kv_bytes_per_token {
        return Ok(b);
    }
    let Some(i) = config
        .cluster
        .pools
        .iter()
        .position(|p| p.name == d.prefill_pool)
    else {
        return Err(invalid(
            "cluster.disaggregation.prefill_pool",
            &d.prefill_pool,
            "no such pool",
        ));
    };
    let c = config.cluster.pools[i].resolve(&config.cluster);
    let kv = &c.kv_cache;
    let (name, spec, dtype) = match &c.cost_model {
        CostModelConfig::Roofline {
            model, spec, dtype, ..
        } => (
            Some(model.as_str()),
            spec.as_deref().filter(|_| kv.model.is_none()),
            Some(*dtype),
        ),
        CostModelConfig::Inferno { .. } => (None, None, None),
    };
    let Some(name) = kv.model.as_deref().or(name) else {
        return Err(invalid(
            "cluster.disaggregation.kv_bytes_per_token",
            "null",
            "the prefill pool's cost model names no model: give kv_bytes_per_token (or \
             the pool's kv_cache.model)",
        ));
    };
    let model = roofline_model(name, spec)?;
    Ok(model.kv_bytes_per_token(kv.dtype.or(dtype).unwrap_or(Dtype::Bf16)))
}

fn resolve_blocks(config: &SimConfig) -> Result<u64> {
    let kv = &config.cluster.kv_cache;
    if let Some(n) = kv.num_gpu_blocks {
        return Ok(n);
    }
    let (rm, ra, rd, device, spec) = match &config.cluster.cost_model {
        CostModelConfig::Roofline {
            model,
            accelerator,
            dtype,
            device,
            spec,
            ..
        } => (
            Some(model.as_str()),
            Some(accelerator.as_str()),
            Some(*dtype),
            device.as_deref().filter(|_| kv.accelerator.is_none()),
            spec.as_deref().filter(|_| kv.model.is_none()),
        ),
        CostModelConfig::Inferno { .. } => (None, None, None, None, None),
    };
    let (Some(model), Some(accel)) = (kv.model.as_deref().or(rm), kv.accelerator.as_deref().or(ra))
    else {
        return Err(invalid(
            "cluster.kv_cache.num_gpu_blocks",
            "null",
            "give num_gpu_blocks, or model and accelerator to derive it from",
        ));
    };
    let e = &config.cluster.engine;
    derive_num_blocks_pipelined(
        &roofline_model(model, spec)?,
        &roofline_accelerator(accel, device)?,
        kv.dtype.or(rd).unwrap_or(Dtype::Bf16),
        (e.tensor_parallel(), e.pipeline_parallel()),
        e.gpu_memory_utilization(),
        e.block_size(),
        kv.reserved_gib * f64::from(1u32 << 30),
    )
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn secs_to_ns(s: f64) -> u64 {
    let ns = (s * 1e9).round();
    if ns >= 1.8e19 {
        u64::MAX - 1
    } else {
        ns.max(0.0) as u64
    }
}
// Every `now + delay` below saturates: an absurd but valid config (a rate of 1e-300 req/s, a
// step of 1e308 ms) pins times at the end of the clock instead of overflowing it.

/// `x.ceil() as u64` for a finite `x ≥ 0`, without a call to libm's `ceil` (the baseline
/// x86-64 target has no rounding instruction) and without a branch: the truncation, plus one
/// when it fell below `x`. Exact: below 2⁵³ the truncation converts back exactly, above it
/// `x` is whole; past `u64::MAX` both saturate.
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn ceil_ns(x: f64) -> u64 {
    let t = x as u64;
    t.saturating_add(u64::from((t as f64) < x))
}

#[allow(clippy::cast_precision_loss)]
fn ns_to_s(ns: u64) -> f64 {
    ns as f64 * 1e-9
}

/// Mutable state of one run.
struct Engine<'a> {
    sim: &'a Simulation,
    /// Per replica: its engine's limits (for the contract checks) and its overheads.
    lim: Vec<Limits>,
    /// Per replica: its step-time model.
    models: Vec<Arc<dyn StepTimeModel>>,
    /// First replica of each pool.
    pool_first: Vec<usize>,
    /// The replicas arrivals are routed among (all, or the prefill pool's).
    entry: std::ops::Range<usize>,
    /// Per pool, with more than one pool (empty otherwise).
    pool_stats: Vec<PoolStats>,
    /// Disaggregated prefill/decode state.
    disagg: Option<Disagg>,
    clients: Vec<ClientStream>,
    /// Per client, its conversations (when it has any); turns waiting to arrive; the number
    /// of conversations opened so far (the last session id).
    conversations: Vec<Option<Conversations>>,
    turns: PendingTurns,
    sessions: u32,
    replicas: Vec<Replica>,
    /// The stages of each pipelined replica (crate::pipeline), shared by its engines.
    pipelines: Vec<Pipeline>,
    router: Router,
    slab: Slab,
    queue: EventQueue,
    /// A step end not yet pushed: `(time, replica)` of the step just scheduled. The loop
    /// handles it next without the queue when nothing queued comes first (the usual case),
    /// else pushes it (no push happens in between, so the queue order is the same).
    step_end: Option<(u64, u32)>,
    counts: Counts,
    ttft: Sketch,
    tpot: Sketch,
    itl: Sketch,
    e2e: Sketch,
    sched: Sketch,
    done: Vec<u32>,
    horizon_ns: u64,
    /// End of the warm-up (`SimConfig::warm_up_s`); requests arriving earlier are not measured.
    warm_up_ns: u64,
    first_arrival: u64,
    /// End of the step of the last measured completion.
    last_completion: u64,
    /// Prompt and output tokens of measured completed requests.
    in_tokens: u64,
    out_tokens: u64,
    /// Measured completed requests.
    measured_completed: u64,
    /// Per client: its SLO in ns (`None` without one), measured arrivals and SLO hits.
    slos: Vec<Option<SloNs>>,
    slo_measured: Vec<u64>,
    slo_met: Vec<u64>,
    /// `steps.csv`, when asked for.
    steps: Option<StepsSink<'a>>,
    /// Progress callback, when asked for.
    progress: Option<ProgressFn<'a>>,
    /// Early stop, when asked for ([`RunOptions::cancel`]); set once the loop saw it.
    cancel: Option<Arc<AtomicBool>>,
    interrupted: bool,
    events: u64,
    /// Pre-schedule overheads (`cluster.overheads`) in engine units (the others are per
    /// replica, in `lim`).
    pre_fixed_ns: u64,
    pre_per_token_ns: f64,
    /// A streamed token's trip over the client link (`workload.network`), ns.
    response_ns: u64,
    /// Per replica: when its front end is next free.
    frontend_free_ns: Vec<u64>,
}

impl<'a> Engine<'a> {
    fn new(sim: &'a Simulation) -> Result<Self> {
        let c = &sim.config;
        let clients = c
            .workload
            .clients
            .iter()
            .enumerate()
            .map(|(i, cc)| {
                let stream = ClientStream::new(i, cc, c.client_rate(i), c.seed)?;
                Ok(match sim.tape.as_ref().and_then(|t| t.client(i)) {
                    Some(recorded) => stream.replaying(Arc::clone(recorded)),
                    None => stream,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let oh = c.cluster.overheads;
        let net = c.workload.network;
        let (mut replicas, mut lim, mut models, mut pool_first) = (vec![], vec![], vec![], vec![]);
        let mut pipelines = Vec::new();
        for (p, pool) in sim.pools.iter().enumerate() {
            let l = Limits::of(p, &pool.cluster, secs_to_ns);
            pool_first.push(replicas.len());
            for _ in 0..pool.cluster.replicas {
                // A pipelined replica is one engine per stage sharing its stages.
                let pipeline = match &pool.pipeline {
                    Some(setup) => {
                        pipelines.push(Pipeline::of(setup));
                        u32::try_from(pipelines.len() - 1).unwrap_or(NO_PIPELINE)
                    }
                    None => NO_PIPELINE,
                };
                for _ in 0..pool.engines_per_replica() {
                    let i = u32::try_from(replicas.len()).unwrap_or(u32::MAX);
                    let mut replica = Replica::new(sim.build_engine(p, i)?);
                    replica.pipeline = pipeline;
                    replicas.push(replica);
                    lim.push(l);
                    models.push(Arc::clone(&pool.model));
                }
            }
        }
        let n = replicas.len();
        let range = |p: usize| pool_first[p]..pool_first.get(p + 1).copied().unwrap_or(n);
        let disagg = c.cluster.disaggregation.as_ref().map(|d| {
            let pos = |name: &str| sim.pools.iter().position(|q| q.name == name).unwrap_or(0);
            let (pp, dp) = (pos(&d.prefill_pool), pos(&d.decode_pool));
            let router = Router::new(c.cluster.router, stream(c.seed, Purpose::Router, 1))
                .with_weights(&vec![1.0; range(dp).len()]);
            Disagg::new(
                d,
                pp,
                dp,
                range(pp),
                range(dp),
                router,
                sim.kv_bytes_per_token,
                secs_to_ns,
            )
        });
        let entry = disagg.as_ref().map_or(0..n, |d| d.prefill.clone());
        // weighted_random: a pool's weight split evenly over its replicas.
        let weights: Vec<f64> = (0..n)
            .filter(|i| entry.contains(i))
            .map(|i| {
                let pool = &sim.pools[lim[i].pool as usize];
                pool.weight / f64::from(pool.cluster.replicas * pool.engines_per_replica())
            })
            .collect();
        let router = Router::new(c.cluster.router, stream(c.seed, Purpose::Router, 0))
            .with_weights(&weights);
        let conversations = c
            .workload
            .clients
            .iter()
            .enumerate()
            .map(|(i, cc)| Conversations::new(i, cc, c.seed))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            sim,
            conversations,
            turns: PendingTurns::default(),
            sessions: 0,
            pool_stats: if sim.pools.len() > 1 {
                sim.pools.iter().map(|_| PoolStats::default()).collect()
            } else {
                Vec::new()
            },
            lim,
            models,
            pool_first,
            entry,
            disagg,
            clients,
            replicas,
            pipelines,
            router,
            slab: Slab::default(),
            queue: EventQueue::default(),
            step_end: None,
            counts: Counts::default(),
            ttft: Sketch::new(),
            tpot: Sketch::new(),
            itl: Sketch::new(),
            e2e: Sketch::new(),
            sched: Sketch::new(),
            done: Vec::new(),
            horizon_ns: c.horizon_s.map_or(u64::MAX, secs_to_ns),
            warm_up_ns: c.warm_up_s.map_or(0, secs_to_ns),
            first_arrival: NEVER,
            last_completion: 0,
            in_tokens: 0,
            out_tokens: 0,
            measured_completed: 0,
            slos: c
                .workload
                .clients
                .iter()
                .map(|cc| {
                    let slo = cc.slo.unwrap_or_default().or(c.slo.unwrap_or_default());
                    SloNs::new(&slo)
                })
                .collect(),
            slo_measured: vec![0; c.workload.clients.len()],
            slo_met: vec![0; c.workload.clients.len()],
            steps: None,
            progress: None,
            cancel: None,
            interrupted: false,
            events: 0,
            // The client link's request transfer is a pre-schedule delay of the same form.
            pre_fixed_ns: secs_to_ns(oh.pre_schedule_ms * 1e-3)
                .saturating_add(secs_to_ns(net.map_or(0.0, |l| l.latency_ms * 1e-3))),
            pre_per_token_ns: oh.pre_schedule_us_per_token * 1e3
                + net.map_or(0.0, |l| (l.transfer_s(1.0) - l.latency_ms * 1e-3) * 1e9),
            response_ns: net.map_or(0, |l| secs_to_ns(l.transfer_s(1.0))),
            frontend_free_ns: vec![0; n],
        })
    }

    #[inline]
    fn push(&mut self, time: u64, class: u8, payload: u32) {
        self.queue.push(time, class, payload);
    }

    /// Takes the optional outputs and settings of `options`.
    fn with_options(mut self, options: RunOptions<'a>) -> Result<Self> {
        if let Some(steps) = options.steps {
            self.steps = Some(StepsSink::new(steps)?);
        }
        self.progress = options.progress;
        self.cancel = options.cancel;
        if options.percentiles == Percentiles::TtftOnly {
            for s in [
                &mut self.tpot,
                &mut self.itl,
                &mut self.e2e,
                &mut self.sched,
            ] {
                *s = Sketch::without_percentiles();
            }
            for p in &mut self.pool_stats {
                for s in [&mut p.tpot, &mut p.itl, &mut p.e2e, &mut p.sched] {
                    *s = Sketch::without_percentiles();
                }
            }
        }
        Ok(self)
    }

    /// Counts an event handled at `now`, reporting progress every 65 536.
    #[inline]
    fn count_event(&mut self, now: u64) {
        self.events += 1;
        if self.events & 0xFFFF == 0 {
            self.report_progress(now);
        }
    }

    fn report_progress(&mut self, now: u64) {
        if let Some(cb) = &mut self.progress {
            cb(&Progress {
                simulated_s: ns_to_s(now),
                arrived: self.counts.arrived,
                completed: self.counts.completed,
                max_requests: self.sim.config.max_requests,
            });
        }
    }

    fn arrivals_open(&self) -> bool {
        self.sim
            .config
            .max_requests
            .is_none_or(|m| self.counts.arrived < m)
    }

    fn schedule_next_arrival(&mut self, client: usize) {
        if !self.arrivals_open() {
            return;
        }
        let s = self.clients[client].advance();
        if !s.is_finite() {
            return;
        }
        let t = secs_to_ns(s);
        if t <= self.horizon_ns {
            self.push(t, ARRIVAL, u32::try_from(client).unwrap_or(u32::MAX));
        }
    }

    /// A closed-loop client's user, done with a request at `done` (ns), sends its next after
    /// a think time.
    fn closed_loop_next(&mut self, client: usize, done: u64) {
        if self.clients[client].closed_loop_users() == 0 || !self.arrivals_open() {
            return;
        }
        let think = secs_to_ns(self.clients[client].think_time());
        let t = done.saturating_add(think);
        if t <= self.horizon_ns {
            self.push(t, ARRIVAL, u32::try_from(client).unwrap_or(u32::MAX));
        }
    }

    fn run<W: Write>(mut self, mut out: CsvSink<W>) -> Result<Summary> {
        for c in 0..self.clients.len() {
            self.schedule_next_arrival(c);
            for _ in 0..self.clients[c].closed_loop_users() {
                self.push(0, ARRIVAL, u32::try_from(c).unwrap_or(u32::MAX));
            }
        }
        let cfg = &self.sim.config;
        let mut stop_ns = cfg.max_simulation_time_s.map_or(u64::MAX, secs_to_ns);
        if !cfg.drain {
            stop_ns = stop_ns.min(self.horizon_ns);
        }
        let mut now = 0;
        let mut next_cancel_check = 0;
        loop {
            let next = match self.step_end.take() {
                Some((t, r)) if self.queue.would_be_next(t, STEP_END) => Some((t, STEP_END, r)),
                Some((t, r)) => {
                    self.queue.push(t, STEP_END, r);
                    self.queue.pop()
                }
                None => self.queue.pop(),
            };
            let Some((time, class, payload)) = next else {
                break;
            };
            if time > stop_ns {
                now = stop_ns;
                break;
            }
            // Looked at before the event is handled, so `now` is the time of the last one
            // handled: the run ends as if cut there. At the first event after each multiple of
            // 4 096 (an event that handles a wake-up inline counts two).
            if self.events >= next_cancel_check
                && self
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.load(Ordering::Relaxed))
            {
                self.interrupted = true;
                break;
            }
            if self.events >= next_cancel_check {
                next_cancel_check = (self.events | 0xFFF) + 1;
            }
            now = time;
            self.count_event(now);
            match class {
                STEP_END => self.on_step_end(payload as usize, now, &mut out)?,
                ARRIVAL => self.on_arrival(payload, now, &mut out)?,
                ENQUEUE => self.enqueue(payload, now, &mut out)?,
                WAKE => self.on_wake(payload as usize, now)?,
                _ => self.admit(payload, now),
            }
        }
        // A step still in flight was cut by `max_simulation_time_s`: it is counted in the
        // summary (steps are accounted when scheduled), so `steps.csv` gets its row too, ending
        // at the cut.
        if let Some(steps) = &mut self.steps {
            for (r, rep) in self.replicas.iter().enumerate() {
                if rep.busy {
                    steps.row(r, &rep.last_step, now)?;
                }
            }
        }
        // Whatever is still live is unfinished, reported in id order.
        for (r, rep) in self.replicas.iter_mut().enumerate() {
            rep.engine.sync(&mut Requests::new(&mut self.slab.reqs));
            // Count conservation: the engine holds exactly what it was given and did not finish.
            let held = rep.engine.outstanding() as u64;
            if held != rep.counters.routed - rep.counters.completed {
                return Err(SimError::Engine {
                    engine: rep.engine.name().to_owned(),
                    replica: r,
                    reason: format!(
                        "holds {held} requests, but {} were routed to it and {} finished",
                        rep.counters.routed, rep.counters.completed
                    ),
                });
            }
        }
        let mut live: Vec<u32> = (0..self.slab.reqs.len())
            .filter(|&s| self.slab.reqs[s].in_use)
            .filter_map(|s| u32::try_from(s).ok())
            .collect();
        live.sort_by_key(|&s| self.slab.reqs[s as usize].id);
        for s in live {
            let mut r = self.slab.reqs[s as usize];
            if let Some(d) = &mut self.disagg {
                d.restore(s, &mut r);
            }
            if let Some(p) = self
                .pool_stats
                .get_mut(self.lim[r.replica as usize].pool as usize)
            {
                p.counts.unfinished += 1;
            }
            let miss = self.slos[r.client as usize].map(|_| false);
            out.row(
                &r,
                &self.clients[r.client as usize].name,
                Status::Unfinished,
                miss,
            )?;
            self.counts.unfinished += 1;
        }
        out.flush()?;
        if let Some(steps) = &mut self.steps {
            steps.flush()?;
        }
        self.report_progress(now);
        Ok(self.summary(now))
    }

    fn on_arrival<W: Write>(&mut self, payload: u32, now: u64, out: &mut CsvSink<W>) -> Result<()> {
        if !self.arrivals_open() {
            return Ok(());
        }
        if payload & TURN_BIT != 0 {
            return self.on_turn(payload & !TURN_BIT, now, out);
        }
        let client = payload as usize;
        let (prompt, target) = self.clients[client].sample_lengths();
        let key = self.clients[client].last_key;
        let opens = self.conversations[client]
            .as_mut()
            .is_some_and(Conversations::opens);
        let session = if opens {
            self.sessions += 1;
            Some((self.sessions, 1))
        } else {
            None
        };
        self.arrive(client, (prompt, target), key, session, now, out)?;
        self.schedule_next_arrival(client);
        Ok(())
    }

    /// The next turn of a conversation arrives: its prompt is the conversation so far plus
    /// new input (specs/simulator.md §5.3).
    fn on_turn<W: Write>(&mut self, slot: u32, now: u64, out: &mut CsvSink<W>) -> Result<()> {
        let t = self.turns.take(slot);
        let client = t.client as usize;
        let stream = &self.clients[client];
        let Some(conv) = &mut self.conversations[client] else {
            return Ok(());
        };
        let (input, target) = conv.follow_up_lengths(&stream.lengths, stream.max_tokens);
        let prompt = if conv.accumulates() {
            t.context.saturating_add(input)
        } else {
            input
        };
        let key = PromptKey {
            group: t.group_key,
            prompt: 0,
            system_len: t.system_len,
        };
        self.arrive(
            client,
            (prompt, target),
            key,
            Some((t.session, t.turn)),
            now,
            out,
        )
    }

    /// After a completed conversation turn: its next turn, a think time after the client saw
    /// this one end, or (conversation over) the closed-loop user's next request.
    fn after_completion(&mut self, req: &Req, seen: u64) {
        let client = req.client as usize;
        if req.session != 0
            && self.arrivals_open()
            && let Some(conv) = &mut self.conversations[client]
            && conv.continues(req.turn)
        {
            let t = seen.saturating_add(secs_to_ns(conv.think_time()));
            if t <= self.horizon_ns {
                let slot = self.turns.insert(PendingTurn {
                    client: req.client,
                    session: req.session,
                    turn: req.turn + 1,
                    context: req.prompt.saturating_add(req.generated),
                    group_key: req.group_key,
                    system_len: req.system_len,
                });
                self.push(t, ARRIVAL, TURN_BIT | slot);
            }
            return;
        }
        self.closed_loop_next(client, seen);
    }

    /// A request arrives (fresh, or a conversation's `(session, turn)`): admitted towards its
    /// queue, or rejected when it could never be served.
    fn arrive<W: Write>(
        &mut self,
        client: usize,
        (prompt, target): (u32, u32),
        key: PromptKey,
        session: Option<(u32, u32)>,
        now: u64,
        out: &mut CsvSink<W>,
    ) -> Result<()> {
        let chained = self.conversations[client]
            .as_ref()
            .is_some_and(Conversations::accumulates);
        let id = self.counts.arrived;
        self.counts.arrived += 1;
        if self.first_arrival == NEVER {
            self.first_arrival = now;
        }
        let measured = now >= self.warm_up_ns;
        if measured {
            self.slo_measured[client] += 1;
        } else {
            self.counts.warm_up += 1;
        }
        let mut req = Req {
            id,
            client: u32::try_from(client).unwrap_or(u32::MAX),
            prompt,
            target,
            arrival_ns: now,
            schedulable_ns: now,
            scheduled_ns: NEVER,
            first_token_ns: NEVER,
            last_token_ns: NEVER,
            group_key: key.group,
            // A conversation's tokens are one chain (unless its turns do not accumulate).
            prompt_key: match session {
                Some((s, _)) if chained => session_key(s),
                _ => key.prompt,
            },
            system_len: key.system_len,
            session: session.map_or(0, |(s, _)| s),
            turn: session.map_or(0, |(_, t)| t),
            in_use: true,
            measured,
            ..Req::default()
        };
        let total = u64::from(prompt) + u64::from(target);
        // The cap the client declared: its max_tokens, else exactly its output.
        let cap = self.clients[client].max_tokens;
        req.max_new = max_new(cap, target, prompt, self.lim[0].max_model_len);
        // Rejected on arrival when no pool could ever serve it.
        let too_long = if self.pool_stats.is_empty() {
            // One pool: its first replica answers for all.
            self.lim[0]
                .max_model_len
                .is_some_and(|m| total > u64::from(m))
                || total > u64::from(u32::MAX)
                || !self.replicas[0].engine.can_serve(&ArrivalInfo {
                    prompt_tokens: prompt,
                    final_tokens: u32::try_from(total).unwrap_or(u32::MAX),
                    max_new_tokens: req.max_new,
                })
        } else {
            total > u64::from(u32::MAX) || !self.servable(&req, cap)
        };
        if too_long {
            self.counts.rejected += 1;
            let miss = self.slos[client].map(|_| false);
            out.row(&req, &self.clients[client].name, Status::Rejected, miss)?;
            self.closed_loop_next(client, now);
        } else if self.pre_fixed_ns == 0 && self.pre_per_token_ns == 0.0 {
            let slot = self.slab.insert(req);
            self.enqueue(slot, now, out)?;
        } else {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let delay = self
                .pre_fixed_ns
                .saturating_add((self.pre_per_token_ns * f64::from(prompt)).ceil() as u64);
            req.schedulable_ns = now.saturating_add(delay);
            let slot = self.slab.insert(req);
            self.push(now.saturating_add(delay), ENQUEUE, slot);
        }
        Ok(())
    }

    /// Routes the request in `slot` (now schedulable) to a replica's waiting queue, or drops
    /// it when that queue is full.
    fn enqueue<W: Write>(&mut self, slot: u32, now: u64, out: &mut CsvSink<W>) -> Result<()> {
        if slot & HANDOFF != 0 {
            return self.on_kv_arrived(slot & !HANDOFF, now, out);
        }
        let session = self.slab.reqs[slot as usize].session;
        let r = match &self.disagg {
            None => self.router.pick(&self.replicas, session),
            Some(_) => {
                self.entry.start
                    + self
                        .router
                        .pick(&self.replicas[self.entry.clone()], session)
            }
        };
        let req = &mut self.slab.reqs[slot as usize];
        req.replica = u32::try_from(r).unwrap_or(u32::MAX);
        if !self.pool_stats.is_empty() && !self.routed_to_pool(slot, r) {
            self.counts.rejected += 1;
            return self.turn_away(slot, Status::Rejected, now, out);
        }
        let max_queue = self.lim[r].max_queue;
        if max_queue != usize::MAX && self.replicas[r].engine.waiting() >= max_queue {
            if let Some(p) = self.pool_stats.get_mut(self.lim[r].pool as usize) {
                p.counts.dropped += 1;
            }
            self.counts.dropped += 1;
            self.turn_away(slot, Status::Dropped, now, out)?;
        } else {
            if let Some(d) = &mut self.disagg {
                d.enter_prefill(slot, &mut self.slab.reqs[slot as usize]);
            }
            if self.frontend_free_ns[r] > now {
                // The replica's front end is still streaming earlier tokens: the request's
                // handler runs after that backlog (EngineOverheads::frontend_us_per_token).
                let ready = self.frontend_free_ns[r];
                self.push(ready, ADMIT, slot);
            } else {
                self.admit(slot, now);
            }
        }
        Ok(())
    }

    /// Whether replica `r` could ever serve `req` (as a prefill-only request on a prefill
    /// replica), with the output cap it would get there.
    fn can_serve(&self, r: usize, req: &Req, cap: u32) -> (bool, u32) {
        let l = &self.lim[r];
        let prefill_only = self
            .disagg
            .as_ref()
            .is_some_and(|d| d.prefill.contains(&r) && req.target > 1);
        let (target, max_new) = if prefill_only {
            (1, 1)
        } else {
            (
                req.target,
                max_new(cap, req.target, req.prompt, l.max_model_len),
            )
        };
        let total = u64::from(req.prompt) + u64::from(target);
        let ok = l.max_model_len.is_none_or(|m| total <= u64::from(m))
            && self.replicas[r].engine.can_serve(&ArrivalInfo {
                prompt_tokens: req.prompt,
                final_tokens: u32::try_from(total).unwrap_or(u32::MAX),
                max_new_tokens: max_new,
            });
        (ok, max_new)
    }

    /// Whether some pool could serve `req` (with disaggregation, the prefill pool its
    /// prefill and the decode pool the rest).
    fn servable(&self, req: &Req, cap: u32) -> bool {
        if let Some(d) = &self.disagg {
            return self.can_serve(d.prefill.start, req, cap).0
                && self.can_serve(d.decode.start, req, cap).0;
        }
        self.pool_first
            .iter()
            .any(|&r| self.can_serve(r, req, cap).0)
    }

    /// With several pools: the request in `slot` was routed to replica `r`; false when `r`
    /// cannot serve it (it is then rejected), else its output cap becomes `r`'s.
    fn routed_to_pool(&mut self, slot: u32, r: usize) -> bool {
        let req = self.slab.reqs[slot as usize];
        let cap = self.clients[req.client as usize].max_tokens;
        let (ok, max_new) = self.can_serve(r, &req, cap);
        let p = self.lim[r].pool as usize;
        if req.measured && self.slos[req.client as usize].is_some() {
            self.pool_stats[p].slo_measured += 1;
        }
        if ok {
            self.slab.reqs[slot as usize].max_new = max_new;
        } else {
            self.pool_stats[p].counts.rejected += 1;
        }
        ok
    }

    /// The KV of the request in `slot` reached the decode pool: it joins a decode replica's
    /// waiting queue with its prompt computed and its first token generated, or is dropped
    /// when that queue is full.
    #[cold]
    fn on_kv_arrived<W: Write>(&mut self, slot: u32, now: u64, out: &mut CsvSink<W>) -> Result<()> {
        let Some(d) = &mut self.disagg else {
            return Ok(());
        };
        let session = self.slab.reqs[slot as usize].session;
        let r = d.decode.start + d.router.pick(&self.replicas[d.decode.clone()], session);
        let p = d.decode_pool;
        let cap = self.clients[self.slab.reqs[slot as usize].client as usize].max_tokens;
        let max_model_len = self.lim[r].max_model_len;
        let req = &mut self.slab.reqs[slot as usize];
        req.replica = u32::try_from(r).unwrap_or(u32::MAX);
        req.finished = false;
        req.blocks = 0;
        req.shared = 0;
        req.lazy = false;
        req.max_new = max_new(cap, req.target, req.prompt, max_model_len);
        let req = *req;
        if req.measured && self.slos[req.client as usize].is_some() {
            self.pool_stats[p].slo_measured += 1;
        }
        let max_queue = self.lim[r].max_queue;
        if max_queue != usize::MAX && self.replicas[r].engine.waiting() >= max_queue {
            self.pool_stats[p].counts.dropped += 1;
            self.counts.dropped += 1;
            self.turn_away(slot, Status::Dropped, now, out)?;
        } else {
            self.admit(slot, now);
        }
        Ok(())
    }

    /// A routed request refused by its replica (`status` rejected or dropped, already
    /// counted): its CSV row (SLO missed), its slot freed, and the closed-loop user's next
    /// request.
    fn turn_away<W: Write>(
        &mut self,
        slot: u32,
        status: Status,
        now: u64,
        out: &mut CsvSink<W>,
    ) -> Result<()> {
        let req = self.slab.reqs[slot as usize];
        let miss = self.slos[req.client as usize].map(|_| false);
        out.row(&req, &self.clients[req.client as usize].name, status, miss)?;
        self.slab.remove(slot);
        self.closed_loop_next(req.client as usize, now);
        Ok(())
    }

    /// Puts the routed request in `slot` into its replica's waiting queue.
    fn admit(&mut self, slot: u32, now: u64) {
        let r = self.slab.reqs[slot as usize].replica as usize;
        let rep = &mut self.replicas[r];
        rep.engine
            .enqueue(&mut Requests::new(&mut self.slab.reqs), ReqId(slot));
        rep.counters.routed += 1;
        if !self.pool_stats.is_empty() {
            self.pool_stats[self.lim[r].pool as usize].counts.routed += 1;
        }
        if !rep.busy && !rep.wake_pending {
            rep.wake_pending = true;
            self.push(now, WAKE, u32::try_from(r).unwrap_or(u32::MAX));
        }
    }

    fn on_wake(&mut self, r: usize, now: u64) -> Result<()> {
        let rep = &mut self.replicas[r];
        rep.wake_pending = false;
        if rep.busy {
            return Ok(());
        }
        let shape = rep
            .engine
            .schedule(&mut Requests::new(&mut self.slab.reqs), now);
        let snap = rep.engine.snapshot();
        let kv = snap.kv;
        let l = &self.lim[r];
        // The engine contract (see `crate::engine`), cheaply: KV within capacity, the
        // limits respected, no stall.
        if kv.used > kv.total
            || shape.num_seqs() > l.max_seqs
            || shape.total_tokens() > u64::from(l.max_tokens)
            || shape.is_empty()
        {
            self.check_step(r, &shape)?;
            if shape.is_empty() {
                return Ok(());
            }
        }
        let rep = &mut self.replicas[r];
        let l = &self.lim[r];
        let ms = self.models[r].step_time(&shape)
            + l.per_step_ms
            + l.per_token_ms * f64::from(shape.logits)
            + rep.engine.extra_step_ms();
        if !(ms.is_finite() && ms >= 0.0) {
            return Err(SimError::InvalidStepTime {
                value: ms,
                seqs: shape.num_seqs(),
            });
        }
        // Ceiling, so rounding never breaks a lower bound; at least 1 ns so tokens are ordered.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mut dt = ceil_ns(ms * 1e6).max(1);
        if rep.pipeline != NO_PIPELINE {
            // Through the replica's stages, behind its other engines' micro-batches.
            let end = self.pipelines[rep.pipeline as usize].run(now, dt, shape.total_tokens());
            dt = end - now;
        }
        rep.account(&shape, &snap, now, dt);
        rep.busy = true;
        let end = (now.saturating_add(dt), u32::try_from(r).unwrap_or(u32::MAX));
        if let Some((t, r)) = self.step_end.replace(end) {
            self.push(t, STEP_END, r);
        }
        Ok(())
    }

    /// The engine contract on a freshly built step (see [`crate::engine`]): KV within
    /// capacity, the limits respected, no stall.
    fn check_step(&self, r: usize, shape: &BatchShape) -> Result<()> {
        let e = &*self.replicas[r].engine;
        let l = &self.lim[r];
        let kv = e.kv_blocks();
        let reason = if kv.used > kv.total {
            format!("uses {} KV blocks of {}", kv.used, kv.total)
        } else if shape.num_seqs() > l.max_seqs {
            format!(
                "scheduled {} requests in a step (max_batch_size {})",
                shape.num_seqs(),
                l.max_seqs
            )
        } else if shape.total_tokens() > u64::from(l.max_tokens) {
            format!(
                "scheduled {} tokens in a step (max_num_batched_tokens {})",
                shape.total_tokens(),
                l.max_tokens
            )
        } else if shape.is_empty() && e.has_work() {
            format!(
                "scheduled nothing with {} waiting and {} running requests (an idle replica \
                 is woken only by arrivals)",
                e.waiting(),
                e.running()
            )
        } else {
            return Ok(());
        };
        Err(SimError::Engine {
            engine: e.name().to_owned(),
            replica: r,
            reason,
        })
    }

    fn on_step_end<W: Write>(&mut self, r: usize, now: u64, out: &mut CsvSink<W>) -> Result<()> {
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        let rep = &mut self.replicas[r];
        rep.busy = false;
        if let Some(steps) = &mut self.steps {
            steps.row(r, &rep.last_step, now)?;
        }
        let l = self.lim[r];
        // The front end streams this step's tokens after its backlog (EngineOverheads docs).
        let delivery = if l.frontend_token_ns > 0.0 {
            let tokens = f64::from(rep.last_step.shape.logits);
            let free = &mut self.frontend_free_ns[r];
            let start = now.max(*free);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            {
                *free = start.saturating_add((l.frontend_token_ns * tokens).ceil() as u64);
                start.saturating_add((l.frontend_token_ns * (tokens + 1.0) / 2.0).ceil() as u64)
                    - now
            }
        } else {
            0
        } + self.response_ns;
        // With several pools, each pool's tokens feed its own ITL (merged in the summary).
        let itl = match self.pool_stats.get_mut(l.pool as usize) {
            Some(p) => &mut p.itl,
            None => &mut self.itl,
        };
        let mut step = StepEnd {
            reqs: &mut self.slab.reqs,
            now,
            start: rep.step_start,
            first_token_delay: delivery,
            itl,
            done: &mut done,
            block_size: l.block_size,
            violation: None,
            same_gap: 0,
        };
        rep.engine.finish_step(&mut step);
        let (same_gap, violation) = (step.same_gap, step.violation);
        step.itl.add_n(now - rep.step_start, same_gap);
        if let Some(reason) = violation {
            return Err(SimError::Engine {
                engine: rep.engine.name().to_owned(),
                replica: r,
                reason,
            });
        }
        rep.counters.completed += done.len() as u64;
        let wake = rep.engine.has_work();
        if wake {
            rep.wake_pending = true;
        }
        let seen = now.saturating_add(delivery).saturating_add(l.post_ns);
        for &s in &done {
            if let Some(d) = &mut self.disagg
                && d.in_prefill(s)
            {
                // Prefilled: its KV goes to the decode pool.
                let req = &mut self.slab.reqs[s as usize];
                d.restore(s, req);
                let at = d.transfer(r, req.prompt, now, req.measured);
                self.pool_stats[d.prefill_pool].counts.handed_off += 1;
                self.push(at, ENQUEUE, s | HANDOFF);
                continue;
            }
            let mut req = self.slab.reqs[s as usize];
            req.last_token_ns = seen;
            if req.measured {
                self.ttft.add(req.first_token_ns - req.arrival_ns);
                self.e2e.add(seen - req.arrival_ns);
                self.sched.add(req.scheduled_ns - req.arrival_ns);
                if req.generated >= 2 {
                    self.tpot
                        .add(rounded_div(seen - req.first_token_ns, req.generated - 1));
                }
                self.in_tokens += u64::from(req.prompt);
                self.out_tokens += u64::from(req.generated);
                self.measured_completed += 1;
                self.last_completion = now;
            }
            self.counts.completed += 1;
            let met = self.slos[req.client as usize].map(|slo| slo.met(&req, seen));
            if req.measured && met == Some(true) {
                self.slo_met[req.client as usize] += 1;
            }
            if !self.pool_stats.is_empty() {
                self.pool_completion(r, &req, seen, met);
            }
            out.row(
                &req,
                &self.clients[req.client as usize].name,
                Status::Completed,
                met,
            )?;
            self.slab.remove(s);
            self.after_completion(&req, seen);
        }
        self.done = done;
        if wake {
            if self.queue.would_be_next(now, WAKE) {
                // The wake-up would be the next event popped: handled at once, as if it had
                // gone through the queue (the commonest event of a busy replica).
                self.count_event(now);
                return self.on_wake(r, now);
            }
            self.push(now, WAKE, u32::try_from(r).unwrap_or(u32::MAX));
        }
        Ok(())
    }

    /// The engines of the pools, in pool order, joined by `+`.
    fn engine_names(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for &first in &self.pool_first {
            if let Some(r) = self.replicas.get(first) {
                names.push(r.engine.name());
            }
        }
        names.join("+")
    }

    #[allow(clippy::cast_precision_loss)]
    fn summary(&self, end: u64) -> Summary {
        // specs/simulator.md §7.1: [w0, w1] = [max(warm-up end, first arrival), last measured
        // completion]; without a warm-up, w0 is the first arrival.
        let w0 = self.first_arrival.max(self.warm_up_ns);
        let window = if self.first_arrival == NEVER || self.last_completion <= w0 {
            0.0
        } else {
            ns_to_s(self.last_completion - w0)
        };
        let per_s = |x: u64| if window > 0.0 { x as f64 / window } else { 0.0 };
        let end_f = end.max(1) as f64;
        let replicas: Vec<ReplicaSummary> = self
            .replicas
            .iter()
            .map(|r| {
                let c = &r.counters;
                let kv = r.engine.kv_blocks();
                let hits = r.engine.prefix_hits();
                let steps = c.steps.max(1) as f64;
                ReplicaSummary {
                    routed: c.routed,
                    completed: c.completed,
                    steps: c.steps,
                    busy_fraction: c.busy_ns as f64 / end_f,
                    mean_batch_size: c.batch_sum as f64 / steps,
                    mean_tokens_per_step: c.tokens_sum as f64 / steps,
                    kv_usage_mean: c.kv_block_ns as f64 / (kv.total as f64 * end_f),
                    kv_blocks_max: c.kv_max_used,
                    kv_blocks_total: kv.total,
                    preemptions: r.engine.preemptions(),
                    prefix_cache_hits: hits.admissions,
                    prefix_cache_hit_tokens: hits.tokens,
                    pipeline_busy_fraction: (r.pipeline != NO_PIPELINE)
                        .then(|| self.pipelines[r.pipeline as usize].busy_fraction(end)),
                    batch_limit: r.engine.batch_limit_use(),
                }
            })
            .collect();
        let steps: u64 = self.replicas.iter().map(|r| r.counters.steps).sum();
        let batch: u64 = self.replicas.iter().map(|r| r.counters.batch_sum).sum();
        Summary {
            simulated_time_s: ns_to_s(end),
            warm_up_s: self.sim.config.warm_up_s.unwrap_or(0.0),
            interrupted: self.interrupted,
            engine: self.engine_names(),
            requests: self.counts,
            throughput: Throughput {
                window_s: window,
                requests_per_second: per_s(self.measured_completed),
                input_tokens_per_second: per_s(self.in_tokens),
                output_tokens_per_second: per_s(self.out_tokens),
            },
            latency: Latencies {
                ttft_ms: self.ttft.stats_ms(),
                tpot_ms: self.tpot.stats_ms(),
                itl_ms: self.itl_stats(),
                e2e_ms: self.e2e.stats_ms(),
                scheduling_delay_ms: self.sched.stats_ms(),
            },
            preemptions: replicas.iter().map(|r| r.preemptions).sum(),
            mean_batch_size: if steps == 0 {
                0.0
            } else {
                batch as f64 / steps as f64
            },
            kv_usage_mean: replicas.iter().map(|r| r.kv_usage_mean).sum::<f64>()
                / replicas.len().max(1) as f64,
            output_tokens: self.out_tokens,
            goodput: self.goodput(&per_s),
            events: self.events,
            replicas,
            pools: self.pool_summaries(&per_s),
        }
    }

    /// ITL over every replica (merged from the pools' with several pools).
    fn itl_stats(&self) -> crate::Stats {
        if self.pool_stats.is_empty() {
            return self.itl.stats_ms();
        }
        let mut all = Sketch::new();
        for p in &self.pool_stats {
            all.merge(&p.itl);
        }
        all.stats_ms()
    }

    /// A request completed on replica `r` (seen by the client at `seen`): its pool's figures
    /// (with disaggregation, TTFT and scheduling delay are the prefill pool's).
    fn pool_completion(&mut self, r: usize, req: &Req, seen: u64, met: Option<bool>) {
        let p = self.lim[r].pool as usize;
        let first = match &self.disagg {
            Some(d) if d.decode.contains(&r) => d.prefill_pool,
            _ => p,
        };
        self.pool_stats[p].counts.completed += 1;
        if !req.measured {
            return;
        }
        self.pool_stats[first]
            .ttft
            .add(req.first_token_ns - req.arrival_ns);
        self.pool_stats[first]
            .sched
            .add(req.scheduled_ns - req.arrival_ns);
        let s = &mut self.pool_stats[p];
        s.e2e.add(seen - req.arrival_ns);
        if req.generated >= 2 {
            s.tpot
                .add(rounded_div(seen - req.first_token_ns, req.generated - 1));
        }
        s.in_tokens += u64::from(req.prompt);
        s.out_tokens += u64::from(req.generated);
        s.measured_completed += 1;
        if met == Some(true) {
            s.slo_met += 1;
        }
    }

    /// `summary.pools` (empty with one pool).
    #[allow(clippy::cast_precision_loss)]
    fn pool_summaries(&self, per_s: &dyn Fn(u64) -> f64) -> Vec<PoolSummary> {
        let any_slo = self.slos.iter().any(Option::is_some);
        self.pool_stats
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let pool = &self.sim.pools[i];
                let role = self.disagg.as_ref().and_then(|d| {
                    if d.prefill_pool == i {
                        Some("prefill".to_owned())
                    } else if d.decode_pool == i {
                        Some("decode".to_owned())
                    } else {
                        None
                    }
                });
                PoolSummary {
                    name: pool.name.clone(),
                    engine: pool.cluster.engine.kind.name().to_owned(),
                    role,
                    replicas: pool.cluster.replicas,
                    first_replica: u32::try_from(self.pool_first[i]).unwrap_or(u32::MAX),
                    kv_blocks_per_replica: pool.num_blocks,
                    requests: s.counts,
                    throughput: Throughput {
                        window_s: self.summary_window(),
                        requests_per_second: per_s(s.measured_completed),
                        input_tokens_per_second: per_s(s.in_tokens),
                        output_tokens_per_second: per_s(s.out_tokens),
                    },
                    latency: s.latencies(),
                    goodput: any_slo.then(|| crate::pool::PoolGoodput {
                        requests_per_second: per_s(s.slo_met),
                        attainment: if s.slo_measured == 0 {
                            0.0
                        } else {
                            s.slo_met as f64 / s.slo_measured as f64
                        },
                        met: s.slo_met,
                        measured: s.slo_measured,
                    }),
                    kv_transfers: self
                        .disagg
                        .as_ref()
                        .filter(|d| d.prefill_pool == i)
                        .map(Disagg::summary),
                }
            })
            .collect()
    }

    /// The throughput window `[w0, w1]`, seconds (as in [`Engine::summary`]).
    fn summary_window(&self) -> f64 {
        let w0 = self.first_arrival.max(self.warm_up_ns);
        if self.first_arrival == NEVER || self.last_completion <= w0 {
            0.0
        } else {
            ns_to_s(self.last_completion - w0)
        }
    }

    /// Goodput over the clients with an SLO (`None` when none has one).
    #[allow(clippy::cast_precision_loss)]
    fn goodput(&self, per_s: &dyn Fn(u64) -> f64) -> Option<Goodput> {
        let c = &self.sim.config;
        let per_client: Vec<ClientGoodput> = (0..self.slos.len())
            .filter(|&i| self.slos[i].is_some())
            .map(|i| {
                let (measured, met) = (self.slo_measured[i], self.slo_met[i]);
                ClientGoodput {
                    client: self.clients[i].name.clone(),
                    slo: c.workload.clients[i]
                        .slo
                        .unwrap_or_default()
                        .or(c.slo.unwrap_or_default()),
                    measured,
                    met,
                    attainment: if measured == 0 {
                        0.0
                    } else {
                        met as f64 / measured as f64
                    },
                    requests_per_second: per_s(met),
                }
            })
            .collect();
        if per_client.is_empty() {
            return None;
        }
        let met: u64 = per_client.iter().map(|g| g.met).sum();
        let measured: u64 = per_client.iter().map(|g| g.measured).sum();
        Some(Goodput {
            requests_per_second: per_s(met),
            attainment: if measured == 0 {
                0.0
            } else {
                met as f64 / measured as f64
            },
            met,
            measured,
            per_client,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The aggregate handling of decoders (crate::decoders) against touching every request
    //! every step: the same CSV and summary, byte for byte, over configurations that exercise
    //! preemption (both policies), chunked and unchunked prefill, truncating token budgets,
    //! prefix caching, routers and several replicas.

    use super::*;

    /// `ceil_ns` is `ceil` then the saturating cast, on whole, fractional, tiny, 2⁵³-adjacent
    /// and out-of-range values, and on a million random step lengths.
    #[test]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn ceil_ns_is_ceil_then_the_cast() {
        use rand::{RngExt, SeedableRng};
        let two53 = 9_007_199_254_740_992.0_f64;
        let edge = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            1e-300,
            0.5,
            1.0,
            1.0 + f64::EPSILON,
            2.5,
            1e6 - 0.5,
            two53 - 1.5,
            two53 - 1.0,
            two53,
            two53 + 2.0,
            1.8e19,
            18_446_744_073_709_551_615.0,
            2e19,
            1e300,
            f64::MAX,
        ];
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(8);
        let random =
            (0..1_000_000).map(|_| rng.random::<f64>() * 10f64.powi(rng.random_range(0..12)));
        for x in edge.into_iter().chain(random) {
            assert_eq!(ceil_ns(x), x.ceil() as u64, "{x:e}");
        }
    }

    fn outputs(json: &serde_json::Value, lazy: bool) -> (Vec<u8>, String) {
        let cfg: SimConfig = serde_json::from_value(json.clone()).unwrap();
        let mut sim = Simulation::new(cfg).unwrap();
        sim.lazy_decode = lazy;
        let mut csv = Vec::new();
        let summary = sim.run(&mut csv).unwrap();
        (csv, summary.to_json().unwrap())
    }

    fn check(json: &serde_json::Value) {
        let (csv_lazy, sum_lazy) = outputs(json, true);
        let (csv_eager, sum_eager) = outputs(json, false);
        let lines_lazy: Vec<&[u8]> = csv_lazy.split(|&b| b == b'\n').collect();
        let lines_eager: Vec<&[u8]> = csv_eager.split(|&b| b == b'\n').collect();
        for (a, b) in lines_lazy.iter().zip(&lines_eager) {
            assert_eq!(
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(b),
                "config {json}"
            );
        }
        assert_eq!(lines_lazy.len(), lines_eager.len());
        assert_eq!(sum_lazy, sum_eager, "config {json}");
    }

    fn config(
        engine: serde_json::Value,
        replicas: u32,
        router: &str,
        blocks: u64,
        preemption: &str,
    ) -> serde_json::Value {
        // The smallest cache also gets a warm-up (measured and warm-up decoders share steps).
        let warm_up = if blocks == 500 { 10.0 } else { 0.0 };
        serde_json::json!({
            "seed": 11, "max_requests": 1500, "warm_up_s": warm_up,
            "cluster": { "replicas": replicas, "router": router, "engine": engine,
                "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
                "kv_cache": { "num_gpu_blocks": blocks }, "preemption": preemption },
            "workload": { "clients": [
                { "arrival": { "kind": "gamma", "rate": 30.0, "cv": 2.0 },
                  "input": { "kind": "lognormal", "mean": 600, "std": 400 },
                  "output": { "kind": "lognormal", "mean": 150, "std": 100 } },
                { "arrival": { "kind": "poisson", "rate": 3.0 },
                  "input": { "kind": "uniform", "low": 1500, "high": 3000 },
                  "output": { "kind": "fixed", "value": 64 } } ] }
        })
    }

    #[test]
    fn lazy_decoders_match_per_request_stepping() {
        use serde_json::json;
        let engines = [
            json!({ "max_batch_size": 64, "max_num_batched_tokens": 2048 }),
            json!({ "max_batch_size": 256, "max_num_batched_tokens": 512, "block_size": 8 }),
            json!({ "max_batch_size": 32, "max_num_batched_tokens": 4096,
                    "enable_chunked_prefill": false }),
            json!({ "max_batch_size": 128, "max_num_batched_tokens": 1024,
                    "enable_prefix_caching": true }),
        ];
        for (i, engine) in engines.iter().enumerate() {
            for (blocks, preemption) in [
                (100_000, "last_admitted"),
                (700, "latest_arrival"),
                (500, "last_admitted"),
            ] {
                let (replicas, router) = if i % 2 == 0 {
                    (1, "round_robin")
                } else {
                    (3, "least_kv_usage")
                };
                check(&config(
                    engine.clone(),
                    replicas,
                    router,
                    blocks,
                    preemption,
                ));
            }
        }
    }

    #[test]
    fn lazy_decoders_match_with_overheads_closed_loops_and_cut_off_runs() {
        use serde_json::json;
        let base = |engine: serde_json::Value, extra: serde_json::Value| {
            let mut c = json!({
                "seed": 5, "max_requests": 1200, "max_simulation_time_s": 40.0,
                "cluster": { "replicas": 2, "router": "least_outstanding_requests",
                    "engine": engine,
                    "cost_model": { "kind": "inferno", "alpha": 6.0, "beta": 0.03, "gamma": 3e-4 },
                    "kv_cache": { "num_gpu_blocks": 900 },
                    "overheads": { "pre_schedule_ms": 15.0, "pre_schedule_us_per_token": 2.0,
                        "per_step_ms": 0.5, "per_output_token_us": 40.0, "post_completion_ms": 0.8 } },
                "workload": { "clients": [
                    { "arrival": { "kind": "closed_loop", "users": 40, "think_time_s": 0.5 },
                      "input": { "kind": "lognormal", "mean": 800, "std": 500 },
                      "output": { "kind": "uniform", "low": 1, "high": 300 } },
                    { "arrival": { "kind": "poisson", "rate": 20.0 },
                      "input": { "kind": "fixed", "value": 100 },
                      "output": { "kind": "fixed", "value": 1 } } ] }
            });
            if let (Some(obj), Some(add)) = (c.as_object_mut(), extra.as_object()) {
                for (k, v) in add {
                    obj.insert(k.clone(), v.clone());
                }
            }
            c
        };
        check(&base(
            json!({ "max_batch_size": 48, "max_num_batched_tokens": 1024 }),
            json!({}),
        ));
        check(&base(
            json!({ "max_batch_size": 16, "max_num_batched_tokens": 512,
                    "max_model_len": 1500, "max_queue_size": 30 }),
            json!({ "drain": false, "horizon_s": 20.0 }),
        ));
        // A warm-up: lazy decoders of the warm-up and measured ones share steps.
        check(&base(
            json!({ "max_batch_size": 48, "max_num_batched_tokens": 1024 }),
            json!({ "warm_up_s": 8.0 }),
        ));
        check(&base(
            json!({ "max_batch_size": 16, "max_num_batched_tokens": 512,
                    "max_model_len": 1500, "max_queue_size": 30 }),
            json!({ "drain": false, "horizon_s": 20.0, "warm_up_s": 3.5 }),
        ));
    }

    /// A random small configuration: tiny blocks, budgets and batch limits, both preemption
    /// policies, every router, prefix caching with shared prefixes, closed loops, warm-up,
    /// cut-off runs, overheads; outputs of 1, 2 and exactly one block of tokens.
    fn random_config(seed: u64) -> serde_json::Value {
        use rand::{RngExt, SeedableRng};
        use serde_json::json;
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut pick = |n: usize| rng.random_range(0..n);
        let bs = [1u32, 2, 3, 16][pick(4)];
        let output = match pick(5) {
            0 => json!({ "kind": "fixed", "value": 1 }),
            1 => json!({ "kind": "fixed", "value": 2 }),
            2 => json!({ "kind": "uniform", "low": 1, "high": 2 * bs + 1 }),
            3 => json!({ "kind": "fixed", "value": bs }),
            _ => json!({ "kind": "lognormal", "mean": 40, "std": 30 }),
        };
        let input = match pick(4) {
            0 => json!({ "kind": "fixed", "value": 1 }),
            1 => json!({ "kind": "fixed", "value": bs }),
            2 => json!({ "kind": "uniform", "low": 1, "high": 40 }),
            _ => json!({ "kind": "lognormal", "mean": 60, "std": 50 }),
        };
        let arrival = if pick(2) == 0 {
            json!({ "kind": "poisson", "rate": ([5.0, 50.0, 500.0][pick(3)]) })
        } else {
            json!({ "kind": "closed_loop", "users": 1 + pick(30), "think_time_s": 0.01 })
        };
        let mut client = json!({ "arrival": arrival, "input": input, "output": output });
        if pick(2) == 0 {
            client["shared_prefix"] = json!({ "groups": 1 + pick(3),
                "prompts_per_group": 1 + pick(4), "system_prompt_len": pick(3 * bs as usize + 2) });
        }
        let mut c = json!({
            "seed": seed, "max_requests": 150 + pick(250),
            "cluster": { "replicas": 1 + pick(3),
                "router": (["round_robin", "random", "least_outstanding_requests", "least_kv_usage"][pick(4)]),
                "engine": { "max_batch_size": ([1, 2, 3, 8, 64][pick(5)]),
                    "max_num_batched_tokens": ([1, 2, 3, 5, 16, 64, 512, 4096][pick(8)]),
                    "block_size": bs, "enable_chunked_prefill": pick(4) != 0,
                    "enable_prefix_caching": pick(2) == 0 },
                "cost_model": { "kind": "inferno", "alpha": ([5.0, 6.0][pick(2)]),
                    "beta": ([0.0, 0.03][pick(2)]), "gamma": ([0.0, 3e-4][pick(2)]) },
                "kv_cache": { "num_gpu_blocks": ([4, 10, 30, 100, 1000, 100_000][pick(6)]),
                    "prefix_cache_fraction": ([0.0, 0.5, 1.0][pick(3)]) },
                "preemption": (["last_admitted", "latest_arrival"][pick(2)]) },
            "workload": { "clients": [client] }
        });
        if pick(3) == 0 {
            c["warm_up_s"] = json!(0.5 * pick(6) as f64);
        }
        if pick(3) == 0 {
            c["max_simulation_time_s"] = json!(0.3 + 0.7 * pick(8) as f64);
        }
        if pick(4) == 0 {
            c["drain"] = json!(false);
            c["horizon_s"] = json!(1.0 + pick(5) as f64);
        }
        if pick(3) == 0 {
            c["cluster"]["overheads"] = json!({ "pre_schedule_ms": 1.0,
                "pre_schedule_us_per_token": 2.0, "per_step_ms": 0.5,
                "per_output_token_us": 40.0, "post_completion_ms": 0.8 });
        }
        c
    }

    #[test]
    fn lazy_decoders_match_with_pools_and_disaggregation() {
        use serde_json::json;
        for (blocks, disagg) in [(400, true), (3000, true), (400, false)] {
            let mut c = config(
                json!({ "max_batch_size": 64, "max_num_batched_tokens": 2048 }),
                1,
                "least_kv_usage",
                100_000,
                "last_admitted",
            );
            c["cluster"]["pools"] = json!([
                { "name": "a", "replicas": 2 },
                { "name": "b", "replicas": 1, "kv_cache": { "num_gpu_blocks": blocks },
                  "engine": { "max_batch_size": 32, "max_num_batched_tokens": 512 } }
            ]);
            if disagg {
                c["cluster"]["disaggregation"] = json!({ "prefill_pool": "a", "decode_pool": "b",
                    "link": { "latency_ms": 0.3, "bandwidth_gbs": 20.0 } });
            }
            check(&c);
        }
    }

    #[test]
    fn lazy_decoders_match_on_random_small_configurations() {
        let mut valid = 0;
        for seed in 0..120 {
            let json = random_config(seed);
            let Ok(cfg) = serde_json::from_value::<SimConfig>(json.clone()) else {
                continue;
            };
            if Simulation::new(cfg).is_err() {
                continue; // rejected by validation (e.g. a cache below the smallest request)
            }
            check(&json);
            valid += 1;
        }
        assert!(
            valid >= 60,
            "only {valid} of 120 random configurations were valid"
        );
    }
}
