//! Heterogeneous clusters: `cluster.pools`, groups of identical replicas that each have their
//! own engine, cost model (model, accelerator, TP), KV cache, preemption policy and overheads.
//!
//! Without `pools` the cluster is what it always was: `cluster.replicas` identical replicas
//! running `cluster.engine` with `cluster.cost_model` (one implicit pool; the outputs carry no
//! pool section). With `pools`, the cluster-level `engine`, `cost_model`, `kv_cache`,
//! `preemption` and `overheads` are the defaults every pool inherits, field group by field
//! group: a pool that gives its own `engine` replaces the whole engine block. Replicas are
//! numbered pool after pool, in the order the pools are listed (the CSV's `replica_id`, the
//! summary's `replicas[]`).
//!
//! ```yaml
//! cluster:
//!   router: weighted_random
//!   cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: H100 }   # the default
//!   pools:
//!     - { name: h100, replicas: 2, weight: 3 }                                # inherits it
//!     - name: a100-sglang
//!       replicas: 2
//!       weight: 1
//!       engine: { kind: sglang, max_running_requests: 128 }
//!       cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: A100-80GB }
//! ```
//!
//! Routing: the router (`cluster.router`) picks among every replica of every pool (with
//! [`crate::disagg`], among the prefill pool's replicas). `weighted_random` draws a replica
//! with probability proportional to its pool's `weight` split evenly over the pool's replicas
//! (default weight: the pool's replica count, i.e. uniform over replicas).
//!
//! Requests a pool cannot serve: a request no pool could ever serve (above every pool's
//! `max_model_len` or KV cache) is `rejected` on arrival, as with one pool; one that another
//! pool could serve is routed, and `rejected` by the replica it reaches if that replica cannot
//! serve it (`max_model_len`, KV capacity, token budget).
//!
//! Pre-schedule overheads (`overheads.pre_schedule_ms`, `pre_schedule_us_per_token`) happen
//! before routing, so they are the cluster's only: a pool's own `overheads` must leave them at
//! 0. The other overheads (per step, per output token, post-completion, front end) are the
//! replica's pool's.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use perf_model_core::StepTimeModel;

use crate::config::{
    ClusterConfig, CostModelConfig, EngineOverheads, KvCacheConfig, MAX_REPLICAS, PreemptionPolicy,
    SimConfig,
};
use crate::engine::EngineConfig;
use crate::error::{Result, SimError, invalid};
use crate::output::{Latencies, Throughput};

/// One pool of identical replicas (`cluster.pools[]`). Fields left out are the cluster's.
///
/// # Examples
/// ```
/// use perf_sim::{SimConfig, Simulation};
/// let cfg: SimConfig = serde_json::from_str(r#"{ "max_requests": 300,
///   "cluster": { "router": "weighted_random",
///     "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
///     "kv_cache": { "num_gpu_blocks": 4000 },
///     "pools": [
///       { "name": "fast", "replicas": 1, "weight": 3.0 },
///       { "name": "slow", "replicas": 1, "weight": 1.0,
///         "engine": { "kind": "sglang", "max_running_requests": 32 },
///         "cost_model": { "kind": "inferno", "alpha": 16.0, "beta": 0.04, "gamma": 4e-4 } } ] },
///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 10.0 },
///       "input": { "kind": "fixed", "value": 200 }, "output": { "kind": "fixed", "value": 30 } } ] }
/// }"#)?;
/// let summary = Simulation::new(cfg)?.run_summary()?;
/// let pools = &summary.pools;
/// assert_eq!((pools[0].name.as_str(), pools[1].engine.as_str()), ("fast", "sglang"));
/// assert_eq!(pools[0].requests.completed + pools[1].requests.completed, 300);
/// assert!(pools[0].requests.routed > 2 * pools[1].requests.routed); // weights 3 : 1
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// The pool's name (unique, non-empty): the summary's `pools[].name`, and what
    /// `cluster.disaggregation` refers to.
    pub name: String,
    /// Identical replicas in the pool, ≥ 1. Default 1.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The pool's engine (default: `cluster.engine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineConfig>,
    /// The pool's step-time model: model, accelerator (and TP through the engine's
    /// `tensor_parallel`) (default: `cluster.cost_model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_model: Option<CostModelConfig>,
    /// The pool's KV cache (default: `cluster.kv_cache`); the blocks are derived from the
    /// pool's own model, accelerator and TP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache: Option<KvCacheConfig>,
    /// The pool's preemption policy (default: `cluster.preemption`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption: Option<PreemptionPolicy>,
    /// The pool's overheads (default: `cluster.overheads`); its pre-schedule ones must be 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overheads: Option<EngineOverheads>,
    /// Share of the traffic under `router: weighted_random` (finite, ≥ 0), split evenly over
    /// the pool's replicas. Default: the pool's replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

