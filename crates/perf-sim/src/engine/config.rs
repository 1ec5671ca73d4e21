//! `cluster.engine`: which engine each replica runs (`kind`), the limits every engine has
//! ([`ServingConfig`], in vLLM's vocabulary) and each engine's own knobs.
//!
//! Keys (all optional; unknown keys, and keys the chosen kind does not have, are errors
//! naming the key):
//!
//! | key | engines | default |
//! |---|---|---|
//! | `kind` | all | `vllm_v1` (`vllm_v0`, `sarathi`, `orca`, `static`, `sglang`, `trtllm`, or a registered custom name) |
//! | `max_batch_size` | all | 256; `trtllm` 2048 (at most `max_num_batched_tokens`) |
//! | `max_num_batched_tokens` | all | 8192; `sarathi` 512; `sglang` 16384 |
//! | `max_queue_size`, `max_model_len`, `tensor_parallel`, `pipeline_parallel`, `gpu_memory_utilization` | all | none, none, 1, 1, 0.9 |
//! | `pipeline_link` | all | derived (`{latency_us, bandwidth_gbs, bytes_per_token}`: [`crate::pipeline::PipelineLink`]) |
//! | `block_size` | all | 16; `trtllm` 32 |
//! | `enable_chunked_prefill` | all | true; `vllm_v0`, `orca`, `static`, `trtllm` false (`orca`, `static`: must be false; `sarathi`: must be true) |
//! | `enable_prefix_caching` | all | false; `sglang`, `trtllm` true (`vllm_v0`, `sarathi`, `orca`, `static`: must be false) |
//! | `watermark` | `vllm_v0`, `sarathi` | 0.01 (fraction of blocks kept free at admission) |
//! | `prefill_budget` | `vllm_v0` | `sum` (Σ prompt ≤ budget; `padded`: batch · longest prompt ≤ budget, Vidur's) |
//! | `schedule_policy` | `sglang` | `fcfs` (`lpm`: longest prefix match) |
//! | `chunked_prefill_size` | `sglang` | 8192, at most `max_num_batched_tokens` (given: between `block_size` and it) |
//! | `max_total_tokens` | `sglang` | none (caps the KV pool, in tokens) |
//! | `enable_mixed_chunk` | `sglang` | false |
//! | `init_new_token_ratio`, `min_new_token_ratio`, `new_token_ratio_decay_steps`, `clip_max_new_tokens`, `retract_decode_steps` | `sglang` | 0.7, 0.098, 600, 4096, 20 |
//! | `capacity_scheduler_policy` | `trtllm` | `guaranteed_no_evict` (`max_utilization`) |
//! | `speculative` | `vllm_v1` | none (`{num_speculative_tokens, acceptance, draft_ms, draft_ms_per_seq}`: [`super::speculative::SpeculativeConfig`]) |
//! | `options` | custom kinds | `{}`, handed to the factory |
//!
//! Engine-native aliases (input only; giving both names is an error): `sglang`
//! `max_running_requests` = `max_batch_size`, `max_prefill_tokens` =
//! `max_num_batched_tokens`, `page_size` = `block_size`; `trtllm` `max_num_tokens` =
//! `max_num_batched_tokens`, `tokens_per_block` = `block_size`, `enable_chunked_context` =
//! `enable_chunked_prefill`, `enable_block_reuse` = `enable_prefix_caching`; `sarathi`
//! `chunk_size` = `max_num_batched_tokens`. A config serialises with the canonical names.

use std::ops::Deref;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use perf_model_core::{ServingConfig, ServingConfigData};

use crate::error::{Result, invalid};

/// Which engine a replica runs, with its own knobs.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum EngineKind {
    /// vLLM V1 (specs/simulator.md §3.2), the default.
    #[default]
    VllmV1,
    /// vLLM V0: prefill-only or decode-only steps; with chunked prefill, as `sarathi` with
    /// its token budget.
    VllmV0(VllmV0Knobs),
    /// Sarathi-Serve (Vidur's `sarathi` scheduler).
    Sarathi(SarathiKnobs),
    /// Orca: iteration-level batching, whole prompts, KV reserved to the output cap.
    Orca,
    /// Static batching: a batch runs until all its members finish.
    Static,
    /// SGLang.
    Sglang(SglangKnobs),
    /// TensorRT-LLM.
    TrtLlm(TrtLlmKnobs),
    /// An engine registered under `name` ([`crate::engine::EngineRegistry`]).
    Custom {
        /// The registered name.
        name: String,
        /// `cluster.engine.options`, handed to the factory as it is.
        options: serde_json::Value,
    },
}

