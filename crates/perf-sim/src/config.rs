//! The whole simulation as one serde value: engine, cost model, KV cache, cluster, router and
//! workload. Unknown keys are rejected; [`SimConfig::validate`] names the path of a bad field.

use serde::{Deserialize, Serialize};

use perf_model_core::catalog::ModelSpec;
use perf_model_core::{Accelerator, Dtype, RooflineCalibration};

use crate::engine::EngineConfig;

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
    /// Warm-up period, seconds (finite, ≥ 0, below `horizon_s`; absent = 0 = none;
    /// specs/simulator.md §1.2, §7.1). Requests *arriving* before it are simulated normally and
    /// keep their `requests.csv` row and their place in the status counts, but are excluded
    /// from the latency statistics (TTFT, TPOT, ITL, E2E, scheduling delay) and from the
    /// throughput numerators; the throughput window starts at `max(warm_up_s, first arrival)`.
    /// [`crate::Summary::requests`]`.warm_up` counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_up_s: Option<f64>,
    /// Service-level objectives of every client (a client's own `slo` overrides them field
    /// by field); with any, the summary reports goodput and `requests.csv` fills `slo_met`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::slo::Slo>,
    /// Replicas, engine, cost model and router.
    pub cluster: ClusterConfig,
    /// Client classes and their arrival and length distributions.
    pub workload: WorkloadConfig,
}

fn yes() -> bool {
    true
}

/// Replicas behind a router: `replicas` identical ones, or heterogeneous `pools`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of replicas, ≥ 1. Default 1.
    #[serde(default = "one")]
    pub replicas: u32,
    /// How requests are spread over replicas. Default round robin.
    #[serde(default)]
    pub router: RouterKind,
    /// The engine of every replica: `kind` (default `vllm_v1`), its limits in vLLM's
    /// vocabulary (`max_batch_size` is vLLM's `max_num_seqs`) and its knobs
    /// ([`EngineConfig`]).
    #[serde(default)]
    pub engine: EngineConfig,
    /// What a step costs.
    pub cost_model: CostModelConfig,
    /// Size of the paged KV cache.
    #[serde(default)]
    pub kv_cache: KvCacheConfig,
    /// Which running request is evicted when KV blocks run out. Default: the last admitted
    /// (vLLM V1 `fcfs`).
    #[serde(default)]
    pub preemption: PreemptionPolicy,
    /// Engine and front-end overheads outside the step-time model (specs/simulator.md §3.5).
    /// Default: none.
    #[serde(default)]
    pub overheads: EngineOverheads,
    /// Heterogeneous pools of replicas, each with its own engine, cost model, KV cache,
    /// preemption and overheads (the fields above are their defaults; [`crate::pool`]).
    /// Empty (default): `replicas` identical replicas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<crate::pool::PoolConfig>,
    /// Disaggregated prefill/decode between two of the `pools` ([`crate::disagg`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disaggregation: Option<crate::disagg::DisaggregationConfig>,
}

/// Time the serving stack spends outside the model's forward passes (specs/simulator.md §3.5).
/// All default to 0, which reproduces a bare engine.
///
/// * `pre_schedule_ms + pre_schedule_us_per_token · P` passes between a request's arrival and
///   the moment it reaches its replica's waiting queue (HTTP, tokenisation, routing); it counts
///   in TTFT and E2E. The router picks the replica when the request becomes schedulable.
/// * `per_step_ms + per_output_token_us · (tokens sampled in the step)` is added to every step's
///   duration (scheduler, sampling, detokenisation on the CPU).
/// * `post_completion_ms` passes between the last token and the client seeing completion; it
///   counts in E2E and TPOT (the CSV's `completion_time` includes it), not in TTFT or ITL.
/// * `frontend_us_per_token` is the serving front end's CPU time per streamed token
///   (detokenise, format the chunk, write it: vLLM's API-server process). Each replica has one
///   such front end, a FIFO server: a step's tokens join its queue when the step ends, and a
///   token reaches the client when the front end has worked through the backlog and, on
///   average, half of its step's tokens: `max(step end, front end free) + c·(S + 1)/2` for a
///   step sampling S tokens. It delays the first token (TTFT) and the completion (E2E), not
///   the engine. An arriving request (after `pre_schedule_ms`) also waits for the backlog
///   before it joins the engine's queue, as an HTTP handler waits for the event loop. Under
///   load the backlog grows, so TTFT grows with the token rate the way a saturating
///   single-threaded front end makes it grow.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineOverheads {
    /// Fixed delay from arrival to the waiting queue, ms.
    #[serde(default)]
    pub pre_schedule_ms: f64,
    /// Extra delay to the waiting queue per prompt token, µs.
    #[serde(default)]
    pub pre_schedule_us_per_token: f64,
    /// Added to every step, ms.
    #[serde(default)]
    pub per_step_ms: f64,
    /// Added to a step per token it samples, µs.
    #[serde(default)]
    pub per_output_token_us: f64,
    /// Delay from the last token to the completion the client sees, ms.
    #[serde(default)]
    pub post_completion_ms: f64,
    /// Front-end CPU time per streamed token, µs (a FIFO server per replica).
    #[serde(default)]
    pub frontend_us_per_token: f64,
}

