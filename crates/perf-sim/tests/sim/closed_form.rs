//! A lone request against the Inferno step model matches the closed forms of
//! specs/simulator.md §4.4 step by step (the simulator's formula: the prefill step yields the
//! first token, then O − 1 decodes).

use crate::{cfg, rows, run};
use serde_json::json;

const A: f64 = 12.0;
const B: f64 = 0.05;
const G: f64 = 5e-4;

/// ms → ns with the simulator's ceiling.
fn ceil_ns(ms: f64) -> u64 {
    (ms * 1e6).ceil() as u64
}

fn lone(prompt: u32, output: u32, budget: u32) -> serde_json::Value {
    json!({
        "seed": 3, "max_requests": 1,
        "cluster": {
            "engine": { "max_batch_size": 8, "max_num_batched_tokens": budget },
            "cost_model": { "kind": "inferno", "alpha": A, "beta": B, "gamma": G },
            "kv_cache": { "num_gpu_blocks": 10000 }
        },
        "workload": { "clients": [ {
            "arrival": { "kind": "constant", "rate": 1.0 },
            "input": { "kind": "fixed", "value": prompt },
            "output": { "kind": "fixed", "value": output }
        } ] }
    })
}

#[test]
fn lone_request_unchunked_is_exact() {
    let (p, o) = (777u32, 40u32);
    let (s, csv) = run(cfg(lone(p, o, 8192)));
    let r = &rows(&csv)[0];
    assert_eq!(r.status, "completed");
    assert_eq!(r.arrival_ns, 1_000_000_000);
    let ttft = ceil_ns(A + (B + G) * f64::from(p));
    assert_eq!(r.first_ns.unwrap() - r.arrival_ns, ttft);
    let gaps: Vec<u64> = (1..o)
        .map(|i| ceil_ns(A + B + G * f64::from(p + i)))
        .collect();
    let e2e = ttft + gaps.iter().sum::<u64>();
    assert_eq!(r.done_ns.unwrap() - r.arrival_ns, e2e);
    // Each gap: the smallest and largest exactly, and their mean.
    let itl = s.latency.itl_ms;
    assert_eq!(itl.count, u64::from(o - 1));
    approx::assert_relative_eq!(itl.min, gaps[0] as f64 * 1e-6, max_relative = 1e-12);
    approx::assert_relative_eq!(
        itl.max,
        *gaps.last().unwrap() as f64 * 1e-6,
        max_relative = 1e-12
    );
    approx::assert_relative_eq!(
        itl.mean,
        gaps.iter().sum::<u64>() as f64 / f64::from(o - 1) * 1e-6,
        max_relative = 1e-12
    );
    approx::assert_relative_eq!(
        r.itl_max_ms.unwrap(),
        *gaps.last().unwrap() as f64 * 1e-6,
        max_relative = 1e-12
    );
    approx::assert_relative_eq!(
        s.latency.ttft_ms.mean,
        ttft as f64 * 1e-6,
        max_relative = 1e-12
    );
    approx::assert_relative_eq!(
        s.latency.e2e_ms.mean,
        e2e as f64 * 1e-6,
        max_relative = 1e-12
    );
}

#[test]
fn lone_request_chunked_prefill_is_exact() {
    // P = 3000 in chunks of 1024, 1024, 952: each step costs α + β·n + γ·(k + n).
    let (p, o) = (3000u32, 5u32);
    let (_, csv) = run(cfg(lone(p, o, 1024)));
    let r = &rows(&csv)[0];
    let ttft = ceil_ns(A + B * 1024.0 + G * 1024.0)
        + ceil_ns(A + B * 1024.0 + G * 2048.0)
        + ceil_ns(A + B * 952.0 + G * 3000.0);
    assert_eq!(r.first_ns.unwrap() - r.arrival_ns, ttft);
    let e2e = ttft
        + (1..o)
            .map(|i| ceil_ns(A + B + G * f64::from(p + i)))
            .sum::<u64>();
    assert_eq!(r.done_ns.unwrap() - r.arrival_ns, e2e);
}
