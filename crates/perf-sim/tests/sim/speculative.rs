//! Speculative decoding (`cluster.engine.speculative`): closed forms for a lone request,
//! the acceptance law over many, draft costs, and the usual invariants.

use perf_model_core::inferno::{InfernoStepModel, ServiceParams};
use perf_model_core::{BatchShape, StepTimeModel};
use serde_json::json;

use crate::{cfg, rows, run};

const ALPHA: f64 = 8.0;
const BETA: f64 = 0.05;
const GAMMA: f64 = 2e-4;

fn lone(engine: serde_json::Value, prompt: u32, output: u32) -> serde_json::Value {
    json!({
        "seed": 1, "max_requests": 1,
        "cluster": { "engine": engine,
            "cost_model": { "kind": "inferno", "alpha": ALPHA, "beta": BETA, "gamma": GAMMA },
            "kv_cache": { "num_gpu_blocks": 1000 } },
        "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 1.0 },
            "input": { "kind": "fixed", "value": prompt },
            "output": { "kind": "fixed", "value": output } } ] }
    })
}

/// A step's duration in ns as the simulator rounds it.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn ns(model: &InfernoStepModel, shape: &BatchShape) -> u64 {
    ((model.step_time(shape) * 1e6).ceil() as u64).max(1)
}

#[test]
#[allow(clippy::cast_precision_loss)]
fn with_every_proposal_accepted_and_free_drafts_itl_falls_by_the_formulas_factor() {
    let model = InfernoStepModel::new(ServiceParams::new(ALPHA, BETA, GAMMA).unwrap());
    let (p, o, k) = (100u32, 41u32, 3u32);
    // Plain decoding: after the prefill, 40 decodes at contexts P, P+1, …
    let plain: u64 = (0..o - 1)
        .map(|i| ns(&model, &BatchShape::decode(1, p + i)))
        .sum();
    // Speculative: 10 verification passes of k + 1 = 4 tokens at contexts P, P+4, …
    let spec: u64 = (0..(o - 1) / (k + 1))
        .map(|i| {
            let mut b = BatchShape::default();
            b.add_prefill(k + 1, p + (k + 1) * i, true);
            ns(&model, &b)
        })
        .sum();
    let prefill = ns(&model, &BatchShape::prefill(p));
    let (s0, csv0) = run(cfg(lone(json!({}), p, o)));
    let engine = json!({ "speculative": { "num_speculative_tokens": k, "acceptance": 1.0 } });
    let (s1, csv1) = run(cfg(lone(engine, p, o)));
    for (csv, decode_ns) in [(&csv0, plain), (&csv1, spec)] {
        let r = &rows(csv)[0];
        assert_eq!(r.output, o);
        let first = r.first_ns.unwrap() - r.arrival_ns;
        assert_eq!(first, prefill);
        assert_eq!(r.done_ns.unwrap() - r.arrival_ns, prefill + decode_ns);
    }
    // 1 prefill + 40 or 10 decode steps.
    assert_eq!(s0.replicas[0].steps, 41);
    assert_eq!(s1.replicas[0].steps, 11);
    // Mean ITL: the decode time over the 40 gaps (the speculative ones: 10 of a step, 30 of
    // 0), so it falls by plain/spec = 40·T_decode / (10·T_verify(4)).
    let factor = s0.latency.itl_ms.mean / s1.latency.itl_ms.mean;
    let formula = plain as f64 / spec as f64;
    assert!(
        (factor - formula).abs() < 1e-9 * formula,
        "{factor} vs {formula}"
    );
    assert!(factor > 3.9 && factor < 4.0, "{factor}");
    assert_eq!(s1.latency.itl_ms.count, 40);
    assert!((s1.latency.itl_ms.min - 0.0).abs() < f64::EPSILON);
}