impl EngineOverheads {
    /// True when every overhead is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    fn validate(&self) -> Result<()> {
        let p = "cluster.overheads";
        non_negative(format!("{p}.pre_schedule_ms"), self.pre_schedule_ms)?;
        non_negative(
            format!("{p}.pre_schedule_us_per_token"),
            self.pre_schedule_us_per_token,
        )?;
        non_negative(format!("{p}.per_step_ms"), self.per_step_ms)?;
        non_negative(format!("{p}.per_output_token_us"), self.per_output_token_us)?;
        non_negative(format!("{p}.post_completion_ms"), self.post_completion_ms)?;
        non_negative(
            format!("{p}.frontend_us_per_token"),
            self.frontend_us_per_token,
        )?;
        Ok(())
    }
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

/// Largest accepted `cluster.replicas`: each replica holds its own state up front.
pub const MAX_REPLICAS: u32 = 1 << 16;
/// Largest accepted closed-loop `users`: each user is an event from time 0.
pub const MAX_CLOSED_LOOP_USERS: u32 = 10_000_000;
/// Largest accepted `groups × prompts_per_group` of a shared-prefix prompt set (their lengths
/// are drawn up front).
pub const MAX_SHARED_PREFIX_PROMPTS: u64 = 10_000_000;

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
    /// At random with probability proportional to the replica's weight (its pool's `weight`
    /// split evenly over the pool's replicas; all equal without pools), from the router's own
    /// seeded stream.
    WeightedRandom,
    /// A conversation's turns to the replica of its first turn (so its prefix cache can serve
    /// the growing context); first turns and lone requests to the fewest outstanding requests.
    SessionAffinity,
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
        /// An inline accelerator (e.g. a seed config's parametric device) used instead of
        /// looking `accelerator` up in the catalogue; `accelerator` then only names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<Box<Accelerator>>,
        /// An inline model architecture used instead of looking `model` up in the catalogue;
        /// `model` then only names it. `llm_perf::resolve_model_configs` fills it from
        /// `model_config`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spec: Option<Box<ModelSpec>>,
        /// A Hugging Face `config.json` to read the architecture from (any model the catalogue
        /// lacks). perf-sim reads no files: `llm-perf simulate` and
        /// `llm_perf::resolve_model_configs` read it into `spec` before the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model_config: Option<std::path::PathBuf>,
        /// Calibrated knobs (memory and compute efficiency, overheads, all-reduce) that
        /// replace the roofline's defaults, e.g. from `llm-perf calibrate`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        calibration: Option<RooflineCalibration>,
    },
}

/// The model of a roofline cost model: its inline `spec`, else the catalogue entry named
/// `model`.
pub(crate) fn roofline_model(model: &str, spec: Option<&ModelSpec>) -> Result<ModelSpec> {
    match spec {
        Some(s) => Ok(s.clone()),
        None => Ok(ModelSpec::lookup(model)?),
    }
}

/// The accelerator of a roofline cost model: its inline `device`, else the catalogue entry
/// named `accelerator`.
pub(crate) fn roofline_accelerator(
    accelerator: &str,
    device: Option<&Accelerator>,
) -> Result<Accelerator> {
    match device {
        Some(d) => Ok(d.clone()),
        None => Ok(Accelerator::lookup(accelerator)?),
    }
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
    /// No effect since the prefix caches evict least recently used blocks (every engine's
    /// cache may use all free blocks, as vLLM's does); accepted so older configurations load.
    /// Default 0.5.
    #[serde(default = "half")]
    pub prefix_cache_fraction: f64,
}

fn half() -> f64 {
    0.5
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
            prefix_cache_fraction: 0.5,
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
    /// The network between clients and the serving replicas. Default: none (transfers take
    /// no time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<ClientLink>,
}

/// The link between clients and replicas (specs/simulator.md §6; the seed's client
/// `network_links` and `bytes_per_token_estimate_for_network`). A request's prompt reaches
/// the server `latency + P·bytes_per_token·8 / bandwidth` after it is sent (before the
/// pre-schedule overheads; it counts in TTFT and E2E), and every streamed token reaches the
/// client `latency + bytes_per_token·8 / bandwidth` after the server sends it. Each client
/// connection has the link to itself (no queueing between requests).
///
/// ```
/// use perf_sim::{SimConfig, Simulation};
/// let yaml = |net: &str| format!("
/// max_requests: 1
/// cluster:
///   cost_model: {{ kind: inferno, alpha: 10.0, beta: 0.0, gamma: 0.0 }}
///   kv_cache: {{ num_gpu_blocks: 100 }}
/// workload:
///   clients: [ {{ arrival: {{ kind: poisson, rate: 1.0 }},
///                input: {{ kind: fixed, value: 1000 }}, output: {{ kind: fixed, value: 2 }} }} ]
/// {net}");
/// let bare = Simulation::new(SimConfig::from_yaml_str(&yaml(""))?)?.run_summary()?;
/// let net = "  network: { latency_ms: 5.0, bandwidth_gbps: 0.008, bytes_per_token: 4.0 }";
/// let linked = Simulation::new(SimConfig::from_yaml_str(&yaml(net))?)?.run_summary()?;
/// // TTFT: + 5 ms + 1000 tokens × 32 bit / 8 Mbit/s = 4 ms, then + 5 ms + 0.004 ms back.
/// let extra = linked.latency.ttft_ms.mean - bare.latency.ttft_ms.mean;
/// assert!((extra - 14.004).abs() < 1e-6, "{extra}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientLink {
    /// One-way latency, ms (≥ 0).
    pub latency_ms: f64,
    /// Bandwidth, Gbit/s (> 0).
    pub bandwidth_gbps: f64,
    /// Bytes sent per token (text, JSON framing), ≥ 0. Default 4.
    #[serde(default = "four")]
    pub bytes_per_token: f64,
}

