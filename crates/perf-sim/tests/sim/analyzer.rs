//! Cross-check against the Inferno analyzer (perf_model_core::inferno): REST example
//! α 12, β 0.05, γ 5e-4, n = 128, m = 512, N = 48, Poisson arrivals, 6000 requests.
//!
//! Mean ITL agrees with V7 within 0.6 % at 1–3.5 req/s (V3/V6 are ~2 % high: they add the
//! focal request's own work on top of `B·δ`). TTFT differs by definition: the analyzer's
//! first token comes after the prefill *and one decode iteration* (`W + Prefill(B̄) + ITL`)
//! and service starts at once, whereas the simulator's first token comes from the step that
//! completes the prompt, after waiting for the step in flight (mean residual ≈ ITL/2).
//! Hence `sim TTFT + ITL/2` is the comparable quantity; without queueing (≤ 2 req/s) it is
//! within 1.5 % of the analyzer. With queueing (≥ 3 req/s) the analyzer's birth–death chain
//! (exponential service) overstates the wait of this deterministic-length workload.

use perf_model_core::inferno::{Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams};
use serde_json::json;

use crate::{cfg, run};

#[test]
fn mean_itl_matches_analyzer_v7_within_10_percent() {
    for (rate, check_ttft) in [(1.0, true), (2.0, true), (3.0, false), (3.5, false)] {
        check(rate, check_ttft);
    }
}

fn check(rate: f64, check_ttft: bool) {
    let (s, _) = run(cfg(json!({
        "seed": 2024, "max_requests": 6000,
        "cluster": {
            "engine": { "max_batch_size": 48, "max_num_batched_tokens": 8192 },
            "cost_model": { "kind": "inferno", "alpha": 12.0, "beta": 0.05, "gamma": 5e-4 },
            "kv_cache": { "num_gpu_blocks": 1000000 }
        },
        "workload": { "clients": [ {
            "arrival": { "kind": "poisson", "rate": rate },
            "input": { "kind": "fixed", "value": 128 },
            "output": { "kind": "fixed", "value": 512 }
        } ] }
    })));
    let sim_itl = s.latency.itl_ms.mean;
    let sim_tpot = s.latency.tpot_ms.mean;
    let sim_ttft = s.latency.ttft_ms.mean;
    let mut v7 = None;
    for model in QueueModel::ALL {
        let a = Analyzer::new(
            model,
            ServiceParams::new(12.0, 0.05, 5e-4).unwrap(),
            RequestShape::new(128.0, 512.0).unwrap(),
            QueueConfig::new(48, 10_000)
                .unwrap()
                .with_max_num_tokens(8192)
                .unwrap(),
        )
        .unwrap()
        .solve(rate)
        .unwrap();
        println!(
            "rate {rate} {model}: analyzer ITL {:.3} ms TTFT {:.3} ms batch {:.2} | sim ITL {sim_itl:.3} ms \
             TPOT {sim_tpot:.3} ms TTFT {sim_ttft:.3} ms batch {:.2} | ITL err {:+.2} % TTFT err {:+.2} % | sim TTFT + ITL/2 err {:+.2} %",
            a.itl_ms,
            a.ttft_ms,
            a.in_service,
            s.mean_batch_size,
            (sim_itl / a.itl_ms - 1.0) * 100.0,
            (sim_ttft / a.ttft_ms - 1.0) * 100.0,
            ((sim_ttft + sim_itl / 2.0) / a.ttft_ms - 1.0) * 100.0,
        );
        if model == QueueModel::V7 {
            v7 = Some(a);
        }
    }
    let a = v7.unwrap();
    assert!(
        (sim_itl / a.itl_ms - 1.0).abs() < 0.10,
        "sim {sim_itl} vs {}",
        a.itl_ms
    );
    if check_ttft {
        let comparable = sim_ttft + sim_itl / 2.0;
        assert!(
            (comparable / a.ttft_ms - 1.0).abs() < 0.10,
            "sim {comparable} vs {}",
            a.ttft_ms
        );
    }
}
