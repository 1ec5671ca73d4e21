//! What the surrogate pre-filter saves and what it costs, on the simulator.
//!
//! Run: `cargo run --release -p perf-pso --example surrogate_quality [TUNE_FILE] [SEEDS]`
//! (defaults `samples/pso/sim_tune.toml`, 10).
//!
//! For each PSO seed 0…SEEDS−1 the tuning file runs three ways: every particle evaluated, the
//! conservative surrogate and the aggressive one (`[surrogate]` defaults otherwise: 5 initial
//! points, threshold −1.2). Two regimes:
//! * **same iterations** (the file's `iters`, no budget): real evaluations saved, and the best
//!   measured fitness reached;
//! * **same budget** (the file's `[run] max_evaluations`, twice the iterations): the best fitness
//!   reached when the evaluations the surrogate saves buy more iterations.
//!
//! Fitness is minimised; "Δ best" is the mean relative change of the best fitness against the
//! no-surrogate run of the same seed (positive = worse).

use std::error::Error;
use std::time::Instant;

use perf_pso::{SimEvaluator, SurrogateSettings, SurrogateStrategy, TuneConfig, TuneReport, Tuner};

#[derive(Clone, Copy, PartialEq)]
enum Filter {
    None,
    Conservative,
    Aggressive,
}

fn run(
    cfg: &TuneConfig,
    seed: u64,
    filter: Filter,
    iters: usize,
    budget: Option<usize>,
) -> Result<TuneReport, Box<dyn Error>> {
    let mut params = cfg.pso.clone();
    params.seed = seed;
    params.iters = iters;
    let mut tuner = Tuner::new(cfg.search_space()?, params, cfg.fitness.clone())
        .memoise(!cfg.run.reevaluate_duplicates)
        .record_timing(false);
    if let Some(b) = budget {
        tuner = tuner.max_evaluations(b);
    }
    let strategy = match filter {
        Filter::None => None,
        Filter::Conservative => Some(SurrogateStrategy::Conservative),
        Filter::Aggressive => Some(SurrogateStrategy::Aggressive),
    };
    if let Some(strategy) = strategy {
        tuner = tuner.surrogate(SurrogateSettings {
            strategy,
            ..cfg.surrogate.clone().unwrap_or_default()
        })?;
    }
    let mut eval = SimEvaluator::new(&cfg.sim_config()?)?.jobs(cfg.run.jobs.unwrap_or(1));
    Ok(tuner.run(&mut eval)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/pso/sim_tune.toml"
        )
        .to_owned()
    });
    let seeds: u64 = match args.next() {
        Some(s) => s.parse()?,
        None => 10,
    };
    let cfg = TuneConfig::from_path(std::path::Path::new(&file))?;
    let iters = cfg.pso.iters;
    let budget = cfg.run.max_evaluations;
    println!(
        "{file}: {} particles, {} dimensions; {seeds} seeds",
        cfg.pso.n_particles,
        cfg.search_space()?.dimensions()
    );
    let start = Instant::now();
    let regimes: Vec<(&str, usize, Option<usize>)> = match budget {
        Some(b) => vec![
            ("same iterations", iters, None),
            ("same budget", 2 * iters, Some(b)),
        ],
        None => vec![("same iterations", iters, None)],
    };
    for (name, iters, budget) in regimes {
        println!(
            "\n{name}: {iters} iterations{}",
            budget.map_or(String::new(), |b| format!(", at most {b} evaluations"))
        );
        println!(
            "{:<13} {:>10} {:>10} {:>12} {:>10} {:>9}",
            "filter", "real evals", "predicted", "best (mean)", "Δ best", "worse in"
        );
        let mut baseline = Vec::new();
        for filter in [Filter::None, Filter::Conservative, Filter::Aggressive] {
            let (mut evals, mut predicted, mut best_sum, mut delta_sum, mut worse) =
                (0usize, 0usize, 0.0, 0.0, 0);
            for seed in 0..seeds {
                let r = run(&cfg, seed, filter, iters, budget)?;
                evals += r.total_evaluations;
                predicted += r.predicted;
                best_sum += r.best_cost;
                if filter == Filter::None {
                    baseline.push(r.best_cost);
                } else {
                    let base = baseline[usize::try_from(seed)?];
                    delta_sum += (r.best_cost - base) / base;
                    if r.best_cost > base * (1.0 + 1e-12) {
                        worse += 1;
                    }
                }
            }
            let n = seeds as f64;
            let label = match filter {
                Filter::None => "none",
                Filter::Conservative => "conservative",
                Filter::Aggressive => "aggressive",
            };
            println!(
                "{label:<13} {:>10.1} {:>10.1} {:>12.5} {:>9.2}% {:>6}/{seeds}",
                evals as f64 / n,
                predicted as f64 / n,
                best_sum / n,
                100.0 * delta_sum / n,
                worse
            );
        }
    }
    println!("\n{:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