fn four() -> f64 {
    4.0
}

impl ClientLink {
    /// Seconds to send `tokens` tokens one way.
    #[must_use]
    pub fn transfer_s(&self, tokens: f64) -> f64 {
        self.latency_ms * 1e-3 + tokens * self.bytes_per_token * 8.0 / (self.bandwidth_gbps * 1e9)
    }
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
    /// Prompt length distribution (required unless `pairs` is given or the arrivals are a trace).
    #[serde(default)]
    pub input: Option<LengthDist>,
    /// Output length distribution (required unless `pairs` is given or the arrivals are a trace).
    #[serde(default)]
    pub output: Option<LengthDist>,
    /// Empirical joint `(input, output)` pairs, resampled uniformly; replaces `input`/`output`.
    #[serde(default)]
    pub pairs: Option<Vec<[u32; 2]>>,
    /// Cap on output tokens: the actual output is `min(sampled, max_tokens)`.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Requests reuse a finite set of prompts with shared system prompts (inference-perf's
    /// `shared_prefix` data), so the engine's prefix cache can hit. Needs `input`/`output`.
    #[serde(default)]
    pub shared_prefix: Option<SharedPrefix>,
    /// This client's service-level objectives; fields it does not give come from the
    /// top-level `slo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::slo::Slo>,
    /// Multi-turn conversations (specs/simulator.md §5.3): an arrival may open one, and each
    /// next turn arrives a think time after the previous turn *completes*, its prompt the
    /// previous prompt + the previous actual output + new input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationConfig>,
}

/// Multi-turn conversations of a client (specs/simulator.md §5.3, the seed's
/// `conversational_probability`, `max_turns_per_session` and follow-up think time).
///
/// Each arrival of the client's arrival process opens a conversation with `probability` (turn
/// 1; else it is a lone request). When turn `k` completes, turn `k + 1` follows with
/// `continue_probability` while `k < max_turns`: it arrives a think time after the client saw
/// turn `k` complete, with prompt `P_k + O_k + I`, where `O_k` is the output turn `k`
/// actually produced and `I` new input (`follow_up_input`, default the client's `input`), and
/// a fresh output length. A turn that is rejected, dropped or left unfinished ends its
/// conversation. Every turn counts as a request (`max_requests`, `requests.csv` with its
/// `session_id` and `turn`). A conversation's tokens form one hash chain: the prefix cache
/// can serve turn `k + 1` the KV of turn `k`'s prompt and output.
///
/// ```
/// use perf_sim::{SimConfig, Simulation};
/// let cfg = SimConfig::from_yaml_str("
/// max_requests: 200
/// cluster:
///   cost_model: { kind: inferno, alpha: 8.0, beta: 0.02, gamma: 2.0e-4 }
///   kv_cache: { num_gpu_blocks: 20000 }
/// workload:
///   clients:
///     - arrival: { kind: poisson, rate: 2.0 }
///       input: { kind: fixed, value: 300 }
///       output: { kind: fixed, value: 40 }
///       conversation: { continue_probability: 0.9, max_turns: 4, think_time_s: 2.0 }
/// ")?;
/// let mut csv = Vec::new();
/// Simulation::new(cfg)?.run(&mut csv)?;
/// let text = String::from_utf8(csv)?;
/// // a second turn: 300 + 40 + 300 tokens of prompt
/// assert!(text.lines().any(|l| l.split(',').nth(3) == Some("640")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    /// Probability that an arrival opens a conversation, in [0, 1]. Default 1.
    #[serde(default = "unit")]
    pub probability: f64,
    /// Probability of a next turn after each completed one, in [0, 1]. Default 0.7.
    #[serde(default = "continue_default")]
    pub continue_probability: f64,
    /// Most turns of a conversation, the first included, ≥ 1. Default 10.
    #[serde(default = "max_turns_default")]
    pub max_turns: u32,
    /// Mean think time between a turn's completion and the next turn's arrival, seconds
    /// (≥ 0). Default 5.
    #[serde(default = "think_default")]
    pub think_time_s: f64,
    /// Think-time distribution. Default exponential.
    #[serde(default)]
    pub think: ThinkTime,
    /// New input tokens of each follow-up turn. Default: the client's `input` (or the input
    /// half of a `pairs` draw).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_input: Option<LengthDist>,
    /// Whether a follow-up prompt holds the conversation so far (`P_k + O_k + I`, default)
    /// or only its new input `I` (the seed's `accumulate_conversational_tokens: false`; the
    /// turns then share no prefix).
    #[serde(default = "yes")]
    pub accumulate_context: bool,
}

