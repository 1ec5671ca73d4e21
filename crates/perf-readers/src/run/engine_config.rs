//! Engine-config YAML: the serving flags a benchmark file does not record, as a small YAML
//! whose keys are [`RunServing`]'s field names (vLLM's CLI spellings accepted as aliases).

use std::path::Path;

use serde_json::Value;

use super::RunServing;
use super::support::read_text;
use crate::error::Result;
use crate::json::{Cx, Node};

/// What a key's value must be.
#[derive(Clone, Copy)]
enum Kind {
    /// Any string (a number is taken as its text).
    Text,
    /// A file path.
    Path,
    /// A dtype name, normalised (`bfloat16` → `bf16`).
    Dtype,
    /// A whole number >= 1 that fits `u32`.
    Count32,
    /// A whole number >= 1 that fits `u64`.
    Count64,
    /// `true` or `false`.
    Flag,
    /// A number in (0, 1].
    Fraction,
    /// A finite number >= 0.
    Amount,
}

/// The accepted keys, in [`RunServing`]'s field order.
const FIELDS: &[(&str, Kind)] = &[
    ("model", Kind::Text),
    ("model_config", Kind::Path),
    ("accelerator", Kind::Text),
    ("dtype", Kind::Dtype),
    ("tensor_parallel", Kind::Count32),
    ("data_parallel", Kind::Count32),
    ("max_num_seqs", Kind::Count32),
    ("max_num_batched_tokens", Kind::Count32),
    ("max_model_len", Kind::Count32),
    ("enable_chunked_prefill", Kind::Flag),
    ("enable_prefix_caching", Kind::Flag),
    ("num_gpu_blocks", Kind::Count64),
    ("block_size", Kind::Count32),
    ("gpu_memory_utilization", Kind::Fraction),
    ("cpu_offload_gib", Kind::Amount),
    ("accelerator_memory_gb", Kind::Amount),
    ("accelerator_bandwidth_gbs", Kind::Amount),
    ("accelerator_tflops", Kind::Amount),
    ("engine", Kind::Text),
    ("engine_version", Kind::Text),
];

/// vLLM CLI (and inference-perf `exp-config.yaml`) spellings → field names.
const ALIASES: &[(&str, &str)] = &[
    ("tensor_parallel_size", "tensor_parallel"),
    ("tensor_parallelism", "tensor_parallel"),
    ("data_parallel_size", "data_parallel"),
    ("num_gpu_blocks_override", "num_gpu_blocks"),
];

/// Reads an engine-config YAML: the serving configuration a run ran with, for the flags the
/// benchmark files do not record (GPU KV blocks, prefix caching, accelerator, …). Merge it
/// into a run's serving with [`RunServing::merge`].
///
/// The keys are [`RunServing`]'s field names; vLLM's CLI spellings `tensor_parallel_size`,
/// `data_parallel_size` and `num_gpu_blocks_override` (and inference-perf's
/// `tensor_parallelism`) are accepted as aliases, and dashes as underscores
/// (`max-num-seqs`). Dtypes are normalised (`bfloat16` → `bf16`, `float16`/`half` → `fp16`,
/// `float32` → `fp32`). A relative `model_config` path is taken relative to the YAML's
/// folder. `null` values are absent.
///
/// # Errors
/// [`ReadError::Io`](crate::ReadError::Io) for a missing file; the errors of
/// [`read_engine_config_str`].
pub fn read_engine_config(path: &Path) -> Result<RunServing> {
    let (text, shown) = read_text(path)?;
    let mut serving = read_engine_config_str(&text, &shown)?;
    if let (Some(config), Some(dir)) = (&serving.model_config, path.parent())
        && config.is_relative()
    {
        serving.model_config = Some(dir.join(config));
    }
    Ok(serving)
}

