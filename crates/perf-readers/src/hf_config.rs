//! Hugging Face `config.json` files: the architecture of a transformer LLM as a
//! [`ModelSpec`].

use std::path::Path;

use perf_model_core::catalog::{MlaSpec, ModelSpec, MoeSpec};
use serde_json::Value;

use crate::error::Result;
use crate::json::{Cx, Node, json_error};
use crate::text;

/// The `model_type`s [`read_hf_config`] understands, in the order error messages list them.
const SUPPORTED: &[&str] = &[
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "gemma",
    "gemma2",
    "gemma3_text",
    "phi3",
    "granite",
    "olmo2",
    "internlm2",
    "deepseek_v2",
    "deepseek_v3",
    "llama4",
    "llama4_text",
];

/// Whether `head` (the start of a JSON document) is an object whose top-level keys include
/// `model_type`, `num_hidden_layers` or a `text_config` object, and `hidden_size` or a
/// `text_config` object.
///
/// Only top-level keys count, so a benchmark report that embeds a model configuration deeper
/// down is not taken for one; the scan tolerates a cut or damaged document.
pub(crate) fn looks_like(head: &str) -> bool {
    if !head.contains("\"model_type\"") {
        return false;
    }
    let keys = top_level_keys(head);
    let has = |name: &str| keys.iter().any(|(k, _)| k == name);
    let text_config = keys.iter().any(|(k, v)| k == "text_config" && *v == b'{');
    has("model_type")
        && (has("num_hidden_layers") || text_config)
        && (has("hidden_size") || text_config)
}

/// The keys of the outermost JSON object of `text`, each with the first byte of its value
/// (`0` when the text ends first). Stops quietly at the end of the text or of the object.
fn top_level_keys(text: &str) -> Vec<(String, u8)> {
    let b = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut keys = Vec::new();
    let mut i = skip_ws(0);
    if b.get(i) != Some(&b'{') {
        return keys;
    }
    i += 1;
    let mut depth = 1usize;
    let mut expect_key = true;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // A string: find its end, honouring escapes.
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                if depth == 1 && expect_key {
                    let after = skip_ws(end + 1);
                    if b.get(after) == Some(&b':') {
                        let value_at = skip_ws(after + 1);
                        let key = text.get(start..end).unwrap_or_default().to_owned();
                        keys.push((key, b.get(value_at).copied().unwrap_or(0)));
                        expect_key = false;
                        i = after + 1;
                        continue;
                    }
                }
                i = end + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                i += 1;
            }
            b',' => {
                if depth == 1 {
                    expect_key = true;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    keys
}

/// Reads a Hugging Face `config.json` into a [`ModelSpec`] (validated).
///
/// When the file has a `text_config` object (Llama-4 and other multimodal configurations) the
/// architecture is read from it; fields it lacks are taken from the top level.
///
/// * **Name:** the last path segment of `_name_or_path` (the whole value becomes an alias);
///   without it, the repository of a Hugging Face cache path
///   (`models--org--name/snapshots/<hash>/config.json`, the repository id becoming an alias),
///   the parent directory of a file named `config.json`, or else the file stem.
///   `source` is `HF config.json: <path>`; `published_params` is `None`.
/// * **Dimensions:** `hidden_size`, `num_hidden_layers`, `num_attention_heads` and
///   `vocab_size` are required; `num_key_value_heads` defaults to `num_attention_heads`;
///   `head_dim` defaults to `hidden_size / num_attention_heads` (to `v_head_dim` with
///   multi-head latent attention, whose KV layout comes from [`MlaSpec`]).
///   `intermediate_size` is required unless the MoE fields give every width.
/// * **MLP:** every supported family has a gated (SwiGLU/GeGLU) MLP.
/// * **`tie_word_embeddings`:** when absent, `true` for the Gemma families and `false` for the
///   others: these are the defaults of the Transformers configuration classes, which
///   `save_pretrained` leaves out of the file when unchanged.
/// * **QKV biases:** `attention_bias` (InternLM2: `bias`); when absent, `true` for `qwen2` and
///   `qwen2_moe`, whose attention always has them, `false` otherwise.
/// * **Mixture of experts:** `mixtral` (`num_local_experts`, width `intermediate_size`),
///   `qwen2_moe`/`qwen3_moe` (`num_experts`, `moe_intermediate_size`, shared expert
///   `shared_expert_intermediate_size` as a multiple of the expert width), `deepseek_v2`/`_v3`
///   (`n_routed_experts`, `n_shared_experts`, `first_k_dense_replace` dense layers of
///   `intermediate_size`, and MLA when `kv_lora_rank` is given) and `llama4` (`num_local_experts`
///   of width `intermediate_size` plus one shared expert, dense width `intermediate_size_mlp`).
///   Layouts that [`MoeSpec`] cannot describe (MoE only every n-th layer: `decoder_sparse_step`,
///   `mlp_only_layers`, `moe_layer_freq`, `interleave_moe_layer_step` ≠ 1) are errors.
///
/// # Examples
/// ```
/// let json = br#"{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
///   "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
///   "vocab_size": 128256, "tie_word_embeddings": false}"#;
/// let m = perf_readers::read_hf_config(json, "Llama-3.1-8B/config.json")?;
/// assert_eq!(m.name, "Llama-3.1-8B");
/// assert_eq!((m.layers, m.kv_heads, m.head_dim, m.ffn), (32, 8, 128, 14336));
/// assert!(m.gated_mlp && !m.tied_embeddings && m.moe.is_none());
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// The text errors of [`read_bytes`](crate::read_bytes); [`ReadError::Json`](crate::ReadError::Json)
/// for a syntax error; [`ReadError::Field`](crate::ReadError::Field) with the JSON path of a
/// missing, unsupported or malformed field (a missing or unknown `model_type`, a number that
/// is not a whole number fitting in `u32`, a layout that cannot be represented);
/// [`ReadError::Invalid`](crate::ReadError::Invalid) when the result fails
/// [`ModelSpec::validate`].
pub fn read_hf_config(bytes: &[u8], path: &str) -> Result<ModelSpec> {
    let text = text::decode(bytes, path)?;
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(path, &e))?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    if !value.is_object() {
        return Err(cx.field_err("$", Some(&value), "expected a JSON object"));
    }
    let arch = root.get("text_config").filter(|n| n.v.is_object());
    let r = Fields {
        cx,
        root: &root,
        arch: arch.as_ref(),
    };
    let spec = r.spec()?;
    spec.validate().map_err(|e| cx.invalid("$", e))?;
    Ok(spec)
}