fn continue_default() -> f64 {
    0.7
}

fn max_turns_default() -> u32 {
    10
}

fn think_default() -> f64 {
    5.0
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            probability: 1.0,
            continue_probability: continue_default(),
            max_turns: max_turns_default(),
            think_time_s: think_default(),
            think: ThinkTime::Exponential,
            follow_up_input: None,
            accumulate_context: true,
        }
    }
}

impl ConversationConfig {
    fn validate(&self, path: &str) -> Result<()> {
        for (name, p) in [
            ("probability", self.probability),
            ("continue_probability", self.continue_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(invalid(format!("{path}.{name}"), p, "must be in [0, 1]"));
            }
        }
        if self.max_turns == 0 {
            return Err(invalid(format!("{path}.max_turns"), 0, "must be >= 1"));
        }
        non_negative(format!("{path}.think_time_s"), self.think_time_s)?;
        if let Some(d) = &self.follow_up_input {
            d.validate(&format!("{path}.follow_up_input"))?;
        }
        Ok(())
    }
}

/// A shared-prefix prompt set (specs/simulator.md §5.4): `groups` system prompts of
/// `system_prompt_len` tokens, each followed by `prompts_per_group` distinct questions. Each
/// request picks one of the `groups · prompts_per_group` prompts uniformly; a prompt's length
/// is drawn once from the client's `input` distribution (and must exceed `system_prompt_len`,
/// else it is raised to `system_prompt_len + 1`), so repeats of a prompt are identical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedPrefix {
    /// Number of system prompts, ≥ 1.
    pub groups: u32,
    /// Distinct prompts per system prompt, ≥ 1.
    pub prompts_per_group: u32,
    /// Tokens of each system prompt (a prefix of every prompt of its group).
    pub system_prompt_len: u32,
}

fn unit() -> f64 {
    1.0
}

impl ClientConfig {
    /// The fewest tokens (prompt + output) any request of this client can have: the lower
    /// ends of its length distributions (or of its pairs or trace), the output capped by
    /// `max_tokens`. A KV cache that cannot hold this many rejects every request.
    pub(crate) fn min_request_tokens(&self) -> u64 {
        let cap = |out: u64| self.max_tokens.map_or(out, |m| out.min(u64::from(m)));
        if let ArrivalConfig::Trace { requests, .. } = &self.arrival {
            return requests
                .iter()
                .map(|r| u64::from(r.input_tokens) + cap(u64::from(r.output_tokens)))
                .min()
                .unwrap_or(0);
        }
        if let Some(pairs) = &self.pairs {
            return pairs
                .iter()
                .map(|[i, o]| u64::from(*i) + cap(u64::from(*o)))
                .min()
                .unwrap_or(0);
        }
        let low = |d: &Option<LengthDist>| d.as_ref().map_or(1, LengthDist::min_length);
        let prompt = match &self.shared_prefix {
            Some(sp) => low(&self.input).max(u64::from(sp.system_prompt_len) + 1),
            None => low(&self.input),
        };
        prompt + cap(low(&self.output))
    }
}

