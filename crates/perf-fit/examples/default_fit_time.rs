//! Wall time of the default Inferno fit on `samples/inferno-trainer/data.json`: the old default
//! (Nelder–Mead multistart) against the new one (Levenberg–Marquardt), timed in interleaved
//! rounds (the order alternates each round) so that both see the same machine load; medians.
//!
//! Run: `cargo run --release -p perf-fit --example default_fit_time -- [ROUNDS] [FILE]`
//! (default 21 rounds on the repository's `data.json`; the file is a model-trainer DataSet in
//! ms).
//!
//! ```text
//! round r: ┌ multistart fit ┐┌ LM fit ┐   (r even)      medians over the rounds
//!          └ LM fit ┘┌ multistart fit ┐   (r odd)   ──► | method | median ms | … |
//! ```
#![allow(clippy::print_stdout)]

use std::error::Error;
use std::time::Instant;

use perf_fit::{FitMethod, FitPoint, FittedInferno, InfernoTrainer, Loss, dataset_loss};
use perf_model_core::inferno::{Arithmetic, QueueModel};
use serde::Deserialize;

/// The fields of a model-trainer `DataPoint` the fit uses.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataPoint {
    request_rate: f64,
    input_tokens: f64,
    output_tokens: f64,
    #[serde(default, rename = "avgTTFTTime")]
    avg_ttft_time: f64,
    #[serde(default)]
    avg_wait_time: f64,
    #[serde(default)]
    avg_prefill_time: f64,
    #[serde(default, rename = "avgITLTime")]
    avg_itl_time: f64,
    #[serde(default)]
    max_batch_size: u32,
}

#[derive(Deserialize)]
struct DataSet {
    data: Vec<DataPoint>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(21), |a| a.parse())?;
    let path = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/inferno-trainer/data.json"
        )
        .to_owned()
    });
    let ds: DataSet = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let points: Vec<FitPoint> = ds
        .data
        .iter()
        .map(|d| {
            let ttft = if d.avg_ttft_time > 0.0 {
                d.avg_ttft_time
            } else {
                d.avg_wait_time + d.avg_prefill_time
            };
            let n = if d.max_batch_size > 0 {
                d.max_batch_size
            } else {
                256
            };
            FitPoint::new(
                d.request_rate,
                d.input_tokens,
                d.output_tokens,
                ttft,
                d.avg_itl_time,
            )
            .with_max_batch_size(n)
        })
        .collect();
    let old = InfernoTrainer::params()
        .method(FitMethod::NelderMeadMultistart)
        .check()?;
    let new = InfernoTrainer::params().check()?;
    assert_eq!(new.settings().fit_method(), FitMethod::LevenbergMarquardt);

    // One loss evaluation, for scale.
    let theta = [6.674, 0.02516, 0.0];
    let mut eval_us = Vec::new();
    for _ in 0..400 {
        let t = Instant::now();
        let l = dataset_loss(
            &points,
            QueueModel::V7,
            Loss::RelativeSquared,
            Arithmetic::F64,
            std::hint::black_box(theta),
        )?;
        eval_us.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(l);
    }

    let mut old_ms = Vec::with_capacity(rounds);
    let mut new_ms = Vec::with_capacity(rounds);
    let mut last: Option<(FittedInferno, FittedInferno)> = None;
    for r in 0..rounds {
        let time = |p: &perf_fit::InfernoTrainerValidParams| {
            let t = Instant::now();
            let f = p.fit(&points);
            (f, t.elapsed().as_secs_f64() * 1e3)
        };
        let ((fo, to), (fnew, tn)) = if r % 2 == 0 {
            let o = time(&old);
            (o, time(&new))
        } else {
            let n = time(&new);
            (time(&old), n)
        };
        old_ms.push(to);
        new_ms.push(tn);
        last = Some((fo?, fnew?));
    }
    let Some((fo, fnew)) = last else {
        return Err("no rounds".into());
    };
    println!(
        "default Inferno fit (V7, rel-sq, init (1, 0.01, 1e-4)) on {path}: {} points, \
         {rounds} interleaved rounds; one loss evaluation {:.1} µs (median of 400)\n",
        points.len(),
        median(&mut eval_us)
    );
    println!(
        "| method | median ms | min ms | max ms | evaluations | loss | alpha | beta | gamma |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, f, ms) in [
        ("old default: Nelder–Mead multistart", &fo, &mut old_ms),
        ("new default: Levenberg–Marquardt", &fnew, &mut new_ms),
    ] {
        let med = median(ms);
        println!(
            "| {label} | {med:.2} | {:.2} | {:.2} | {} | {:.12} | {:.6} | {:.6} | {:.3e} |",
            ms[0],
            ms[ms.len() - 1],
            f.evaluations(),
            f.loss(),
            f.alpha(),
            f.beta(),
            f.gamma()
        );
    }
    println!(
        "\nspeed-up (ratio of medians): {:.0}×; new loss − old loss = {:+.3e}",
        median(&mut old_ms) / median(&mut new_ms),
        fnew.loss() - fo.loss()
    );
    Ok(())
}

/// Median (sorts `v`).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
