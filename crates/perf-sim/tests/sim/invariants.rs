//! Physical-limit oracles and conservation laws (specs/simulator.md §10).

use std::sync::{Arc, Mutex};

use perf_model_core::{Accelerator, BatchShape, Dtype, ModelSpec, RooflineModel, StepTimeModel};
use perf_sim::Simulation;
use serde_json::json;

use crate::{cfg, rows, run};

/// A stressed cluster: a tiny KV cache (preemptions), a queue cap (drops), some prompts too
/// long for the cache (rejections) and a hard time cap (unfinished).
fn stressed(max_time: Option<f64>, preemption: &str) -> serde_json::Value {
    json!({
        "seed": 11, "max_requests": 600, "max_simulation_time_s": max_time,
        "cluster": {
            "replicas": 3, "router": "least_kv_usage", "preemption": preemption,
            "engine": { "max_batch_size": 32, "max_num_batched_tokens": 512, "max_queue_size": 40 },
            "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
            "kv_cache": { "num_gpu_blocks": 160 }
        },
        "workload": { "rate": 30.0, "clients": [
            { "name": "chat", "weight": 3.0, "arrival": { "kind": "poisson" },
              "input": { "kind": "lognormal", "mean": 300, "std": 400 },
              "output": { "kind": "uniform", "low": 1, "high": 300 } },
            { "name": "batch", "weight": 1.0, "arrival": { "kind": "gamma", "cv": 3.0 },
              "pairs": [[1200, 50], [4000, 10], [64, 700]], "max_tokens": 400 }
        ] }
    })
}

#[test]
fn counts_are_conserved_and_one_row_per_request() {
    for (max_time, policy) in [
        (None, "last_admitted"),
        (Some(20.0), "last_admitted"),
        (None, "latest_arrival"),
    ] {
        let (s, csv) = run(cfg(stressed(max_time, policy)));
        let c = s.requests;
        assert_eq!(c.arrived, 600);
        assert_eq!(
            c.arrived,
            c.completed + c.rejected + c.dropped + c.unfinished
        );
        let rows = rows(&csv);
        assert_eq!(rows.len() as u64, c.arrived);
        let count = |st: &str| rows.iter().filter(|r| r.status == st).count() as u64;
        assert_eq!(count("completed"), c.completed);
        assert_eq!(count("rejected"), c.rejected);
        assert_eq!(count("dropped"), c.dropped);
        assert_eq!(count("unfinished"), c.unfinished);
        assert!(c.rejected > 0, "{c:?}");
        assert!(s.preemptions > 0, "no preemption exercised");
        // Tokens emitted = Σ O over completed requests; each completed request got all O.
        let done: Vec<_> = rows.iter().filter(|r| r.status == "completed").collect();
        assert_eq!(
            done.iter().map(|r| u64::from(r.output)).sum::<u64>(),
            s.output_tokens
        );
        assert!(done.iter().all(|r| r.output == r.target));
        assert!(
            done.iter().all(|r| r.arrival_ns <= r.first_ns.unwrap()
                && r.first_ns.unwrap() <= r.done_ns.unwrap())
        );
        assert_eq!(
            rows.iter().map(|r| u64::from(r.preemptions)).sum::<u64>(),
            s.preemptions
        );
        for rep in &s.replicas {
            assert!(rep.kv_blocks_max <= rep.kv_blocks_total);
        }
        if max_time.is_some() {
            assert!(c.unfinished > 0, "{c:?}");
            assert!(c.dropped > 0, "{c:?}");
        } else {
            assert_eq!(c.unfinished, 0);
        }
    }
}

/// Records every step's batch and time.
struct Recording {
    inner: RooflineModel,
    steps: Mutex<Vec<(BatchShape, f64)>>,
}

impl StepTimeModel for Recording {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        let t = self.inner.step_time(batch);
        self.steps.lock().unwrap().push((*batch, t));
        t
    }
}

