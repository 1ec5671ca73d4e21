//! Port of model-trainer's `demos/guidellm`: fit α, β, γ to one GuideLLM report (JSON, CSV or
//! CSV-as-JSON; the format is detected from the content).
//!
//! Run: `cargo run --release --example inferno_guidellm [FILE]` (default: the model-trainer's
//! `guidellm.json` sample, a Qwen2.5-0.5B sweep whose constant rates barely differ).
//!
//! ```text
//!  GuideLLM report ──read_any──► PerfDataset (TTFT median, ITL mean, as upstream)
//!                  ──► FitPoints ──InfernoTrainer (V7, rel-sq, scaled, multistart)──► α, β, γ
//! ```

use std::error::Error;

use llm_perf::fit::points_from_datasets;
use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/readers/inferno/guidellm.json"
        )
        .into()
    });
    let dataset = read_any(&path)?;
    let points = points_from_datasets(std::slice::from_ref(&dataset))?;
    println!("{path}: {} points", points.len());
    let fitted = InfernoTrainer::params().fit(&points)?;
    print!("{}", fitted.report());
    println!("{}", serde_json::to_string(&fitted.seed_response())?);
    for warning in &fitted.identifiability().warnings {
        println!("warning: {warning}");
    }
    Ok(())
}
