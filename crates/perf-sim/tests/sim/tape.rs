//! `WorkloadTape`: a simulation reading a recorded workload gives the same bytes as one
//! sampling it, whatever the cluster, and also past the end of the recording.

use std::sync::Arc;

use perf_sim::{SimConfig, Simulation, WorkloadTape};
use serde_json::json;

use crate::cfg;

fn outputs(sim: Simulation) -> (Vec<u8>, String) {
    let mut csv = Vec::new();
    let summary = sim.run(&mut csv).unwrap();
    (csv, summary.to_json().unwrap())
}

fn taped(config: &SimConfig, tape: &Arc<WorkloadTape>) -> (Vec<u8>, String) {
    outputs(
        Simulation::builder(config.clone())
            .tape(Arc::clone(tape))
            .build()
            .unwrap(),
    )
}

/// Open-loop, closed-loop, shared-prefix, conversational and trace clients together.
fn mixed(max_requests: u64, max_batch: u32) -> SimConfig {
    cfg(json!({
        "seed": 11, "max_requests": max_requests,
        "cluster": { "replicas": 2, "router": "least_outstanding_requests",
            "engine": { "max_batch_size": max_batch, "max_num_batched_tokens": 2048,
                        "enable_prefix_caching": true },
            "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
            "kv_cache": { "num_gpu_blocks": 3000 } },
        "workload": { "rate": 30.0, "clients": [
            { "arrival": { "kind": "poisson" },
              "input": { "kind": "lognormal", "mean": 400, "std": 200 },
              "output": { "kind": "lognormal", "mean": 60, "std": 30 } },
            { "arrival": { "kind": "gamma", "cv": 2.0 },
              "input": { "kind": "uniform", "low": 100, "high": 900 },
              "output": { "kind": "fixed", "value": 40 },
              "shared_prefix": { "groups": 3, "prompts_per_group": 5, "system_prompt_len": 64 } },
            { "arrival": { "kind": "poisson" },
              "input": { "kind": "fixed", "value": 200 }, "output": { "kind": "fixed", "value": 30 },
              "conversation": { "probability": 0.5, "continue_probability": 0.6, "max_turns": 4,
                                "think_time_s": 1.0 } },
            { "arrival": { "kind": "closed_loop", "users": 5, "think_time_s": 0.3 },
              "input": { "kind": "fixed", "value": 150 }, "output": { "kind": "lognormal", "mean": 50, "std": 20 } },
            { "arrival": { "kind": "trace", "requests": [
                { "arrival_ms": 0.0, "input_tokens": 100, "output_tokens": 50 },
                { "arrival_ms": 900.0, "input_tokens": 300, "output_tokens": 5 } ] } } ] }
    }))
}

#[test]
fn replaying_a_recording_gives_the_sampled_bytes_for_every_cluster() {
    let tape = Arc::new(WorkloadTape::record(&mixed(3000, 256)).unwrap());
    for max_batch in [256, 16, 3] {
        let config = mixed(3000, max_batch);
        assert!(tape.fits(&config));
        let want = outputs(Simulation::new(config.clone()).unwrap());
        assert_eq!(taped(&config, &tape), want, "max_batch_size {max_batch}");
    }
}

#[test]
fn a_run_longer_than_the_recording_samples_on_from_where_it_stopped() {
    // Recorded for 50 requests, replayed in runs of 2 000: the streams go on from the
    // recording's last state.
    let tape = Arc::new(WorkloadTape::record(&mixed(50, 64)).unwrap());
    let config = mixed(2000, 64);
    assert!(tape.fits(&config));
    let want = outputs(Simulation::new(config.clone()).unwrap());
    assert_eq!(taped(&config, &tape), want);
}

#[test]
fn a_tape_of_another_seed_or_workload_is_ignored() {
    let tape = Arc::new(WorkloadTape::record(&mixed(500, 64)).unwrap());
    let mut other_seed = mixed(500, 64);
    other_seed.seed = 12;
    let mut other_rate = mixed(500, 64);
    other_rate.workload.rate = Some(31.0);
    for config in [other_seed, other_rate] {
        assert!(!tape.fits(&config));
        let want = outputs(Simulation::new(config.clone()).unwrap());
        assert_eq!(taped(&config, &tape), want);
    }
}
