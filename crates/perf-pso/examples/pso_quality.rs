//! Optimisation quality: PSO against an exhaustive grid search on a simulator-backed space.
//!
//! Run: `cargo run --release -p perf-pso --example pso_quality [SEEDS] [REQUESTS] [RATE]
//! [TTFT_SLO_MS] [TPOT_SLO_MS] [PARTICLES] [RING_K] [ours|seed]` (defaults 10 500 150 200 12
//! 10 1 ours; `RING_K = 0` is the global-best topology; `seed` uses the seed's coefficients
//! w 1.8, c1 = c2 = 2, periodic bounds and U[0,1) initial velocities).
//!
//! ```text
//! 4 knobs ──decode──► SimConfig (2 replicas, Llama-3.1-8B on H100, roofline step times)
//!   MAX_NUM_SEQS 8…128 step 8 (16) × MAX_NUM_BATCHED_TOKENS 512…4096 step 512 (8)
//!   × router (4) × preemption policy (2) = 1024 grid points
//! Poisson RATE req/s, lognormal input 512±256 / output 128±64 tokens, REQUESTS requests
//!   ──► perf-sim ──► PerformanceIndex ──► Fitness (seed weights and penalties,
//!                                         G* 10 000 tok/s, TTFT and TPOT SLOs as given)
//! ```
//! The grid evaluates all 1024 points. Each PSO run (our defaults: constriction coefficients,
//! reflecting bounds; ring topology unless `RING_K = 0`) is memoised and stopped by an
//! evaluation budget of 10 % of the grid (102 evaluator calls). A seed passes when its best
//! fitness is within 2 % of the grid optimum. As a yardstick the example also prints how much of
//! the grid lies within 2 % and how often 102 uniformly random grid points get there.

use std::error::Error;
use std::time::Instant;

use perf_pso::{
    Candidate, Evaluator, FieldSpec, Fitness, PsoParams, SearchSpace, SeedCompat, SimEvaluator,
    Topology, Tuner,
};
use perf_sim::SimConfig;
use serde_json::json;

fn base(requests: u64, rate: f64) -> Result<SimConfig, serde_json::Error> {
    serde_json::from_value(json!({
        "seed": 1,
        "max_requests": requests,
        "cluster": {
            "replicas": 2,
            "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }
        },
        "workload": { "rate": rate, "clients": [ {
            "arrival": { "kind": "poisson" },
            "input": { "kind": "lognormal", "mean": 512.0, "std": 256.0 },
            "output": { "kind": "lognormal", "mean": 128.0, "std": 64.0 }
        } ] }
    }))
}

fn space() -> perf_pso::Result<SearchSpace> {
    SearchSpace::new(
        &[
            FieldSpec::range("MAX_NUM_SEQS", "env", 8, 128, 8),
            FieldSpec::range("MAX_NUM_BATCHED_TOKENS", "env", 512, 4096, 512),
            FieldSpec::choice(
                "router",
                "cluster.router",
                vec![
                    json!("round_robin"),
                    json!("least_outstanding_requests"),
                    json!("least_kv_usage"),
                    json!("random"),
                ],
            ),
            FieldSpec::choice(
                "preemption",
                "cluster.preemption",
                vec![json!("last_admitted"), json!("latest_arrival")],
            ),
        ],
        SeedCompat::Fixed,
    )
}

fn fitness(ttft_slo_ms: f64, tpot_slo_ms: f64) -> Fitness {
    Fitness {
        generate_speed_target: 10_000.0,
        ttft_slo_ms,
        tpot_slo_ms,
        ..Fitness::default()
    }
}