fn one() -> u32 {
    1
}

impl PoolConfig {
    /// The pool's weight under `weighted_random` (its own, else its replica count).
    #[must_use]
    pub fn effective_weight(&self) -> f64 {
        self.weight.unwrap_or(f64::from(self.replicas))
    }

    /// The pool as a whole cluster of identical replicas: its own settings, the cluster's
    /// where it has none.
    #[must_use]
    pub fn resolve(&self, cluster: &ClusterConfig) -> ClusterConfig {
        ClusterConfig {
            replicas: self.replicas,
            router: cluster.router,
            engine: self
                .engine
                .clone()
                .unwrap_or_else(|| cluster.engine.clone()),
            cost_model: self
                .cost_model
                .clone()
                .unwrap_or_else(|| cluster.cost_model.clone()),
            kv_cache: self
                .kv_cache
                .clone()
                .unwrap_or_else(|| cluster.kv_cache.clone()),
            preemption: self.preemption.unwrap_or(cluster.preemption),
            overheads: self.overheads.unwrap_or(cluster.overheads),
            pools: Vec::new(),
            disaggregation: None,
        }
    }
}

/// `config` with its cluster replaced by pool `i`'s (resolved): the configuration one pool
/// would have on its own.
pub(crate) fn pool_config(config: &SimConfig, i: usize) -> SimConfig {
    let p = &config.cluster.pools[i];
    SimConfig {
        seed: config.seed,
        max_requests: config.max_requests,
        horizon_s: config.horizon_s,
        drain: config.drain,
        max_simulation_time_s: config.max_simulation_time_s,
        warm_up_s: config.warm_up_s,
        slo: config.slo,
        cluster: p.resolve(&config.cluster),
        workload: config.workload.clone(),
    }
}

/// Rewrites a configuration error of pool `i`'s own configuration ([`pool_config`]) so its
/// field names the pool: `cluster.engine.x` → `cluster.pools[i].engine.x`; a catalogue error
/// (unknown model or accelerator) becomes one naming `cluster.pools[i]`.
pub(crate) fn in_pool(err: SimError, i: usize) -> SimError {
    match err {
        SimError::InvalidConfig {
            field,
            value,
            reason,
        } => {
            let field = match field.strip_prefix("cluster") {
                Some(rest) if rest.is_empty() || rest.starts_with('.') => {
                    format!("cluster.pools[{i}]{rest}")
                }
                _ => field,
            };
            SimError::InvalidConfig {
                field,
                value,
                reason,
            }
        }
        // A catalogue lookup (model, accelerator) of the pool's own configuration.
        SimError::Core(e) => invalid(
            format!("cluster.pools[{i}]"),
            "its configuration",
            e.to_string(),
        ),
        other => other,
    }
}

