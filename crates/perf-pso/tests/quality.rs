//! Optimisation quality on a simulator-backed grid (the `pso_quality` example as a test).
//! About 4 s in a debug build since the simulator keeps decoders in aggregate, so it runs in CI.
#![cfg(feature = "sim")]

use perf_pso::{
    Candidate, Evaluator, FieldSpec, Fitness, PsoParams, SearchSpace, SeedCompat, SimEvaluator,
    Topology, Tuner,
};
use serde_json::json;

#[test]
fn pso_within_two_percent_of_grid_optimum_in_nine_of_ten_seeds() {
    let base: perf_sim::SimConfig = serde_json::from_value(json!({
        "seed": 1, "max_requests": 500,
        "cluster": { "replicas": 2, "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" } },
        "workload": { "rate": 150.0, "clients": [ { "arrival": { "kind": "poisson" },
            "input": { "kind": "lognormal", "mean": 512.0, "std": 256.0 },
            "output": { "kind": "lognormal", "mean": 128.0, "std": 64.0 } } ] }
    }))
    .unwrap();
    let space = SearchSpace::new(
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
    .unwrap();
    let fit = Fitness {
        generate_speed_target: 10_000.0,
        ttft_slo_ms: 200.0,
        tpot_slo_ms: 12.0,
        ..Fitness::default()
    };
    let mut sim = SimEvaluator::new(&base).unwrap().jobs(2);
    let sizes = space.grid_sizes().unwrap();
    let mut grid = vec![Vec::new()];
    for n in sizes {
        grid = grid
            .into_iter()
            .flat_map(|p: Vec<f64>| {
                (0..n).map(move |k| {
                    let mut q = p.clone();
                    q.push((k as f64 + 0.5) / n as f64);
                    q
                })
            })
            .collect();
    }
    assert!(grid.len() <= 2000 && space.dimensions() >= 4);
    let batch: Vec<Candidate> = grid
        .into_iter()
        .enumerate()
        .map(|(i, position)| Candidate {
            iteration: 0,
            particle: i,
            config: space.decode(&position).unwrap(),
            position,
        })
        .collect();
    let best = sim
        .evaluate(&batch)
        .iter()
        .map(|e| {
            if e.error.is_some() {
                f64::INFINITY
            } else {
                fit.cost_of(e.index.as_ref())
            }
        })
        .fold(f64::INFINITY, f64::min);
    let budget = batch.len() / 10;
    let mut passed = 0;
    for seed in 0..10 {
        let params = PsoParams {
            n_particles: 10,
            iters: 200,
            seed,
            topology: Topology::Ring { k: 1 },
            ..PsoParams::default()
        };
        let r = Tuner::new(space.clone(), params, fit.clone())
            .max_evaluations(budget)
            .run(&mut sim)
            .unwrap();
        assert!(r.total_evaluations <= budget);
        passed += usize::from(r.best_cost <= best * 1.02);
    }
    assert!(passed >= 9, "{passed} of 10 seeds within 2 %");
}
