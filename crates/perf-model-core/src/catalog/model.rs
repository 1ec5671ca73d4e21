//! [`ModelSpec`]: the architecture of a transformer LLM and the sizes derived from it.

use serde::{Deserialize, Serialize};

use super::lookup;
use crate::dtype::Dtype;
use crate::error::Result;
use crate::validate::{at_least_one, out_of_range, positive};

/// Mixture-of-experts layout (HF config fields `num_local_experts`/`n_routed_experts`,
/// `num_experts_per_tok`, `moe_intermediate_size`, `n_shared_experts`, `first_k_dense_replace`).
///
/// The first `dense_layers` layers have a dense MLP of width `dense_ffn`; every other layer has
/// `experts` routed experts (of which `active` are used per token), `shared_experts` always-on
/// experts, all of width `expert_ffn`, and a router of `hidden × experts` weights.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoeSpec {
    /// Routed experts per MoE layer, E.
    pub experts: u32,
    /// Routed experts used per token, k_a.
    pub active: u32,
    /// Intermediate size of one expert MLP.
    pub expert_ffn: u32,
    /// Shared (always active) experts per MoE layer, each of width `expert_ffn`.
    #[serde(default)]
    pub shared_experts: u32,
    /// Number of leading layers that keep a dense MLP.
    #[serde(default)]
    pub dense_layers: u32,
    /// Intermediate size of the dense MLP of those leading layers (0 when `dense_layers` = 0).
    #[serde(default)]
    pub dense_ffn: u32,
}

impl MoeSpec {
    /// Expected number of distinct routed experts touched in one layer by `tokens` tokens, each
    /// routed uniformly at random to `active` of the `experts` experts.
    ///
    /// # Formula
    /// ```text
    /// U(T) = E · (1 − ((E − k_a)/E)^T)        (0 for T = 0, → E as T grows)
    /// ```
    #[must_use]
    pub fn expected_unique_experts(&self, tokens: f64) -> f64 {
        let e = f64::from(self.experts);
        if e <= 0.0 || tokens <= 0.0 {
            return 0.0;
        }
        let miss = (e - f64::from(self.active)) / e;
        e * (1.0 - miss.powf(tokens))
    }
}

/// Multi-head latent attention (DeepSeek-V2/V3 HF config fields of the same names).
///
/// Keys and values are compressed to a latent of `kv_lora_rank` plus a shared rotary key of
/// `qk_rope_head_dim`; the KV cache stores only those per token and layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlaSpec {
    /// Rank of the query compression; `None` for a full query projection (DeepSeek-V2-Lite).
    #[serde(default)]
    pub q_lora_rank: Option<u32>,
    /// Rank of the joint key/value compression (the cached latent).
    pub kv_lora_rank: u32,
    /// Per-head query/key dimension without rotary embedding.
    pub qk_nope_head_dim: u32,
    /// Per-head query/key dimension with rotary embedding (the key part is shared by heads).
    pub qk_rope_head_dim: u32,
    /// Per-head value dimension.
    pub v_head_dim: u32,
}