impl EngineKind {
    /// Names of the built-in kinds.
    pub const BUILTIN: [&'static str; 7] = [
        "vllm_v1", "vllm_v0", "sarathi", "orca", "static", "sglang", "trtllm",
    ];

    /// The kind's name as written in a config.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::VllmV1 => "vllm_v1",
            Self::VllmV0(_) => "vllm_v0",
            Self::Sarathi(_) => "sarathi",
            Self::Orca => "orca",
            Self::Static => "static",
            Self::Sglang(_) => "sglang",
            Self::TrtLlm(_) => "trtllm",
            Self::Custom { name, .. } => name,
        }
    }

    /// The built-in kind named `name` with default knobs (`tensorrt_llm` is accepted for
    /// `trtllm`).
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        Some(match name {
            "vllm_v1" => Self::VllmV1,
            "vllm_v0" => Self::VllmV0(VllmV0Knobs::default()),
            "sarathi" => Self::Sarathi(SarathiKnobs::default()),
            "orca" => Self::Orca,
            "static" => Self::Static,
            "sglang" => Self::Sglang(SglangKnobs::default()),
            "trtllm" | "tensorrt_llm" => Self::TrtLlm(TrtLlmKnobs::default()),
            _ => return None,
        })
    }
}

pub(crate) fn is_custom_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// How vLLM V0 bounds a prefill batch's tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefillBudget {
    /// Σ prompt tokens ≤ `max_num_batched_tokens` (vLLM V0).
    #[default]
    Sum,
    /// batch size × longest prompt ≤ `max_num_batched_tokens` (Vidur's padded batches).
    Padded,
}

/// `vllm_v0` knobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VllmV0Knobs {
    /// Fraction of the blocks kept free when admitting (vLLM V0 / Vidur 0.01).
    pub watermark: f64,
    /// How a prefill batch's tokens are bounded.
    pub prefill_budget: PrefillBudget,
}

impl Default for VllmV0Knobs {
    fn default() -> Self {
        Self {
            watermark: 0.01,
            prefill_budget: PrefillBudget::Sum,
        }
    }
}

/// `sarathi` knobs (its `chunk_size` is `max_num_batched_tokens`, default 512).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SarathiKnobs {
    /// Fraction of the blocks kept free when admitting (Vidur 0.01).
    pub watermark: f64,
}

impl Default for SarathiKnobs {
    fn default() -> Self {
        Self { watermark: 0.01 }
    }
}

/// SGLang's waiting-queue order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulePolicy {
    /// Arrival order (retracted requests rejoin at the back).
    #[default]
    Fcfs,
    /// Longest cached prefix first (falls back to `fcfs` above 128 waiting requests, as
    /// SGLang does).
    Lpm,
}

/// `sglang` knobs (SGLang `ServerArgs` names; `max_running_requests` is `max_batch_size`,
/// `max_prefill_tokens` is `max_num_batched_tokens`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SglangKnobs {
    /// Waiting-queue order.
    pub schedule_policy: SchedulePolicy,
    /// Largest prefill chunk, tokens (with `enable_chunked_prefill`).
    pub chunked_prefill_size: u32,
    /// KV pool size in tokens; caps the derived pool.
    pub max_total_tokens: Option<u64>,
    /// Run the decodes in the same step as a prefill batch.
    pub enable_mixed_chunk: bool,
    /// Initial fraction of a running request's remaining `max_new_tokens` reserved when
    /// admitting.
    pub init_new_token_ratio: f64,
    /// Its floor.
    pub min_new_token_ratio: f64,
    /// Decode steps over which it decays from the initial value to the floor.
    pub new_token_ratio_decay_steps: u32,
    /// Cap on the `max_new_tokens` estimate of one request.
    pub clip_max_new_tokens: u32,
    /// Decode steps of headroom kept per request when retracting.
    pub retract_decode_steps: u32,
}

impl Default for SglangKnobs {
    fn default() -> Self {
        Self {
            schedule_policy: SchedulePolicy::Fcfs,
            chunked_prefill_size: 8192,
            max_total_tokens: None,
            enable_mixed_chunk: false,
            init_new_token_ratio: 0.7,
            min_new_token_ratio: 0.7 * 0.14,
            new_token_ratio_decay_steps: 600,
            clip_max_new_tokens: 4096,
            retract_decode_steps: 20,
        }
    }
}

