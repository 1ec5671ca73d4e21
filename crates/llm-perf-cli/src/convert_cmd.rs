//! `llm-perf convert`: write benchmark points read from any supported format in a format other
//! tools read — the Inferno trainer's DataSet JSON, or a flat CSV.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use llm_perf::model::{BenchmarkPoint, PerfDataset};
use serde_json::{Map, Value, json};

use crate::read_cmd::InputArgs;

/// Output formats of `llm-perf convert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The Inferno model-trainer's DataSet (`{"name", "data": [{"requestRate", …}]}`, ms); several
    /// input files become one joint data set, as the trainer's multi-file mode fits them.
    InfernoJson,
    /// One CSV row per point with the normalised fields (ms, req/s, tokens/s).
    Csv,
}

/// Arguments of `llm-perf convert`.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format.
    #[arg(long, value_enum)]
    to: Target,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `llm-perf convert`; returns the text for standard output (empty with `--out`).
pub fn convert(args: &ConvertArgs) -> Result<String> {
    let datasets: Vec<PerfDataset> = args.input.read()?.into_iter().map(|(_, d)| d).collect();
    let text = match args.to {
        Target::InfernoJson => serde_json::to_string_pretty(&inferno_dataset(&datasets))? + "\n",
        Target::Csv => csv_rows(&datasets),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            Ok(String::new())
        }
        None => Ok(text),
    }
}

/// The trainer's observed TTFT is the median when known (its GuideLLM readers' choice), else
/// the mean; ITL the mean, else the median.
fn inferno_point(p: &BenchmarkPoint) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<f64>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), json!(v));
        }
    };
    put("requestRate", p.request_rate());
    put("inputTokens", Some(p.input_tokens()));
    put("outputTokens", Some(p.output_tokens()));
    put("avgTTFTTime", p.ttft().median().or(p.ttft().mean()));
    put("avgITLTime", p.itl().mean().or(p.itl().median()));
    if let Some(n) = p.max_batch_size() {
        m.insert("maxBatchSize".into(), json!(n));
    }
    if let Some(n) = p.max_num_tokens() {
        m.insert("maxNumTokens".into(), json!(n));
    }
    Value::Object(m)
}

fn inferno_dataset(datasets: &[PerfDataset]) -> Value {
    let name = match datasets {
        [one] => one.name.clone(),
        _ => datasets
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join("+"),
    };
    let data: Vec<Value> = datasets
        .iter()
        .flat_map(|d| d.points.iter().map(inferno_point))
        .collect();
    json!({ "name": name, "data": data })
}

const CSV_HEADER: &str = "dataset,label,request_rate,concurrency,input_tokens,output_tokens,\
ttft_mean_ms,ttft_median_ms,ttft_p99_ms,itl_mean_ms,itl_median_ms,tpot_mean_ms,e2e_mean_ms,\
e2e_p99_ms,output_throughput,successful,failed";

fn csv_rows(datasets: &[PerfDataset]) -> String {
    let f = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let u = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for d in datasets {
        for p in &d.points {
            let cells = [
                quote(&d.name),
                quote(p.label().unwrap_or("")),
                f(p.request_rate()),
                f(p.concurrency()),
                p.input_tokens().to_string(),
                p.output_tokens().to_string(),
                f(p.ttft().mean()),
                f(p.ttft().median()),
                f(p.ttft().p99()),
                f(p.itl().mean()),
                f(p.itl().median()),
                f(p.tpot().mean()),
                f(p.e2e().mean()),
                f(p.e2e().p99()),
                f(p.output_throughput()),
                u(p.successful()),
                u(p.failed()),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out
}
