//! The seed's (LLMPerfOracle) configuration schema as serde types: every key it documents,
//! nothing else (unknown keys are errors naming their path). Absent keys are `None` so the
//! converter can report the default it applies.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A whole seed configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    /// Run limits.
    #[serde(default)]
    pub simulation: Option<SeedSimulation>,
    /// Path of the seed's model characteristics database (not read: costs come from the
    /// catalogue).
    #[serde(default)]
    pub model_characteristics_db_path: Option<String>,
    /// Devices and links.
    #[serde(default)]
    pub hardware_profile: Option<SeedHardware>,
    /// Offered load.
    pub workload: SeedWorkload,
    /// Serving frameworks; each target becomes a replica.
    pub frameworks_to_test: Vec<SeedFramework>,
    /// Output options.
    #[serde(default)]
    pub metrics_config: Option<SeedMetrics>,
}

/// `simulation`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSimulation {
    /// Hard cap on simulated time, s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub max_simulation_time: Option<f64>,
    /// Master seed.
    #[serde(default, deserialize_with = "super::lenient::opt_u64")]
    pub random_seed: Option<u64>,
    /// Level of detail (`high`/`medium`): accepted and ignored.
    #[serde(default)]
    pub lod: Option<Value>,
}

/// `hardware_profile`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedHardware {
    /// Compute devices.
    #[serde(default)]
    pub compute_devices: Vec<SeedDevice>,
    /// Network links.
    #[serde(default)]
    pub network_links: Vec<SeedLink>,
}

/// `hardware_profile.compute_devices[i]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDevice {
    /// Identifier frameworks refer to (`gpu_id`, `gpu_ids`).
    pub device_id: String,
    /// Free-form type, e.g. `GPU`.
    #[serde(default)]
    pub device_type: Option<String>,
    /// Peak TFLOPS by precision.
    #[serde(default)]
    pub peak_tflops: Option<SeedPeak>,
    /// Device memory, bytes.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub memory_capacity_bytes: Option<f64>,
    /// Memory bandwidth, GB/s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub memory_gbps: Option<f64>,
    /// SM / core count (informational).
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub processing_units: Option<f64>,
}

/// `peak_tflops`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPeak {
    /// FP16 TFLOPS.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub fp16: Option<f64>,
    /// INT8 TOPS.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub int8: Option<f64>,
}

/// `hardware_profile.network_links[i]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedLink {
    /// Identifier.
    #[serde(default)]
    pub link_id: Option<String>,
    /// Source node.
    pub source_id: String,
    /// Destination node.
    pub dest_id: String,
    /// Bandwidth, bits/s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub bandwidth_bps: Option<f64>,
    /// Latency, s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub latency_s: Option<f64>,
    /// Whether the link works both ways.
    #[serde(default)]
    pub bidirectional: Option<bool>,
}

/// `workload`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedWorkload {
    /// Arrivals stop after this time, s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub total_duration: Option<f64>,
    /// Arrivals stop after this many requests.
    #[serde(default, deserialize_with = "super::lenient::opt_u64")]
    pub total_requests_to_generate: Option<u64>,
    /// Workload seed.
    #[serde(default, deserialize_with = "super::lenient::opt_u64")]
    pub random_seed: Option<u64>,
    /// Conversation length cap.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub max_turns_per_session: Option<u32>,
    /// Router: round_robin, random, least_loaded, weighted_random, session_affinity.
    #[serde(default)]
    pub load_balancing_strategy: Option<String>,
    /// Weights of `weighted_random`, by framework name.
    #[serde(default)]
    pub framework_weights: Option<BTreeMap<String, f64>>,
    /// Whether token ids are generated (for prefix matching).
    #[serde(default)]
    pub generate_prompt_tokens: Option<bool>,
    /// Prompt prefix patterns (for prefix matching).
    #[serde(default)]
    pub prefix_patterns: Option<Value>,
    /// Whether follow-up turns carry the conversation so far.
    #[serde(default)]
    pub accumulate_conversational_tokens: Option<bool>,
    /// Bytes per token sent over the client link.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub bytes_per_token_estimate_for_network: Option<f64>,
    /// Client classes.
    #[serde(default)]
    pub client_profiles: Vec<SeedProfile>,
}

/// `workload.client_profiles[i]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProfile {
    /// Name.
    #[serde(default)]
    pub profile_name: Option<String>,
    /// Share of the arrivals.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub weight: Option<f64>,
    /// Gaps between arrivals, s.
    pub inter_arrival_time_dist_config: SeedDist,
    /// Prompt tokens.
    pub prompt_tokens_dist_config: SeedDist,
    /// Output tokens.
    pub max_output_tokens_dist_config: SeedDist,
    /// Probability that a request opens a conversation.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub conversational_probability: Option<f64>,
    /// Probability of a streamed response.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub streaming_response_probability: Option<f64>,
    /// Gaps between conversation turns, s.
    #[serde(default)]
    pub follow_up_inter_arrival_time_dist_config: Option<SeedDist>,
    /// Request priority.
    #[serde(default)]
    pub user_priority_dist_config: Option<SeedDist>,
    /// Kind of turn (e.g. `{type: Fixed, value: new_conversation}`; ignored).
    #[serde(default)]
    pub turn_type_dist_config: Option<Value>,
}