/// Checks `cluster.pools` and `cluster.disaggregation` (the rest of `config` is checked by
/// [`SimConfig::validate`]): names, counts, weights, overheads, each pool's own configuration,
/// the disaggregation's pools and link.
pub(crate) fn validate(config: &SimConfig) -> Result<()> {
    let c = &config.cluster;
    if c.pools.is_empty() {
        if let Some(d) = &c.disaggregation {
            return Err(invalid(
                "cluster.disaggregation.prefill_pool",
                &d.prefill_pool,
                "disaggregation needs cluster.pools (a prefill pool and a decode pool)",
            ));
        }
        return Ok(());
    }
    let mut total: u64 = 0;
    for (i, p) in c.pools.iter().enumerate() {
        let path = format!("cluster.pools[{i}]");
        if p.name.trim().is_empty() {
            return Err(invalid(format!("{path}.name"), "\"\"", "must not be empty"));
        }
        if let Some(j) = c.pools[..i].iter().position(|q| q.name == p.name) {
            return Err(invalid(
                format!("{path}.name"),
                &p.name,
                format!("the name of cluster.pools[{j}] too: pool names must be unique"),
            ));
        }
        if p.replicas == 0 || p.replicas > MAX_REPLICAS {
            return Err(invalid(
                format!("{path}.replicas"),
                p.replicas,
                "must be within [1, 65536]",
            ));
        }
        total += u64::from(p.replicas);
        if let Some(w) = p.weight
            && !(w.is_finite() && w >= 0.0)
        {
            return Err(invalid(
                format!("{path}.weight"),
                w,
                "must be a finite number >= 0",
            ));
        }
        if let Some(o) = &p.overheads
            && (o.pre_schedule_ms != 0.0 || o.pre_schedule_us_per_token != 0.0)
        {
            return Err(invalid(
                format!("{path}.overheads.pre_schedule_ms"),
                o.pre_schedule_ms,
                "pre-schedule delays come before routing: set them in cluster.overheads",
            ));
        }
        pool_config(config, i)
            .validate()
            .map_err(|e| in_pool(e, i))?;
    }
    if total > u64::from(MAX_REPLICAS) {
        return Err(invalid(
            "cluster.pools",
            total,
            "at most 65536 replicas over all pools",
        ));
    }
    if c.replicas != 1 && u64::from(c.replicas) != total {
        return Err(invalid(
            "cluster.replicas",
            c.replicas,
            format!(
                "with cluster.pools the replicas are the pools': leave cluster.replicas out \
                 (or give their total, {total})"
            ),
        ));
    }
    if let Some(d) = &c.disaggregation {
        d.validate(&c.pools)?;
    }
    let entry = |i: usize| {
        c.disaggregation
            .as_ref()
            .is_none_or(|d| c.pools[i].name == d.prefill_pool)
    };
    if c.router == crate::RouterKind::WeightedRandom
        && !(0..c.pools.len()).any(|i| entry(i) && c.pools[i].effective_weight() > 0.0)
    {
        return Err(invalid(
            "cluster.pools",
            "all weights 0",
            "weighted_random needs a pool with a weight > 0",
        ));
    }
    Ok(())
}

/// One pool, resolved and built: its settings, step-time model and KV blocks.
pub(crate) struct PoolSetup {
    /// The pool's name (`default` for the implicit pool of a cluster without `pools`).
    pub name: String,
    /// The pool as a cluster of identical replicas.
    pub cluster: ClusterConfig,
    /// Its step-time model.
    pub model: Arc<dyn StepTimeModel>,
    /// KV blocks per replica (per engine of a pipelined replica: each of its `stages`
    /// engines has its share).
    pub num_blocks: u64,
    /// Weight under `weighted_random`.
    pub weight: f64,
    /// Pipeline parallelism of its replicas (`engine.pipeline_parallel` > 1).
    pub pipeline: Option<crate::pipeline::PipelineSetup>,
}

impl PoolSetup {
    /// Engines per replica: its pipeline stages (1 without pipeline parallelism).
    pub fn engines_per_replica(&self) -> u32 {
        self.pipeline.map_or(1, |p| p.stages)
    }
}

impl std::fmt::Debug for PoolSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolSetup")
            .field("name", &self.name)
            .field("replicas", &self.cluster.replicas)
            .field("num_blocks", &self.num_blocks)
            .finish_non_exhaustive()
    }
}

/// The limits and overheads of one replica, as the event loop checks and applies them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The replica's pool.
    pub pool: u32,
    pub max_seqs: u32,
    pub max_tokens: u32,
    pub block_size: u32,
    pub max_queue: usize,
    pub max_model_len: Option<u32>,
    pub per_step_ms: f64,
    pub per_token_ms: f64,
    pub post_ns: u64,
    /// Front-end CPU per streamed token, ns.
    pub frontend_token_ns: f64,
}

