//! Measured serving runs: what was offered, what served it, and what was measured.
//!
//! A [`MeasuredRun`] is everything a simulator needs to replay one benchmark run and compare
//! itself with the measurement: the workload that was offered ([`RunWorkload`]: per-request
//! arrivals and lengths when the tool kept them, else its load stages and length
//! distributions), the serving configuration that ran it ([`RunServing`]: every field
//! optional, since most benchmark files do not record the server's flags; an engine-config
//! YAML fills the gaps, see [`read_engine_config`]), and the measurement ([`RunMeasurement`]:
//! per request where present, else per stage and overall).
//!
//! [`read_run`] detects the layout ([`RunLayout`]) of a folder or file and reads it;
//! [`read_runs`] reads files that hold several runs (a GuideLLM report, one run per
//! benchmark; BLIS's trainval summaries, one run per experiment). Metric definitions follow the tool that measured them;
//! [`RunMeasurement::definitions`] says which was used (e.g. inference-perf's ITL is per
//! streamed chunk, not per token). Every time is in milliseconds: files in seconds (or µs)
//! are converted as they are read.
//!
//! | [`RunLayout`] | what is read | measured at |
//! |---|---|---|
//! | [`RunLayout::InferencePerf`] | run folder: `exp-config.yaml`, `profile.yaml`, `results/config.yaml`, `results/{summary,stage_<N>}_lifecycle_metrics.json` | client |
//! | [`RunLayout::BlisReplay`] | `<exp>.json` + `<exp>_ground_truth.json` (+ `../default_args/<exp>/profile.yaml` when present) | client |
//! | [`RunLayout::LlmServingSim`] | `vllm/meta.json`, `vllm/requests.jsonl` (+ `config.json`) | engine |
//! | [`RunLayout::Guidellm`] | GuideLLM JSON report with per-request timings, one run per benchmark | client |
//! | [`RunLayout::VllmBench`] | `vllm bench serve --save-result [--save-detailed]` JSON | client |
//! | [`RunLayout::BlisTrainval`] | folder with `trained_physics*.json` + `error_records.csv` (or either file): one run per experiment with measurements, means and p90/p99 per stage and overall | client |
//!
//! The serving flags a run did not record come from an engine-config YAML:
//!
//! ```
//! use perf_readers::{RunServing, read_engine_config_str};
//! let yaml = "accelerator: H100\nnum_gpu_blocks_override: 5000\nblock_size: 16\n\
//!             enable_prefix_caching: true\ncpu_offload_gib: 8\n";
//! let extra = read_engine_config_str(yaml, "h100-engine.yaml")?;
//! // A run's recorded serving (here made up) keeps its values; the YAML fills the gaps.
//! let mut serving = RunServing { model: Some("meta-llama/Llama-2-7b-hf".into()),
//!     tensor_parallel: Some(1), ..RunServing::default() };
//! serving.merge(&extra);
//! assert_eq!(serving.num_gpu_blocks, Some(5000));
//! assert_eq!(serving.tensor_parallel, Some(1));
//! assert_eq!(serving.accelerator.as_deref(), Some("H100"));
//! # Ok::<(), perf_readers::ReadError>(())
//! ```

use std::path::PathBuf;

use perf_model_core::LatencyStats;
use serde::{Deserialize, Serialize};

mod blis_replay;
mod blis_trainval;
mod detect;
mod engine_config;
mod guidellm_run;
mod inference_perf;
mod llmservingsim;
mod support;
mod vllm_bench_run;

pub use detect::{detect_run, read_run, read_runs};
pub use engine_config::{read_engine_config, read_engine_config_str};

