//! Pipeline parallelism (`cluster.engine.pipeline_parallel`): a lone request's closed form
//! (stages in turn, send/recv between them), micro-batches overlapping under load, the KV
//! capacity of a pipelined replica, and configuration errors.

use perf_model_core::inferno::{InfernoStepModel, ServiceParams};
use perf_model_core::{BatchShape, StepTimeModel};
use serde_json::json;

use crate::{cfg, rows, run};

fn config(pp: u32, engine_extra: serde_json::Value, rate: f64, n: u64) -> serde_json::Value {
    let mut engine = json!({ "pipeline_parallel": pp, "max_batch_size": 8,
        "pipeline_link": { "latency_us": 30.0, "bandwidth_gbs": 20.0, "bytes_per_token": 8192 } });
    if let (Some(e), Some(x)) = (engine.as_object_mut(), engine_extra.as_object()) {
        e.extend(x.clone());
    }
    json!({
        "seed": 2, "max_requests": n,
        "cluster": { "engine": engine,
            "cost_model": { "kind": "inferno", "alpha": 10.0, "beta": 0.01, "gamma": 1e-4 },
            "kv_cache": { "num_gpu_blocks": 8000 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": rate },
            "input": { "kind": "fixed", "value": 500 },
            "output": { "kind": "fixed", "value": 20 } } ] }
    })
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn ns(model: &InfernoStepModel, shape: &BatchShape) -> u64 {
    ((model.step_time(shape) * 1e6).ceil() as u64).max(1)
}

#[test]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn a_lone_request_crosses_every_stage_and_link_each_step() {
    let model = InfernoStepModel::new(ServiceParams::new(10.0, 0.01, 1e-4).unwrap());
    // 30 µs + tokens × 8192 B / 20 GB/s = 409.6 ns per token.
    let transfer = |tokens: u64| 30_000 + (409.6 * tokens as f64).ceil() as u64;
    for stages in [2u64, 4] {
        let (s, csv) = run(cfg(config(
            u32::try_from(stages).unwrap(),
            json!({}),
            1.0,
            1,
        )));
        let step = |shape: &BatchShape, tokens: u64| {
            stages * ns(&model, shape).div_ceil(stages) + (stages - 1) * transfer(tokens)
        };
        let ttft = step(&BatchShape::prefill(500), 500);
        let decode: u64 = (0..19u32)
            .map(|i| step(&BatchShape::decode(1, 500 + i), 1))
            .sum();
        let r = &rows(&csv)[0];
        assert_eq!(r.first_ns.unwrap() - r.arrival_ns, ttft, "{stages} stages");
        assert_eq!(r.done_ns.unwrap() - r.arrival_ns, ttft + decode);
        // One engine per stage; the lone request used one of them.
        assert_eq!(s.replicas.len() as u64, stages);
        assert_eq!(s.replicas.iter().filter(|r| r.steps > 0).count(), 1);
        let busy = s.replicas[0].pipeline_busy_fraction.unwrap();
        assert!(busy > 0.0 && busy < 1.0 / stages as f64 + 1e-9, "{busy}");
    }
}

#[test]
#[allow(clippy::cast_precision_loss)]
fn micro_batches_overlap_so_a_saturated_pipeline_doubles_the_decode_rate() {
    // Steps cost α = 10 ms whatever their size, links are free: one engine of max 8 requests
    // steps every 10 ms; two stages keep two micro-batches of 8 in flight, one leaving every
    // 5 ms.
    let free_link = json!({ "pipeline_link":
        { "latency_us": 0.0, "bandwidth_gbs": 1.0, "bytes_per_token": 0.0 } });
    let flat = |pp: u32| {
        let mut c = config(pp, free_link.clone(), 200.0, 4000);
        c["cluster"]["cost_model"] = json!({ "kind": "inferno", "alpha": 10.0, "beta": 0.0,
                                             "gamma": 0.0 });
        c["workload"]["clients"][0]["input"] = json!({ "kind": "fixed", "value": 50 });
        run(cfg(c)).0
    };
    let (one, two) = (flat(1), flat(2));
    let ratio = two.throughput.output_tokens_per_second / one.throughput.output_tokens_per_second;
    assert!((ratio - 2.0).abs() < 0.05, "{ratio}");
    let busy = two.replicas[0].pipeline_busy_fraction.unwrap();
    assert!(busy > 0.95, "{busy}");
    assert!(one.replicas[0].pipeline_busy_fraction.is_none());
    // Same seed, same bytes.
    assert_eq!(flat(2).to_json().unwrap(), two.to_json().unwrap());
}

#[test]
fn a_pipelined_replica_holds_the_kv_its_stages_have_room_for() {
    use perf_model_core::Dtype;
    use perf_model_core::catalog::{Accelerator, ModelSpec};
    let m = ModelSpec::lookup("Llama-3.1-8B").unwrap();
    let a = Accelerator::lookup("A100-40GB").unwrap();
    let derive = |pp| {
        perf_sim::kv::derive_num_blocks_pipelined(&m, &a, Dtype::Bf16, (1, pp), 0.9, 16, 0.0)
            .unwrap()
    };
    // Per device: weights / pp and 1/pp of the layers per block, so
    // blocks(pp) = pp·usable/kv_block − weights/kv_block.
    let kv_block = 16.0 * m.kv_bytes_per_token(Dtype::Bf16);
    let usable = a.memory_bytes() * 0.9;
    let w = m.weight_bytes(Dtype::Bf16);
    for pp in [1u32, 2, 4] {
        let closed = (f64::from(pp) * usable - w) / kv_block;
        #[allow(clippy::cast_precision_loss)]
        let got = derive(pp) as f64;
        assert!(
            (got - closed.floor()).abs() <= 1.0,
            "pp {pp}: {got} vs {closed}"
        );
    }
    assert_eq!(
        perf_sim::kv::derive_num_blocks(&m, &a, Dtype::Bf16, 1, 0.9, 16, 0.0).unwrap(),
        derive(1)
    );
    // In a simulation each stage's engine gets its share.
    let c = cfg(json!({
        "max_requests": 10,
        "cluster": { "engine": { "pipeline_parallel": 2 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B",
                            "accelerator": "A100-40GB" },
            "kv_cache": { "reserved_gib": 0.0 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
            "input": { "kind": "fixed", "value": 100 }, "output": { "kind": "fixed", "value": 5 } } ] }
    }));
    let (s, _) = run(c);
    assert_eq!(s.replicas.len(), 2);
    assert_eq!(s.replicas[0].kv_blocks_total, derive(2) / 2);
}

#[test]
fn a_pipeline_without_activation_bytes_is_refused() {
    let mut c = config(2, json!({}), 1.0, 1);
    c["cluster"]["engine"]
        .as_object_mut()
        .unwrap()
        .remove("pipeline_link");
    let err = perf_sim::Simulation::new(cfg(c)).unwrap_err().to_string();
    assert!(
        err.contains("cluster.engine.pipeline_link") && err.contains("bytes_per_token"),
        "{err}"
    );
    let err = perf_sim::Simulation::new(cfg(config(65, json!({}), 1.0, 1)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("pipeline_parallel"), "{err}");
}