/// Every grid point as a unit-cube position (bucket centres).
fn grid(space: &SearchSpace) -> Vec<Vec<f64>> {
    let sizes = space.grid_sizes().unwrap_or_default();
    let mut out = vec![Vec::new()];
    for n in sizes {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..n).map(move |k| {
                    let mut q = p.clone();
                    #[allow(clippy::cast_precision_loss)]
                    q.push((k as f64 + 0.5) / n as f64);
                    q
                })
            })
            .collect();
    }
    out
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let requests: u64 = args.next().map_or(Ok(500), |s| s.parse())?;
    let rate: f64 = args.next().map_or(Ok(150.0), |s| s.parse())?;
    let ttft_slo: f64 = args.next().map_or(Ok(200.0), |s| s.parse())?;
    let tpot_slo: f64 = args.next().map_or(Ok(12.0), |s| s.parse())?;
    let particles: usize = args.next().map_or(Ok(10), |s| s.parse())?;
    let ring: usize = args.next().map_or(Ok(1), |s| s.parse())?;
    let seed_coefficients = args.next().as_deref() == Some("seed");
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let space = space()?;
    let fit = fitness(ttft_slo, tpot_slo);
    let mut sim = SimEvaluator::new(&base(requests, rate)?)?.jobs(jobs);

    let t0 = Instant::now();
    let batch: Vec<Candidate> = grid(&space)
        .into_iter()
        .enumerate()
        .map(|(i, position)| {
            Ok(Candidate {
                iteration: 0,
                particle: i,
                config: space.decode(&position)?,
                position,
            })
        })
        .collect::<perf_pso::Result<_>>()?;
    let evals = sim.evaluate(&batch);
    let (mut best, mut best_i) = (f64::INFINITY, 0);
    for (i, e) in evals.iter().enumerate() {
        let c = if e.error.is_some() {
            f64::INFINITY
        } else {
            fit.cost_of(e.index.as_ref())
        };
        if c < best {
            best = c;
            best_i = i;
        }
    }
    let grid_n = batch.len();
    let budget = grid_n / 10;
    let costs: Vec<f64> = evals
        .iter()
        .map(|e| {
            if e.error.is_some() {
                f64::INFINITY
            } else {
                fit.cost_of(e.index.as_ref())
            }
        })
        .collect();
    let near = costs.iter().filter(|&&c| c <= best * 1.02).count();
    let mut sorted = costs.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "grid: {grid_n} points, {requests} requests each, {:.1} s on {jobs} threads; optimum fitness {best:.6} at {}",
        t0.elapsed().as_secs_f64(),
        serde_json::Value::Object(batch[best_i].config.to_map())
    );
    if let Some(idx) = &evals[best_i].index {
        println!(
            "  optimum: {:.0} tok/s, TTFT {:.1} ms, TPOT {:.2} ms, success {:.3}",
            idx.output_throughput().unwrap_or(0.0),
            idx.ttft_ms().unwrap_or(f64::NAN),
            idx.tpot_ms().unwrap_or(f64::NAN),
            idx.success_rate().unwrap_or(0.0)
        );
    }

    #[allow(clippy::cast_precision_loss)]
    let near_share = 100.0 * near as f64 / grid_n as f64;
    println!(
        "  grid points within 2 % of the optimum: {near} ({near_share:.1} %); fitness median {:.4}, worst finite {:.3e}",
        sorted[grid_n / 2],
        sorted
            .iter()
            .rev()
            .find(|c| c.is_finite())
            .copied()
            .unwrap_or(f64::NAN)
    );
    // baseline: uniform random sampling of the grid with the same budget (distinct points)
    let mut random_pass = 0;
    for seed in 0..seeds {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1000 + seed);
        let mut picked = std::collections::BTreeSet::new();
        while picked.len() < budget {
            picked.insert(rng.random_range(0..grid_n));
        }
        let b = picked
            .iter()
            .map(|&i| costs[i])
            .fold(f64::INFINITY, f64::min);
        random_pass += usize::from(b <= best * 1.02);
    }
    println!("  baseline, {budget} random grid points: {random_pass} of {seeds} seeds within 2 %");

    println!("\n| seed | evaluations | % of grid | PSO best | gap to optimum | within 2 % |");
    println!("|---:|---:|---:|---:|---:|:---:|");
    let mut passed = 0;
    let mut total_evals = 0;
    for seed in 0..seeds {
        let topology = if ring > 0 {
            Topology::Ring { k: ring }
        } else {
            Topology::Global
        };
        let defaults = if seed_coefficients {
            PsoParams::seed_defaults()
        } else {
            PsoParams::default()
        };
        let params = PsoParams {
            n_particles: particles,
            iters: 200,
            seed,
            topology,
            ..defaults
        };
        let report = Tuner::new(space.clone(), params, fit.clone())
            .record_timing(false)
            .max_evaluations(budget)
            .run(&mut sim)?;
        let gap = report.best_cost / best - 1.0;
        let ok = gap <= 0.02;
        passed += usize::from(ok);
        total_evals += report.total_evaluations;
        #[allow(clippy::cast_precision_loss)]
        let share = 100.0 * report.total_evaluations as f64 / grid_n as f64;
        println!(
            "| {seed} | {} | {share:.1} | {:.6} | {:+.3} % | {} |",
            report.total_evaluations,
            report.best_cost,
            100.0 * gap,
            if ok { "yes" } else { "no" }
        );
    }
    println!(
        "\n{passed} of {seeds} seeds within 2 % of the grid optimum; {total_evals} PSO evaluations in all"
    );
    Ok(())
}