impl ClientConfig {
    /// A client replaying `records` (arrival, input and output tokens) as they are; set the
    /// `time_scale`, `target_rate` or window of its [`ArrivalConfig::Trace`] to rescale.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::{RequestRecord, RequestRecordData};
    /// use perf_sim::{ClientConfig, SimConfig, Simulation};
    /// let records: Vec<RequestRecord> = (0..20)
    ///     .map(|i| RequestRecord::new(RequestRecordData {
    ///         id: i, arrival_ms: 100.0 * i as f64, input_tokens: 64, output_tokens: 8,
    ///         ..Default::default()
    ///     }))
    ///     .collect::<Result<_, _>>()?;
    /// let mut cfg = SimConfig::from_yaml_str("
    /// cluster:
    ///   cost_model: { kind: inferno, alpha: 5.0, beta: 0.02, gamma: 0.0 }
    ///   kv_cache: { num_gpu_blocks: 1024 }
    /// workload: { clients: [] }
    /// ")?;
    /// cfg.workload.clients.push(ClientConfig::trace(&records));
    /// let summary = Simulation::new(cfg)?.run(std::io::sink())?;
    /// assert_eq!(summary.requests.completed, 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn trace(records: &[perf_model_core::RequestRecord]) -> Self {
        Self {
            name: None,
            weight: 1.0,
            arrival: ArrivalConfig::trace(records),
            input: None,
            output: None,
            pairs: None,
            max_tokens: None,
            shared_prefix: None,
            slo: None,
            conversation: None,
        }
    }
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
    /// Piecewise-constant rate: `stages[0].rate` for `stages[0].duration_s` seconds, then the
    /// next stage, …; no arrivals after the last stage (the client is finite). Gaps are drawn
    /// with mean 1 and run on the stage's clock (a time change), so a gap straddling a
    /// boundary continues at the next stage's rate: with `cv` = 1 this is exactly a
    /// non-homogeneous Poisson process. A stage may have rate 0 (idle).
    Stages {
        /// The stages, in order; at least one with a rate > 0.
        stages: Vec<RateStage>,
        /// Coefficient of variation of the gaps: absent or 1 = Poisson, 0 = constant gaps,
        /// other = Gamma (shape `1/cv²`).
        #[serde(default)]
        cv: Option<f64>,
    },
    /// Closed loop (specs/simulator.md §5.1): `users` users each send a request at time 0,
    /// then wait for its completion (or its rejection), think, and send the next.
    ClosedLoop {
        /// Number of concurrent users, ≥ 1.
        users: u32,
        /// Mean think time after each completion, seconds (≥ 0).
        think_time_s: f64,
        /// Distribution of the think time. Default exponential.
        #[serde(default)]
        think: ThinkTime,
    },
    /// Trace replay: each listed request arrives at its (rescaled) time with its own prompt
    /// and output lengths; the client then gives neither `input`, `output` nor `pairs`, and is
    /// finite. Requests are sorted by arrival; the window `[start_s, end_s)` (trace time) is
    /// kept and shifted so its first request arrives at 0, then times are multiplied by
    /// `time_scale`, or rescaled so the mean rate is `target_rate` (not both).
    Trace {
        /// The requests. Build from `RequestRecord`s with [`ArrivalConfig::trace`].
        requests: Vec<TraceRequest>,
        /// Multiplies inter-arrival times (2 = half the rate). Default 1.
        #[serde(default)]
        time_scale: Option<f64>,
        /// Rescale times so the replayed rate, (n − 1)/span, is this many req/s.
        #[serde(default)]
        target_rate: Option<f64>,
        /// Keep requests arriving at or after this trace time, seconds.
        #[serde(default)]
        start_s: Option<f64>,
        /// Keep requests arriving before this trace time, seconds.
        #[serde(default)]
        end_s: Option<f64>,
    },
    /// Trace replay from a file in any request-trace format `perf-readers` reads (Azure LLM
    /// inference 2023/2024, BurstGPT, Mooncake, Vidur, GuideLLM request lists, vLLM
    /// `--save-detailed`), with the options of [`ArrivalConfig::Trace`]. `perf-sim` does not
    /// read files: the `llm-perf` facade (`llm_perf::resolve_trace_files`) and `llm-perf
    /// simulate` turn it into a [`ArrivalConfig::Trace`] before the run; a relative `path` is
    /// relative to the configuration file.
    TraceFile {
        /// The trace file.
        path: String,
        /// Multiplies inter-arrival times (2 = half the rate). Default 1.
        #[serde(default)]
        time_scale: Option<f64>,
        /// Rescale times so the replayed rate, (n − 1)/span, is this many req/s.
        #[serde(default)]
        target_rate: Option<f64>,
        /// Keep requests arriving at or after this trace time, seconds.
        #[serde(default)]
        start_s: Option<f64>,
        /// Keep requests arriving before this trace time, seconds.
        #[serde(default)]
        end_s: Option<f64>,
    },
}

/// One load stage of [`ArrivalConfig::Stages`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateStage {
    /// Arrival rate, req/s (≥ 0).
    pub rate: f64,
    /// Stage length, seconds (> 0).
    pub duration_s: f64,
}

/// Think-time distribution of a closed-loop client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkTime {
    /// Exponential with mean `think_time_s`.
    #[default]
    Exponential,
    /// Always `think_time_s`.
    Fixed,
}

/// One request of a replayed trace.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRequest {
    /// Arrival time in the trace, ms.
    pub arrival_ms: f64,
    /// Prompt tokens (≥ 1).
    pub input_tokens: u32,
    /// Output tokens (≥ 1).
    pub output_tokens: u32,
}

impl From<&perf_model_core::RequestRecord> for TraceRequest {
    fn from(r: &perf_model_core::RequestRecord) -> Self {
        Self {
            arrival_ms: r.arrival_ms(),
            input_tokens: r.input_tokens(),
            output_tokens: r.output_tokens(),
        }
    }
}

