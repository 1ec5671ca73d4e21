//! Port of model-trainer's `demos/guidellm-html`: fit α, β, γ to a GuideLLM HTML report, as
//! upstream did for each `exp2` sweep (V7, relative squared loss, scaled Nelder–Mead from
//! (1, 0.01, 1e-4), one start): the losses it prints match upstream's `results/*.txt`.
//!
//! Run: `cargo run --release --example inferno_html [FILE.html]` (default: the model-trainer's
//! truncated `benchmarks.html`, the Qwen2.5-14B `sweep-i1024-o1024` report).
//!
//! ```text
//!  window.benchmarks ──read_any──► 7 points (index 1 = throughput run dropped, as upstream)
//!                    ──► seed-compatible fit ──► α, β, γ, per-point table
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
    let dataset = read_any(&path)?;
    let points = points_from_datasets(std::slice::from_ref(&dataset))?;
    let fitted = InfernoTrainer::params()
        .seed_compatible(true)
        .fit(&points)?;
    println!("{path}: {} points", points.len());
    print!("{}", fitted.report());
    println!("{}", serde_json::to_string(&fitted.seed_response())?);
    Ok(())
}