/// The architecture of a decoder-only transformer LLM, as given by its HF `config.json`.
///
/// Build one from the catalogue with [`ModelSpec::lookup`], or fill the public fields yourself
/// and call [`ModelSpec::validate`]. Every derived size below is computed from these fields;
/// norms, rotary tables and position embeddings are ignored (< 0.1 % of the parameters).
///
/// Notation (specs/simulator.md): L layers, d hidden, h_q/h_kv query/KV heads, d_h head dim,
/// f FFN size, V vocabulary.
///
/// # Examples
/// ```
/// use perf_model_core::catalog::ModelSpec;
/// use perf_model_core::Dtype;
/// let m = ModelSpec::lookup("meta-llama/Llama-3.1-8B-Instruct")?;
/// assert_eq!(m.name, "Llama-3.1-8B");
/// assert_eq!(m.kv_bytes_per_token(Dtype::Fp16), 131_072.0);
/// assert!((m.param_count() as f64 / 8.03e9 - 1.0).abs() < 0.01);
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Canonical name, e.g. `Llama-3.1-8B`.
    pub name: String,
    /// Other names it is known by (HF repository ids, …); lookups match these too.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Transformer layers, L (`num_hidden_layers`).
    pub layers: u32,
    /// Hidden size, d (`hidden_size`).
    pub hidden: u32,
    /// Query heads, h_q (`num_attention_heads`).
    pub heads: u32,
    /// Key/value heads, h_kv (`num_key_value_heads`; equal to `heads` without GQA).
    pub kv_heads: u32,
    /// Head dimension, d_h (`head_dim`, else `hidden / heads`).
    pub head_dim: u32,
    /// MLP intermediate size, f (`intermediate_size`). MoE layers use [`MoeSpec`] widths.
    pub ffn: u32,
    /// Vocabulary size, V (`vocab_size`).
    pub vocab: u32,
    /// Input embedding and LM head share one matrix (`tie_word_embeddings`).
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Gated MLP (SwiGLU: gate, up, down = 3 matrices) rather than a plain one (GELU: 2).
    pub gated_mlp: bool,
    /// Q, K and V projections carry biases (Qwen2/2.5).
    #[serde(default)]
    pub qkv_bias: bool,
    /// Mixture-of-experts layout, if any.
    #[serde(default)]
    pub moe: Option<MoeSpec>,
    /// Multi-head latent attention, if any (replaces the h_kv/d_h KV layout).
    #[serde(default)]
    pub mla: Option<MlaSpec>,
    /// Parameter count published by the authors (model card or paper), for checks.
    #[serde(default)]
    pub published_params: Option<f64>,
    /// Where the numbers come from (HF `config.json`, paper).
    #[serde(default)]
    pub source: String,
}

/// Tokens that [`ModelSpec::lookup`] ignores: fine-tune and packaging suffixes.
const MODEL_NOISE: &[&str] = &[
    "instruct", "chat", "hf", "base", "it", "awq", "gptq", "gguf", "fp8", "fp16", "bf16", "int4",
    "int8", "w4a16", "w8a8", "dynamic", "meta",
];

fn model_optional(token: &str) -> bool {
    // Version suffixes such as `v0`, `v01`, `2507`.
    (token.starts_with('v') && token[1..].chars().all(|c| c.is_ascii_digit()))
        || (token.len() == 4 && token.chars().all(|c| c.is_ascii_digit()))
}

impl ModelSpec {
    /// Finds a catalogue model by name or alias.
    ///
    /// Matching is case-insensitive and ignores punctuation and spaces; an organisation prefix
    /// (`meta-llama/`) and fine-tune or packaging suffixes (`-Instruct`, `-Chat`, `-hf`, `-AWQ`,
    /// `-FP8`, …) are dropped when the full name does not match.
    ///
    /// # Errors
    /// [`crate::Error::UnknownName`] with up to three nearest catalogue names (edit distance on
    /// normalised names).
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::catalog::ModelSpec;
    /// assert_eq!(ModelSpec::lookup("Qwen/Qwen2.5-7B-Instruct")?.name, "Qwen2.5-7B");
    /// assert_eq!(ModelSpec::lookup("llama 2 7b")?.name, "Llama-2-7B");
    /// let err = ModelSpec::lookup("Llama-9-7B").unwrap_err();
    /// assert!(err.to_string().contains("Llama-2-7B"));
    /// # Ok::<(), perf_model_core::Error>(())
    /// ```
    pub fn lookup(name: &str) -> Result<Self> {
        Self::lookup_ref(name).cloned()
    }