impl ArrivalConfig {
    /// A trace-replay arrival kind replaying `records` as they are (arrival, input and output
    /// tokens; measured timings are ignored).
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::{RequestRecord, RequestRecordData};
    /// use perf_sim::ArrivalConfig;
    /// let rec = RequestRecord::new(RequestRecordData {
    ///     id: 0, arrival_ms: 5.0, input_tokens: 100, output_tokens: 20, ..Default::default()
    /// })?;
    /// let a = ArrivalConfig::trace(&[rec]);
    /// assert!(matches!(a, ArrivalConfig::Trace { ref requests, .. } if requests.len() == 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn trace(records: &[perf_model_core::RequestRecord]) -> Self {
        Self::Trace {
            requests: records.iter().map(TraceRequest::from).collect(),
            time_scale: None,
            target_rate: None,
            start_s: None,
            end_s: None,
        }
    }

    fn rate(&self) -> Option<f64> {
        match self {
            Self::Poisson { rate } | Self::Gamma { rate, .. } | Self::Constant { rate } => *rate,
            Self::Stages { .. }
            | Self::ClosedLoop { .. }
            | Self::Trace { .. }
            | Self::TraceFile { .. } => None,
        }
    }

    /// True for the open-loop kinds whose rate comes from `rate` or the workload's total.
    fn takes_rate(&self) -> bool {
        matches!(
            self,
            Self::Poisson { .. } | Self::Gamma { .. } | Self::Constant { .. }
        )
    }

    /// True when the client stops by itself (stages, trace).
    #[must_use]
    pub fn is_finite(&self) -> bool {
        matches!(
            self,
            Self::Stages { .. } | Self::Trace { .. } | Self::TraceFile { .. }
        )
    }

    fn validate(&self, path: &str, max_requests: Option<u64>) -> Result<()> {
        match self {
            Self::TraceFile { path: file, .. } => {
                return Err(invalid(
                    format!("{path}.path"),
                    file,
                    "a trace file must be read into `kind: trace` before the run: \
                     `llm-perf simulate`, `llm-perf tune` and `llm_perf::resolve_trace_files` do \
                     it (perf-sim itself reads no files)",
                ));
            }
            Self::Gamma { cv, .. } => {
                positive(format!("{path}.cv"), *cv)?;
            }
            Self::Stages { stages, cv } => {
                if stages.is_empty() {
                    return Err(invalid(
                        format!("{path}.stages"),
                        "[]",
                        "need at least one stage",
                    ));
                }
                for (j, st) in stages.iter().enumerate() {
                    non_negative(format!("{path}.stages[{j}].rate"), st.rate)?;
                    positive(format!("{path}.stages[{j}].duration_s"), st.duration_s)?;
                }
                if stages.iter().all(|st| st.rate == 0.0) {
                    return Err(invalid(
                        format!("{path}.stages"),
                        "all rates 0",
                        "at least one stage needs a rate > 0",
                    ));
                }
                if let Some(cv) = cv {
                    non_negative(format!("{path}.cv"), *cv)?;
                }
            }
            Self::ClosedLoop {
                users,
                think_time_s,
                ..
            } => {
                if *users == 0 || *users > MAX_CLOSED_LOOP_USERS {
                    return Err(invalid(
                        format!("{path}.users"),
                        users,
                        "must be within [1, 10000000]",
                    ));
                }
                non_negative(format!("{path}.think_time_s"), *think_time_s)?;
                if *think_time_s == 0.0 && max_requests.is_none() {
                    return Err(invalid(
                        format!("{path}.think_time_s"),
                        0,
                        "a closed loop without think time needs max_requests to stop",
                    ));
                }
            }
            Self::Trace {
                requests,
                time_scale,
                target_rate,
                start_s,
                end_s,
            } => {
                if requests.is_empty() {
                    return Err(invalid(
                        format!("{path}.requests"),
                        "[]",
                        "must not be empty",
                    ));
                }
                for (j, r) in requests.iter().enumerate() {
                    if !r.arrival_ms.is_finite() {
                        return Err(invalid(
                            format!("{path}.requests[{j}].arrival_ms"),
                            r.arrival_ms,
                            "must be finite",
                        ));
                    }
                    if r.input_tokens == 0 || r.output_tokens == 0 {
                        return Err(invalid(
                            format!("{path}.requests[{j}]"),
                            format!("({}, {})", r.input_tokens, r.output_tokens),
                            "input_tokens and output_tokens must be >= 1",
                        ));
                    }
                }
                if time_scale.is_some() && target_rate.is_some() {
                    return Err(invalid(
                        format!("{path}.time_scale"),
                        "set",
                        "give time_scale or target_rate, not both",
                    ));
                }
                if let Some(t) = time_scale {
                    positive(format!("{path}.time_scale"), *t)?;
                }
                if let Some(r) = target_rate {
                    positive(format!("{path}.target_rate"), *r)?;
                }
                for (name, v) in [("start_s", start_s), ("end_s", end_s)] {
                    if let Some(v) = v
                        && !v.is_finite()
                    {
                        return Err(invalid(format!("{path}.{name}"), v, "must be finite"));
                    }
                }
                if let (Some(a), Some(b)) = (start_s, end_s)
                    && a >= b
                {
                    return Err(invalid(
                        format!("{path}.end_s"),
                        b,
                        "must be after start_s (the window would be empty)",
                    ));
                }
                // The last arrival, rescaled, must stay a finite time.
                let last = requests.iter().map(|r| r.arrival_ms).fold(0.0, f64::max);
                if let Some(t) = time_scale
                    && !(last * t).is_finite()
                {
                    return Err(invalid(
                        format!("{path}.time_scale"),
                        t,
                        "scales the trace's arrival times beyond a finite time",
                    ));
                }
            }
            Self::Poisson { .. } | Self::Constant { .. } => {}
        }
        Ok(())
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
    /// Exponential with this mean, rounded and clipped (the seed's `Exponential`).
    Exponential {
        /// Mean, > 0.
        mean: f64,
        /// Lower clip. Default 1.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clip.
        #[serde(default)]
        max: Option<u32>,
    },
    /// Gamma with shape k and scale θ (mean kθ), rounded and clipped.
    Gamma {
        /// Shape k, > 0.
        shape: f64,
        /// Scale θ, > 0.
        scale: f64,
        /// Lower clip. Default 1.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clip.
        #[serde(default)]
        max: Option<u32>,
    },
    /// Pareto with scale x_m (its smallest value) and shape α, rounded and clipped.
    Pareto {
        /// Scale x_m, > 0.
        scale: f64,
        /// Shape α, > 0 (the mean is finite for α > 1).
        shape: f64,
        /// Lower clip. Default 1.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clip.
        #[serde(default)]
        max: Option<u32>,
    },
    /// Weibull with scale λ and shape k, rounded and clipped.
    Weibull {
        /// Scale λ, > 0.
        scale: f64,
        /// Shape k, > 0.
        shape: f64,
        /// Lower clip. Default 1.
        #[serde(default)]
        min: Option<u32>,
        /// Upper clip.
        #[serde(default)]
        max: Option<u32>,
    },
    /// Zipf over the integers `min..=max` (Vidur's generator): `P(min + r − 1) ∝ r^−theta` for
    /// rank `r = 1 … max − min + 1`, so short lengths are the most frequent.
    Zipf {
        /// Exponent θ ≥ 0. Default 0.6 (Vidur's).
        #[serde(default = "zipf_theta")]
        theta: f64,
        /// Smallest length, ≥ 1.
        min: u32,
        /// Largest length, ≥ `min`.
        max: u32,
    },
    /// A mixture: each sample comes from component `i` with probability `weights[i] / Σ
    /// weights` (equal weights when omitted), as the seed's `Mixture`.
    Mixture {
        /// The components, ≥ 1.
        components: Vec<LengthDist>,
        /// Their weights (≥ 0, not all 0); one per component. Default: equal.
        #[serde(default)]
        weights: Option<Vec<f64>>,
    },
}