/// TensorRT-LLM's capacity scheduler policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacitySchedulerPolicy {
    /// Admit a request only when KV for its prompt and whole output cap is left after what
    /// running requests may still need: never pauses.
    #[default]
    GuaranteedNoEvict,
    /// Admit while the next step fits; pause (evict, recompute later) the most recently
    /// started requests when a running request cannot grow.
    MaxUtilization,
}

/// `trtllm` knobs (`max_num_tokens` is `max_num_batched_tokens`, `tokens_per_block`
/// `block_size`, `enable_chunked_context` `enable_chunked_prefill`, `enable_block_reuse`
/// `enable_prefix_caching`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrtLlmKnobs {
    /// The capacity scheduler policy.
    pub capacity_scheduler_policy: CapacitySchedulerPolicy,
}

/// `cluster.engine`: the engine kind and its knobs, plus the limits every engine has. Derefs
/// to those limits ([`ServingConfig`]: `max_batch_size()`, `block_size()`, …), resolved with
/// the kind's defaults.
///
/// # Examples
/// ```
/// use perf_sim::engine::{EngineConfig, EngineKind, SchedulePolicy};
/// let e: EngineConfig = serde_json::from_str(
///     r#"{ "kind": "sglang", "schedule_policy": "lpm", "max_running_requests": 64 }"#)?;
/// assert_eq!(e.max_batch_size(), 64);
/// assert_eq!(e.max_num_batched_tokens(), 16384); // SGLang's max_prefill_tokens
/// assert!(e.enable_prefix_caching());             // the radix cache is on by default
/// assert!(matches!(e.kind, EngineKind::Sglang(k) if k.schedule_policy == SchedulePolicy::Lpm));
/// // A knob the kind does not have is an error naming it.
/// let err = serde_json::from_str::<EngineConfig>(r#"{ "schedule_policy": "lpm" }"#).unwrap_err();
/// assert!(err.to_string().contains("unknown field `schedule_policy`"), "{err}");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineConfig {
    /// The engine and its knobs.
    pub kind: EngineKind,
    /// The limits every engine has, with the kind's defaults applied.
    pub limits: ServingConfig,
    /// Speculative decoding (`vllm_v1` only; none by default).
    pub speculative: Option<super::speculative::SpeculativeConfig>,
    /// The link between pipeline stages (`pipeline_parallel` > 1); default: derived from the
    /// roofline's model and accelerator ([`crate::pipeline`]).
    pub pipeline_link: Option<crate::pipeline::PipelineLink>,
}

impl Deref for EngineConfig {
    type Target = ServingConfig;
    fn deref(&self) -> &ServingConfig {
        &self.limits
    }
}

impl From<ServingConfig> for EngineConfig {
    /// A `vllm_v1` engine with these limits.
    fn from(limits: ServingConfig) -> Self {
        Self {
            kind: EngineKind::VllmV1,
            limits,
            speculative: None,
            pipeline_link: None,
        }
    }
}

impl EngineConfig {
    /// The KV pool the engine allows itself, in tokens (`sglang`'s `max_total_tokens`).
    #[must_use]
    pub fn kv_token_cap(&self) -> Option<u64> {
        match &self.kind {
            EngineKind::Sglang(k) => k.max_total_tokens,
            _ => None,
        }
    }