/// Field access with the `text_config` fallback and typed errors.
struct Fields<'a, 'v> {
    cx: Cx<'a>,
    root: &'a Node<'v>,
    arch: Option<&'a Node<'v>>,
}

impl<'v> Fields<'_, 'v> {
    /// The field `key` of `text_config` or else of the top level; `None` when absent or null.
    fn get(&self, key: &str) -> Option<Node<'v>> {
        self.arch
            .and_then(|a| a.get(key))
            .or_else(|| self.root.get(key))
    }

    /// The JSON path where a missing field was looked for first.
    fn missing_path(&self, key: &str) -> String {
        match self.arch {
            Some(a) => format!("{}.{key}", a.path),
            None => format!("$.{key}"),
        }
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        let Some(n) = self.get(key) else {
            return Ok(None);
        };
        match n.v.as_u64().and_then(|x| u32::try_from(x).ok()) {
            Some(x) => Ok(Some(x)),
            None => Err(self.cx.field_err(
                &n.path,
                Some(n.v),
                &format!("{key} must be a whole number in [0, 4294967295]"),
            )),
        }
    }

    fn req_u32(&self, key: &str) -> Result<u32> {
        self.opt_u32(key)?.ok_or_else(|| self.missing(key))
    }

    /// A required count that must be at least 1.
    fn positive(&self, key: &str) -> Result<u32> {
        let x = self.req_u32(key)?;
        if x == 0 {
            return Err(self.err_at(key, &format!("{key} must be >= 1")));
        }
        Ok(x)
    }

    /// An error about the field `key` (its value when present), with `message`.
    fn err_at(&self, key: &str, message: &str) -> crate::ReadError {
        match self.get(key) {
            Some(n) => self.cx.field_err(&n.path, Some(n.v), message),
            None => self.cx.field_err(&self.missing_path(key), None, message),
        }
    }

    fn missing(&self, key: &str) -> crate::ReadError {
        self.cx.field_err(
            &self.missing_path(key),
            None,
            &format!("missing required field {key}"),
        )
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        let Some(n) = self.get(key) else {
            return Ok(None);
        };
        n.v.as_bool().map(Some).ok_or_else(|| {
            self.cx
                .field_err(&n.path, Some(n.v), &format!("{key} must be true or false"))
        })
    }

    /// An error for a layout step field that must be 1.
    fn require_one(&self, key: &str, why: &str) -> Result<()> {
        match self.opt_u32(key)? {
            None | Some(1) => Ok(()),
            Some(_) => Err(self.err_at(key, &format!("{key} must be 1: {why}"))),
        }
    }

    fn model_type(&self) -> Result<&'v str> {
        let Some(n) = self.get("model_type") else {
            return Err(self.cx.field_err(
                "$.model_type",
                None,
                &format!("missing model_type; supported: {}", SUPPORTED.join(", ")),
            ));
        };
        match n.as_str() {
            Some(t) if SUPPORTED.contains(&t) => Ok(t),
            _ => Err(self.cx.field_err(
                &n.path,
                Some(n.v),
                &format!(
                    "unsupported model_type; supported: {}",
                    SUPPORTED.join(", ")
                ),
            )),
        }
    }

    fn spec(&self) -> Result<ModelSpec> {
        let model_type = self.model_type()?;
        let hidden = self.positive("hidden_size")?;
        let layers = self.positive("num_hidden_layers")?;
        let heads = self.positive("num_attention_heads")?;
        let vocab = self.positive("vocab_size")?;
        let kv_heads = match self.opt_u32("num_key_value_heads")? {
            Some(_) => self.positive("num_key_value_heads")?,
            None => heads,
        };
        let (moe, ffn) = self.moe(model_type)?;
        let mla = if model_type.starts_with("deepseek") {
            self.mla()?
        } else {
            None
        };
        let head_dim = match (self.opt_u32("head_dim")?, &mla) {
            (Some(_), _) => self.positive("head_dim")?,
            (None, Some(m)) => m.v_head_dim,
            (None, None) if hidden.is_multiple_of(heads) => hidden / heads,
            (None, None) => {
                return Err(self.cx.field_err(
                    &self.missing_path("head_dim"),
                    None,
                    &format!(
                        "head_dim is missing and hidden_size ({hidden}) is not a multiple of \
                         num_attention_heads ({heads})"
                    ),
                ));
            }
        };
        let gemma = model_type.starts_with("gemma");
        let tied_embeddings = self.opt_bool("tie_word_embeddings")?.unwrap_or(gemma);
        let bias = match self.opt_bool("attention_bias")? {
            Some(b) => Some(b),
            None if model_type == "internlm2" => self.opt_bool("bias")?,
            None => None,
        };
        let qkv_bias = bias.unwrap_or(matches!(model_type, "qwen2" | "qwen2_moe"));
        let (name, aliases) = self.name()?;
        Ok(ModelSpec {
            name,
            aliases,
            layers,
            hidden,
            heads,
            kv_heads,
            head_dim,
            ffn,
            vocab,
            tied_embeddings,
            gated_mlp: true,
            qkv_bias,
            moe,
            mla,
            published_params: None,
            source: format!("HF config.json: {}", self.cx.path),
        })
    }

    /// The MoE layout and the dense MLP width `ffn`.
    fn moe(&self, model_type: &str) -> Result<(Option<MoeSpec>, u32)> {
        match model_type {
            "mixtral" => {
                let width = self.positive("intermediate_size")?;
                let moe = MoeSpec {
                    experts: self.positive("num_local_experts")?,
                    active: self.positive("num_experts_per_tok")?,
                    expert_ffn: width,
                    ..MoeSpec::default()
                };
                Ok((Some(moe), width))
            }
            "qwen2_moe" | "qwen3_moe" => self.qwen_moe(),
            "deepseek_v2" | "deepseek_v3" => self.deepseek_moe(),
            "llama4" | "llama4_text" => self.llama4_moe(),
            _ => Ok((None, self.positive("intermediate_size")?)),
        }
    }

    fn qwen_moe(&self) -> Result<(Option<MoeSpec>, u32)> {
        self.require_one(
            "decoder_sparse_step",
            "layers alternate between dense and MoE MLPs, which MoeSpec cannot describe",
        )?;
        if let Some(n) = self.get("mlp_only_layers")
            && n.v.as_array().is_none_or(|a| !a.is_empty())
        {
            return Err(self.cx.field_err(
                &n.path,
                Some(n.v),
                "mlp_only_layers must be empty: dense layers among MoE layers cannot be \
                 described by MoeSpec",
            ));
        }
        let width = self.positive("moe_intermediate_size")?;
        let shared_experts = match self.opt_u32("shared_expert_intermediate_size")? {
            None => 0,
            Some(s) if s.is_multiple_of(width) => s / width,
            Some(s) => {
                return Err(self.err_at(
                    "shared_expert_intermediate_size",
                    &format!(
                        "shared_expert_intermediate_size ({s}) must be a multiple of \
                         moe_intermediate_size ({width})"
                    ),
                ));
            }
        };
        let moe = MoeSpec {
            experts: self.positive("num_experts")?,
            active: self.positive("num_experts_per_tok")?,
            expert_ffn: width,
            shared_experts,
            ..MoeSpec::default()
        };
        let ffn = match self.opt_u32("intermediate_size")? {
            Some(f) if f > 0 => f,
            _ => width,
        };
        Ok((Some(moe), ffn))
    }

    fn deepseek_moe(&self) -> Result<(Option<MoeSpec>, u32)> {
        self.require_one(
            "moe_layer_freq",
            "MoE only every n-th layer cannot be described by MoeSpec",
        )?;
        let width = self.positive("moe_intermediate_size")?;
        let dense_layers = self.opt_u32("first_k_dense_replace")?.unwrap_or(0);
        let dense_ffn = if dense_layers > 0 {
            self.positive("intermediate_size")?
        } else {
            0
        };
        let moe = MoeSpec {
            experts: self.positive("n_routed_experts")?,
            active: self.positive("num_experts_per_tok")?,
            expert_ffn: width,
            shared_experts: self.opt_u32("n_shared_experts")?.unwrap_or(0),
            dense_layers,
            dense_ffn,
        };
        let ffn = match self.opt_u32("intermediate_size")? {
            Some(f) if f > 0 => f,
            _ => width,
        };
        Ok((Some(moe), ffn))
    }

    fn llama4_moe(&self) -> Result<(Option<MoeSpec>, u32)> {
        self.require_one(
            "interleave_moe_layer_step",
            "dense and MoE layers alternate (Llama-4 Maverick), which MoeSpec cannot describe",
        )?;
        let layers = self.positive("num_hidden_layers")?;
        if let Some(n) = self.get("moe_layers") {
            let all = n.v.as_array().is_some_and(|a| {
                a.len() == layers as usize
                    && a.iter()
                        .enumerate()
                        .all(|(i, x)| x.as_u64() == Some(i as u64))
            });
            if !all {
                return Err(self.cx.field_err(
                    &n.path,
                    Some(n.v),
                    "moe_layers must list every layer: dense layers among MoE layers cannot be \
                     described by MoeSpec",
                ));
            }
        }
        let width = self.positive("intermediate_size")?;
        let moe = MoeSpec {
            experts: self.positive("num_local_experts")?,
            active: self.positive("num_experts_per_tok")?,
            expert_ffn: width,
            shared_experts: 1,
            ..MoeSpec::default()
        };
        let ffn = match self.opt_u32("intermediate_size_mlp")? {
            Some(_) => self.positive("intermediate_size_mlp")?,
            None => width,
        };
        Ok((Some(moe), ffn))
    }

    /// Multi-head latent attention, when `kv_lora_rank` is given.
    fn mla(&self) -> Result<Option<MlaSpec>> {
        if self.get("kv_lora_rank").is_none() {
            return Ok(None);
        }
        Ok(Some(MlaSpec {
            q_lora_rank: match self.opt_u32("q_lora_rank")? {
                Some(_) => Some(self.positive("q_lora_rank")?),
                None => None,
            },
            kv_lora_rank: self.positive("kv_lora_rank")?,
            qk_nope_head_dim: self.positive("qk_nope_head_dim")?,
            qk_rope_head_dim: self.req_u32("qk_rope_head_dim")?,
            v_head_dim: self.positive("v_head_dim")?,
        }))
    }

    /// The model's name and aliases (see [`read_hf_config`]).
    fn name(&self) -> Result<(String, Vec<String>)> {
        let declared = match self.root.get("_name_or_path") {
            Some(n) => match n.as_str() {
                Some(s) => s.trim(),
                None => {
                    return Err(self.cx.field_err(
                        &n.path,
                        Some(n.v),
                        "_name_or_path must be a string",
                    ));
                }
            },
            None => "",
        };
        let last_segment = |s: &str| {
            s.trim_end_matches(['/', '\\'])
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        if !declared.is_empty() {
            let name = last_segment(declared);
            let aliases = if name == declared {
                Vec::new()
            } else {
                vec![declared.to_owned()]
            };
            if !name.is_empty() {
                return Ok((name, aliases));
            }
        }
        let file = Path::new(self.cx.path);
        let stem = || {
            file.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned()
        };
        let dir_name = |p: Option<&Path>| {
            p.and_then(Path::file_name)
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned()
        };
        if file.file_name().and_then(|s| s.to_str()) == Some("config.json") {
            let parent = file.parent();
            // Hugging Face cache: models--org--name/snapshots/<hash>/config.json.
            let snapshots = parent.and_then(Path::parent);
            if dir_name(snapshots) == "snapshots" {
                let repo_dir = dir_name(snapshots.and_then(Path::parent));
                if let Some(repo) = repo_dir.strip_prefix("models--") {
                    let id = repo.replace("--", "/");
                    let name = last_segment(&id);
                    if !name.is_empty() {
                        let aliases = if name == id { Vec::new() } else { vec![id] };
                        return Ok((name, aliases));
                    }
                }
            }
            let dir = dir_name(parent);
            if !dir.is_empty() {
                return Ok((dir, Vec::new()));
            }
        }
        Ok((stem(), Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_only() {
        let keys = top_level_keys(
            r#" {"a": {"model_type": 1, "b": [1, {"c": 2}]}, "d\"e": "x,y", "f": {"#,
        );
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "d\\\"e", "f"]);
        assert_eq!(keys[0].1, b'{');
        assert_eq!(keys[1].1, b'"');
        assert!(top_level_keys("[1, 2]").is_empty());
    }

    #[test]
    fn nested_model_config_is_not_a_config() {
        let nested = r#"{"metadata": {"model_type": "llama", "num_hidden_layers": 32,
            "hidden_size": 4096}, "results": []}"#;
        assert!(!looks_like(nested));
        let multimodal = r#"{"model_type": "llama4", "text_config": {"hidden_size": 5120}}"#;
        assert!(looks_like(multimodal));
        let string_text_config = r#"{"model_type": "llama4", "text_config": "x"}"#;
        assert!(!looks_like(string_text_config));
    }

    #[test]
    fn cache_path_gives_repo_id() {
        let json = br#"{"model_type": "qwen3", "hidden_size": 2560, "num_hidden_layers": 36,
            "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
            "intermediate_size": 9728, "vocab_size": 151936, "tie_word_embeddings": true}"#;
        let m = read_hf_config(
            json,
            "/hub/models--Qwen--Qwen3-4B/snapshots/1cfa9a7/config.json",
        )
        .unwrap();
        assert_eq!(m.name, "Qwen3-4B");
        assert_eq!(m.aliases, ["Qwen/Qwen3-4B"]);
        let plain = read_hf_config(json, "qwen3-4b.json").unwrap();
        assert_eq!(plain.name, "qwen3-4b");
        assert!(plain.aliases.is_empty());
    }
}
