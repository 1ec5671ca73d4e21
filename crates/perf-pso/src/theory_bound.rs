//! The theory-guided bound on MindIE's `max_batch_size` (specs/tuning.md §5): how many
//! sequences fit in the KV cache left after weights and activations, turned into a narrower
//! search range before the swarm starts.
//!
//! Seed: LLMServingTuner `llmservingtuner/config/model_config.py` (`ModelConfig`,
//! `MindieModelConfig.get_max_batch_size_bound`) and `optimizer.py` (`mindie_prepare`); the
//! arithmetic below follows its order of operations so the §10 example matches to the last
//! digits.
//!
//! # Formula
//! ```text
//! KV bytes/token = (H/heads)·kv_heads·layers·2·b
//! weights        = (V·H + P·H + 12·layers·H² + H·V + 2H)·b            (seed estimate), or given
//! activation     = (S·H + 3·S·H + heads·S·max_in + S·I)·b              (bytes)
//! KV GiB         = npuMemSize                                            if npuMemSize ≠ −1
//!                = (total_MB/1024)·(100 − usage%)/100·mem_coefficient − weights_GiB/tp − activation_GiB/tp
//! blocks         = floor(KV GiB·2³⁰ / (block·KV bytes/token))
//! lower          = floor(blocks / ceil(avg_in/block + max_out/block))
//! upper          = ceil(blocks / ceil(avg_in/block))
//! ```
//! Rule 5: unless 0 < lower < upper (else warn, no change): min ← lower if min < lower < max;
//! max ← int(scaling_coefficient·upper) if inside (min, max), else upper if inside.
//!
//! # Examples
//! ```
//! use perf_pso::theory_bound::{ModelDims, TheoryInput, WeightEstimate};
//! let model = ModelDims::from_hf_config(r#"{"hidden_size": 4096, "num_attention_heads": 32,
//!     "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 128256,
//!     "max_position_embeddings": 8192, "intermediate_size": 14336,
//!     "torch_dtype": "bfloat16"}"#, "config.json")?;
//! let input = TheoryInput {
//!     model, weights: WeightEstimate::Seed, cache_block_size: 128, max_prefill_tokens: 8192,
//!     npu_mem_size: -1, tp: 1, device_total_mb: 65536.0, device_usage_percent: 3.0,
//!     mem_coefficient: 0.8, scaling_coefficient: 1.3, avg_in: 1024.0, max_in: 4096.0,
//!     max_out: 512.0,
//! };
//! let bound = input.bound("max_batch_size", (10.0, 1000.0))?;
//! assert_eq!((bound.lower, bound.upper), (176.0, 266.0));
//! assert_eq!((bound.new_min, bound.new_max), (176.0, 345.0));
//! # Ok::<(), perf_pso::PsoError>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{PsoError, Result, config_err};
use crate::space::{FieldKind, FieldSpec, SearchSpace};