/// The on-disk layout a run was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunLayout {
    /// A `kubernetes-sigs/inference-perf` run folder: `exp-config.yaml` (server flags),
    /// `profile.yaml` (client profile), `results/summary_lifecycle_metrics.json` and
    /// `results/stage_<N>_lifecycle_metrics.json` (seconds).
    InferencePerf,
    /// A BLIS replay file `<exp>.json` (`requests[]` with arrivals and lengths, `config`,
    /// `model_config`) with its `<exp>_ground_truth.json` (per-request `e2e_s`, `ttft_s`).
    BlisReplay,
    /// An LLMServingSim `python -m bench run` folder: `vllm/meta.json` (engine kwargs) and
    /// `vllm/requests.jsonl` (per-request timestamps).
    LlmServingSim,
    /// A GuideLLM JSON report whose benchmarks keep their per-request timings.
    Guidellm,
    /// A `vllm bench serve --save-result --save-detailed` JSON (per-request arrays).
    VllmBench,
    /// BLIS's "trainval" summaries: a folder holding `trained_physics*.json` (each
    /// experiment's configuration and offered inference-perf workload) and
    /// `error_records.csv` (the sim-to-real pipeline's records, whose `actual` column is the
    /// measured mean / p90 / p99 of TTFT and E2E and the mean ITL, ms, per experiment and load
    /// stage). One run per experiment with measurements; no per-request data, no counts.
    BlisTrainval,
}

impl RunLayout {
    /// A short human name of the layout.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::InferencePerf => "inference-perf run folder",
            Self::BlisReplay => "BLIS replay + ground truth",
            Self::LlmServingSim => "LLMServingSim bench folder",
            Self::Guidellm => "GuideLLM report (per request)",
            Self::VllmBench => "vllm bench serve --save-detailed",
            Self::BlisTrainval => "BLIS trainval summaries (trained physics + error records)",
        }
    }
}

/// Where the timings were taken: this decides whether the HTTP front end (tokenisation,
/// detokenisation, streaming) is inside the measured latencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasuredAt {
    /// A client over HTTP (inference-perf, GuideLLM, `vllm bench serve`): front-end time
    /// counts.
    Client,
    /// Inside the engine process (LLMServingSim's in-process `AsyncLLM`): no HTTP path.
    Engine,
}

/// The serving configuration a run ran with. Every field is optional: a benchmark file
/// rarely records the server's flags, and [`RunServing::merge`] fills the gaps from an
/// engine-config YAML.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunServing {
    /// Model as the server named it (a Hugging Face id such as `meta-llama/Llama-2-7b-hf`, or
    /// a catalogue name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A Hugging Face `config.json` describing the model (for models the catalogue lacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_config: Option<PathBuf>,
    /// Accelerator (catalogue name or alias, e.g. `H100`, `RTX PRO 6000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// Weight dtype (`fp16`, `bf16`, `fp8`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Tensor-parallel degree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_parallel: Option<u32>,
    /// Data-parallel degree (replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_parallel: Option<u32>,
    /// `max_num_seqs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_seqs: Option<u32>,
    /// `max_num_batched_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_batched_tokens: Option<u32>,
    /// `max_model_len`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_len: Option<u32>,
    /// Chunked prefill on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_chunked_prefill: Option<bool>,
    /// Prefix caching on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_prefix_caching: Option<bool>,
    /// GPU KV blocks per replica as the engine reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_gpu_blocks: Option<u64>,
    /// Tokens per KV block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<u32>,
    /// `gpu_memory_utilization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_utilization: Option<f64>,
    /// KV cache offloaded to CPU memory, GiB (0 or absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_offload_gib: Option<f64>,
    /// Device memory, GB, overriding the catalogue's (or describing an uncatalogued device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator_memory_gb: Option<f64>,
    /// Device memory bandwidth, GB/s, overriding the catalogue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator_bandwidth_gbs: Option<f64>,
    /// Dense FP16/BF16 tensor peak, TFLOPS, overriding the catalogue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator_tflops: Option<f64>,
    /// Serving engine (`vllm`, `sglang`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Engine version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
}

impl RunServing {
    /// Fills every field of `self` that `other` sets (`other` wins).
    pub fn merge(&mut self, other: &Self) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f.clone(); } )* };
        }
        take!(
            model,
            model_config,
            accelerator,
            dtype,
            tensor_parallel,
            data_parallel,
            max_num_seqs,
            max_num_batched_tokens,
            max_model_len,
            enable_chunked_prefill,
            enable_prefix_caching,
            num_gpu_blocks,
            block_size,
            gpu_memory_utilization,
            cpu_offload_gib,
            accelerator_memory_gb,
            accelerator_bandwidth_gbs,
            accelerator_tflops,
            engine,
            engine_version
        );
    }
}

/// One offered request and, when the tool kept it, its measured timings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// Arrival, ms from the run's first arrival.
    pub arrival_ms: f64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens (as the tool counted them).
    pub output_tokens: u32,
    /// Prompt group for shared-prefix workloads, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_group: Option<String>,
    /// Measured time to first token, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Measured end-to-end latency, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
    /// The request failed (error, timeout).
    #[serde(default)]
    pub failed: bool,
}