fn zipf_theta() -> f64 {
    0.6
}

impl LengthDist {
    /// The smallest length a sample can have (lengths are always ≥ 1).
    pub(crate) fn min_length(&self) -> u64 {
        let v = match self {
            Self::Fixed { value } => *value,
            Self::Uniform { low, .. } => *low,
            // A lower bound is enough here (the clip's; Pareto's scale may be higher).
            Self::Normal { min, .. }
            | Self::Lognormal { min, .. }
            | Self::Exponential { min, .. }
            | Self::Gamma { min, .. }
            | Self::Pareto { min, .. }
            | Self::Weibull { min, .. } => min.unwrap_or(1),
            Self::Zipf { min, .. } => *min,
            // Only components that can be picked (weight > 0) count.
            Self::Mixture {
                components,
                weights,
            } => {
                return components
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        weights
                            .as_ref()
                            .is_none_or(|w| w.get(*i).is_some_and(|&v| v > 0.0))
                    })
                    .map(|(_, c)| c.min_length())
                    .min()
                    .unwrap_or(1);
            }
        };
        u64::from(v.max(1))
    }

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
            Self::Exponential { mean, min, max } => {
                positive(format!("{field}.mean"), mean)?;
                clip(min, max)?;
            }
            Self::Gamma {
                shape,
                scale,
                min,
                max,
            }
            | Self::Pareto {
                shape,
                scale,
                min,
                max,
            }
            | Self::Weibull {
                shape,
                scale,
                min,
                max,
            } => {
                positive(format!("{field}.shape"), shape)?;
                positive(format!("{field}.scale"), scale)?;
                clip(min, max)?;
            }
            Self::Mixture {
                ref components,
                ref weights,
            } => {
                if components.is_empty() {
                    return Err(invalid(
                        format!("{field}.components"),
                        "[]",
                        "a mixture needs at least one component",
                    ));
                }
                for (i, c) in components.iter().enumerate() {
                    c.validate(&format!("{field}.components[{i}]"))?;
                }
                if let Some(w) = weights {
                    if w.len() != components.len() {
                        return Err(invalid(
                            format!("{field}.weights"),
                            format!("{w:?}"),
                            format!("need one weight per component ({})", components.len()),
                        ));
                    }
                    for (i, v) in w.iter().enumerate() {
                        non_negative(format!("{field}.weights[{i}]"), *v)?;
                    }
                    if w.iter().sum::<f64>() <= 0.0 {
                        return Err(invalid(
                            format!("{field}.weights"),
                            format!("{w:?}"),
                            "at least one weight must be > 0",
                        ));
                    }
                }
            }
            Self::Zipf { theta, min, max } => {
                non_negative(format!("{field}.theta"), theta)?;
                if min == 0 || min > max {
                    return Err(invalid(
                        format!("{field}.min"),
                        min,
                        "must be >= 1 and <= max",
                    ));
                }
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
    /// `max_requests` nor `horizon_s`), a rate that is not finite and > 0, σ ≤ 0, a
    /// `warm_up_s` that is negative, not finite or not below `horizon_s`, an empty
    /// client list or empirical pairs, an unsupported engine feature (PP > 1).
    pub fn validate(&self) -> Result<()> {
        if self.cluster.replicas == 0 || self.cluster.replicas > MAX_REPLICAS {
            return Err(invalid(
                "cluster.replicas",
                self.cluster.replicas,
                "must be within [1, 65536]",
            ));
        }
        if let Some(slo) = &self.slo {
            slo.validate("slo")?;
        }
        let finite = self.workload.clients.iter().all(|c| c.arrival.is_finite());
        if self.max_requests.is_none() && self.horizon_s.is_none() && !finite {
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
        if let Some(w) = self.warm_up_s {
            non_negative("warm_up_s", w)?;
            if let Some(h) = self.horizon_s
                && w >= h
            {
                return Err(invalid(
                    "warm_up_s",
                    w,
                    format!("must be < horizon_s ({h}): no arrival would be measured"),
                ));
            }
        }
        if !self.drain && self.horizon_s.is_none() {
            return Err(invalid("drain", false, "drain = false needs horizon_s"));
        }
        let engine = &self.cluster.engine;
        engine.validate()?;
        match &self.cluster.cost_model {
            CostModelConfig::Inferno { alpha, beta, gamma } => {
                non_negative("cluster.cost_model.alpha", *alpha)?;
                non_negative("cluster.cost_model.beta", *beta)?;
                non_negative("cluster.cost_model.gamma", *gamma)?;
            }
            CostModelConfig::Roofline {
                device,
                spec,
                model_config,
                calibration,
                ..
            } => {
                if let Some(c) = calibration {
                    c.validate()?;
                }
                if let Some(d) = device {
                    d.validate()?;
                }
                if let Some(s) = spec {
                    s.validate()?;
                } else if let Some(file) = model_config {
                    return Err(invalid(
                        "cluster.cost_model.model_config",
                        file.display(),
                        "a model config must be read into `spec` before the run: `llm-perf \
                         simulate`, `llm-perf tune` and `llm_perf::resolve_model_configs` do it \
                         (perf-sim itself reads no files)",
                    ));
                }
            }
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
        let f = kv.prefix_cache_fraction;
        if !(0.0..=1.0).contains(&f) {
            return Err(invalid(
                "cluster.kv_cache.prefix_cache_fraction",
                f,
                "must be in [0, 1]",
            ));
        }
        self.cluster.overheads.validate()?;
        let w = &self.workload;
        if let Some(r) = w.rate {
            positive("workload.rate", r)?;
        }
        if let Some(net) = &w.network {
            non_negative("workload.network.latency_ms", net.latency_ms)?;
            positive("workload.network.bandwidth_gbps", net.bandwidth_gbps)?;
            non_negative("workload.network.bytes_per_token", net.bytes_per_token)?;
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
            if let Some(slo) = &c.slo {
                slo.validate(&format!("{path}.slo"))?;
            }
            positive(format!("{path}.weight"), c.weight)?;
            match c.arrival.rate() {
                Some(r) => {
                    positive(format!("{path}.arrival.rate"), r)?;
                }
                None if w.rate.is_none() && c.arrival.takes_rate() => {
                    return Err(invalid(
                        format!("{path}.arrival.rate"),
                        "null",
                        "give the client's rate or workload.rate",
                    ));
                }
                None => {}
            }
            c.arrival
                .validate(&format!("{path}.arrival"), self.max_requests)?;
            if let Some(sp) = c.shared_prefix {
                let prompts = u64::from(sp.groups) * u64::from(sp.prompts_per_group);
                if prompts == 0 || prompts > MAX_SHARED_PREFIX_PROMPTS {
                    return Err(invalid(
                        format!("{path}.shared_prefix.groups"),
                        format!("{} x {}", sp.groups, sp.prompts_per_group),
                        "groups and prompts_per_group must be >= 1, with at most 10000000 prompts",
                    ));
                }
                if c.input.is_none() || matches!(c.arrival, ArrivalConfig::Trace { .. }) {
                    return Err(invalid(
                        format!("{path}.shared_prefix"),
                        "set",
                        "a shared-prefix client needs input and output distributions",
                    ));
                }
            }
            if c.max_tokens == Some(0) {
                return Err(invalid(format!("{path}.max_tokens"), 0, "must be >= 1"));
            }
            if let Some(conv) = &c.conversation {
                conv.validate(&format!("{path}.conversation"))?;
                if matches!(c.arrival, ArrivalConfig::Trace { .. }) {
                    return Err(invalid(
                        format!("{path}.conversation"),
                        "set",
                        "a trace client replays its requests as they are: conversations need \
                         input and output distributions (or pairs)",
                    ));
                }
            }
            let trace = matches!(c.arrival, ArrivalConfig::Trace { .. });
            match (&c.pairs, &c.input, &c.output) {
                (None, None, None) if trace => {}
                _ if trace => {
                    return Err(invalid(
                        format!("{path}.input"),
                        "set",
                        "a trace client takes its lengths from the trace: \
                         give no input, output or pairs",
                    ));
                }
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
        crate::pool::validate(self)
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
