//! `llm-perf models` and `llm-perf accelerators`: list or show catalogue entries.

use anyhow::Result;
use clap::Args;
use llm_perf::model::catalog;
use llm_perf::model::{Accelerator, Dtype, ModelSpec};

use crate::table::{Table, key_values, num};

/// Arguments of `llm-perf models`.
#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// Show one model (name or alias, e.g. `meta-llama/Llama-3.1-8B-Instruct`); omit to list all.
    #[arg(conflicts_with = "config")]
    pub name: Option<String>,
    /// Show the model a Hugging Face `config.json` describes (any model the catalogue lacks),
    /// with the same derived sizes.
    #[arg(long, value_name = "config.json")]
    pub config: Option<std::path::PathBuf>,
    /// Data type for weight and KV-cache sizes.
    #[arg(long, default_value = "bf16")]
    pub dtype: Dtype,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `llm-perf accelerators`.
#[derive(Args, Debug)]
pub struct AcceleratorsArgs {
    /// Show one accelerator (name or alias, e.g. `H100`, `Ascend910B2`); omit to list all.
    pub name: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn billions(count: u64) -> String {
    num(count as f64 / 1e9, 4) + " B"
}

/// Decimal gigabytes (10⁹ bytes), as model sizes are quoted.
fn gigabytes(bytes: f64) -> String {
    num(bytes / 1e9, 4) + " GB"
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| num(v, 5))
}

/// Runs `llm-perf models`.
pub fn models(args: &ModelsArgs) -> Result<String> {
    let chosen = match (&args.name, &args.config) {
        (Some(name), _) => Some(ModelSpec::lookup(name)?),
        (None, Some(file)) => {
            let shown = file.display().to_string();
            let bytes =
                std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
            Some(llm_perf::readers::read_hf_config(&bytes, &shown)?)
        }
        (None, None) => None,
    };
    if let Some(m) = chosen {
        if args.json {
            return Ok(serde_json::to_string_pretty(&m)? + "\n");
        }
        return Ok(show_model(&m, args.dtype));
    }
    if args.json {
        return Ok(serde_json::to_string_pretty(catalog::models())? + "\n");
    }
    let mut t = Table::new(&[
        "model".to_owned(),
        "params".into(),
        "active".into(),
        "layers".into(),
        "hidden".into(),
        "heads/kv".into(),
        "ffn".into(),
        "vocab".into(),
        format!("weights {} (10^9 B)", args.dtype),
        format!("KV B/token {}", args.dtype),
    ]);
    for m in catalog::models() {
        t.row(vec![
            m.name.clone(),
            billions(m.param_count()),
            billions(m.active_param_count()),
            m.layers.to_string(),
            m.hidden.to_string(),
            format!("{}/{}", m.heads, m.kv_heads),
            m.ffn.to_string(),
            m.vocab.to_string(),
            gigabytes(m.weight_bytes(args.dtype)),
            num(m.kv_bytes_per_token(args.dtype), 8),
        ]);
    }
    Ok(t.render())
}

fn show_model(m: &ModelSpec, dtype: Dtype) -> String {
    let mut pairs = vec![
        ("name", m.name.clone()),
        ("aliases", m.aliases.join(", ")),
        ("parameters", billions(m.param_count())),
        ("active parameters", billions(m.active_param_count())),
        ("layers", m.layers.to_string()),
        ("hidden", m.hidden.to_string()),
        ("heads / kv heads", format!("{} / {}", m.heads, m.kv_heads)),
        ("head dim", m.head_dim.to_string()),
        ("ffn", m.ffn.to_string()),
        ("vocab", m.vocab.to_string()),
        ("tied embeddings", m.tied_embeddings.to_string()),
    ];
    if let Some(moe) = &m.moe {
        pairs.push((
            "experts",
            format!(
                "{} routed, {} active, {} shared, expert ffn {}",
                moe.experts, moe.active, moe.shared_experts, moe.expert_ffn
            ),
        ));
    }
    if let Some(mla) = &m.mla {
        pairs.push((
            "MLA",
            format!(
                "kv_lora_rank {}, rope dim {}",
                mla.kv_lora_rank, mla.qk_rope_head_dim
            ),
        ));
    }
    pairs.extend([
        ("dtype", dtype.to_string()),
        ("weights", gigabytes(m.weight_bytes(dtype))),
        (
            "KV cache per token",
            num(m.kv_bytes_per_token(dtype), 8) + " bytes",
        ),
        (
            "FLOPs/token, decode at 1k ctx",
            num(m.flops_per_token_decode(1024) / 1e9, 5) + " GFLOP",
        ),
        ("source", m.source.clone()),
    ]);
    key_values(&pairs)
}

/// Runs `llm-perf accelerators`.
pub fn accelerators(args: &AcceleratorsArgs) -> Result<String> {
    if let Some(name) = &args.name {
        let a = Accelerator::lookup(name)?;
        if args.json {
            return Ok(serde_json::to_string_pretty(&a)? + "\n");
        }
        return Ok(show_accelerator(&a));
    }
    if args.json {
        return Ok(serde_json::to_string_pretty(catalog::accelerators())? + "\n");
    }
    let mut t = Table::new(&[
        "accelerator",
        "vendor",
        "memory GiB",
        "bandwidth GB/s",
        "FP16 TFLOPS",
        "BF16 TFLOPS",
        "FP8 TFLOPS",
        "INT8 TOPS",
        "interconnect GB/s",
    ]);
    for a in catalog::accelerators() {
        t.row(vec![
            a.name.clone() + if a.low_confidence { " (*)" } else { "" },
            a.vendor.clone(),
            num(a.memory_gb, 5),
            opt(a.memory_bandwidth_gbs),
            num(a.fp16_tflops, 5),
            num(a.bf16_tflops, 5),
            opt(a.fp8_tflops),
            opt(a.int8_tops),
            opt(a.interconnect_gbs),
        ]);
    }
    let mut out = t.render();
    out.push_str(
        "(*) figures from a secondary source. Peaks are dense (non-sparse); bandwidths in 10^9 B/s; \
         interconnect counts both directions.\n",
    );
    Ok(out)
}

fn show_accelerator(a: &Accelerator) -> String {
    key_values(&[
        ("name", a.name.clone()),
        ("aliases", a.aliases.join(", ")),
        ("vendor", a.vendor.clone()),
        (
            "memory",
            format!("{} GiB (marketed as {0} GB)", num(a.memory_gb, 5)),
        ),
        ("memory bandwidth", opt(a.memory_bandwidth_gbs) + " GB/s"),
        ("FP16 dense", num(a.fp16_tflops, 5) + " TFLOPS"),
        ("BF16 dense", num(a.bf16_tflops, 5) + " TFLOPS"),
        ("FP8 dense", opt(a.fp8_tflops) + " TFLOPS"),
        ("INT8 dense", opt(a.int8_tops) + " TOPS"),
        (
            "interconnect",
            opt(a.interconnect_gbs) + " GB/s (both directions)",
        ),
        ("low confidence", a.low_confidence.to_string()),
        ("source", a.source.clone()),
    ])
}
