//! Port of model-trainer's `demos/guidellm`, `demos/guidellm-html` and
//! `demos/guidellm-multiple`: fit α, β, γ to one or several GuideLLM reports (JSON, CSV,
//! CSV-as-JSON or HTML; the format is detected from the content). Several files give one joint
//! fit, as the paper's Table 1 does with the 16 `exp2` sweeps.
//!
//! Run: `cargo run --release --example inferno_guidellm [FILE…]` (default: the model-trainer's
//! `guidellm-csv.json` sample, a Llama-3.1-8B 64/64-token sweep). To reproduce the paper's
//! Qwen2.5-14B fit, pass the 16 `sweep-*.html` files of model-trainer's `experiments/exp2/data`.
//!
//! ```text
//!  report(s) ──read_any──► PerfDatasets (throughput run dropped, first 7 points, as upstream)
//!            ──► joint FitPoints ──InfernoTrainer (V6, rel-sq, scaled NM from 1, 0.01, 1e-4)──► α, β, γ
//! ```

use std::error::Error;

use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        paths.push(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../samples/readers/inferno/guidellm-csv.json"
            )
            .into(),
        );
    }
    let datasets = paths.iter().map(read_any).collect::<Result<Vec<_>, _>>()?;
    for d in &datasets {
        println!(
            "{}: {} points",
            d.meta.source.as_deref().unwrap_or(&d.name),
            d.len()
        );
    }
    let fitted = InfernoTrainer::params()
        .model(QueueModel::V6)
        .loss(Loss::RelativeSquared)
        .init(1.0, 0.01, 1e-4)
        .scaled(true)
        .seed_compatible(true)
        .fit_datasets(&datasets)?;
    print!("{}", fitted.report());
    println!("{}", serde_json::to_string(&fitted.seed_response())?);
    Ok(())
}
