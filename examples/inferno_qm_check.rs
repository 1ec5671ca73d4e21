//! Port of model-trainer's `demos/qm-check`: score a test set with fixed parameters, no
//! optimisation — upstream's (α, β, γ) = (6.037069773706014, 0.012351457184339894,
//! 3.754977789772998e-5) on `qm_test_s4.json` (times in seconds).
//!
//! Run: `cargo run --release --example inferno_qm_check [TEST] [ALPHA BETA GAMMA]`.
//!
//! ```text
//!  test (s) ──read ×1000──► Analyzer(V7, fixed α, β, γ) per point ──► predicted vs measured
//! ```

use std::error::Error;

use llm_perf::fit::points_from_datasets;
use llm_perf::prelude::*;
use llm_perf::readers::{ReadOptions, TimeUnit, read_any_with};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/inferno-trainer/qm_test_s4.json"
        )
        .into()
    });
    let given: Vec<f64> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    let [alpha, beta, gamma] = match given.as_slice() {
        [] => [
            6.037_069_773_706_014,
            0.012_351_457_184_339_894,
            3.754_977_789_772_998e-5,
        ],
        &[a, b, g] => [a, b, g],
        _ => return Err("give all three of ALPHA BETA GAMMA, or none".into()),
    };
    let opts = ReadOptions {
        inferno_time_unit: TimeUnit::Seconds,
        ..ReadOptions::default()
    };
    let (_, dataset) = read_any_with(&path, &opts)?;
    let points = points_from_datasets(&[dataset])?;
    let params = ServiceParams::new(alpha, beta, gamma)?;
    println!(
        "{:>8} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8}",
        "rps", "in", "out", "TTFTMeas", "TTFTPred", "ITLMeas", "ITLPred"
    );
    let (mut err_ttft, mut err_itl) = (0.0, 0.0);
    for p in &points {
        let analyzer = Analyzer::new(
            QueueModel::V7,
            params,
            RequestShape::new(p.input_tokens, p.output_tokens)?,
            QueueConfig::new(p.max_batch_size, p.max_batch_size)?
                .with_max_num_tokens(p.max_num_tokens)?,
        )?;
        let a = analyzer.solve(p.rate_rps)?;
        err_ttft += (a.ttft_ms - p.ttft_ms).abs();
        err_itl += (a.itl_ms - p.itl_ms).abs();
        println!(
            "{:>8.3} {:>7.0} {:>7.0} {:>9.2} {:>9.2} {:>8.3} {:>8.3}",
            p.rate_rps, p.input_tokens, p.output_tokens, p.ttft_ms, a.ttft_ms, p.itl_ms, a.itl_ms
        );
    }
    let n = points.len() as f64;
    println!(
        "mean abs error: TTFT {:.3} ms, ITL {:.3} ms over {} points",
        err_ttft / n,
        err_itl / n,
        points.len()
    );
    Ok(())
}
