//! Scheduler settings compared on one workload: the same Llama-3.1-8B/H100 replica under
//! vLLM-V1 chunked prefill (8 192-token budget), a Sarathi-style small chunk budget (512 tokens),
//! and whole-prompt (unchunked) prefill, at three loads.
//!
//! Run: `cargo run --release --example sim_compare_schedulers`.
//!
//! ```text
//!  Poisson(rate), lognormal 2048/256 tokens ─► replica { budget, chunked? } ─► TTFT, TPOT, tok/s
//! ```
//!
//! What to look for: small chunks protect decodes from long prefills (lower TPOT p99) at the
//! price of TTFT; unchunked prefill does the opposite. All three are the vLLM-V1 scheduler of
//! `perf-sim` with different knobs, not separate engines.

use std::error::Error;

use llm_perf::prelude::*;

fn config(rate: f64, budget: u32, chunked: bool) -> Result<SimConfig, serde_json::Error> {
    serde_json::from_str(&format!(
        r#"{{
          "seed": 5, "max_requests": 6000,
          "cluster": {{
            "engine": {{ "max_batch_size": 256, "max_num_batched_tokens": {budget},
                         "enable_chunked_prefill": {chunked} }},
            "cost_model": {{ "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }} }},
          "workload": {{ "clients": [ {{
            "arrival": {{ "kind": "poisson", "rate": {rate} }},
            "input": {{ "kind": "lognormal", "mean": 2048, "std": 1024 }},
            "output": {{ "kind": "lognormal", "mean": 256, "std": 128 }},
            "max_tokens": 2048 }} ] }}
        }}"#
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let schedulers = [
        ("vLLM-V1 chunked, 8192", 8192, true),
        ("Sarathi-style, 512", 512, true),
        ("unchunked, 16384", 16384, false),
    ];
    println!(
        "{:<24} {:>6}  {:>9} {:>9}  {:>9} {:>9}  {:>8}  {:>6}",
        "scheduler", "req/s", "TTFT ms", "TTFT p99", "TPOT ms", "TPOT p99", "out t/s", "preempt"
    );
    for rate in [4.0, 8.0, 12.0] {
        for (name, budget, chunked) in schedulers {
            let s = Simulation::new(config(rate, budget, chunked)?)?.run(std::io::sink())?;
            let l = &s.latency;
            println!(
                "{name:<24} {rate:>6.1}  {:>9.1} {:>9.1}  {:>9.2} {:>9.2}  {:>8.0}  {:>6}",
                l.ttft_ms.mean,
                l.ttft_ms.p99,
                l.tpot_ms.mean,
                l.tpot_ms.p99,
                s.throughput.output_tokens_per_second,
                s.preemptions
            );
        }
    }
    Ok(())
}
