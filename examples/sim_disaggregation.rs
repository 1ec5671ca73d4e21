//! Disaggregated prefill/decode against colocated serving at equal GPU count: four
//! Llama-3.1-8B/H100 replicas each running prefill and decode (vLLM V1, 8 192-token chunked
//! prefill), or prefill replicas handing the KV to decode replicas over a 50 GB/s link
//! (Splitwise / DistServe / Dynamo; 2 + 2 and 3 + 1), on a prefill-heavy workload (lognormal
//! prompts of mean 3 000 tokens, outputs of mean 150) under a TPOT objective.
//!
//! Run: `cargo run --release --example sim_disaggregation`.
//!
//! ```text
//!  colocated:     Poisson ─► router ─► 4 × { prefill + decode }
//!  disaggregated: Poisson ─► router ─► P × prefill ─► KV link (FIFO, 50 GB/s) ─► router ─► D × decode
//! ```
//!
//! What to look for: colocated decodes share steps with long prefill chunks, so their TPOT
//! grows with the load and breaks the objective first; the decode pool runs decode-only steps,
//! so its TPOT stays flat, at the price of TTFT (fewer GPUs prefill, and the first decode waits
//! for the transfer). Goodput counts the requests meeting both objectives (TTFT ≤ 3 s, TPOT ≤
//! 15 ms) per second. Measured (4 000 requests per point, the first 20 s as warm-up):
//!
//! ```text
//!       | colocated 4                | disagg 2P+2D               | disagg 3P+1D               |
//! req/s | goodput  att% TPOT99 TTFT99 | goodput  att% TPOT99 TTFT99 | goodput  att% TPOT99 TTFT99 |
//!  20.0 |   19.45  99.6   14.5    248 |   19.53 100.0    9.6    334 |   19.45  99.7   14.7    219 |
//!  25.0 |   22.34  92.4   17.5    280 |   24.17 100.0   10.5    540 |   12.76  53.0   19.0    246 |
//!  30.0 |   16.29  57.0   21.3    309 |   28.61 100.0   11.1    802 |    0.14   0.5   24.7    284 |
//!  35.0 |    4.68  14.2   25.6    341 |    5.48  17.6   11.2   6408 |    0.01   0.0   84.9    360 |
//! ```
//! 2 + 2 keeps every request within the TPOT objective up to 30 req/s (goodput 28.6 req/s,
//! 1.8× the colocated cluster's) until its two prefill replicas saturate (TTFT explodes at 35);
//! 3 + 1 starves decode. The best split depends on the workload's prefill/decode ratio.

use std::error::Error;

use llm_perf::prelude::*;

/// The objectives: a request meets them with TTFT ≤ 3 s and TPOT ≤ 15 ms.
const TTFT_SLO_MS: f64 = 3000.0;
const TPOT_SLO_MS: f64 = 15.0;

const COST: &str = r#"{ "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }"#;

fn workload(rate: f64) -> String {
    format!(
        r#"{{ "clients": [ {{ "arrival": {{ "kind": "poisson", "rate": {rate} }},
            "input": {{ "kind": "lognormal", "mean": 3000, "std": 1500, "max": 12000 }},
            "output": {{ "kind": "lognormal", "mean": 150, "std": 75 }} }} ] }}"#
    )
}

fn colocated(rate: f64) -> Result<SimConfig, serde_json::Error> {
    serde_json::from_str(&format!(
        r#"{{ "seed": 17, "max_requests": 4000, "warm_up_s": 20.0,
          "slo": {{ "ttft_ms": {TTFT_SLO_MS}, "tpot_ms": {TPOT_SLO_MS} }},
          "cluster": {{ "replicas": 4, "router": "least_outstanding_requests",
            "engine": {{ "max_batch_size": 256, "max_num_batched_tokens": 8192 }},
            "cost_model": {COST} }},
          "workload": {} }}"#,
        workload(rate)
    ))
}

fn disaggregated(rate: f64, prefill: u32, decode: u32) -> Result<SimConfig, serde_json::Error> {
    serde_json::from_str(&format!(
        r#"{{ "seed": 17, "max_requests": 4000, "warm_up_s": 20.0,
          "slo": {{ "ttft_ms": {TTFT_SLO_MS}, "tpot_ms": {TPOT_SLO_MS} }},
          "cluster": {{ "router": "least_outstanding_requests",
            "engine": {{ "max_batch_size": 256, "max_num_batched_tokens": 8192 }},
            "cost_model": {COST},
            "pools": [ {{ "name": "prefill", "replicas": {prefill} }},
                       {{ "name": "decode", "replicas": {decode} }} ],
            "disaggregation": {{ "prefill_pool": "prefill", "decode_pool": "decode",
              "link": {{ "latency_ms": 0.05, "bandwidth_gbs": 50.0 }} }} }},
          "workload": {} }}"#,
        workload(rate)
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let setups = ["colocated 4", "disagg 2P+2D", "disagg 3P+1D"];
    print!("{:>5} |", "");
    for name in setups {
        print!(" {name:<27}|");
    }
    println!();
    print!("{:>5} |", "req/s");
    for _ in setups {
        print!(
            " {:>7} {:>5} {:>6} {:>6} |",
            "goodput", "att%", "TPOT99", "TTFT99"
        );
    }
    println!();
    for rate in [20.0, 25.0, 30.0, 35.0, 40.0, 45.0] {
        print!("{rate:>5.1} |");
        for config in [
            colocated(rate)?,
            disaggregated(rate, 2, 2)?,
            disaggregated(rate, 3, 1)?,
        ] {
            let s = Simulation::new(config)?.run_summary()?;
            let (goodput, attainment) = s.goodput.as_ref().map_or((0.0, 0.0), |g| {
                (g.requests_per_second, 100.0 * g.attainment)
            });
            let l = &s.latency;
            print!(
                " {goodput:>7.2} {attainment:>5.1} {:>6.1} {:>6.0} |",
                l.tpot_ms.p99, l.ttft_ms.p99
            );
        }
        println!();
    }
    println!(
        "goodput: req/s meeting TTFT <= {TTFT_SLO_MS} ms and TPOT <= {TPOT_SLO_MS} ms; att%: \
         their share; TPOT99, TTFT99: p99, ms"
    );
    Ok(())
}