    /// Like [`ModelSpec::lookup`], borrowing the catalogue entry.
    ///
    /// # Errors
    /// [`crate::Error::UnknownName`].
    pub fn lookup_ref(name: &str) -> Result<&'static Self> {
        lookup::find(
            "model",
            name,
            super::models(),
            |m| {
                std::iter::once(m.name.as_str())
                    .chain(m.aliases.iter().map(String::as_str))
                    .collect()
            },
            MODEL_NOISE,
            model_optional,
        )
    }

    /// Checks that the fields describe a buildable model.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] naming the field: an empty name, a zero count or size,
    /// `kv_heads` not dividing `heads`, MoE `active` outside `1..=experts`, more dense layers
    /// than layers, zero MLA ranks, a non-positive published size, or a width above 2¹⁸ or
    /// count above 2¹² (bounds that keep every derived count exact).
    ///
    /// Deserialising does not validate (the struct is plain data): call this, or hand the spec
    /// to [`crate::RooflineModel::new`], which does.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(out_of_range("name", "\"\"", "must not be empty"));
        }
        at_least_one("layers", u64::from(self.layers))?;
        at_least_one("hidden", u64::from(self.hidden))?;
        at_least_one("heads", u64::from(self.heads))?;
        at_least_one("kv_heads", u64::from(self.kv_heads))?;
        at_least_one("head_dim", u64::from(self.head_dim))?;
        at_least_one("vocab", u64::from(self.vocab))?;
        if self.moe.is_none() {
            at_least_one("ffn", u64::from(self.ffn))?;
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return Err(out_of_range(
                "kv_heads",
                self.kv_heads,
                &format!("must divide heads (= {})", self.heads),
            ));
        }
        if let Some(moe) = &self.moe {
            at_least_one("moe.experts", u64::from(moe.experts))?;
            at_least_one("moe.expert_ffn", u64::from(moe.expert_ffn))?;
            if moe.active == 0 || moe.active > moe.experts {
                return Err(out_of_range(
                    "moe.active",
                    moe.active,
                    &format!("must be within [1, experts = {}]", moe.experts),
                ));
            }
            if moe.dense_layers > self.layers {
                return Err(out_of_range(
                    "moe.dense_layers",
                    moe.dense_layers,
                    &format!("must be <= layers (= {})", self.layers),
                ));
            }
            if moe.dense_layers > 0 {
                at_least_one("moe.dense_ffn", u64::from(moe.dense_ffn))?;
            }
        }
        if let Some(mla) = &self.mla {
            if let Some(q) = mla.q_lora_rank {
                at_least_one("mla.q_lora_rank", u64::from(q))?;
            }
            at_least_one("mla.kv_lora_rank", u64::from(mla.kv_lora_rank))?;
            at_least_one("mla.qk_nope_head_dim", u64::from(mla.qk_nope_head_dim))?;
            at_least_one("mla.v_head_dim", u64::from(mla.v_head_dim))?;
        }
        if let Some(p) = self.published_params {
            positive("published_params", p)?;
        }
        self.check_sizes()
    }

    /// Upper bounds that keep every derived count exact in `u64` (far above any real model:
    /// widths ≤ 2¹⁸ = 262 144, counts ≤ 2¹² = 4096).
    fn check_sizes(&self) -> Result<()> {
        const MAX_WIDTH: u32 = 1 << 18;
        const MAX_COUNT: u32 = 1 << 12;
        let mut widths = vec![
            ("hidden", self.hidden),
            ("ffn", self.ffn),
            ("vocab", self.vocab),
        ];
        let mut counts = vec![
            ("layers", self.layers),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
        ];
        if let Some(moe) = &self.moe {
            widths.extend([
                ("moe.expert_ffn", moe.expert_ffn),
                ("moe.dense_ffn", moe.dense_ffn),
            ]);
            counts.extend([
                ("moe.experts", moe.experts),
                ("moe.shared_experts", moe.shared_experts),
            ]);
        }
        if let Some(mla) = &self.mla {
            widths.extend([
                ("mla.q_lora_rank", mla.q_lora_rank.unwrap_or(0)),
                ("mla.kv_lora_rank", mla.kv_lora_rank),
            ]);
            counts.extend([
                ("mla.qk_nope_head_dim", mla.qk_nope_head_dim),
                ("mla.qk_rope_head_dim", mla.qk_rope_head_dim),
                ("mla.v_head_dim", mla.v_head_dim),
            ]);
        }
        let too_big = |limit: u32| move |&(_, v): &(&str, u32)| v > limit;
        if let Some((field, v)) = widths.iter().copied().find(too_big(MAX_WIDTH)) {
            return Err(out_of_range(field, v, "must be <= 262144"));
        }
        if let Some((field, v)) = counts.iter().copied().find(too_big(MAX_COUNT)) {
            return Err(out_of_range(field, v, "must be <= 4096"));
        }
        Ok(())
    }

    fn d(&self) -> u64 {
        u64::from(self.hidden)
    }

    /// Weights of one MLP of intermediate size `f`: 3·d·f when gated, else 2·d·f.
    #[must_use]
    pub fn mlp_params(&self, f: u32) -> u64 {
        let mats = if self.gated_mlp { 3 } else { 2 };
        mats * self.d() * u64::from(f)
    }

    /// Weights of one layer's attention block (projections and QKV biases).
    ///
    /// # Formula
    /// ```text
    /// standard: d·h_q·d_h + 2·d·h_kv·d_h + h_q·d_h·d  (+ (h_q + 2·h_kv)·d_h biases)
    /// MLA:      d·r_q + r_q·h_q·(d_nope + d_rope)      (or d·h_q·(d_nope + d_rope) without r_q)
    ///         + d·(r_kv + d_rope) + r_kv·h_q·(d_nope + d_v) + h_q·d_v·d
    /// ```
    #[must_use]
    pub fn attention_params_per_layer(&self) -> u64 {
        let d = self.d();
        let h = u64::from(self.heads);
        if let Some(mla) = &self.mla {
            let nope = u64::from(mla.qk_nope_head_dim);
            let rope = u64::from(mla.qk_rope_head_dim);
            let v = u64::from(mla.v_head_dim);
            let kv = u64::from(mla.kv_lora_rank);
            let q = match mla.q_lora_rank {
                Some(r) => d * u64::from(r) + u64::from(r) * h * (nope + rope),
                None => d * h * (nope + rope),
            };
            q + d * (kv + rope) + kv * h * (nope + v) + h * v * d
        } else {
            let hd = u64::from(self.head_dim);
            let kvh = u64::from(self.kv_heads);
            let bias = if self.qkv_bias { (h + 2 * kvh) * hd } else { 0 };
            2 * d * h * hd + 2 * d * kvh * hd + bias
        }
    }

    /// Weights of one routed expert MLP (0 for dense models).
    #[must_use]
    pub fn expert_params(&self) -> u64 {
        self.moe
            .as_ref()
            .map_or(0, |m| self.mlp_params(m.expert_ffn))
    }

    /// Number of MoE layers (0 for dense models).
    #[must_use]
    pub fn moe_layers(&self) -> u32 {
        self.moe
            .as_ref()
            .map_or(0, |m| self.layers.saturating_sub(m.dense_layers))
    }

    /// Number of layers with a dense MLP.
    #[must_use]
    pub fn dense_layers(&self) -> u32 {
        self.layers - self.moe_layers()
    }

    /// Width of the dense MLP (`moe.dense_ffn` for MoE models, else `ffn`).
    fn dense_ffn(&self) -> u32 {
        self.moe.as_ref().map_or(self.ffn, |m| m.dense_ffn)
    }

    /// Weights of one layer, W_layer: attention plus MLP; for MoE models, a MoE layer with all
    /// its routed and shared experts and the router.
    ///
    /// # Formula
    /// ```text
    /// dense: W_layer = d·h_q·d_h + 2·d·h_kv·d_h + h_q·d_h·d + 3·d·f   (GELU: 2·d·f)
    /// MoE:   attention + (E + E_shared)·W_expert + d·E
    /// ```
    #[must_use]
    pub fn layer_params(&self) -> u64 {
        match &self.moe {
            None => self.attention_params_per_layer() + self.mlp_params(self.ffn),
            Some(m) => self.attention_params_per_layer() + self.moe_mlp_params(m, m.experts),
        }
    }

    /// MLP weights of a MoE layer with `routed` routed experts counted.
    fn moe_mlp_params(&self, m: &MoeSpec, routed: u32) -> u64 {
        (u64::from(routed) + u64::from(m.shared_experts)) * self.expert_params()
            + self.d() * u64::from(m.experts)
    }

    /// All linear (matrix) weights of the layers, N_lin; embeddings and LM head excluded.
    ///
    /// # Formula
    /// ```text
    /// dense: N_lin = L·W_layer
    /// MoE:   L·attention + L_dense·MLP(f_dense) + L_moe·((E + E_shared)·W_expert + d·E)
    /// ```
    #[must_use]
    pub fn linear_params(&self) -> u64 {
        self.layer_linear_params(self.moe.as_ref().map_or(0, |m| m.experts))
    }

    /// Linear weights used by one token: [`ModelSpec::linear_params`] with only the `active`
    /// routed experts counted (equal to `linear_params` for dense models).
    #[must_use]
    pub fn active_linear_params(&self) -> u64 {
        self.layer_linear_params(self.moe.as_ref().map_or(0, |m| m.active))
    }

    fn layer_linear_params(&self, routed: u32) -> u64 {
        let l = u64::from(self.layers);
        let attn = l * self.attention_params_per_layer();
        match &self.moe {
            None => attn + l * self.mlp_params(self.ffn),
            Some(m) => {
                attn + u64::from(self.dense_layers()) * self.mlp_params(self.dense_ffn())
                    + u64::from(self.moe_layers()) * self.moe_mlp_params(m, routed)
            }
        }
    }

    /// Embedding weights: V·d, twice when the LM head is untied.
    #[must_use]
    pub fn embedding_params(&self) -> u64 {
        let one = u64::from(self.vocab) * self.d();
        if self.tied_embeddings { one } else { 2 * one }
    }

    /// LM-head weights, V·d (shared with the embedding when tied, but always computed).
    #[must_use]
    pub fn lm_head_params(&self) -> u64 {
        u64::from(self.vocab) * self.d()
    }

    /// Total parameters: linear weights, all experts, embedding and untied LM head.
    ///
    /// # Formula
    /// ```text
    /// N = N_lin + V·d·(1 + untied)
    /// ```
    #[must_use]
    pub fn param_count(&self) -> u64 {
        self.linear_params() + self.embedding_params()
    }

    /// Parameters used per token: [`ModelSpec::param_count`] with only active experts.
    #[must_use]
    pub fn active_param_count(&self) -> u64 {
        self.active_linear_params() + self.embedding_params()
    }

    /// Bytes of all weights stored in `dtype`.
    #[must_use]
    pub fn weight_bytes(&self, dtype: Dtype) -> f64 {
        self.param_count() as f64 * dtype.bytes()
    }

    /// KV-cache bytes per token over all layers in `dtype`.
    ///
    /// # Formula
    /// ```text
    /// standard: 2·L·h_kv·d_h·b_kv
    /// MLA:      L·(r_kv + d_rope)·b_kv
    /// ```
    #[must_use]
    pub fn kv_bytes_per_token(&self, dtype: Dtype) -> f64 {
        let l = f64::from(self.layers);
        let per_layer = match &self.mla {
            Some(mla) => f64::from(mla.kv_lora_rank) + f64::from(mla.qk_rope_head_dim),
            None => 2.0 * f64::from(self.kv_heads) * f64::from(self.head_dim),
        };
        l * per_layer * dtype.bytes()
    }

    /// Attention FLOPs for one (query token, context token) pair over all layers: QKᵀ and PV.
    ///
    /// # Formula
    /// ```text
    /// 2·L·h_q·(d_qk + d_v) = 4·L·h_q·d_h   (MLA: d_qk = d_nope + d_rope, d_v = v_head_dim)
    /// ```
    #[must_use]
    pub fn attention_flops_per_pair(&self) -> f64 {
        let (dqk, dv) = match &self.mla {
            Some(m) => (
                f64::from(m.qk_nope_head_dim) + f64::from(m.qk_rope_head_dim),
                f64::from(m.v_head_dim),
            ),
            None => (f64::from(self.head_dim), f64::from(self.head_dim)),
        };
        2.0 * f64::from(self.layers) * f64::from(self.heads) * (dqk + dv)
    }

    /// Mean FLOPs per prompt token when a prompt of `context` tokens is prefilled in one go
    /// (LM head excluded: it runs once per sequence).
    ///
    /// # Formula
    /// ```text
    /// 2·N_lin,active + A·(context + 1)/2,   A = attention_flops_per_pair()
    /// ```
    #[must_use]
    pub fn flops_per_token_prefill(&self, context: u64) -> f64 {
        2.0 * self.active_linear_params() as f64
            + self.attention_flops_per_pair() * (context as f64 + 1.0) / 2.0
    }

    /// FLOPs of one decode token over `context` cached tokens, LM head included.
    ///
    /// # Formula
    /// ```text
    /// 2·N_lin,active + 2·d·V + A·(context + 1)
    /// ```
    #[must_use]
    pub fn flops_per_token_decode(&self, context: u64) -> f64 {
        2.0 * self.active_linear_params() as f64
            + 2.0 * self.lm_head_params() as f64
            + self.attention_flops_per_pair() * (context as f64 + 1.0)
    }
}