    /// Checks the knobs and their consistency with the limits (deserialisation does it too;
    /// this covers configs built in code).
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `cluster.engine.<key>`.
    pub fn validate(&self) -> Result<()> {
        let p = "cluster.engine";
        let l = &self.limits;
        let fraction = |key: &str, v: f64| -> Result<()> {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(format!("{p}.{key}"), v, "must be in [0, 1)"))
            }
        };
        let must = |key: &str, ok: bool, v: bool, why: &str| -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(invalid(format!("{p}.{key}"), v, why.to_owned()))
            }
        };
        let name = self.kind.name();
        let no_prefix = || {
            must(
                "enable_prefix_caching",
                !l.enable_prefix_caching(),
                true,
                &format!("engine {name} has no prefix cache"),
            )
        };
        if let Some(spec) = &self.speculative {
            if self.kind != EngineKind::VllmV1 {
                return Err(invalid(
                    format!("{p}.speculative"),
                    "set",
                    format!("speculative decoding is modelled for vllm_v1, not {name}"),
                ));
            }
            spec.validate()?;
        }
        match &self.kind {
            EngineKind::VllmV1 => {}
            EngineKind::VllmV0(k) => {
                fraction("watermark", k.watermark)?;
                no_prefix()?;
            }
            EngineKind::Sarathi(k) => {
                fraction("watermark", k.watermark)?;
                no_prefix()?;
                must(
                    "enable_chunked_prefill",
                    l.enable_chunked_prefill(),
                    false,
                    "sarathi always chunks prefills",
                )?;
            }
            EngineKind::Orca | EngineKind::Static => {
                no_prefix()?;
                must(
                    "enable_chunked_prefill",
                    !l.enable_chunked_prefill(),
                    true,
                    &format!("engine {name} runs whole prompts"),
                )?;
            }
            EngineKind::Sglang(k) => {
                // A truncated chunk is whole pages: a chunk budget below one page would never
                // let a long prompt progress.
                let page = if l.enable_chunked_prefill() {
                    l.block_size()
                } else {
                    1
                };
                if k.chunked_prefill_size < page
                    || k.chunked_prefill_size > l.max_num_batched_tokens()
                {
                    return Err(invalid(
                        format!("{p}.chunked_prefill_size"),
                        k.chunked_prefill_size,
                        format!(
                            "must be >= block_size ({page}) and <= max_num_batched_tokens \
                             (max_prefill_tokens, {})",
                            l.max_num_batched_tokens()
                        ),
                    ));
                }
                if let Some(t) = k.max_total_tokens
                    && t < u64::from(l.block_size())
                {
                    return Err(invalid(
                        format!("{p}.max_total_tokens"),
                        t,
                        format!("must hold at least one block ({} tokens)", l.block_size()),
                    ));
                }
                for (key, v) in [
                    ("init_new_token_ratio", k.init_new_token_ratio),
                    ("min_new_token_ratio", k.min_new_token_ratio),
                ] {
                    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                        return Err(invalid(format!("{p}.{key}"), v, "must be in [0, 1]"));
                    }
                }
                if k.min_new_token_ratio > k.init_new_token_ratio {
                    return Err(invalid(
                        format!("{p}.min_new_token_ratio"),
                        k.min_new_token_ratio,
                        "must be <= init_new_token_ratio",
                    ));
                }
                for (key, v) in [
                    ("new_token_ratio_decay_steps", k.new_token_ratio_decay_steps),
                    ("clip_max_new_tokens", k.clip_max_new_tokens),
                ] {
                    if v == 0 {
                        return Err(invalid(format!("{p}.{key}"), v, "must be >= 1"));
                    }
                }
            }
            EngineKind::TrtLlm(_) => {
                // A truncated context chunk is whole blocks.
                if l.enable_chunked_prefill() && l.max_num_batched_tokens() < l.block_size() {
                    return Err(invalid(
                        format!("{p}.max_num_batched_tokens"),
                        l.max_num_batched_tokens(),
                        format!(
                            "with chunked context must hold one block (tokens_per_block {})",
                            l.block_size()
                        ),
                    ));
                }
            }
            EngineKind::Custom { name, options } => {
                if !is_custom_name(name) {
                    return Err(invalid(
                        format!("{p}.kind"),
                        name,
                        "a custom engine name is lowercase letters, digits, '_' and '-'",
                    ));
                }
                if !options.is_object() {
                    return Err(invalid(format!("{p}.options"), options, "must be a map"));
                }
            }
        }
        Ok(())
    }
}

/// Every key `cluster.engine` may hold (canonical, aliases and knobs), as given.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    kind: Option<String>,
    max_batch_size: Option<u32>,
    max_num_batched_tokens: Option<u32>,
    max_queue_size: Option<u32>,
    max_model_len: Option<u32>,
    block_size: Option<u32>,
    tensor_parallel: Option<u32>,
    pipeline_parallel: Option<u32>,
    enable_chunked_prefill: Option<bool>,
    enable_prefix_caching: Option<bool>,
    gpu_memory_utilization: Option<f64>,
    // Engine-native aliases.
    max_running_requests: Option<u32>,
    max_prefill_tokens: Option<u32>,
    page_size: Option<u32>,
    max_num_tokens: Option<u32>,
    tokens_per_block: Option<u32>,
    enable_chunked_context: Option<bool>,
    enable_block_reuse: Option<bool>,
    chunk_size: Option<u32>,
    // Knobs.
    watermark: Option<f64>,
    prefill_budget: Option<PrefillBudget>,
    schedule_policy: Option<SchedulePolicy>,
    chunked_prefill_size: Option<u32>,
    max_total_tokens: Option<u64>,
    enable_mixed_chunk: Option<bool>,
    init_new_token_ratio: Option<f64>,
    min_new_token_ratio: Option<f64>,
    new_token_ratio_decay_steps: Option<u32>,
    clip_max_new_tokens: Option<u32>,
    retract_decode_steps: Option<u32>,
    capacity_scheduler_policy: Option<CapacitySchedulerPolicy>,
    speculative: Option<super::speculative::SpeculativeConfig>,
    pipeline_link: Option<crate::pipeline::PipelineLink>,
    options: Option<serde_json::Value>,
}

