//! Port of model-trainer's `demos/guidellm-multiple`: one joint fit over several benchmark
//! files, as the paper's Table 1 does with the 16 Qwen2.5-14B `exp2` sweeps (V6, relative
//! squared loss, scaled Nelder–Mead from (1, 0.01, 1e-4), one start, float32 arithmetic).
//!
//! Run: `cargo run --release --example inferno_multiple [FILE…]`. To reproduce Table 1
//! (α 9.87, β 3.58e-2, γ 8.63e-5, paper errors TTFT 0.163, ITL 0.080), pass the 16
//! `sweep-*.html` files of model-trainer's `experiments/exp2/data`. Without arguments it fits
//! the two encodings of the model-trainer's Llama-3.1-8B sweep that `samples/` holds.
//!
//! ```text
//!  file₁ … fileₖ ──read_any──► k PerfDatasets ──fit_datasets (joint)──► one α, β, γ
//! ```

use std::error::Error;

use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        let s = |f: &str| format!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/{}"), f);
        paths = vec![
            s("inferno-trainer/data.json"),
            s("readers/inferno/guidellm-csv.json"),
        ];
    }
    let datasets = paths.iter().map(read_any).collect::<Result<Vec<_>, _>>()?;
    for (path, d) in paths.iter().zip(&datasets) {
        println!("{path}: {} points", d.len());
    }
    let fitted = InfernoTrainer::params()
        .model(QueueModel::V6)
        .seed_compatible(true)
        .arithmetic(Arithmetic::GoFloat32)
        .fit_datasets(&datasets)?;
    print!("{}", fitted.report());
    println!("{}", serde_json::to_string(&fitted.seed_response())?);
    Ok(())
}
