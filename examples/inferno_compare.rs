//! The fit methods side by side, data set by data set: the seed-compatible single-start
//! Nelder–Mead, the Nelder–Mead multistart (the default until issue 18) and the default
//! method (`FitMethod::LevenbergMarquardt`) — loss, parameters and wall time of each — under
//! the two configurations that produced published numbers (the current upstream's, which is
//! the default, and the README headline's). The `method` column names what the default
//! method ran: Levenberg–Marquardt, or multistart for the weighted-absolute loss and float32
//! arithmetic (not smooth sums of squares).
//!
//! Run: `cargo run --release --example inferno_compare -- [--repeat N] [--more] FILE…
//! [--seconds FILE…]`
//! (files after `--seconds` are Inferno DataSets stored in seconds, like the model-trainer's
//! `qm_*`/`QM_*` samples). With no files it compares the samples in `samples/`. Each fit is
//! timed `N` times (default 3), multistart and Levenberg–Marquardt interleaved, and the
//! median is printed. `--more` adds four relative-squared configurations (V6, V3, the `/train`
//! start (1, 0, 0), Go's float32 arithmetic).
//!
//! ```text
//!  file ──read──► points ──┬─ seed-compatible NM (one start) ────────────► loss₀
//!                          ├─ NM multistart (init + 8 seeded + restarts) ─► loss₁, time₁
//!                          └─ Levenberg–Marquardt (default) ──────────────► loss₂ ≤ loss₁ ?
//! ```

use std::error::Error;
use std::time::Instant;

use llm_perf::fit::{FitMethod, FittedInferno, points_from_datasets};
use llm_perf::prelude::*;
use llm_perf::readers::{ReadOptions, TimeUnit, read_any_with};