/// Common keys every kind accepts.
const COMMON: [&str; 12] = [
    "kind",
    "max_batch_size",
    "max_num_batched_tokens",
    "max_queue_size",
    "max_model_len",
    "block_size",
    "tensor_parallel",
    "pipeline_parallel",
    "pipeline_link",
    "enable_chunked_prefill",
    "enable_prefix_caching",
    "gpu_memory_utilization",
];

/// The keys of a kind beyond [`COMMON`].
fn own_keys(kind: &EngineKind) -> &'static [&'static str] {
    match kind {
        EngineKind::VllmV1 => &["speculative"],
        EngineKind::Orca | EngineKind::Static => &[],
        EngineKind::VllmV0(_) => &["watermark", "prefill_budget"],
        EngineKind::Sarathi(_) => &["watermark", "chunk_size"],
        EngineKind::Sglang(_) => &[
            "max_running_requests",
            "max_prefill_tokens",
            "page_size",
            "schedule_policy",
            "chunked_prefill_size",
            "max_total_tokens",
            "enable_mixed_chunk",
            "init_new_token_ratio",
            "min_new_token_ratio",
            "new_token_ratio_decay_steps",
            "clip_max_new_tokens",
            "retract_decode_steps",
        ],
        EngineKind::TrtLlm(_) => &[
            "max_num_tokens",
            "tokens_per_block",
            "enable_chunked_context",
            "enable_block_reuse",
            "capacity_scheduler_policy",
        ],
        EngineKind::Custom { .. } => &["options"],
    }
}

