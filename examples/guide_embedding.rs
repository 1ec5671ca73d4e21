//! The user guide's "Embedding the crates" chapter (`docs/guide/src/embedding.md`) as one
//! program: a GuideLLM sweep, the Inferno model fitted to it, a capacity plan under an SLO, and
//! the same fitted service times as the simulator's cost model at the planned rate.
//!
//! Run: `cargo run --example guide_embedding [GUIDELLM_REPORT]` (default: the GuideLLM HTML
//! report `samples/readers/inferno/benchmarks.html`, Qwen2.5-14B, 1024 → 1024 tokens). The
//! guide shows this file's sections and its output; its try-it runner runs it in CI.
//!
//! ```text
//!  GuideLLM report ─read_any─► PerfDataset ─points_from_datasets─► FitPoints
//!     ─InfernoTrainer─► α, β, γ ─Analyzer (V7)─► max rate per replica under the SLO, replicas
//!                        └─► SimConfig { cost_model: inferno α β γ } ─Simulation─► TTFT, ITL
//! ```

use std::error::Error;

use llm_perf::fit::points_from_datasets;
use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/readers/inferno/benchmarks.html"
        )
        .into()
    });

    // ANCHOR: fit
    // Any benchmark file llm-perf reads; the format is detected from the content.
    let dataset = read_any(&path)?;
    let points = points_from_datasets(std::slice::from_ref(&dataset))?;
    let fitted = InfernoTrainer::params().fit(&points)?; // V7, relative squared loss
    println!(
        "fit: {} points, alpha {:.4} ms, beta {:.6} ms/token, gamma {:.3e} ms/(token*ctx)",
        points.len(),
        fitted.alpha(),
        fitted.beta(),
        fitted.gamma()
    );
    // ANCHOR_END: fit

    // ANCHOR: size
    // Plan for the request shape the sweep measured, at max batch 256, under an SLO.
    let n = points.len() as f64;
    let input = points.iter().map(|p| p.input_tokens).sum::<f64>() / n;
    let output = points.iter().map(|p| p.output_tokens).sum::<f64>() / n;
    let analyzer = Analyzer::new(
        QueueModel::V7,
        fitted.service_params()?,
        RequestShape::new(input, output)?,
        QueueConfig::new(256, 256)?, // max batch size, max queue size
    )?;
    let slo = SloTargets::latency(200.0, 25.0); // mean TTFT <= 200 ms, mean ITL <= 25 ms
    let sizing = analyzer.size(&slo)?;
    let plan = analyzer.replicas_for(10.0, &slo)?;
    println!(
        "size: {:.3} req/s per replica (TTFT {:.1} ms, ITL {:.2} ms); 10 req/s needs {} replicas",
        sizing.rate_rps, sizing.analysis.ttft_ms, sizing.analysis.itl_ms, plan.replicas
    );
    // ANCHOR_END: size

    // ANCHOR: simulate
    // The same service times as the simulator's cost model, one replica at the planned rate.
    let config: SimConfig = serde_json::from_value(serde_json::json!({
        "seed": 7,
        "max_requests": 2000,
        "cluster": {
            "replicas": 1,
            "engine": { "max_batch_size": 256, "max_num_batched_tokens": 8192 },
            "cost_model": {
                "kind": "inferno",
                "alpha": fitted.alpha(), "beta": fitted.beta(), "gamma": fitted.gamma()
            },
            "kv_cache": { "num_gpu_blocks": 100000 }
        },
        "workload": { "clients": [ {
            "arrival": { "kind": "poisson", "rate": sizing.rate_rps },
            "input": { "kind": "fixed", "value": input.round() as u32 },
            "output": { "kind": "fixed", "value": output.round() as u32 }
        } ] }
    }))?;
    let summary = Simulation::new(config)?.run(std::io::sink())?;
    println!(
        "simulate: {} requests at {:.3} req/s, TTFT mean {:.1} ms, ITL mean {:.2} ms",
        summary.requests.completed,
        summary.throughput.requests_per_second,
        summary.latency.ttft_ms.mean,
        summary.latency.itl_ms.mean
    );
    // ANCHOR_END: simulate
    Ok(())
}
