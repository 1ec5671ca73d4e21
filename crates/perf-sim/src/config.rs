//! The whole simulation as one serde value: engine, cost model, KV cache, cluster, router and
//! workload. Unknown keys are rejected; [`SimConfig::validate`] names the path of a bad field.

use serde::{Deserialize, Serialize};

use perf_model_core::{Dtype, ServingConfig};

use crate::error::{Result, invalid, non_negative, positive};

/// A complete simulation: run limits, cluster and workload.
///
/// # Examples
/// ```
/// use perf_sim::SimConfig;
/// let cfg: SimConfig = serde_json::from_str(r#"{
///   "seed": 7, "max_requests": 100,
///   "cluster": { "replicas": 2, "router": "round_robin",
///                "cost_model": { "kind": "inferno", "alpha": 12.0, "beta": 0.05, "gamma": 5e-4 },
///                "kv_cache": { "num_gpu_blocks": 4096 } },
///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 2.0 },
///                                "input": { "kind": "fixed", "value": 128 },
///                                "output": { "kind": "fixed", "value": 64 } } ] }
/// }"#)?;
/// cfg.validate()?;
/// assert_eq!(cfg.cluster.replicas, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Master seed; every random stream is derived from it. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Stop generating arrivals after this many requests (over all clients).
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// Stop generating arrivals after this simulated time, seconds.
    #[serde(default)]
    pub horizon_s: Option<f64>,
    /// Run until every admitted request finishes (default true); otherwise stop at the horizon.
    #[serde(default = "yes")]
    pub drain: bool,
    /// Hard cap on simulated time, seconds; requests still in flight then are `unfinished`.
    #[serde(default)]
    pub max_simulation_time_s: Option<f64>,
    /// Replicas, engine, cost model and router.
    pub cluster: ClusterConfig,
    /// Client classes and their arrival and length distributions.
    pub workload: WorkloadConfig,
}

fn yes() -> bool {
    true
}

/// N identical replicas behind a router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of replicas, ≥ 1. Default 1.
    #[serde(default = "one")]
    pub replicas: u32,
    /// How requests are spread over replicas. Default round robin.
    #[serde(default)]
    pub router: RouterKind,
    /// Engine limits in vLLM's vocabulary (`max_batch_size` is vLLM's `max_num_seqs`).
    #[serde(default)]
    pub engine: ServingConfig,
    /// What a step costs.
    pub cost_model: CostModelConfig,
    /// Size of the paged KV cache.
    #[serde(default)]
    pub kv_cache: KvCacheConfig,
    /// Which running request is evicted when KV blocks run out. Default: the last admitted
    /// (vLLM V1 `fcfs`).
    #[serde(default)]
    pub preemption: PreemptionPolicy,
}

/// Choice of the request evicted (by recompute) when the KV cache runs out. Only requests not
/// yet scheduled in the step being built are candidates (the one needing blocks included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreemptionPolicy {
    /// The last request of the running list, i.e. the latest admitted (vLLM V1's `fcfs`
    /// policy; specs/simulator.md §3.2). Equals the latest arrival until a preempted
    /// request is re-admitted.
    #[default]
    LastAdmitted,
    /// The running request that arrived last.
    LatestArrival,
}

fn one() -> u32 {
    1
}

/// Router policies (specs/simulator.md §6). Ties rotate among the tied replicas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouterKind {
    /// Replicas in turn.
    #[default]
    RoundRobin,
    /// Uniformly at random, from the router's own seeded stream.
    Random,
    /// Fewest outstanding requests (waiting + running).
    LeastOutstandingRequests,
    /// Lowest fraction of KV blocks in use.
    LeastKvUsage,
}

/// The step-time model every replica uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CostModelConfig {
    /// Inferno's `α + β·Σn + γ·Σ(k+n)` ms (specs/simulator.md §4.4).
    Inferno {
        /// α, ms per step.
        alpha: f64,
        /// β, ms per computed token.
        beta: f64,
        /// γ, ms per KV token touched.
        gamma: f64,
    },
    /// The roofline model of `perf-model-core` with its default efficiencies and overheads;
    /// the TP degree is the engine's `tensor_parallel`.
    Roofline {
        /// Catalogue model name, e.g. `Llama-3.1-8B`.
        model: String,
        /// Catalogue accelerator name, e.g. `H100`.
        accelerator: String,
        /// Weight (and KV) dtype. Default bf16.
        #[serde(default = "bf16")]
        dtype: Dtype,
    },
}