impl Limits {
    /// The limits of a replica of `pool` (index `index`).
    pub fn of(index: usize, pool: &ClusterConfig, secs_to_ns: fn(f64) -> u64) -> Self {
        let e = &pool.engine;
        let oh = pool.overheads;
        Self {
            pool: u32::try_from(index).unwrap_or(u32::MAX),
            max_seqs: e.max_batch_size(),
            max_tokens: e.max_num_batched_tokens(),
            block_size: e.block_size(),
            max_queue: e.max_queue_size().map_or(usize::MAX, |q| q as usize),
            max_model_len: e.max_model_len(),
            per_step_ms: oh.per_step_ms,
            per_token_ms: oh.per_output_token_us * 1e-3,
            post_ns: secs_to_ns(oh.post_completion_ms * 1e-3),
            frontend_token_ns: oh.frontend_us_per_token * 1e3,
        }
    }
}

/// The output cap of a request with prompt `prompt`, sampled output `target` and client
/// cap `cap` (`u32::MAX` for none) on an engine with `max_model_len`.
pub(crate) fn max_new(cap: u32, target: u32, prompt: u32, max_model_len: Option<u32>) -> u32 {
    let declared = if cap == u32::MAX {
        target
    } else {
        cap.max(target)
    };
    max_model_len.map_or(declared, |m| {
        declared.min(m.saturating_sub(prompt)).max(target)
    })
}

/// Request counts of one pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCounts {
    /// Requests routed to the pool's replicas (with disaggregation: arrivals for the
    /// prefill pool, KV hand-offs for the decode pool).
    pub routed: u64,
    /// Requests that completed in the pool.
    pub completed: u64,
    /// Requests its replicas could not serve (`max_model_len`, KV, token budget).
    pub rejected: u64,
    /// Requests refused because the replica's waiting queue was full.
    pub dropped: u64,
    /// Requests still in the pool when the simulation stopped (for the prefill pool: those
    /// also whose KV was still on the link).
    pub unfinished: u64,
    /// Prefill pool only: requests whose KV was handed to the decode pool.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub handed_off: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// Goodput of one pool: its completed requests meeting their client's SLOs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolGoodput {
    /// Measured completed requests of the pool meeting every SLO, per second of the run's
    /// throughput window.
    pub requests_per_second: f64,
    /// `met / measured`.
    pub attainment: f64,
    /// Measured requests of the pool meeting their SLOs.
    pub met: u64,
    /// Measured requests (with an SLO) routed to the pool (with disaggregation, to the
    /// decode pool: those handed off to it).
    pub measured: u64,
}

/// The figures of one pool (`summary.pools[]`, present when the cluster has more than one
/// pool). A request counts in the pool where it completes; with disaggregation its TTFT and
/// scheduling delay count in the prefill pool (which produced its first token), its TPOT, ITL
/// and E2E in the decode pool. Throughputs use the run's window, so they add up over pools.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    /// The pool's name.
    pub name: String,
    /// Its engine's name (`vllm_v1`, `sglang`, …).
    pub engine: String,
    /// With disaggregation: `prefill` or `decode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Its replicas: `replicas[first_replica .. first_replica + replicas]` of the summary.
    pub replicas: u32,
    /// Index of its first replica.
    pub first_replica: u32,
    /// KV blocks per replica.
    pub kv_blocks_per_replica: u64,
    /// Request counts.
    pub requests: PoolCounts,
    /// Throughput of its measured completed requests.
    pub throughput: Throughput,
    /// Latencies of its measured completed requests.
    pub latency: Latencies,
    /// Goodput, when a client has an SLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<PoolGoodput>,
    /// Prefill pool only: the KV transfers to the decode pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_transfers: Option<crate::disagg::TransferSummary>,
}

/// Per-pool accumulators of a run with more than one pool.
#[derive(Debug, Default)]
pub(crate) struct PoolStats {
    pub counts: PoolCounts,
    pub ttft: crate::stats::Sketch,
    pub tpot: crate::stats::Sketch,
    pub itl: crate::stats::Sketch,
    pub e2e: crate::stats::Sketch,
    pub sched: crate::stats::Sketch,
    pub in_tokens: u64,
    pub out_tokens: u64,
    pub measured_completed: u64,
    pub slo_measured: u64,
    pub slo_met: u64,
}

impl PoolStats {
    /// The latencies so far.
    pub fn latencies(&self) -> Latencies {
        Latencies {
            ttft_ms: self.ttft.stats_ms(),
            tpot_ms: self.tpot.stats_ms(),
            itl_ms: self.itl.stats_ms(),
            e2e_ms: self.e2e.stats_ms(),
            scheduling_delay_ms: self.sched.stats_ms(),
        }
    }
}