/// A distribution: `{type, is_int, params…}` with the parameters given flat (as the seed's
/// sampler reads them) or under `params`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDist {
    /// Constant, Fixed, Exponential, Uniform, Normal, LogNormal, Pareto, Weibull, Gamma, Mixture.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Round samples to integers ≥ 1.
    #[serde(default)]
    pub is_int: Option<bool>,
    /// The parameters, nested.
    #[serde(default)]
    pub params: Option<DistParams>,
    /// Constant value.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub value: Option<f64>,
    /// Exponential rate, 1/s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub rate: Option<f64>,
    /// Uniform lower bound.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub low: Option<f64>,
    /// Uniform upper bound.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub high: Option<f64>,
    /// Normal mean, or LogNormal μ (log space).
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub mean: Option<f64>,
    /// Normal standard deviation.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub std: Option<f64>,
    /// LogNormal σ (log space); Normal std alias.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub sigma: Option<f64>,
    /// Pareto / Weibull / Gamma shape.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub shape: Option<f64>,
    /// Pareto / Weibull / Gamma scale.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub scale: Option<f64>,
    /// Mixture components.
    #[serde(default)]
    pub components: Option<Vec<SeedDist>>,
    /// Mixture weights.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
}

/// The nested `params` of a [`SeedDist`].
///
/// The same keys as the flat form, repeated rather than `#[serde(flatten)]`-ed: serde cannot
/// combine `flatten` with `deny_unknown_fields`, and unknown keys must be errors.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistParams {
    /// Constant value.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub value: Option<f64>,
    /// Exponential rate.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub rate: Option<f64>,
    /// Uniform lower bound.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub low: Option<f64>,
    /// Uniform upper bound.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub high: Option<f64>,
    /// Mean (LogNormal: log space).
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub mean: Option<f64>,
    /// Standard deviation.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub std: Option<f64>,
    /// LogNormal σ.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub sigma: Option<f64>,
    /// Shape.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub shape: Option<f64>,
    /// Scale.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub scale: Option<f64>,
    /// Mixture components.
    #[serde(default)]
    pub components: Option<Vec<SeedDist>>,
    /// Mixture weights.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
}

/// `frameworks_to_test[i]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFramework {
    /// Name (replica name).
    pub name: String,
    /// `VLLM` or `ParallelVLLM`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the workload is sent to it (default true).
    #[serde(default)]
    pub is_target_for_workload: Option<bool>,
    /// Engine settings.
    pub config: SeedEngine,
}

/// `frameworks_to_test[i].config`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedEngine {
    /// Model name (catalogue lookup).
    pub model_profile_id: String,
    /// Device of a single-device framework.
    #[serde(default)]
    pub gpu_id: Option<String>,
    /// KV block size, tokens.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub block_size: Option<u32>,
    /// Max running sequences.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub max_num_seqs: Option<u32>,
    /// Token budget per step.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub max_num_batched_tokens: Option<u32>,
    /// Idle polling delay, s (ignored).
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub scheduler_iteration_delay_s: Option<f64>,
    /// Chunked prefill.
    #[serde(default)]
    pub enable_chunked_prefill: Option<bool>,
    /// Max prefill chunk per request.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub prefill_chunk_size: Option<u32>,
    /// Prefix caching.
    #[serde(default)]
    pub enable_prefix_caching: Option<bool>,
    /// Cross-request prefix caching.
    #[serde(default)]
    pub enable_cross_request_caching: Option<bool>,
    /// Shortest cached prefix.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub min_prefix_cache_length: Option<u32>,
    /// Max cached prefixes.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub max_prefix_cache_size: Option<u32>,
    /// Prefix eviction policy.
    #[serde(default)]
    pub prefix_eviction_policy: Option<String>,
    /// Model parallelism.
    #[serde(default)]
    pub parallelism: Option<SeedParallelism>,
    /// Bytes per token sent over the network (ignored).
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub bytes_per_token_estimate_for_network: Option<f64>,
    /// Waiting-queue order (`fcfs`).
    #[serde(default)]
    pub scheduling_policy: Option<String>,
    /// Data-parallel group name (informational: each framework entry is a replica).
    #[serde(default)]
    pub data_parallel_group: Option<String>,
    /// Data-parallel group size (informational).
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub data_parallel_size: Option<u32>,
    /// Rank in the data-parallel group (informational).
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub data_parallel_rank: Option<u32>,
}

/// `frameworks_to_test[i].config.parallelism`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedParallelism {
    /// `None`, `TP`, `PP` or `TP_PP`.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Tensor-parallel degree.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub tp_degree: Option<u32>,
    /// Pipeline stages.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub pp_stages: Option<u32>,
    /// Devices, stage-major.
    #[serde(default)]
    pub gpu_ids: Option<Vec<String>>,
    /// PP micro-batches per request.
    #[serde(default, deserialize_with = "super::lenient::opt_u32")]
    pub num_microbatches_per_request: Option<u32>,
}

/// `metrics_config`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedMetrics {
    /// Percentiles in the summary.
    #[serde(default)]
    pub percentiles_to_calculate: Option<Vec<f64>>,
    /// Requests arriving before this time are left out of the metrics, s.
    #[serde(default, deserialize_with = "super::lenient::opt_f64")]
    pub warm_up_duration_s: Option<f64>,
    /// Where the summary JSON goes.
    #[serde(default)]
    pub output_summary_json_path: Option<String>,
    /// Where the per-request CSV goes.
    #[serde(default)]
    pub output_requests_csv_path: Option<String>,
    /// Python logging level (ignored: `RUST_LOG` filters llm-perf's logs).
    #[serde(default)]
    pub log_level: Option<String>,
    /// Token statistics in the summary (always computed).
    #[serde(default)]
    pub compute_token_stats: Option<bool>,
    /// Percentiles in the summary, in percent (as `percentiles_to_calculate`).
    #[serde(default)]
    pub compute_percentiles: Option<Vec<f64>>,
}