fn bf16() -> Dtype {
    Dtype::Bf16
}

/// How many KV blocks each replica has.
///
/// Either `num_gpu_blocks` explicitly, or derived from a model and an accelerator (taken from
/// a roofline cost model when not given here) with the formula of [`crate::kv::derive_num_blocks`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvCacheConfig {
    /// Number of KV blocks per replica; overrides the derivation.
    #[serde(default)]
    pub num_gpu_blocks: Option<u64>,
    /// Catalogue model to derive from (default: the roofline cost model's).
    #[serde(default)]
    pub model: Option<String>,
    /// Catalogue accelerator to derive from (default: the roofline cost model's).
    #[serde(default)]
    pub accelerator: Option<String>,
    /// Weight and KV dtype for the derivation (default: the roofline's, else bf16).
    #[serde(default)]
    pub dtype: Option<Dtype>,
    /// Memory reserved for activations and non-torch allocations per device, GiB. Default 1.
    #[serde(default = "one_gib")]
    pub reserved_gib: f64,
}

fn one_gib() -> f64 {
    1.0
}

impl Default for KvCacheConfig {
    fn default() -> Self {
        Self {
            num_gpu_blocks: None,
            model: None,
            accelerator: None,
            dtype: None,
            reserved_gib: 1.0,
        }
    }
}

/// The offered load: one or more client classes, each an independent arrival stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Total arrival rate, req/s, split over clients by weight for clients whose arrival
    /// process gives no rate of its own.
    #[serde(default)]
    pub rate: Option<f64>,
    /// The client classes, ≥ 1.
    pub clients: Vec<ClientConfig>,
}

/// One client class: its arrivals and request lengths, each from its own random stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Name written to the CSV's `client_id` column. Default `client<i>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Share of the workload's total `rate`. Default 1.
    #[serde(default = "unit")]
    pub weight: f64,
    /// Inter-arrival process.
    pub arrival: ArrivalConfig,
    /// Prompt length distribution (required unless `pairs` is given).
    #[serde(default)]
    pub input: Option<LengthDist>,
    /// Output length distribution (required unless `pairs` is given).
    #[serde(default)]
    pub output: Option<LengthDist>,
    /// Empirical joint `(input, output)` pairs, resampled uniformly; replaces `input`/`output`.
    #[serde(default)]
    pub pairs: Option<Vec<[u32; 2]>>,
    /// Cap on output tokens: the actual output is `min(sampled, max_tokens)`.
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

fn unit() -> f64 {
    1.0
}

/// Inter-arrival processes (specs/simulator.md §5.1). `rate` in req/s; when absent the client
/// gets `workload.rate · weight / Σ weight`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalConfig {
    /// Exponential gaps with mean `1/rate`.
    Poisson {
        /// Rate, req/s.
        #[serde(default)]
        rate: Option<f64>,
    },
    /// Gamma gaps with mean `1/rate` and coefficient of variation `cv`: shape `1/cv²`,
    /// scale `1/(rate·shape)`.
    Gamma {
        /// Rate, req/s.
        #[serde(default)]
        rate: Option<f64>,
        /// Coefficient of variation of the gaps (1 = Poisson, > 1 bursty).
        cv: f64,
    },
    /// Equal gaps of `1/rate`.
    Constant {
        /// Rate, req/s.
        #[serde(default)]
        rate: Option<f64>,
    },
}

impl ArrivalConfig {
    fn rate(&self) -> Option<f64> {
        match self {
            Self::Poisson { rate } | Self::Gamma { rate, .. } | Self::Constant { rate } => *rate,
        }
    }
}

/// Token-length distributions (specs/simulator.md §5.2). Samples are rounded to integers and
/// clipped to `[min, max]` (defaults 1 and `u32::MAX`); every length is ≥ 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LengthDist {
    /// Always `value`.
    Fixed {
        /// The length.
        value: u32,
    },
    /// Uniform on the integers `low..=high`.
    Uniform {
        /// Smallest length.
        low: u32,
        /// Largest length.
        high: u32,
    },
    /// Normal, rounded and clamped to `[min, max]`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation, ≥ 0.
        std: f64,
        /// Lower clamp. Default 1.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clamp.
        #[serde(default)]
        max: Option<u32>,
    },
    /// Lognormal, given either in log space (`mu`, `sigma`) or by its linear `mean` and `std`:
    /// `σ² = ln(1 + std²/mean²)`, `μ = ln(mean) − σ²/2`. σ must be > 0.
    Lognormal {
        /// μ, mean of the logarithm.
        #[serde(default)]
        mu: Option<f64>,
        /// σ, standard deviation of the logarithm.
        #[serde(default)]
        sigma: Option<f64>,
        /// Linear mean.
        #[serde(default)]
        mean: Option<f64>,
        /// Linear standard deviation.
        #[serde(default)]
        std: Option<f64>,
        /// Lower clip. Default 1.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clip.
        #[serde(default)]
        max: Option<u32>,
    },
}

