//! Property test: random small clusters never panic (debug assertions on KV blocks, batch and
//! budget limits are active in test builds) and always conserve requests and tokens.

use proptest::prelude::*;
use serde_json::json;

use crate::{cfg, rows, run};

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 48,
        // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
        // seed to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
        ..proptest::test_runner::Config::default()
    })]
    #[test]
    fn random_clusters_conserve_requests(
        seed in 0u64..1000,
        replicas in 1u32..4,
        router in 0usize..4,
        seqs in 1u32..40,
        extra_budget in 0u32..600,
        blocks in 4u64..300,
        block_size in prop::sample::select(vec![1u32, 4, 16]),
        chunked in any::<bool>(),
        rate in 1.0f64..80.0,
        p_max in 1u32..1500,
        o_max in 1u32..400,
        cap in prop::option::of(1u32..30),
        max_time in prop::option::of(1.0f64..30.0),
        latest in any::<bool>(),
    ) {
        let routers = ["round_robin", "random", "least_outstanding_requests", "least_kv_usage"];
        let budget = seqs + extra_budget;
        let (s, csv) = run(cfg(json!({
            "seed": seed, "max_requests": 150, "max_simulation_time_s": max_time,
            "cluster": {
                "replicas": replicas, "router": routers[router],
                "preemption": if latest { "latest_arrival" } else { "last_admitted" },
                "engine": { "max_batch_size": seqs, "max_num_batched_tokens": budget,
                            "block_size": block_size, "enable_chunked_prefill": chunked,
                            "max_queue_size": cap },
                "cost_model": { "kind": "inferno", "alpha": 3.0, "beta": 0.01, "gamma": 1e-4 },
                "kv_cache": { "num_gpu_blocks": blocks }
            },
            "workload": { "clients": [
                { "arrival": { "kind": "poisson", "rate": rate },
                  "input": { "kind": "uniform", "low": 1, "high": p_max },
                  "output": { "kind": "uniform", "low": 1, "high": o_max } },
                { "arrival": { "kind": "gamma", "rate": rate / 2.0, "cv": 2.5 },
                  "input": { "kind": "lognormal", "mean": 200, "std": 300 },
                  "output": { "kind": "normal", "mean": 50, "std": 50 } }
            ] }
        })));
        let c = s.requests;
        prop_assert!(c.arrived <= 150);
        if max_time.is_none() {
            prop_assert_eq!(c.arrived, 150);
        }
        prop_assert_eq!(c.arrived, c.completed + c.rejected + c.dropped + c.unfinished);
        let rows = rows(&csv);
        prop_assert_eq!(rows.len() as u64, c.arrived);
        let done = rows.iter().filter(|r| r.status == "completed");
        prop_assert_eq!(done.map(|r| u64::from(r.output)).sum::<u64>(), s.output_tokens);
        for rep in &s.replicas {
            prop_assert!(rep.kv_blocks_max <= rep.kv_blocks_total);
        }
        if max_time.is_none() {
            prop_assert_eq!(c.unfinished, 0);
        }
    }
}