/// Reads an engine-config YAML from `text`; `path` names it in errors. See
/// [`read_engine_config`] for the keys.
///
/// # Examples
/// ```
/// use perf_readers::read_engine_config_str;
/// let yaml = "model: meta-llama/Llama-3.1-8B\naccelerator: H100\n\
///             tensor_parallel_size: 2\nnum_gpu_blocks_override: 5000\ndtype: bfloat16\n";
/// let serving = read_engine_config_str(yaml, "engine.yaml")?;
/// assert_eq!(serving.tensor_parallel, Some(2));
/// assert_eq!(serving.num_gpu_blocks, Some(5000));
/// assert_eq!(serving.dtype.as_deref(), Some("bf16"));
///
/// let err = read_engine_config_str("kv_cache_dtype: fp8\n", "engine.yaml").unwrap_err();
/// assert!(err.to_string().contains("kv_cache_dtype"));
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Yaml`](crate::ReadError::Yaml) for YAML that does not parse;
/// [`ReadError::Field`](crate::ReadError::Field) naming the file and key for an unknown key
/// (with the list of accepted keys), a key given twice (under its name and an alias), or a
/// value of the wrong type or range.
pub fn read_engine_config_str(text: &str, path: &str) -> Result<RunServing> {
    let value = crate::yaml::parse_yaml(text, path)?;
    let cx = Cx { path, line: 0 };
    if value.is_null() {
        return Ok(RunServing::default());
    }
    if !value.is_object() {
        return Err(cx.field_err(
            "$",
            Some(&value),
            "expected a mapping of serving settings (model, tensor_parallel, …)",
        ));
    }
    serving_from_node(&Node::root(&value), &cx, true)
}

/// The canonical field name of `key` (dashes → underscores, aliases resolved); `None` when it
/// is not a serving key.
fn canonical(key: &str) -> Option<&'static str> {
    let key = key.trim().replace('-', "_");
    FIELDS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == key)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == key)
                .map(|(_, name)| *name)
        })
}

/// The accepted keys, for error messages.
fn accepted() -> String {
    let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
    let aliases: Vec<String> = ALIASES
        .iter()
        .map(|(a, n)| format!("{a} (= {n})"))
        .collect();
    format!("{}; aliases {}", names.join(", "), aliases.join(", "))
}

/// Reads the serving keys of the mapping at `node`. With `strict`, any other key is an error;
/// without, other keys are ignored (vLLM's `engine_kwargs`, inference-perf's
/// `exp-config.yaml`).
pub(super) fn serving_from_node(node: &Node<'_>, cx: &Cx<'_>, strict: bool) -> Result<RunServing> {
    let mut serving = RunServing::default();
    let Some(map) = node.v.as_object() else {
        return Err(cx.field_err(&node.path, Some(node.v), "expected a mapping"));
    };
    let mut seen: Vec<(&'static str, String)> = Vec::new();
    for (key, value) in map {
        let at = format!("{}.{key}", node.path);
        let Some(field) = canonical(key) else {
            if strict {
                return Err(cx.field_err(
                    &at,
                    Some(value),
                    &format!(
                        "unknown engine-config key `{key}`; accepted keys: {}",
                        accepted()
                    ),
                ));
            }
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(f, _)| *f == field) {
            return Err(cx.field_err(
                &at,
                Some(value),
                &format!("`{field}` given twice (as `{first}` and `{key}`)"),
            ));
        }
        seen.push((field, key.clone()));
        if value.is_null() {
            continue;
        }
        let kind = FIELDS
            .iter()
            .find(|(n, _)| *n == field)
            .map_or(Kind::Text, |(_, k)| *k);
        let child = Node { v: value, path: at };
        set(&mut serving, field, kind, &child, cx)?;
    }
    Ok(serving)
}

/// Normalises a dtype name (`bfloat16` → `bf16`, `float16`/`half` → `fp16`, `float32`/`float`
/// → `fp32`); other names are kept, lower-cased.
pub(super) fn normalize_dtype(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "bfloat16" | "bf16" => "bf16".to_owned(),
        "float16" | "half" | "fp16" => "fp16".to_owned(),
        "float32" | "float" | "fp32" => "fp32".to_owned(),
        _ => lower,
    }
}

fn set(
    serving: &mut RunServing,
    field: &str,
    kind: Kind,
    node: &Node<'_>,
    cx: &Cx<'_>,
) -> Result<()> {
    let err = |what: &str| cx.field_err(&node.path, Some(node.v), &format!("expected {what}"));
    let text = || -> Result<String> {
        match node.v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(err("a non-empty string")),
        }
    };
    let count = |max: f64| -> Result<f64> {
        let x = node.num(cx)?;
        if x.is_finite() && x >= 1.0 && x.fract() == 0.0 && x <= max {
            Ok(x)
        } else {
            Err(err("a whole number >= 1"))
        }
    };
    match kind {
        Kind::Text => {
            let s = Some(text()?);
            match field {
                "model" => serving.model = s,
                "accelerator" => serving.accelerator = s,
                "engine" => serving.engine = s,
                _ => serving.engine_version = s,
            }
        }
        Kind::Path => serving.model_config = Some(text()?.into()),
        Kind::Dtype => serving.dtype = Some(normalize_dtype(&text()?)),
        Kind::Count32 => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let x = Some(count(f64::from(u32::MAX))? as u32);
            match field {
                "tensor_parallel" => serving.tensor_parallel = x,
                "data_parallel" => serving.data_parallel = x,
                "max_num_seqs" => serving.max_num_seqs = x,
                "max_num_batched_tokens" => serving.max_num_batched_tokens = x,
                "max_model_len" => serving.max_model_len = x,
                _ => serving.block_size = x,
            }
        }
        Kind::Count64 => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let x = Some(count(9.0e15)? as u64);
            serving.num_gpu_blocks = x;
        }
        Kind::Flag => {
            let Value::Bool(b) = node.v else {
                return Err(err("true or false"));
            };
            if field == "enable_chunked_prefill" {
                serving.enable_chunked_prefill = Some(*b);
            } else {
                serving.enable_prefix_caching = Some(*b);
            }
        }
        Kind::Fraction => {
            let x = node.num(cx)?;
            if !(x.is_finite() && x > 0.0 && x <= 1.0) {
                return Err(err("a fraction in (0, 1]"));
            }
            serving.gpu_memory_utilization = Some(x);
        }
        Kind::Amount => {
            let x = node.num(cx)?;
            if !(x.is_finite() && x >= 0.0) {
                return Err(err("a finite number >= 0"));
            }
            match field {
                "accelerator_memory_gb" => serving.accelerator_memory_gb = Some(x),
                "accelerator_bandwidth_gbs" => serving.accelerator_bandwidth_gbs = Some(x),
                "accelerator_tflops" => serving.accelerator_tflops = Some(x),
                _ => serving.cpu_offload_gib = Some(x),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_kind_and_is_settable() {
        let yaml = "model: m\nmodel_config: c.json\naccelerator: H100\ndtype: float16\n\
                    tensor_parallel: 2\ndata_parallel: 3\nmax_num_seqs: 64\n\
                    max_num_batched_tokens: 4096\nmax_model_len: 8192\n\
                    enable_chunked_prefill: true\nenable_prefix_caching: false\n\
                    num_gpu_blocks: 100000\nblock_size: 16\ngpu_memory_utilization: 0.9\n\
                    cpu_offload_gib: 8\naccelerator_memory_gb: 96\n\
                    accelerator_bandwidth_gbs: 1597\naccelerator_tflops: 500\n\
                    engine: vllm\nengine_version: 0.15.1\n";
        let s = read_engine_config_str(yaml, "e.yaml").unwrap();
        assert_eq!(s.dtype.as_deref(), Some("fp16"));
        assert_eq!(s.data_parallel, Some(3));
        assert_eq!(s.enable_chunked_prefill, Some(true));
        assert_eq!(s.enable_prefix_caching, Some(false));
        assert_eq!(s.num_gpu_blocks, Some(100_000));
        assert_eq!(s.engine_version.as_deref(), Some("0.15.1"));
        assert_eq!(s.cpu_offload_gib, Some(8.0));
        assert_eq!(s.accelerator_memory_gb, Some(96.0));
        assert_eq!(s.accelerator_bandwidth_gbs, Some(1597.0));
        assert_eq!(s.accelerator_tflops, Some(500.0));
        // Round trip through the serde form: every field set.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json.as_object().unwrap().len(), FIELDS.len());
    }

    #[test]
    fn alias_and_name_together_is_an_error() {
        let err = read_engine_config_str("tensor_parallel: 1\ntensor_parallel_size: 2\n", "e")
            .unwrap_err()
            .to_string();
        assert!(err.contains("given twice"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (yaml, key) in [
            ("max_num_seqs: 0\n", "max_num_seqs"),
            ("gpu_memory_utilization: 1.5\n", "gpu_memory_utilization"),
            (
                "enable_prefix_caching: yes please\n",
                "enable_prefix_caching",
            ),
            ("tensor-parallel-size: two\n", "tensor-parallel-size"),
        ] {
            let err = read_engine_config_str(yaml, "e.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("e.yaml: $."), "{err}");
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn empty_mapping_and_comments() {
        assert_eq!(
            read_engine_config_str("# nothing\n", "e").unwrap(),
            RunServing::default()
        );
        assert!(read_engine_config_str("- a\n- b\n", "e").is_err());
    }
}