/// Bytes in a GiB.
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The model dimensions the bound needs (from a Hugging Face `config.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDims {
    /// `hidden_size` H.
    pub hidden_size: u64,
    /// `num_attention_heads`.
    pub num_attention_heads: u64,
    /// `num_key_value_heads` (defaults to the attention heads).
    pub num_key_value_heads: u64,
    /// `num_hidden_layers`.
    pub num_hidden_layers: u64,
    /// `vocab_size` V.
    pub vocab_size: u64,
    /// `max_position_embeddings` P.
    pub max_position_embeddings: u64,
    /// `intermediate_size` I.
    pub intermediate_size: u64,
    /// Bytes per element b (from `torch_dtype`, see [`dtype_bytes`]).
    pub bytes_per_element: u64,
}

/// Bytes per element for a `torch_dtype` string, as the seed guesses it (lower-cased):
/// contains "16" → 2, "int8" → 1, "32" → 4, anything else or absent → 2.
#[must_use]
pub fn dtype_bytes(torch_dtype: Option<&str>) -> u64 {
    let Some(d) = torch_dtype.map(str::to_ascii_lowercase) else {
        return 2;
    };
    if d.contains("16") {
        2
    } else if d.contains("int8") {
        1
    } else if d.contains("32") {
        4
    } else {
        2
    }
}

impl ModelDims {
    /// Reads the dimensions from the text of a Hugging Face `config.json`; `label` names the
    /// file in errors. `num_key_value_heads` defaults to `num_attention_heads`; b comes from
    /// `torch_dtype` (or `dtype`) via [`dtype_bytes`].
    ///
    /// # Errors
    /// [`PsoError::Config`] naming `label` and the key: not JSON, a missing key, or a value that
    /// is not a positive integer.
    pub fn from_hf_config(text: &str, label: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| config_err(label, format!("not a JSON document: {e}")))?;
        Self::from_hf_value(&v, label)
    }

    /// As [`ModelDims::from_hf_config`] for a parsed document.
    ///
    /// # Errors
    /// As [`ModelDims::from_hf_config`].
    pub fn from_hf_value(v: &Value, label: &str) -> Result<Self> {
        if !v.is_object() {
            return Err(config_err(label, "not a JSON object"));
        }
        let get = |key: &str| -> Result<Option<u64>> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => {
                    let n = x
                        .as_u64()
                        .or_else(|| {
                            x.as_f64()
                                .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f < 9.0e15)
                                .map(|f| {
                                    #[allow(
                                        clippy::cast_possible_truncation,
                                        clippy::cast_sign_loss
                                    )]
                                    let n = f as u64;
                                    n
                                })
                        })
                        .filter(|n| *n > 0);
                    n.map(Some).ok_or_else(|| {
                        config_err(
                            format!("{label}: {key}"),
                            format!("must be a positive integer, got {x}"),
                        )
                    })
                }
            }
        };
        let need = |key: &str| -> Result<u64> {
            get(key)?.ok_or_else(|| config_err(format!("{label}: {key}"), "missing"))
        };
        let heads = need("num_attention_heads")?;
        let dtype = v
            .get("torch_dtype")
            .and_then(Value::as_str)
            .or_else(|| v.get("dtype").and_then(Value::as_str));
        Ok(Self {
            hidden_size: need("hidden_size")?,
            num_attention_heads: heads,
            num_key_value_heads: get("num_key_value_heads")?.unwrap_or(heads),
            num_hidden_layers: need("num_hidden_layers")?,
            vocab_size: need("vocab_size")?,
            max_position_embeddings: need("max_position_embeddings")?,
            intermediate_size: need("intermediate_size")?,
            bytes_per_element: dtype_bytes(dtype),
        })
    }

    /// KV-cache bytes per token: `(H/heads)·kv_heads·layers·2·b`.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn kv_bytes_per_token(&self) -> f64 {
        let head = self.hidden_size as f64 / self.num_attention_heads as f64;
        head * self.num_key_value_heads as f64
            * self.num_hidden_layers as f64
            * 2.0
            * self.bytes_per_element as f64
    }

    /// The seed's crude weight estimate in bytes: `(V·H + P·H + 12·layers·H² + H·V + 2H)·b`
    /// (a learned position table and 12H² per layer; exact integer arithmetic).
    #[must_use]
    pub fn seed_weight_bytes(&self) -> f64 {
        let (h, v, p, l, b) = (
            u128::from(self.hidden_size),
            u128::from(self.vocab_size),
            u128::from(self.max_position_embeddings),
            u128::from(self.num_hidden_layers),
            u128::from(self.bytes_per_element),
        );
        let params = v * h + p * h + l * 12 * h * h + h * v + 2 * h;
        #[allow(clippy::cast_precision_loss)]
        let bytes = (params * b) as f64;
        bytes
    }

    /// Peak activation bytes of a prefill of `s` tokens against sequences of `max_in` tokens:
    /// `(S·H + 3·S·H + heads·S·max_in + S·I)·b`.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn activation_bytes(&self, s: f64, max_in: f64) -> f64 {
        let h = self.hidden_size as f64;
        let total = s * h
            + 3.0 * s * h
            + self.num_attention_heads as f64 * s * max_in
            + s * self.intermediate_size as f64;
        total * self.bytes_per_element as f64
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("num_hidden_layers", self.num_hidden_layers),
            ("bytes_per_element", self.bytes_per_element),
        ] {
            if v == 0 {
                return Err(PsoError::InvalidParam {
                    name,
                    value: "0".into(),
                    reason: "must be > 0 (the KV size per token would be 0)".into(),
                });
            }
        }
        Ok(())
    }
}

/// Where the weight size comes from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "bytes")]
pub enum WeightEstimate {
    /// The seed's estimate ([`ModelDims::seed_weight_bytes`]); `SeedCompat::Seed` runs.
    Seed,
    /// Total weight bytes of the model (e.g. `perf_model_core`'s `ModelSpec::weight_bytes`).
    Bytes(f64),
}

/// The seed settings of the bound: `theory_guided_enable` (true), `mem_coefficient` (0.8),
/// `scaling_coefficient` (1.3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheorySettings {
    /// `theory_guided_enable`: narrow `max_batch_size` before the swarm starts.
    pub enabled: bool,
    /// `mem_coefficient`: the share of free device memory given to KV cache and friends.
    pub mem_coefficient: f64,
    /// `scaling_coefficient`: the factor on the upper bound.
    pub scaling_coefficient: f64,
}

impl Default for TheorySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            mem_coefficient: 0.8,
            scaling_coefficient: 1.3,
        }
    }
}

/// Everything the bound needs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryInput {
    /// Model dimensions.
    pub model: ModelDims,
    /// Weight size source.
    pub weights: WeightEstimate,
    /// MindIE `cacheBlockSize` (tokens per KV block).
    pub cache_block_size: u64,
    /// MindIE `maxPrefillTokens` S.
    pub max_prefill_tokens: u64,
    /// MindIE `npuMemSize` (GiB of KV cache per device; −1 = derive from free memory).
    pub npu_mem_size: i64,
    /// Tensor parallelism (`tp`; 0 is read as 1, as the seed does).
    pub tp: u64,
    /// Device memory, MB (`npu-smi` `HBM Capacity(MB)`).
    pub device_total_mb: f64,
    /// Device memory in use, % (`npu-smi` `HBM Usage Rate(%)`).
    pub device_usage_percent: f64,
    /// `mem_coefficient` (0.8).
    pub mem_coefficient: f64,
    /// `scaling_coefficient` (1.3).
    pub scaling_coefficient: f64,
    /// Mean input tokens of the default run (AisBench `InputTokens` average).
    pub avg_in: f64,
    /// Largest input tokens of the default run (`InputTokens` max).
    pub max_in: f64,
    /// Largest output tokens of the default run (`OutputTokens` max).
    pub max_out: f64,
}

/// The bound with every intermediate (bytes, GiB = 2³⁰ bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryBound {
    /// The input it was computed from.
    pub input: TheoryInput,
    /// The bounded field's name.
    pub field: String,
    /// KV-cache bytes per token.
    pub kv_bytes_per_token: f64,
    /// Weight bytes of the whole model.
    pub weights_bytes: f64,
    /// Weights, GiB (whole model; per device divide by `tp`).
    pub weights_gib: f64,
    /// Peak activation bytes.
    pub activation_bytes: f64,
    /// Peak activation, GiB (per device divide by `tp`).
    pub activation_gib: f64,
    /// `true` when the KV memory is `npuMemSize`, not derived.
    pub kv_from_npu_mem_size: bool,
    /// KV-cache memory per device, GiB.
    pub kv_gib: f64,
    /// KV blocks that fit.
    pub blocks: f64,
    /// Blocks of the longest sequence, `ceil(avg_in/block + max_out/block)`.
    pub blocks_per_long_sequence: f64,
    /// Blocks of a mean prompt, `ceil(avg_in/block)`.
    pub blocks_per_prompt: f64,
    /// Lower bound on `max_batch_size`.
    pub lower: f64,
    /// Upper bound on `max_batch_size`.
    pub upper: f64,
    /// `int(scaling_coefficient · upper)`.
    pub scaled_upper: f64,
    /// The search range before, `(min, max)`.
    pub range: (f64, f64),
    /// The new minimum (the old one when unchanged).
    pub new_min: f64,
    /// The new maximum (the old one when unchanged).
    pub new_max: f64,
    /// `true` when the minimum became `lower`.
    pub min_changed: bool,
    /// `true` when the maximum changed.
    pub max_changed: bool,
    /// `true` when the maximum became `scaled_upper` (else `upper`, if it changed).
    pub max_scaled: bool,
    /// `true` when the range changed.
    pub applied: bool,
    /// Why the range did not change (or changed only at one end).
    pub note: Option<String>,
}

impl TheoryInput {
    /// Checks the input.
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] naming the parameter: zero model dimensions, a zero block
    /// size, non-positive token statistics, a device size ≤ 0 or a usage outside 0–100 % (when
    /// `npuMemSize` is −1), a coefficient out of range, a negative or non-finite weight size,
    /// `npuMemSize` below −1.
    pub fn check(&self) -> Result<()> {
        self.model.check()?;
        let bad = |name: &'static str, value: String, reason: &str| {
            Err(PsoError::InvalidParam {
                name,
                value,
                reason: reason.to_owned(),
            })
        };
        if self.cache_block_size == 0 {
            return bad("cacheBlockSize", "0".into(), "must be > 0");
        }
        for (name, v) in [("avg_in", self.avg_in), ("max_out", self.max_out)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, v.to_string(), "must be finite and > 0");
            }
        }
        if !(self.max_in.is_finite() && self.max_in >= 0.0) {
            return bad("max_in", self.max_in.to_string(), "must be finite and >= 0");
        }
        if self.npu_mem_size < -1 {
            return bad(
                "npuMemSize",
                self.npu_mem_size.to_string(),
                "must be -1 (derive) or a size in GiB",
            );
        }
        if self.npu_mem_size == -1 {
            if !(self.device_total_mb.is_finite() && self.device_total_mb > 0.0) {
                return bad(
                    "device_total_mb",
                    self.device_total_mb.to_string(),
                    "must be finite and > 0",
                );
            }
            if !(0.0..=100.0).contains(&self.device_usage_percent) {
                return bad(
                    "device_usage_percent",
                    self.device_usage_percent.to_string(),
                    "must be in 0..=100",
                );
            }
        }
        if !(self.mem_coefficient > 0.0 && self.mem_coefficient <= 1.0) {
            return bad(
                "mem_coefficient",
                self.mem_coefficient.to_string(),
                "must be in (0, 1]",
            );
        }
        if !(self.scaling_coefficient.is_finite() && self.scaling_coefficient > 0.0) {
            return bad(
                "scaling_coefficient",
                self.scaling_coefficient.to_string(),
                "must be finite and > 0",
            );
        }
        if let WeightEstimate::Bytes(w) = self.weights
            && !(w.is_finite() && w >= 0.0)
        {
            return bad(
                "weights",
                w.to_string(),
                "weight bytes must be finite and >= 0",
            );
        }
        Ok(())
    }

    /// Computes the bound for `field` with search range `range = (min, max)` (rule 5).
    ///
    /// # Errors
    /// As [`TheoryInput::check`]; [`PsoError::InvalidParam`] for a range that is not finite
    /// or has `min > max`.
    pub fn bound(&self, field: &str, range: (f64, f64)) -> Result<TheoryBound> {
        self.check()?;
        let (min, max) = range;
        if !(min.is_finite() && max.is_finite()) || min > max {
            return Err(PsoError::InvalidParam {
                name: "range",
                value: format!("{min}..{max}"),
                reason: "must be finite with min <= max".into(),
            });
        }
        #[allow(clippy::cast_precision_loss)]
        let (tp, block, s) = (
            self.tp.max(1) as f64,
            self.cache_block_size as f64,
            self.max_prefill_tokens as f64,
        );
        let kv_tok = self.model.kv_bytes_per_token();
        let weights_bytes = match self.weights {
            WeightEstimate::Seed => self.model.seed_weight_bytes(),
            WeightEstimate::Bytes(w) => w,
        };
        // the seed goes through MB: bytes/2^20, then /1024
        let weights_gib = weights_bytes / (1024.0 * 1024.0) / 1024.0;
        let activation_bytes = self.model.activation_bytes(s, self.max_in);
        let activation_gib = activation_bytes / GIB;
        let kv_from_npu_mem_size = self.npu_mem_size != -1;
        #[allow(clippy::cast_precision_loss)]
        let kv_gib = if kv_from_npu_mem_size {
            self.npu_mem_size as f64
        } else {
            let total_gib = self.device_total_mb / 1024.0;
            let available = total_gib * (100.0 - self.device_usage_percent) / 100.0;
            available * self.mem_coefficient - weights_gib / tp - activation_gib / tp
        };
        let blocks = (kv_gib * GIB / (block * kv_tok)).floor();
        let blocks_per_long_sequence = (self.avg_in / block + self.max_out / block).ceil();
        let blocks_per_prompt = (self.avg_in / block).ceil();
        let lower = (blocks / blocks_per_long_sequence).floor();
        let upper = (blocks / blocks_per_prompt).ceil();
        let scaled_upper = (upper * self.scaling_coefficient).trunc();
        let (mut new_min, mut new_max) = (min, max);
        let (mut min_changed, mut max_changed, mut max_scaled) = (false, false, false);
        let note = if lower >= upper || lower <= 0.0 || upper <= 0.0 {
            Some(format!(
                "not applied: need 0 < lower < upper, got lower {} and upper {} (is the device \
                 memory already in use?)",
                num(lower),
                num(upper)
            ))
        } else {
            if min < lower && lower < max {
                new_min = lower;
                min_changed = true;
            }
            if new_min < scaled_upper && scaled_upper < max {
                new_max = scaled_upper;
                (max_changed, max_scaled) = (true, true);
            } else if new_min < upper && upper < max {
                new_max = upper;
                max_changed = true;
            }
            match (min_changed, max_changed) {
                (false, false) => Some(format!(
                    "not applied: lower {} and upper {} (scaled {}) lie outside the search \
                     range {}–{}",
                    num(lower),
                    num(upper),
                    num(scaled_upper),
                    num(min),
                    num(max)
                )),
                (true, false) => Some(format!(
                    "max kept: upper {} (scaled {}) is not inside ({}, {})",
                    num(upper),
                    num(scaled_upper),
                    num(new_min),
                    num(max)
                )),
                (false, true) => Some(format!(
                    "min kept: lower {} is not inside ({}, {})",
                    num(lower),
                    num(min),
                    num(max)
                )),
                (true, true) => None,
            }
        };
        let applied = min_changed || max_changed;
        if let Some(n) = &note {
            tracing::warn!(field, "theory-guided bound: {n}");
        }
        Ok(TheoryBound {
            input: *self,
            field: field.to_owned(),
            kv_bytes_per_token: kv_tok,
            weights_bytes,
            weights_gib,
            activation_bytes,
            activation_gib,
            kv_from_npu_mem_size,
            kv_gib,
            blocks,
            blocks_per_long_sequence,
            blocks_per_prompt,
            lower,
            upper,
            scaled_upper,
            range,
            new_min,
            new_max,
            min_changed,
            max_changed,
            max_scaled,
            applied,
            note,
        })
    }
}

/// A number as the derivation prints it: integers without a fraction, others as Python's
/// `repr` (the shortest text that reads back exactly, as the spec quotes them).
fn num(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        crate::store::py_repr(x)
    }
}

impl TheoryBound {
    /// Human-readable lines, one per step, e.g.
    /// `KV bytes/token = (4096/32)·8·32·2·2 = 131072`.
    #[must_use]
    pub fn derivation(&self) -> Vec<String> {
        let i = &self.input;
        let m = &i.model;
        let n = |v: u64| v.to_string();
        let mut out = vec![format!(
            "KV bytes/token = (H/heads)·kv_heads·layers·2·b = ({}/{})·{}·{}·2·{} = {}",
            n(m.hidden_size),
            n(m.num_attention_heads),
            n(m.num_key_value_heads),
            n(m.num_hidden_layers),
            n(m.bytes_per_element),
            num(self.kv_bytes_per_token)
        )];
        out.push(match i.weights {
            WeightEstimate::Seed => format!(
                "weights = (V·H + P·H + 12·layers·H² + H·V + 2·H)·b = ({}·{} + {}·{} + 12·{}·{}² + \
                 {}·{} + 2·{})·{} = {} B = {} GiB (seed estimate)",
                n(m.vocab_size),
                n(m.hidden_size),
                n(m.max_position_embeddings),
                n(m.hidden_size),
                n(m.num_hidden_layers),
                n(m.hidden_size),
                n(m.hidden_size),
                n(m.vocab_size),
                n(m.hidden_size),
                n(m.bytes_per_element),
                num(self.weights_bytes),
                num(self.weights_gib)
            ),
            WeightEstimate::Bytes(_) => format!(
                "weights = {} B (model spec) = {} GiB",
                num(self.weights_bytes),
                num(self.weights_gib)
            ),
        });
        out.push(format!(
            "activation = (4·S·H + heads·S·max_in + S·I)·b = (4·{}·{} + {}·{}·{} + {}·{})·{} = {} B \
             = {} GiB",
            n(i.max_prefill_tokens),
            n(m.hidden_size),
            n(m.num_attention_heads),
            n(i.max_prefill_tokens),
            num(i.max_in),
            n(i.max_prefill_tokens),
            n(m.intermediate_size),
            n(m.bytes_per_element),
            num(self.activation_bytes),
            num(self.activation_gib)
        ));
        let tp = i.tp.max(1);
        out.push(if self.kv_from_npu_mem_size {
            format!("KV memory = npuMemSize = {} GiB", num(self.kv_gib))
        } else {
            format!(
                "KV memory = ({} MB/1024)·(100 − {})/100·{} − {}/{} − {}/{} = {} GiB",
                num(i.device_total_mb),
                num(i.device_usage_percent),
                num(i.mem_coefficient),
                num(self.weights_gib),
                tp,
                num(self.activation_gib),
                tp,
                num(self.kv_gib)
            )
        });
        out.push(format!(
            "blocks = floor(KV memory / (block·KV bytes/token)) = floor({} GiB / ({}·{} B)) = {}",
            num(self.kv_gib),
            n(i.cache_block_size),
            num(self.kv_bytes_per_token),
            num(self.blocks)
        ));
        out.push(format!(
            "lower = floor(blocks / ceil(avg_in/block + max_out/block)) = floor({} / ceil({}/{} + \
             {}/{})) = floor({}/{}) = {}",
            num(self.blocks),
            num(i.avg_in),
            n(i.cache_block_size),
            num(i.max_out),
            n(i.cache_block_size),
            num(self.blocks),
            num(self.blocks_per_long_sequence),
            num(self.lower)
        ));
        out.push(format!(
            "upper = ceil(blocks / ceil(avg_in/block)) = ceil({} / ceil({}/{})) = ceil({}/{}) = {}",
            num(self.blocks),
            num(i.avg_in),
            n(i.cache_block_size),
            num(self.blocks),
            num(self.blocks_per_prompt),
            num(self.upper)
        ));
        let (min, max) = self.range;
        if self.applied {
            let mut why = Vec::new();
            if self.min_changed {
                why.push(format!("min ← lower {}", num(self.lower)));
            }
            if self.max_scaled {
                why.push(format!(
                    "max ← int({}·{}) = {}",
                    num(i.scaling_coefficient),
                    num(self.upper),
                    num(self.scaled_upper)
                ));
            } else if self.max_changed {
                why.push(format!(
                    "max ← upper {} (int({}·{}) = {} is outside)",
                    num(self.upper),
                    num(i.scaling_coefficient),
                    num(self.upper),
                    num(self.scaled_upper)
                ));
            }
            out.push(format!(
                "{} {}–{} → {}–{} ({})",
                self.field,
                num(min),
                num(max),
                num(self.new_min),
                num(self.new_max),
                why.join("; ")
            ));
        }
        if let Some(note) = &self.note {
            out.push(format!("{} {}–{}: {note}", self.field, num(min), num(max)));
        }
        out
    }

    /// Writes the new range into `spec` when the bound applies; returns whether it did.
    pub fn apply_to_spec(&self, spec: &mut FieldSpec) -> bool {
        if self.applied {
            spec.min = self.new_min;
            spec.max = self.new_max;
        }
        self.applied
    }

    /// Writes the new range into the dimension `self.field` of `space` when the bound applies;
    /// returns whether it did.
    ///
    /// # Errors
    /// As [`SearchSpace::set_bounds`].
    pub fn apply_to_space(&self, space: &mut SearchSpace) -> Result<bool> {
        if self.applied {
            space.set_bounds(&self.field, self.new_min, self.new_max)?;
        }
        Ok(self.applied)
    }
}

/// Computes the bound for the dimension `field` of `space` (usually `max_batch_size`) from its
/// current range, and narrows the range when rule 5 allows.
///
/// # Errors
/// [`PsoError::Config`] when `field` is not an int or float dimension of `space`; as
/// [`TheoryInput::bound`].
pub fn apply_theory_bound(
    space: &mut SearchSpace,
    field: &str,
    input: &TheoryInput,
) -> Result<TheoryBound> {
    let f = space
        .field(field)
        .ok_or_else(|| config_err(format!("field `{field}`"), "no such field"))?;
    if f.dimension.is_none() || !matches!(f.kind, FieldKind::Int | FieldKind::Float) {
        return Err(config_err(
            format!("field `{field}`"),
            "the theory-guided bound needs an int or float search dimension",
        ));
    }
    let bound = input.bound(field, (f.min, f.max))?;
    bound.apply_to_space(space)?;
    Ok(bound)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values: integers, SLO bounds, parsed literals
mod tests {
    use super::*;
    use crate::space::SeedCompat;

    const LLAMA3_8B: &str = r#"{
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
        "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "max_position_embeddings": 8192, "rope_theta": 500000.0, "torch_dtype": "bfloat16"
    }"#;

    fn spec_example() -> TheoryInput {
        TheoryInput {
            model: ModelDims::from_hf_config(LLAMA3_8B, "config.json").unwrap(),
            weights: WeightEstimate::Seed,
            cache_block_size: 128,
            max_prefill_tokens: 8192,
            npu_mem_size: -1,
            tp: 1,
            device_total_mb: 65536.0,
            device_usage_percent: 3.0,
            mem_coefficient: 0.8,
            scaling_coefficient: 1.3,
            avg_in: 1024.0,
            max_in: 4096.0,
            max_out: 512.0,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9, "{a} vs {b}");
    }

    /// specs/tuning.md §10, theory bound.
    #[test]
    fn worked_example_of_the_spec() {
        let b = spec_example()
            .bound("max_batch_size", (10.0, 1000.0))
            .unwrap();
        close(b.kv_bytes_per_token, 131_072.0);
        close(b.weights_gib, 14.019_546_508_789_062);
        close(b.activation_gib, 2.468_75);
        close(b.kv_gib, 33.175_703_491_210_94);
        close(b.blocks, 2123.0);
        close(b.lower, 176.0);
        close(b.upper, 266.0);
        close(b.scaled_upper, 345.0);
        assert!(b.applied && b.note.is_none());
        assert_eq!((b.new_min, b.new_max), (176.0, 345.0));
        let lines = b.derivation();
        assert_eq!(
            lines[0],
            "KV bytes/token = (H/heads)·kv_heads·layers·2·b = (4096/32)·8·32·2·2 = 131072"
        );
        assert!(
            lines[1].ends_with("= 15053373440 B = 14.019546508789062 GiB (seed estimate)"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].ends_with("= 2650800128 B = 2.46875 GiB"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "KV memory = (65536 MB/1024)·(100 − 3)/100·0.8 − 14.019546508789062/1 − 2.46875/1 = 33.17570349121094 GiB"
        );
        assert!(lines[4].ends_with("= 2123"), "{}", lines[4]);
        assert!(lines[5].ends_with("floor(2123/12) = 176"), "{}", lines[5]);
        assert!(lines[6].ends_with("ceil(2123/8) = 266"), "{}", lines[6]);
        assert_eq!(
            lines[7],
            "max_batch_size 10–1000 → 176–345 (min ← lower 176; max ← int(1.3·266) = 345)"
        );
        for l in &lines {
            println!("{l}");
        }
    }

    #[test]
    fn model_spec_weights_replace_the_seed_estimate() {
        let mut i = spec_example();
        // 16.06e9 B (Llama 3 8B in bf16, embeddings untied): 14.957… GiB
        i.weights = WeightEstimate::Bytes(16.06e9);
        let b = i.bound("max_batch_size", (10.0, 1000.0)).unwrap();
        close(b.weights_gib, 16.06e9 / GIB);
        close(b.kv_gib, 64.0 * 0.97 * 0.8 - 16.06e9 / GIB - 2.468_75);
        assert!(b.derivation()[1].starts_with("weights = 16060000000 B (model spec)"));
        // tp divides weights and activations
        i.tp = 2;
        let b2 = i.bound("max_batch_size", (10.0, 1000.0)).unwrap();
        close(
            b2.kv_gib,
            64.0 * 0.97 * 0.8 - 16.06e9 / GIB / 2.0 - 2.468_75 / 2.0,
        );
    }

    #[test]
    fn npu_mem_size_is_used_as_given() {
        let mut i = spec_example();
        i.npu_mem_size = 20;
        i.device_total_mb = 0.0; // not needed on this path
        let b = i.bound("max_batch_size", (10.0, 1000.0)).unwrap();
        assert!(b.kv_from_npu_mem_size);
        close(b.kv_gib, 20.0);
        // 20 GiB / (128·131072 B) = 1280 blocks; lower floor(1280/12) = 106, upper 160
        close(b.blocks, 1280.0);
        close(b.lower, 106.0);
        close(b.upper, 160.0);
        assert_eq!((b.new_min, b.new_max), (106.0, 208.0));
        assert_eq!(b.derivation()[3], "KV memory = npuMemSize = 20 GiB");
    }

    #[test]
    fn not_applied_when_lower_is_not_below_upper() {
        let mut i = spec_example();
        // almost full device: negative KV memory, so lower ≤ 0
        i.device_usage_percent = 95.0;
        let b = i.bound("max_batch_size", (10.0, 1000.0)).unwrap();
        assert!(b.kv_gib < 0.0 && b.lower <= 0.0);
        assert!(!b.applied);
        assert_eq!((b.new_min, b.new_max), (10.0, 1000.0));
        assert!(
            b.note
                .as_deref()
                .unwrap()
                .contains("need 0 < lower < upper")
        );
        // lower = upper: one block per sequence either way (avg_in + max_out ≤ block)
        let mut i = spec_example();
        i.npu_mem_size = 1; // 64 blocks
        i.avg_in = 10.0;
        i.max_out = 10.0;
        let b = i.bound("max_batch_size", (10.0, 1000.0)).unwrap();
        assert_eq!((b.lower, b.upper), (64.0, 64.0));
        assert!(!b.applied);
        assert!(b.derivation().last().unwrap().contains("not applied"));
    }

    #[test]
    fn not_applied_when_the_bounds_lie_outside_the_range() {
        let b = spec_example()
            .bound("max_batch_size", (200.0, 250.0))
            .unwrap();
        // lower 176 < min, upper 266 and 345 > max: nothing inside
        assert!(!b.applied);
        assert_eq!((b.new_min, b.new_max), (200.0, 250.0));
        assert!(
            b.note
                .as_deref()
                .unwrap()
                .contains("outside the search range 200–250")
        );
        // only the max inside: 300 is above upper·1.3? no: 345 > 300, so upper 266 is used
        let b = spec_example()
            .bound("max_batch_size", (200.0, 300.0))
            .unwrap();
        assert!(b.applied);
        assert_eq!((b.new_min, b.new_max), (200.0, 266.0));
        assert!(b.note.as_deref().unwrap().contains("min kept"));
        assert!(b.derivation().iter().any(|l| l.contains("max ← upper 266")));
    }

    #[test]
    fn applies_to_a_search_space_and_a_spec() {
        let mut space = SearchSpace::new(
            &[FieldSpec::int(
                "max_batch_size",
                "BackendConfig.ScheduleConfig.maxBatchSize",
                10,
                1000,
            )],
            SeedCompat::Seed,
        )
        .unwrap();
        let b = apply_theory_bound(&mut space, "max_batch_size", &spec_example()).unwrap();
        assert!(b.applied);
        assert_eq!(space.bounds(), (vec![176.0], vec![345.0]));
        let mut spec = FieldSpec::int("max_batch_size", "x", 10, 1000);
        assert!(b.apply_to_spec(&mut spec));
        assert_eq!((spec.min, spec.max), (176.0, 345.0));
        let e = apply_theory_bound(&mut space, "nope", &spec_example()).unwrap_err();
        assert!(e.to_string().contains("`nope`"));
    }

    #[test]
    fn hf_config_keys_and_dtypes() {
        let m = ModelDims::from_hf_config(LLAMA3_8B, "config.json").unwrap();
        assert_eq!(
            (
                m.hidden_size,
                m.num_key_value_heads,
                m.intermediate_size,
                m.bytes_per_element
            ),
            (4096, 8, 14336, 2)
        );
        let no_kv = LLAMA3_8B.replace("\"num_key_value_heads\": 8,", "");
        assert_eq!(
            ModelDims::from_hf_config(&no_kv, "c")
                .unwrap()
                .num_key_value_heads,
            32
        );
        let missing = LLAMA3_8B.replace("\"vocab_size\": 128256,", "");
        let e = ModelDims::from_hf_config(&missing, "model/config.json")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "model/config.json: vocab_size: missing");
        let bad = LLAMA3_8B.replace("\"hidden_size\": 4096", "\"hidden_size\": -4");
        let e = ModelDims::from_hf_config(&bad, "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden_size") && e.contains("-4"), "{e}");
        assert!(
            ModelDims::from_hf_config("{", "c")
                .unwrap_err()
                .to_string()
                .contains("not a JSON")
        );
        assert_eq!(dtype_bytes(Some("float16")), 2);
        assert_eq!(dtype_bytes(Some("INT8")), 1);
        assert_eq!(dtype_bytes(Some("float32")), 4);
        assert_eq!(dtype_bytes(Some("float8_e4m3fn")), 2);
        assert_eq!(dtype_bytes(None), 2);
    }

    #[test]
    fn bad_input_is_an_error_naming_the_parameter() {
        let mut i = spec_example();
        i.cache_block_size = 0;
        assert!(
            i.bound("m", (1.0, 2.0))
                .unwrap_err()
                .to_string()
                .contains("cacheBlockSize")
        );
        let mut i = spec_example();
        i.avg_in = 0.0;
        assert!(
            i.bound("m", (1.0, 2.0))
                .unwrap_err()
                .to_string()
                .contains("avg_in")
        );
        let mut i = spec_example();
        i.device_usage_percent = 120.0;
        assert!(
            i.bound("m", (1.0, 2.0))
                .unwrap_err()
                .to_string()
                .contains("device_usage_percent")
        );
        let mut i = spec_example();
        i.weights = WeightEstimate::Bytes(f64::NAN);
        assert!(
            i.bound("m", (1.0, 2.0))
                .unwrap_err()
                .to_string()
                .contains("weights")
        );
        let mut i = spec_example();
        i.model.num_attention_heads = 0;
        assert!(
            i.bound("m", (1.0, 2.0))
                .unwrap_err()
                .to_string()
                .contains("num_attention_heads")
        );
        assert!(spec_example().bound("m", (3.0, 2.0)).is_err());
    }
}