impl LengthDist {
    /// `(μ, σ)` of a lognormal given either way.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `field` when neither or both pairs are given,
    /// a value is not finite, `mean ≤ 0`, `std ≤ 0` or `σ ≤ 0`.
    pub fn lognormal_params(
        field: &str,
        mu: Option<f64>,
        sigma: Option<f64>,
        mean: Option<f64>,
        std: Option<f64>,
    ) -> Result<(f64, f64)> {
        match (mu, sigma, mean, std) {
            (Some(mu), Some(sigma), None, None) => {
                if !mu.is_finite() {
                    return Err(invalid(format!("{field}.mu"), mu, "must be finite"));
                }
                Ok((mu, positive(format!("{field}.sigma"), sigma)?))
            }
            (None, None, Some(mean), Some(std)) => {
                let mean = positive(format!("{field}.mean"), mean)?;
                let std = positive(format!("{field}.std"), std)?;
                let s2 = (1.0 + (std * std) / (mean * mean)).ln();
                let sigma = s2.sqrt();
                if !(sigma > 0.0 && sigma.is_finite()) {
                    return Err(invalid(format!("{field}.std"), std, "gives σ ≤ 0"));
                }
                Ok((mean.ln() - s2 / 2.0, sigma))
            }
            _ => Err(invalid(
                field,
                "lognormal",
                "give either {mu, sigma} (log space) or {mean, std} (linear), not both or neither",
            )),
        }
    }