/// One constant-rate load stage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadStage {
    /// Offered rate, requests per second.
    pub rate: f64,
    /// Duration, s.
    pub duration_s: f64,
}

/// A token-length distribution as a file describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LengthSpec {
    /// Every request has this length.
    Fixed {
        /// Tokens.
        tokens: u32,
    },
    /// Quantiles `(q in [0, 1], tokens)`, ascending in `q`, from `q = 0` (min) to `q = 1`
    /// (max).
    Quantiles {
        /// The points.
        points: Vec<(f64, f64)>,
    },
}

/// A shared-prefix prompt set (inference-perf `shared_prefix`): `groups` system prompts of
/// `system_prompt_len` tokens, each followed by `prompts_per_group` distinct questions of
/// `question_len` tokens; requests cycle through the prompts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedPrefixSpec {
    /// Number of distinct system prompts.
    pub groups: u32,
    /// Distinct questions per system prompt.
    pub prompts_per_group: u32,
    /// System prompt tokens.
    pub system_prompt_len: u32,
    /// Question tokens.
    pub question_len: u32,
}

/// The workload a run offered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunWorkload {
    /// Every request in arrival order, when the tool kept them (trace replay); else empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RunRequest>,
    /// Load stages (open loop), when the tool described its load that way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<LoadStage>,
    /// Closed-loop concurrency, when the load was a fixed number of users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Coefficient of variation of the inter-arrival gaps of the stages (1 = Poisson; `vllm
    /// bench serve --burstiness b` gives gamma gaps with CV `1/√b`). Absent: Poisson.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_cv: Option<f64>,
    /// The `(input, output)` token pairs of the requests when the tool kept their lengths but
    /// not their arrivals (then `requests` is empty and the stages describe the load).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<[u32; 2]>,
    /// Prompt lengths offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<LengthSpec>,
    /// Output lengths offered (with `ignore_eos`, exactly what was generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<LengthSpec>,
    /// Shared-prefix prompt set, when the prompts repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_prefix: Option<SharedPrefixSpec>,
    /// The client asked the server to ignore end-of-sequence (outputs have their requested
    /// length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_eos: Option<bool>,
}

/// Aggregate measurements of a run or one of its stages. Latencies in ms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// Time to first token.
    pub ttft: LatencyStats,
    /// Inter-token latency as the tool defines it (see [`MetricDefinitions::itl`]).
    pub itl: LatencyStats,
    /// Time per output token as the tool defines it (see [`MetricDefinitions::tpot`]).
    pub tpot: LatencyStats,
    /// End-to-end request latency.
    pub e2e: LatencyStats,
    /// Mean prompt tokens of the successful requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens_mean: Option<f64>,
    /// Mean output tokens of the successful requests, as the tool counted them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_mean: Option<f64>,
    /// Completed requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    /// Output tokens per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_per_s: Option<f64>,
    /// Successful requests.
    pub successes: u64,
    /// Failed requests (errors, timeouts).
    pub failures: u64,
}

/// How the measuring tool defined its per-token metrics, in words a report can print.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDefinitions {
    /// The ITL definition (e.g. "per streamed chunk, mean of gaps").
    pub itl: String,
    /// The TPOT definition (e.g. "(E2E − TTFT)/(output − 1) per request").
    pub tpot: String,
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeasurement {
    /// The whole run.
    pub overall: MetricSummary,
    /// Per load stage, in order (empty when the tool reports none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<MetricSummary>,
    /// How ITL and TPOT were defined.
    pub definitions: MetricDefinitions,
}

/// One measured run: workload, serving configuration and measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeasuredRun {
    /// A short name (the run folder or file stem).
    pub name: String,
    /// The folder or file it was read from.
    pub source: PathBuf,
    /// The layout detected.
    pub layout: RunLayout,
    /// Where the timings were taken.
    pub measured_at: MeasuredAt,
    /// The serving configuration (as recorded; gaps filled by an engine config).
    pub serving: RunServing,
    /// The offered workload.
    pub workload: RunWorkload,
    /// The measurement.
    pub measured: RunMeasurement,
    /// What the reader noticed or assumed, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