impl Raw {
    /// `(key, given)` for every key but the common ones.
    fn given(&self) -> [(&'static str, bool); 23] {
        [
            ("max_running_requests", self.max_running_requests.is_some()),
            ("max_prefill_tokens", self.max_prefill_tokens.is_some()),
            ("page_size", self.page_size.is_some()),
            ("max_num_tokens", self.max_num_tokens.is_some()),
            ("tokens_per_block", self.tokens_per_block.is_some()),
            (
                "enable_chunked_context",
                self.enable_chunked_context.is_some(),
            ),
            ("enable_block_reuse", self.enable_block_reuse.is_some()),
            ("chunk_size", self.chunk_size.is_some()),
            ("watermark", self.watermark.is_some()),
            ("prefill_budget", self.prefill_budget.is_some()),
            ("schedule_policy", self.schedule_policy.is_some()),
            ("chunked_prefill_size", self.chunked_prefill_size.is_some()),
            ("max_total_tokens", self.max_total_tokens.is_some()),
            ("enable_mixed_chunk", self.enable_mixed_chunk.is_some()),
            ("init_new_token_ratio", self.init_new_token_ratio.is_some()),
            ("min_new_token_ratio", self.min_new_token_ratio.is_some()),
            (
                "new_token_ratio_decay_steps",
                self.new_token_ratio_decay_steps.is_some(),
            ),
            ("clip_max_new_tokens", self.clip_max_new_tokens.is_some()),
            ("retract_decode_steps", self.retract_decode_steps.is_some()),
            (
                "capacity_scheduler_policy",
                self.capacity_scheduler_policy.is_some(),
            ),
            ("speculative", self.speculative.is_some()),
            ("options", self.options.is_some()),
            ("kind", false),
        ]
    }

    fn resolve(self) -> std::result::Result<EngineConfig, String> {
        let kind_name = self.kind.clone().unwrap_or_else(|| "vllm_v1".to_owned());
        let mut kind = match EngineKind::builtin(&kind_name) {
            Some(k) => k,
            None if is_custom_name(&kind_name) => EngineKind::Custom {
                name: kind_name.clone(),
                options: serde_json::Value::Object(serde_json::Map::new()),
            },
            None => {
                return Err(format!(
                    "invalid value: `{kind_name}` for key `kind`, expected one of {} or a \
                     custom engine's name (lowercase letters, digits, '_', '-')",
                    EngineKind::BUILTIN.join(", ")
                ));
            }
        };
        let own = own_keys(&kind);
        if let Some((key, _)) = self
            .given()
            .into_iter()
            .find(|&(key, given)| given && !own.contains(&key))
        {
            let mut expected: Vec<&str> = COMMON.to_vec();
            expected.extend_from_slice(own);
            return Err(format!(
                "unknown field `{key}` for engine kind `{}`, expected one of {}",
                kind.name(),
                expected.join(", ")
            ));
        }
        let alias = |canon: Option<u32>, canon_key: &str, al: Option<u32>, al_key: &str| match (
            canon, al,
        ) {
            (Some(_), Some(_)) => Err(format!(
                "invalid value: both `{canon_key}` and `{al_key}` given for key \
                     `{al_key}`, expected one of them (they are the same limit)"
            )),
            (c, a) => Ok(c.or(a)),
        };
        let alias_b = |canon: Option<bool>, canon_key: &str, al: Option<bool>, al_key: &str| match (
            canon, al,
        ) {
            (Some(_), Some(_)) => Err(format!(
                "invalid value: both `{canon_key}` and `{al_key}` given for key \
                     `{al_key}`, expected one of them (they are the same switch)"
            )),
            (c, a) => Ok(c.or(a)),
        };
        let mut batch = self.max_batch_size;
        let mut budget = self.max_num_batched_tokens;
        let mut block = self.block_size;
        let mut chunked = self.enable_chunked_prefill;
        let mut prefix = self.enable_prefix_caching;
        let d = ServingConfigData::default();
        match &mut kind {
            EngineKind::VllmV1 => {}
            EngineKind::VllmV0(k) => {
                k.watermark = self.watermark.unwrap_or(k.watermark);
                k.prefill_budget = self.prefill_budget.unwrap_or(k.prefill_budget);
                chunked = chunked.or(Some(false));
            }
            EngineKind::Sarathi(k) => {
                k.watermark = self.watermark.unwrap_or(k.watermark);
                budget = alias(
                    budget,
                    "max_num_batched_tokens",
                    self.chunk_size,
                    "chunk_size",
                )?
                .or(Some(512));
            }
            EngineKind::Orca | EngineKind::Static => {
                chunked = chunked.or(Some(false));
            }
            EngineKind::Sglang(k) => {
                batch = alias(
                    batch,
                    "max_batch_size",
                    self.max_running_requests,
                    "max_running_requests",
                )?;
                budget = alias(
                    budget,
                    "max_num_batched_tokens",
                    self.max_prefill_tokens,
                    "max_prefill_tokens",
                )?
                .or(Some(16384));
                block = alias(block, "block_size", self.page_size, "page_size")?;
                prefix = prefix.or(Some(true));
                k.schedule_policy = self.schedule_policy.unwrap_or(k.schedule_policy);
                // SGLang's chunk size default, within the prefill budget.
                k.chunked_prefill_size = self
                    .chunked_prefill_size
                    .unwrap_or(k.chunked_prefill_size.min(budget.unwrap_or(16384)));
                k.max_total_tokens = self.max_total_tokens;
                k.enable_mixed_chunk = self.enable_mixed_chunk.unwrap_or(k.enable_mixed_chunk);
                k.init_new_token_ratio =
                    self.init_new_token_ratio.unwrap_or(k.init_new_token_ratio);
                k.min_new_token_ratio = self.min_new_token_ratio.unwrap_or(k.min_new_token_ratio);
                k.new_token_ratio_decay_steps = self
                    .new_token_ratio_decay_steps
                    .unwrap_or(k.new_token_ratio_decay_steps);
                k.clip_max_new_tokens = self.clip_max_new_tokens.unwrap_or(k.clip_max_new_tokens);
                k.retract_decode_steps =
                    self.retract_decode_steps.unwrap_or(k.retract_decode_steps);
            }
            EngineKind::TrtLlm(k) => {
                budget = alias(
                    budget,
                    "max_num_batched_tokens",
                    self.max_num_tokens,
                    "max_num_tokens",
                )?;
                block = alias(
                    block,
                    "block_size",
                    self.tokens_per_block,
                    "tokens_per_block",
                )?
                .or(Some(32));
                chunked = alias_b(
                    chunked,
                    "enable_chunked_prefill",
                    self.enable_chunked_context,
                    "enable_chunked_context",
                )?
                .or(Some(false));
                prefix = alias_b(
                    prefix,
                    "enable_prefix_caching",
                    self.enable_block_reuse,
                    "enable_block_reuse",
                )?
                .or(Some(true));
                // TensorRT-LLM's default, within the token budget (a step must hold one token
                // per request).
                batch = batch.or(Some(2048.min(budget.unwrap_or(d.max_num_batched_tokens))));
                k.capacity_scheduler_policy = self
                    .capacity_scheduler_policy
                    .unwrap_or(k.capacity_scheduler_policy);
            }
            EngineKind::Custom { options, .. } => {
                if let Some(o) = self.options {
                    *options = o;
                }
            }
        }
        let limits = ServingConfig::new(ServingConfigData {
            max_batch_size: batch.unwrap_or(d.max_batch_size),
            max_num_batched_tokens: budget.unwrap_or(d.max_num_batched_tokens),
            max_queue_size: self.max_queue_size,
            max_model_len: self.max_model_len,
            block_size: block.unwrap_or(d.block_size),
            tensor_parallel: self.tensor_parallel.unwrap_or(d.tensor_parallel),
            pipeline_parallel: self.pipeline_parallel.unwrap_or(d.pipeline_parallel),
            enable_chunked_prefill: chunked.unwrap_or(d.enable_chunked_prefill),
            enable_prefix_caching: prefix.unwrap_or(d.enable_prefix_caching),
            gpu_memory_utilization: self
                .gpu_memory_utilization
                .unwrap_or(d.gpu_memory_utilization),
        })
        .map_err(|e| e.to_string())?;
        let config = EngineConfig {
            kind,
            limits,
            speculative: self.speculative,
            pipeline_link: self.pipeline_link,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

impl<'de> Deserialize<'de> for EngineConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Raw::deserialize(d)?.resolve().map_err(D::Error::custom)
    }
}

impl Serialize for EngineConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let l = self.limits.data();
        let mut m = s.serialize_map(None)?;
        if self.kind != EngineKind::VllmV1 {
            m.serialize_entry("kind", self.kind.name())?;
        }
        m.serialize_entry("max_batch_size", &l.max_batch_size)?;
        m.serialize_entry("max_num_batched_tokens", &l.max_num_batched_tokens)?;
        m.serialize_entry("max_queue_size", &l.max_queue_size)?;
        m.serialize_entry("max_model_len", &l.max_model_len)?;
        m.serialize_entry("block_size", &l.block_size)?;
        m.serialize_entry("tensor_parallel", &l.tensor_parallel)?;
        m.serialize_entry("pipeline_parallel", &l.pipeline_parallel)?;
        m.serialize_entry("enable_chunked_prefill", &l.enable_chunked_prefill)?;
        m.serialize_entry("enable_prefix_caching", &l.enable_prefix_caching)?;
        m.serialize_entry("gpu_memory_utilization", &l.gpu_memory_utilization)?;
        match &self.kind {
            EngineKind::VllmV1 | EngineKind::Orca | EngineKind::Static => {}
            EngineKind::VllmV0(k) => {
                m.serialize_entry("watermark", &k.watermark)?;
                m.serialize_entry("prefill_budget", &k.prefill_budget)?;
            }
            EngineKind::Sarathi(k) => m.serialize_entry("watermark", &k.watermark)?,
            EngineKind::Sglang(k) => {
                m.serialize_entry("schedule_policy", &k.schedule_policy)?;
                m.serialize_entry("chunked_prefill_size", &k.chunked_prefill_size)?;
                if let Some(t) = k.max_total_tokens {
                    m.serialize_entry("max_total_tokens", &t)?;
                }
                m.serialize_entry("enable_mixed_chunk", &k.enable_mixed_chunk)?;
                m.serialize_entry("init_new_token_ratio", &k.init_new_token_ratio)?;
                m.serialize_entry("min_new_token_ratio", &k.min_new_token_ratio)?;
                m.serialize_entry(
                    "new_token_ratio_decay_steps",
                    &k.new_token_ratio_decay_steps,
                )?;
                m.serialize_entry("clip_max_new_tokens", &k.clip_max_new_tokens)?;
                m.serialize_entry("retract_decode_steps", &k.retract_decode_steps)?;
            }
            EngineKind::TrtLlm(k) => {
                m.serialize_entry("capacity_scheduler_policy", &k.capacity_scheduler_policy)?;
            }
            EngineKind::Custom { options, .. } => m.serialize_entry("options", options)?,
        }
        if let Some(spec) = &self.speculative {
            m.serialize_entry("speculative", spec)?;
        }
        if let Some(link) = &self.pipeline_link {
            m.serialize_entry("pipeline_link", link)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> std::result::Result<EngineConfig, String> {
        serde_json::from_str::<EngineConfig>(s).map_err(|e| e.to_string())
    }

    #[test]
    fn default_is_vllm_v1_and_serialises_as_before() {
        let e = parse("{}").unwrap();
        assert_eq!(e.kind, EngineKind::VllmV1);
        let old = serde_json::to_value(ServingConfig::default()).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap(), old);
    }

    #[test]
    fn engine_defaults_and_aliases() {
        let t = parse(r#"{"kind":"trtllm","max_num_tokens":4096}"#).unwrap();
        assert_eq!(
            (
                t.max_batch_size(),
                t.max_num_batched_tokens(),
                t.block_size()
            ),
            (2048, 4096, 32)
        );
        assert!(t.enable_prefix_caching() && !t.enable_chunked_prefill());
        let s = parse(r#"{"kind":"sarathi"}"#).unwrap();
        assert_eq!(s.max_num_batched_tokens(), 512);
        let s = parse(r#"{"kind":"sarathi","chunk_size":1024}"#).unwrap();
        assert_eq!(s.max_num_batched_tokens(), 1024);
        let v0 = parse(r#"{"kind":"vllm_v0"}"#).unwrap();
        assert!(!v0.enable_chunked_prefill());
    }

    #[test]
    fn round_trips_through_json() {
        for s in [
            r#"{"kind":"sglang","schedule_policy":"lpm","max_total_tokens":65536}"#,
            r#"{"kind":"trtllm","capacity_scheduler_policy":"max_utilization"}"#,
            r#"{"kind":"vllm_v0","prefill_budget":"padded","watermark":0.02}"#,
            r#"{"kind":"sarathi","max_batch_size":64}"#,
            r#"{"kind":"orca"}"#,
            r#"{"kind":"static","max_batch_size":8}"#,
            r#"{"kind":"my_engine","options":{"x":1}}"#,
        ] {
            let e = parse(s).unwrap();
            let back = parse(&serde_json::to_string(&e).unwrap()).unwrap();
            assert_eq!(e, back, "{s}");
        }
    }

    #[test]
    fn foreign_knobs_conflicts_and_bad_values_are_errors_naming_the_key() {
        for (s, want) in [
            (r#"{"watermark":0.1}"#, "unknown field `watermark`"),
            (
                r#"{"kind":"orca","chunk_size":4}"#,
                "unknown field `chunk_size`",
            ),
            (
                r#"{"kind":"sglang","capacity_scheduler_policy":"max_utilization"}"#,
                "unknown field `capacity_scheduler_policy`",
            ),
            (
                r#"{"kind":"sglang","max_batch_size":8,"max_running_requests":8}"#,
                "max_running_requests",
            ),
            (
                r#"{"kind":"trtllm","enable_block_reuse":true,"enable_prefix_caching":true}"#,
                "enable_block_reuse",
            ),
            (
                r#"{"kind":"sarathi","enable_chunked_prefill":false}"#,
                "cluster.engine.enable_chunked_prefill",
            ),
            (
                r#"{"kind":"orca","enable_prefix_caching":true}"#,
                "cluster.engine.enable_prefix_caching",
            ),
            (
                r#"{"kind":"sglang","chunked_prefill_size":20000}"#,
                "cluster.engine.chunked_prefill_size",
            ),
            (
                r#"{"kind":"sglang","min_new_token_ratio":0.9}"#,
                "cluster.engine.min_new_token_ratio",
            ),
            (
                r#"{"kind":"vllm_v0","watermark":1.5}"#,
                "cluster.engine.watermark",
            ),
            (r#"{"kind":"Bad Name"}"#, "`kind`"),
            (
                r#"{"kind":"sglang","schedule_policy":"lof"}"#,
                "unknown variant `lof`",
            ),
            (r#"{"kind":"orca","options":{}}"#, "unknown field `options`"),
            (r#"{"max_seqs":3}"#, "unknown field `max_seqs`"),
        ] {
            let err = parse(s).unwrap_err();
            assert!(err.contains(want), "{s}: {err}");
        }
    }
}
