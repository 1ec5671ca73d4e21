//! `ReplicaSummary::batch_limit`: a run whose running-request limit never held a request back
//! is the same, byte for byte, under any `max_batch_size` above the peak it reports; one whose
//! limit acted says so (`vllm_v1`, `vllm_v0`, `sarathi`, `orca`, `static`).

use perf_sim::engine::BatchLimitUse;
use perf_sim::{SimConfig, Simulation};
use serde_json::{Value, json};

use crate::cfg;

/// `requests.csv` and the summary JSON of a run.
fn outputs(config: &SimConfig) -> (Vec<u8>, String, Vec<BatchLimitUse>) {
    let mut csv = Vec::new();
    let summary = Simulation::new(config.clone())
        .unwrap()
        .run(&mut csv)
        .unwrap();
    let limits = summary
        .replicas
        .iter()
        .map(|r| r.batch_limit.expect("the engine reports its batch limit"))
        .collect();
    (csv, summary.to_json().unwrap(), limits)
}

fn with_limit(mut v: Value, max_batch: u64) -> SimConfig {
    v["cluster"]["engine"]["max_batch_size"] = json!(max_batch);
    cfg(v)
}

/// Configurations exercising what admission interacts with: several replicas and a router,
/// prefix caching, KV shortage and preemption, whole prompts without chunking, a pipeline,
/// speculative decoding, a warm-up and a time cut.
fn cases() -> Vec<Value> {
    let clients = |rate: f64, input: f64, output: f64| {
        json!({ "rate": rate, "clients": [
            { "arrival": { "kind": "poisson" },
              "input": { "kind": "lognormal", "mean": input, "std": input / 2.0 },
              "output": { "kind": "lognormal", "mean": output, "std": output / 2.0 } },
            { "arrival": { "kind": "gamma", "cv": 2.0 },
              "input": { "kind": "uniform", "low": 50, "high": 700 },
              "output": { "kind": "fixed", "value": 40 },
              "shared_prefix": { "groups": 3, "prompts_per_group": 5, "system_prompt_len": 64 } },
            { "arrival": { "kind": "closed_loop", "users": 4, "think_time_s": 0.2 },
              "input": { "kind": "fixed", "value": 150 },
              "output": { "kind": "lognormal", "mean": 50, "std": 20 } } ] })
    };
    let inferno = json!({ "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 });
    vec![
        json!({ "seed": 3, "max_requests": 2500,
            "cluster": { "replicas": 2, "router": "least_outstanding_requests",
                "engine": { "max_num_batched_tokens": 2048, "enable_prefix_caching": true },
                "cost_model": inferno, "kv_cache": { "num_gpu_blocks": 4000 } },
            "workload": clients(30.0, 400.0, 60.0) }),
        // A small KV cache: preemptions.
        json!({ "seed": 4, "max_requests": 2000,
            "cluster": { "engine": { "max_num_batched_tokens": 1024 },
                "cost_model": inferno, "kv_cache": { "num_gpu_blocks": 300 } },
            "workload": clients(12.0, 500.0, 120.0) }),
        // Whole prompts only, with a warm-up and a time cut.
        json!({ "seed": 5, "max_requests": 3000, "warm_up_s": 5.0, "max_simulation_time_s": 60.0,
            "cluster": { "engine": { "max_num_batched_tokens": 4096,
                                     "enable_chunked_prefill": false },
                "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
                "kv_cache": {} },
            "workload": clients(25.0, 600.0, 100.0) }),
        // Pipeline parallelism.
        json!({ "seed": 6, "max_requests": 1500,
            "cluster": { "engine": { "pipeline_parallel": 2, "max_num_batched_tokens": 2048 },
                "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
                "kv_cache": {} },
            "workload": clients(20.0, 300.0, 80.0) }),
        // Speculative decoding.
        json!({ "seed": 7, "max_requests": 1500,
            "cluster": { "engine": { "max_num_batched_tokens": 2048,
                    "speculative": { "num_speculative_tokens": 3, "acceptance": 0.6 } },
                "cost_model": inferno, "kv_cache": { "num_gpu_blocks": 4000 } },
            "workload": clients(15.0, 300.0, 60.0) }),
    ]
}

/// The cases each engine that tracks its limit runs (`vllm_v1` all of them; the others those
/// their knobs allow).
fn engine_cases() -> Vec<Value> {
    let mut all = cases();
    for kind in ["vllm_v0", "sarathi", "orca", "static"] {
        for (i, mut case) in cases().into_iter().enumerate().take(3) {
            case["cluster"]["engine"]["kind"] = json!(kind);
            if i == 0 {
                case["cluster"]["engine"]
                    .as_object_mut()
                    .unwrap()
                    .remove("enable_prefix_caching");
            }
            if i == 2 {
                case["cluster"]["engine"]
                    .as_object_mut()
                    .unwrap()
                    .remove("enable_chunked_prefill");
            }
            all.push(case);
        }
    }
    all
}

#[test]
fn a_limit_that_never_acted_can_be_any_value_above_the_peak() {
    let seeded = engine_cases().into_iter().flat_map(|case| {
        (0..3).map(move |k| {
            let mut c = case.clone();
            c["seed"] = json!(c["seed"].as_u64().unwrap() * 100 + k);
            c
        })
    });
    for (i, case) in seeded.enumerate() {
        // The largest limit the token budget allows (a step must fit a token per request).
        let most = case["cluster"]["engine"]["max_num_batched_tokens"]
            .as_u64()
            .unwrap();
        let (csv, summary, limits) = outputs(&with_limit(case.clone(), most));
        assert!(
            limits.iter().all(|l| l.held_back == 0),
            "case {i}: a limit of {most} held requests back: {limits:?}"
        );
        let peak = limits.iter().map(|l| l.peak_running).max().unwrap();
        assert!((2..most).contains(&peak), "case {i}: peak {peak}");
        for limit in [peak + 1, peak + 7, most - 1] {
            let (csv2, summary2, limits2) = outputs(&with_limit(case.clone(), limit));
            assert!(csv == csv2, "case {i}: requests differ with limit {limit}");
            assert_eq!(
                summary, summary2,
                "case {i}: summary differs with limit {limit}"
            );
            assert_eq!(limits, limits2, "case {i}");
        }
        // At the peak itself: a limit that never acted is still the unlimited run.
        let (csv3, _, limits3) = outputs(&with_limit(case.clone(), peak));
        if limits3.iter().all(|l| l.held_back == 0) {
            assert!(
                csv == csv3,
                "case {i}: limit {peak} never acted yet changed the run"
            );
        }
        // Below it, the admission that reached the peak is held back: the peak is not
        // overstated.
        let (_, _, limits4) = outputs(&with_limit(case, peak - 1));
        assert!(
            limits4.iter().any(|l| l.held_back > 0),
            "case {i}: {limits4:?}"
        );
    }
}

#[test]
fn a_limit_that_acts_reports_how_often_and_is_reached() {
    let case = cases().remove(0);
    let (_, _, limits) = outputs(&with_limit(case, 3));
    for l in &limits {
        assert!(l.held_back > 0, "{limits:?}");
        assert_eq!(l.peak_running, 3, "{limits:?}");
    }
}

#[test]
fn engines_that_do_not_track_their_limit_report_nothing() {
    let mut case = cases().remove(0);
    case["cluster"]["engine"]["kind"] = json!("sglang");
    let summary = Simulation::new(cfg(case)).unwrap().run_summary().unwrap();
    assert!(summary.replicas.iter().all(|r| r.batch_limit.is_none()));
    let json = summary.to_json().unwrap();
    assert!(!json.contains("batch_limit"), "{json}");
}
