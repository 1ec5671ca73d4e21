//! Port of model-trainer's `demos/qm`: fit on a training set stored in seconds, then score the
//! matching test set with the fitted parameters (`inferno_qm_check` scores it with upstream's
//! fixed ones).
//!
//! Run: `cargo run --release --example inferno_qm [TRAIN] [TEST]` (defaults
//! `samples/inferno-trainer/qm_train_s4.json` and `qm_test_s4.json`, both in seconds).
//!
//! ```text
//!  train (s) ──read ×1000──► fit (V7, rel-sq, scaled, multistart) ──► α, β, γ
//!  test  (s) ──read ×1000──► mean relative squared error of the fit
//! ```

use std::error::Error;

use llm_perf::fit::{Loss, dataset_loss, points_from_datasets};
use llm_perf::prelude::*;
use llm_perf::readers::{ReadOptions, TimeUnit, read_any_with};

fn points_in_seconds(path: &str) -> Result<Vec<FitPoint>, Box<dyn Error>> {
    let opts = ReadOptions {
        inferno_time_unit: TimeUnit::Seconds,
        ..ReadOptions::default()
    };
    let (_, dataset) = read_any_with(path, &opts)?;
    Ok(points_from_datasets(&[dataset])?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let sample = |name: &str| {
        format!(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../samples/inferno-trainer/{}"
            ),
            name
        )
    };
    let mut args = std::env::args().skip(1);
    let train_path = args.next().unwrap_or_else(|| sample("qm_train_s4.json"));
    let test_path = args.next().unwrap_or_else(|| sample("qm_test_s4.json"));
    let train = points_in_seconds(&train_path)?;
    let test = points_in_seconds(&test_path)?;

    let fitted = InfernoTrainer::params().scaled(true).fit(&train)?;
    println!("fit on {} training points ({train_path}):", train.len());
    print!("{}", fitted.report());
    println!("{}", serde_json::to_string(&fitted.seed_response())?);

    let theta = [fitted.alpha(), fitted.beta(), fitted.gamma()];
    let loss = dataset_loss(
        &test,
        QueueModel::V7,
        Loss::RelativeSquared,
        Arithmetic::F64,
        theta,
    )?;
    println!(
        "test set ({} points, {test_path}): mean relative squared error {loss:.6}",
        test.len()
    );
    Ok(())
}