/// A fit configuration as (label, model, loss, init, scaled, arithmetic).
type Setup = (&'static str, QueueModel, Loss, [f64; 3], bool, Arithmetic);

const SETUPS: [Setup; 2] = [
    (
        "upstream V7/rel-sq/scaled (1,0.01,1e-4) — the default",
        QueueModel::V7,
        Loss::RelativeSquared,
        [1.0, 0.01, 1e-4],
        true,
        Arithmetic::F64,
    ),
    (
        "headline V3/weighted-abs/(10,0,0)",
        QueueModel::V3,
        Loss::WeightedAbsolute,
        [10.0, 0.0, 0.0],
        false,
        Arithmetic::F64,
    ),
];

/// Further relative-squared configurations (`--more`): the other model generations, the
/// `/train` start and Go's float32 arithmetic.
const MORE: [Setup; 4] = [
    (
        "paper V6/rel-sq/scaled (1,0.01,1e-4)",
        QueueModel::V6,
        Loss::RelativeSquared,
        [1.0, 0.01, 1e-4],
        true,
        Arithmetic::F64,
    ),
    (
        "V3/rel-sq/(10,0,0)",
        QueueModel::V3,
        Loss::RelativeSquared,
        [10.0, 0.0, 0.0],
        false,
        Arithmetic::F64,
    ),
    (
        "/train V7/rel-sq/scaled (1,0,0)",
        QueueModel::V7,
        Loss::RelativeSquared,
        [1.0, 0.0, 0.0],
        true,
        Arithmetic::F64,
    ),
    (
        "V7/rel-sq/scaled (1,0.01,1e-4), Go float32 arithmetic",
        QueueModel::V7,
        Loss::RelativeSquared,
        [1.0, 0.01, 1e-4],
        true,
        Arithmetic::GoFloat32,
    ),
];

/// Relative slack of "no worse" (the losses are rounded sums of ~10 terms).
const SLACK: f64 = 1e-9;

fn main() -> Result<(), Box<dyn Error>> {
    let mut files: Vec<(String, TimeUnit)> = Vec::new();
    let mut unit = TimeUnit::Milliseconds;
    let mut repeat = 3usize;
    let mut setups = SETUPS.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => unit = TimeUnit::Seconds,
            "--more" => setups.extend(MORE),
            "--repeat" => {
                repeat = args
                    .next()
                    .ok_or("--repeat needs a count")?
                    .parse::<usize>()?
                    .max(1);
            }
            _ => files.push((arg, unit)),
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
            (s("readers/inferno/guidellm.json"), TimeUnit::Milliseconds),
            (s("readers/inferno/benchmarks.html"), TimeUnit::Milliseconds),
            (s("inferno-trainer/qm_train_s4.json"), TimeUnit::Seconds),
            (s("inferno-trainer/qm_test_s4.json"), TimeUnit::Seconds),
        ];
    }
    let mut data = Vec::new();
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
        data.push((name, points));
    }
    let started = Instant::now();
    let mut all_ok = true;
    for &(label, model, loss, [a, b, g], scaled, arithmetic) in &setups {
        let mut ratios = Vec::new();
        let mut evaluations = Vec::new();
        let mut methods = std::collections::BTreeSet::new();
        println!("\n### {label}\n");
        println!(
            "| data set | points | seed-compatible loss | multistart loss | α | β | γ | ms | \
             default loss | α | β | γ | ms | evals | method | (new − multi)/multi | new ≤ multi |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (name, points) in &data {
            let base = |method: FitMethod| {
                InfernoTrainer::params()
                    .model(model)
                    .loss(loss)
                    .init(a, b, g)
                    .scaled(scaled)
                    .arithmetic(arithmetic)
                    .method(method)
            };
            let seed = base(FitMethod::SeedCompatible).fit(points);
            let mut multi_ms = Vec::new();
            let mut lm_ms = Vec::new();
            let mut multi = None;
            let mut lm = None;
            for _ in 0..repeat {
                let (f, t) = timed(|| base(FitMethod::NelderMeadMultistart).fit(points));
                multi = Some(f);
                multi_ms.push(t);
                let (f, t) = timed(|| base(FitMethod::LevenbergMarquardt).fit(points));
                lm = Some(f);
                lm_ms.push(t);
            }
            let (Some(multi), Some(lm)) = (multi, lm) else {
                continue;
            };
            let seed_text = match &seed {
                Ok(s) => format!("{:.9}", s.loss()),
                // A seed-compatible start the model cannot evaluate fails outright (as in Go).
                Err(e) => format!("fails: {e}"),
            };
            let (multi_text, lm_text, ok, evals, diff) = match (&multi, &lm) {
                (Ok(m), Ok(l)) => (
                    cells(m, median(&mut multi_ms)),
                    format!("{} | {}", cells(l, median(&mut lm_ms)), l.evaluations()),
                    l.loss() <= m.loss() * (1.0 + SLACK),
                    l.evaluations(),
                    format!("{:+.1e}", (l.loss() - m.loss()) / m.loss()),
                ),
                (m, l) => (
                    m.as_ref().map_or_else(
                        |e| format!("fails: {e} | | | |"),
                        |m| cells(m, median(&mut multi_ms)),
                    ),
                    l.as_ref().map_or_else(
                        |e| format!("fails: {e} | | | | |"),
                        |l| format!("{} | {}", cells(l, median(&mut lm_ms)), l.evaluations()),
                    ),
                    l.is_ok() || m.is_err(),
                    0,
                    "-".to_owned(),
                ),
            };
            ratios.push(median(&mut multi_ms) / median(&mut lm_ms));
            let method = lm
                .as_ref()
                .map_or("-".to_owned(), |l| l.method().to_string());
            if evals > 0 {
                #[allow(clippy::cast_precision_loss)]
                evaluations.push(evals as f64);
            }
            all_ok &= ok;
            println!(
                "| {name} | {} | {seed_text} | {multi_text} | {lm_text} | {method} | {diff} | {} |",
                points.len(),
                if ok { "yes" } else { "NO" }
            );
            methods.insert(method);
        }
        let lo = evaluations.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = evaluations.iter().copied().fold(0.0, f64::max);
        println!(
            "\nmethod used: {}; median speed-up over multistart {:.0}× (ratio of median times); \
             evaluations {lo}–{hi}",
            methods.into_iter().collect::<Vec<_>>().join(", "),
            median(&mut ratios)
        );
    }
    println!(
        "\n{} data sets × {} configurations, {repeat} timed fits each, in {:.1} s; the default \
         fit never worse than multistart (+{SLACK:e} relative): {all_ok}",
        data.len(),
        setups.len(),
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

/// The loss, α, β, γ and time cells of a fit.
fn cells(f: &FittedInferno, ms: f64) -> String {
    format!(
        "{:.9} | {:.6} | {:.6} | {:.4e} | {ms:.2}",
        f.loss(),
        f.alpha(),
        f.beta(),
        f.gamma()
    )
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64() * 1e3)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
