//! Port of model-trainer's `demos/simple`: fit α, β, γ to a native Inferno DataSet.
//!
//! Run: `cargo run --release --example inferno_simple [FILE]` (default
//! `samples/inferno-trainer/data.json`, the model-trainer's 7-point Llama-3.1-8B sweep).
//!
//! ```text
//!  DataSet JSON ──read_any──► PerfDataset ──► FitPoints ──InfernoTrainer──► α, β, γ + report
//! ```
//!
//! It runs the fit twice: as the Go trainer's README headline did (V3, weighted absolute loss,
//! Nelder–Mead from (10, 0, 0), float32 arithmetic) and with llm-perf's default (V7, relative
//! squared loss, scaled start (1, 0.01, 1e-4), seeded multistart).

use std::error::Error;

use llm_perf::fit::points_from_datasets;
use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/inferno-trainer/data.json"
        )
        .into()
    });
    let dataset = read_any(&path)?;
    let points = points_from_datasets(std::slice::from_ref(&dataset))?;
    println!("data set `{}`: {} points", dataset.name, points.len());

    let headline = InfernoTrainer::params()
        .model(QueueModel::V3)
        .loss(Loss::WeightedAbsolute)
        .init(10.0, 0.0, 0.0)
        .scaled(false)
        .seed_compatible(true)
        .arithmetic(Arithmetic::GoFloat32)
        .fit(&points)?;
    println!("\nseed-compatible (Go model-trainer README headline settings):");
    print!("{}", headline.report());
    println!("{}", serde_json::to_string(&headline.seed_response())?);

    let improved = InfernoTrainer::params().fit(&points)?;
    println!("\nllm-perf default (V7, relative squared loss, multistart):");
    print!("{}", improved.report());
    println!("{}", serde_json::to_string(&improved.seed_response())?);
    for warning in &improved.identifiability().warnings {
        println!("warning: {warning}");
    }
    Ok(())
}
