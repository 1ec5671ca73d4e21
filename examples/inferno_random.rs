//! Port of model-trainer's `demos/random`: generate measurements from known parameters with
//! the analyzer, add 2 % Gaussian noise (seeded), fit, and report how well the truth is
//! recovered.
//!
//! Run: `cargo run --release --example inferno_random [SEED]` (default seed 42).
//!
//! ```text
//!  truth (6, 0.02, 5e-5) ──Analyzer──► 20 points ──+2 % noise──► fit ──► recovery error
//! ```

use std::error::Error;

use llm_perf::fit::{SyntheticSpec, synthetic_points};
use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let seed = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 42,
    };
    let spec = SyntheticSpec {
        seed,
        ..SyntheticSpec::default()
    };
    let points = synthetic_points(&spec)?;
    let fitted = InfernoTrainer::params().model(spec.model).fit(&points)?;
    print!("{}", fitted.report());
    let [alpha, beta, gamma] = spec.theta;
    for (name, got, want) in [
        ("alpha", fitted.alpha(), alpha),
        ("beta", fitted.beta(), beta),
        ("gamma", fitted.gamma(), gamma),
    ] {
        println!(
            "{name:<6} fitted {got:<12.6e} truth {want:<12.6e} error {:+.2} %",
            100.0 * (got / want - 1.0)
        );
    }
    Ok(())
}