    /// A lognormal whose median `e^μ` exceeds 10 × `max_model_len` is almost surely a
    /// parameterisation mistake (e.g. a linear mean given as `mu`).
    fn check_median(&self, field: &str, max_model_len: u32) -> Result<()> {
        if let Self::Lognormal {
            mu,
            sigma,
            mean,
            std,
            ..
        } = *self
        {
            let (m, _) = Self::lognormal_params(field, mu, sigma, mean, std)?;
            let median = m.exp();
            if median > 10.0 * f64::from(max_model_len) {
                return Err(invalid(
                    field,
                    format!("median {median:.3e}"),
                    format!(
                        "implied median is above 10 × max_model_len ({max_model_len}); \
                         mu and sigma are in log space, use mean and std for linear values"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate(&self, field: &str) -> Result<()> {
        let clip = |min: Option<u32>, max: Option<u32>| -> Result<()> {
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(invalid(format!("{field}.min"), lo, "must be <= max"));
            }
            Ok(())
        };
        match *self {
            Self::Fixed { value } => {
                if value == 0 {
                    return Err(invalid(format!("{field}.value"), value, "must be >= 1"));
                }
            }
            Self::Uniform { low, high } => {
                if low == 0 || low > high {
                    return Err(invalid(
                        format!("{field}.low"),
                        low,
                        "must be >= 1 and <= high",
                    ));
                }
            }
            Self::Normal {
                mean,
                std,
                min,
                max,
            } => {
                if !mean.is_finite() {
                    return Err(invalid(format!("{field}.mean"), mean, "must be finite"));
                }
                non_negative(format!("{field}.std"), std)?;
                clip(min, max)?;
            }
            Self::Lognormal {
                mu,
                sigma,
                mean,
                std,
                min,
                max,
            } => {
                Self::lognormal_params(field, mu, sigma, mean, std)?;
                clip(min, max)?;
            }
        }
        Ok(())
    }
}

impl SimConfig {
    /// Checks every field; errors name the field's path.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`]: zero replicas, no stopping rule (neither
    /// `max_requests` nor `horizon_s`), a rate that is not finite and > 0, σ ≤ 0, an empty
    /// client list or empirical pairs, unsupported engine features (prefix caching, PP > 1).
    pub fn validate(&self) -> Result<()> {
        if self.cluster.replicas == 0 {
            return Err(invalid("cluster.replicas", 0, "must be >= 1"));
        }
        if self.max_requests.is_none() && self.horizon_s.is_none() {
            return Err(invalid(
                "max_requests",
                "null",
                "give max_requests or horizon_s (or both)",
            ));
        }
        if let Some(h) = self.horizon_s {
            positive("horizon_s", h)?;
        }
        if let Some(t) = self.max_simulation_time_s {
            positive("max_simulation_time_s", t)?;
        }
        if !self.drain && self.horizon_s.is_none() {
            return Err(invalid("drain", false, "drain = false needs horizon_s"));
        }
        let engine = &self.cluster.engine;
        if engine.enable_prefix_caching() {
            return Err(invalid(
                "cluster.engine.enable_prefix_caching",
                true,
                "prefix caching is not simulated yet",
            ));
        }
        if engine.pipeline_parallel() > 1 {
            return Err(invalid(
                "cluster.engine.pipeline_parallel",
                engine.pipeline_parallel(),
                "pipeline parallelism is not simulated yet",
            ));
        }
        match &self.cluster.cost_model {
            CostModelConfig::Inferno { alpha, beta, gamma } => {
                non_negative("cluster.cost_model.alpha", *alpha)?;
                non_negative("cluster.cost_model.beta", *beta)?;
                non_negative("cluster.cost_model.gamma", *gamma)?;
            }
            CostModelConfig::Roofline { .. } => {}
        }
        let kv = &self.cluster.kv_cache;
        if kv.num_gpu_blocks == Some(0) {
            return Err(invalid(
                "cluster.kv_cache.num_gpu_blocks",
                0,
                "must be >= 1",
            ));
        }
        non_negative("cluster.kv_cache.reserved_gib", kv.reserved_gib)?;
        let w = &self.workload;
        if let Some(r) = w.rate {
            positive("workload.rate", r)?;
        }
        if w.clients.is_empty() {
            return Err(invalid(
                "workload.clients",
                "[]",
                "need at least one client",
            ));
        }
        for (i, c) in w.clients.iter().enumerate() {
            let path = format!("workload.clients[{i}]");
            positive(format!("{path}.weight"), c.weight)?;
            match c.arrival.rate() {
                Some(r) => {
                    positive(format!("{path}.arrival.rate"), r)?;
                }
                None if w.rate.is_none() => {
                    return Err(invalid(
                        format!("{path}.arrival.rate"),
                        "null",
                        "give the client's rate or workload.rate",
                    ));
                }
                None => {}
            }
            if let ArrivalConfig::Gamma { cv, .. } = c.arrival {
                positive(format!("{path}.arrival.cv"), cv)?;
            }
            if c.max_tokens == Some(0) {
                return Err(invalid(format!("{path}.max_tokens"), 0, "must be >= 1"));
            }
            match (&c.pairs, &c.input, &c.output) {
                (Some(pairs), None, None) => {
                    if pairs.is_empty() {
                        return Err(invalid(format!("{path}.pairs"), "[]", "must not be empty"));
                    }
                    if let Some(j) = pairs.iter().position(|p| p[0] == 0 || p[1] == 0) {
                        return Err(invalid(
                            format!("{path}.pairs[{j}]"),
                            format!("{:?}", pairs[j]),
                            "lengths must be >= 1",
                        ));
                    }
                }
                (None, Some(input), Some(output)) => {
                    input.validate(&format!("{path}.input"))?;
                    output.validate(&format!("{path}.output"))?;
                    if let Some(len) = engine.max_model_len() {
                        input.check_median(&format!("{path}.input"), len)?;
                        output.check_median(&format!("{path}.output"), len)?;
                    }
                }
                _ => {
                    return Err(invalid(
                        format!("{path}.input"),
                        "missing",
                        "give input and output distributions, or pairs (not both)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The arrival rate of client `i`, req/s (its own, else its share of `workload.rate`).
    #[must_use]
    pub fn client_rate(&self, i: usize) -> f64 {
        let w = &self.workload;
        let Some(c) = w.clients.get(i) else {
            return 0.0;
        };
        c.arrival.rate().unwrap_or_else(|| {
            let total: f64 = w.clients.iter().map(|c| c.weight).sum();
            w.rate.unwrap_or(0.0) * c.weight / total
        })
    }
}
