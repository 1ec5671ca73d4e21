//! Seed-compatible single-start Nelder–Mead versus llm-perf's multistart default, data set by
//! data set: the loss each reaches, under the two configurations that produced published
//! numbers (the README headline's and the current upstream's).
//!
//! Run: `cargo run --release --example inferno_compare -- FILE… [--seconds FILE…]`
//! (files after `--seconds` are Inferno DataSets stored in seconds, like the model-trainer's
//! `qm_*`/`QM_*` samples). With no arguments it compares the samples in `samples/`.
//!
//! ```text
//!  file ──read──► points ──┬─ seed-compatible NM (one start) ──► loss₁
//!                          └─ multistart (given start + 8 seeded) ──► loss₂ ≤ loss₁ ?
//! ```

use std::error::Error;
use std::time::Instant;

use llm_perf::fit::points_from_datasets;
use llm_perf::prelude::*;
use llm_perf::readers::{ReadOptions, TimeUnit, read_any_with};

/// A fit configuration as (label, model, loss, init, scaled).
type Setup = (&'static str, QueueModel, Loss, [f64; 3], bool);

const SETUPS: [Setup; 2] = [
    (
        "headline V3/weighted-abs/(10,0,0)",
        QueueModel::V3,
        Loss::WeightedAbsolute,
        [10.0, 0.0, 0.0],
        false,
    ),
    (
        "upstream V7/rel-sq/scaled (1,0.01,1e-4)",
        QueueModel::V7,
        Loss::RelativeSquared,
        [1.0, 0.01, 1e-4],
        true,
    ),
];

fn main() -> Result<(), Box<dyn Error>> {
    let mut files: Vec<(String, TimeUnit)> = Vec::new();
    let mut unit = TimeUnit::Milliseconds;
    for arg in std::env::args().skip(1) {
        if arg == "--seconds" {
            unit = TimeUnit::Seconds;
        } else {
            files.push((arg, unit));
        }
    }
    if files.is_empty() {
        let s = |f: &str| format!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/{}"), f);
        files = vec![
            (s("inferno-trainer/data.json"), TimeUnit::Milliseconds),
            (
                s("readers/inferno/guidellm-csv.json"),
                TimeUnit::Milliseconds,
            ),
            (s("readers/inferno/benchmarks.html"), TimeUnit::Milliseconds),
            (s("inferno-trainer/qm_train_s4.json"), TimeUnit::Seconds),
        ];
    }
    println!(
        "| data set | points | configuration | seed-compatible loss | multistart loss | ≤ ? |"
    );
    println!("|---|---|---|---|---|---|");
    let mut all_ok = true;
    let started = Instant::now();
    for (path, unit) in &files {
        let opts = ReadOptions {
            inferno_time_unit: *unit,
            ..ReadOptions::default()
        };
        let (_, dataset) = read_any_with(path, &opts)?;
        let points = points_from_datasets(std::slice::from_ref(&dataset))?;
        let name = std::path::Path::new(path)
            .file_name()
            .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        for (label, model, loss, [a, b, g], scaled) in SETUPS {
            let base = || {
                InfernoTrainer::params()
                    .model(model)
                    .loss(loss)
                    .init(a, b, g)
                    .scaled(scaled)
            };
            let seed = base().seed_compatible(true).fit(&points).map(|f| f.loss());
            let multi = base().fit(&points).map(|f| f.loss());
            let (seed_text, multi_text, ok) = match (&seed, &multi) {
                (Ok(s), Ok(m)) => (format!("{s:.6}"), format!("{m:.6}"), m <= s),
                // A seed-compatible start the model cannot evaluate fails outright (as in Go);
                // multistart still fits from its other starts.
                (Err(e), Ok(m)) => (format!("fails: {e}"), format!("{m:.6}"), true),
                (_, Err(e)) => ("-".into(), format!("fails: {e}"), false),
            };
            all_ok &= ok;
            println!(
                "| {name} | {} | {label} | {seed_text} | {multi_text} | {} |",
                points.len(),
                if ok { "yes" } else { "NO" }
            );
        }
    }
    println!(
        "\n{} data sets × {} configurations in {:.1} s; multistart never worse: {all_ok}",
        files.len(),
        SETUPS.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