#[test]
fn roofline_runs_respect_physical_bounds() {
    let model = ModelSpec::lookup("Llama-3.1-8B").unwrap();
    let h100 = Accelerator::lookup("H100").unwrap();
    let roofline = RooflineModel::new(model.clone(), h100.clone(), Dtype::Bf16, 1).unwrap();
    let config = cfg(json!({
        "seed": 5, "max_requests": 3000,
        "cluster": {
            "engine": { "max_batch_size": 256, "max_num_batched_tokens": 2048 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
            "kv_cache": { "num_gpu_blocks": 1500 }
        },
        "workload": { "clients": [ {
            "arrival": { "kind": "poisson", "rate": 40.0 },
            "input": { "kind": "lognormal", "mean": 512, "std": 512 },
            "output": { "kind": "lognormal", "mean": 128, "std": 128, "max": 2000 }
        } ] }
    }));
    let rec = Arc::new(Recording {
        inner: roofline.clone(),
        steps: Mutex::new(Vec::new()),
    });
    let sim = Simulation::with_cost_model(config, rec.clone()).unwrap();
    let mut csv = Vec::new();
    let s = sim.run(&mut csv).unwrap();
    assert_eq!(s.requests.completed, 3000);
    assert!(
        s.preemptions > 0,
        "the small cache should force preemptions"
    );
    let rep = &s.replicas[0];
    assert!(rep.kv_blocks_max <= rep.kv_blocks_total, "{rep:?}");
    assert!(
        rep.kv_blocks_max > rep.kv_blocks_total * 9 / 10,
        "cache not stressed: {rep:?}"
    );

    // Decode steps ≥ streamed weight bytes / peak bandwidth; every step ≥ the 100 % bound.
    let streamed = model.weight_bytes(Dtype::Bf16) - model.embedding_params() as f64 * 2.0;
    let floor_ms = streamed / h100.memory_bandwidth_bytes_per_s().unwrap() * 1e3;
    let steps = rec.steps.lock().unwrap();
    let mut decode_steps = 0;
    for (b, t) in steps.iter() {
        assert!(*t >= roofline.lower_bound(b), "{b:?}: {t}");
        assert!(b.total_tokens() <= 2048 && b.num_seqs() <= 256);
        if b.decode_seqs > 0 {
            decode_steps += 1;
            assert!(*t >= floor_ms, "{b:?}: {t} < {floor_ms}");
        }
    }
    assert!(decode_steps > 1000);

    // Every TTFT ≥ the uncached prefill bound of its prompt.
    for r in rows(std::str::from_utf8(&csv).unwrap()) {
        let ttft_ms = (r.first_ns.unwrap() - r.arrival_ns) as f64 * 1e-6;
        let bound = roofline.lower_bound(&BatchShape::prefill(r.prompt));
        assert!(ttft_ms >= bound, "P {}: {ttft_ms} < {bound}", r.prompt);
    }
}

#[test]
fn horizon_with_and_without_drain() {
    let make = |drain: bool| {
        cfg(json!({
            "seed": 1, "horizon_s": 10.0, "drain": drain,
            "cluster": {
                "engine": { "max_batch_size": 16, "max_num_batched_tokens": 1024 },
                "cost_model": { "kind": "inferno", "alpha": 10.0, "beta": 0.05, "gamma": 1e-4 },
                "kv_cache": { "num_gpu_blocks": 5000 }
            },
            "workload": { "clients": [ {
                "arrival": { "kind": "poisson", "rate": 20.0 },
                "input": { "kind": "fixed", "value": 256 },
                "output": { "kind": "fixed", "value": 100 }
            } ] }
        }))
    };
    let (drained, csv) = run(make(true));
    let (cut, _) = run(make(false));
    assert_eq!(drained.requests.arrived, cut.requests.arrived);
    assert_eq!(drained.requests.unfinished, 0);
    assert!(drained.simulated_time_s > 10.0);
    assert!(cut.requests.unfinished > 0);
    assert!((cut.simulated_time_s - 10.0).abs() < 1e-9);
    assert!(rows(&csv).iter().all(|r| r.arrival_ns <= 10_000_000_000));
}