#[test]
fn per_position_acceptance_and_draft_costs() {
    // [1, 0]: exactly one proposal kept per step, so 2 tokens per step: 20 steps for 40.
    let engine = json!({ "speculative": { "num_speculative_tokens": 2,
                                          "acceptance": [1.0, 0.0] } });
    let (s, _) = run(cfg(lone(engine, 100, 41)));
    assert_eq!(s.replicas[0].steps, 1 + 20);
    // Acceptance 0 with a draft cost: one token per step, each step paying k rounds of
    // draft_ms + draft_ms_per_seq · 1 on top of verifying k + 1 tokens.
    let engine = json!({ "speculative": { "num_speculative_tokens": 3, "acceptance": 0.0,
                                          "draft_ms": 1.0, "draft_ms_per_seq": 0.5 } });
    let (s, csv) = run(cfg(lone(engine, 100, 11)));
    assert_eq!(s.replicas[0].steps, 1 + 10);
    let model = InfernoStepModel::new(ServiceParams::new(ALPHA, BETA, GAMMA).unwrap());
    let verify: u64 = (0..10u32)
        .map(|i| {
            let mut b = BatchShape::default();
            // never beyond the output's last token: fewer proposals at the end
            let drafts = 3.min(10 - i - 1);
            b.add_prefill(1 + drafts, 100 + i, true);
            let draft_ms = if drafts > 0 { 3.0 * 1.5 } else { 0.0 };
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let t = (((model.step_time(&b) + draft_ms) * 1e6).ceil() as u64).max(1);
            t
        })
        .sum();
    let r = &rows(&csv)[0];
    assert_eq!(r.done_ns.unwrap() - r.first_ns.unwrap(), verify);
}

#[test]
#[allow(clippy::cast_precision_loss)]
fn tokens_per_step_follow_the_acceptance_law() {
    // One request at a time (max_batch_size 1), long outputs: decode tokens per verification
    // step approach 1 + Σ_{i≤k} a^i.
    let mut c = lone(
        json!({ "max_batch_size": 1,
                "speculative": { "num_speculative_tokens": 4, "acceptance": 0.6 } }),
        64,
        1001,
    );
    // 200 requests: about 87 000 steps, a standard error of 0.2 % on the mean.
    c["max_requests"] = json!(200);
    let (s, csv) = run(cfg(c));
    assert_eq!(s.requests.completed, 200);
    let tokens: u64 = rows(&csv).iter().map(|r| u64::from(r.output - 1)).sum();
    let verify_steps = s.replicas[0].steps - 200;
    let per_step = tokens as f64 / verify_steps as f64;
    let law = (1.0 - 0.6_f64.powi(5)) / 0.4;
    assert!((per_step - law).abs() < 0.01 * law, "{per_step} vs {law}");
}

#[test]
fn invariants_hold_and_runs_repeat_under_load() {
    let config = || {
        cfg(json!({
            "seed": 4, "max_requests": 1500,
            "cluster": { "replicas": 2,
                "engine": { "max_batch_size": 48, "max_num_batched_tokens": 1024,
                    "enable_prefix_caching": true,
                    "speculative": { "num_speculative_tokens": 4,
                                     "acceptance": [0.9, 0.8, 0.6, 0.4],
                                     "draft_ms": 0.3, "draft_ms_per_seq": 0.01 } },
                "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" },
                "kv_cache": { "num_gpu_blocks": 900 } },
            "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 40.0 },
                "input": { "kind": "lognormal", "mean": 600, "std": 300 },
                "output": { "kind": "lognormal", "mean": 200, "std": 100 } } ] }
        }))
    };
    let (s, csv) = run(config());
    let c = s.requests;
    assert_eq!(c.arrived, 1500);
    assert_eq!(
        c.arrived,
        c.completed + c.rejected + c.dropped + c.unfinished
    );
    assert!(s.preemptions > 0, "a small cache: preemptions exercised");
    for r in &s.replicas {
        assert!(r.kv_blocks_max <= r.kv_blocks_total);
    }
    for r in rows(&csv).iter().filter(|r| r.status == "completed") {
        assert_eq!(r.output, r.target);
        assert!(r.done_ns.unwrap() >= r.first_ns.unwrap());
    }
    let (s2, csv2) = run(config());
    assert_eq!(csv, csv2);
    assert_eq!(s.to_json().unwrap(), s2.to_json().unwrap());
}

#[test]
fn only_vllm_v1_speculates() {
    let mut c = lone(json!({}), 10, 10);
    c["cluster"]["engine"] = json!({ "kind": "sglang",
        "speculative": { "num_speculative_tokens": 2, "acceptance": 0.5 } });
    let err = serde_json::from_value::<perf_sim::SimConfig>(c)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown field `speculative` for engine kind `sglang`"),
        "{err}"
    );
    let mut c = lone(json!({}), 10, 10);
    c["cluster"]["engine"] = json!({ "speculative": { "num_speculative_tokens": 2,
        "acceptance": [0.5] } });
    let err = serde_json::from_value::<perf_sim::SimConfig>(c)
        .unwrap_err()
        .to_string();
    assert!(err.contains("one per proposed token (2)"), "{err}");
}
