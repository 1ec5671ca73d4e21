//! Capacity planning by simulation: the smallest number of replicas that keeps p99 TTFT under
//! an SLO at a target request rate, and how the queueing model's answer compares.
//!
//! Run: `cargo run --release --example sim_capacity [RATE] [P99_TTFT_MS]` (defaults 60 req/s
//! and 500 ms) for Llama-3.1-8B on H100 replicas (roofline cost model, vLLM-V1 scheduling,
//! `max_num_seqs` 256, 8192 tokens per step), lognormal 1024/256-token requests.
//!
//! ```text
//!  for r = 1, 2, …:  SimConfig{replicas: r, router: least_outstanding_requests}
//!      ──Simulation::run──► p99 TTFT ≤ SLO and nothing rejected? ──► answer r
//! ```

use std::error::Error;

use llm_perf::prelude::*;

fn config(replicas: u32, rate: f64) -> Result<SimConfig, serde_json::Error> {
    serde_json::from_str(&format!(
        r#"{{
          "seed": 11, "max_requests": 20000,
          "cluster": {{
            "replicas": {replicas}, "router": "least_outstanding_requests",
            "engine": {{ "max_batch_size": 256, "max_num_batched_tokens": 8192 }},
            "cost_model": {{ "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100",
                             "dtype": "bf16" }} }},
          "workload": {{ "clients": [ {{
            "arrival": {{ "kind": "poisson", "rate": {rate} }},
            "input": {{ "kind": "lognormal", "mean": 1024, "std": 512 }},
            "output": {{ "kind": "lognormal", "mean": 256, "std": 128 }} }} ] }}
        }}"#
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args.next().map_or(Ok(60.0), |s| s.parse())?;
    let slo_ms: f64 = args.next().map_or(Ok(500.0), |s| s.parse())?;
    println!("target {rate} req/s, p99 TTFT ≤ {slo_ms} ms, Llama-3.1-8B on H100 replicas\n");
    println!("replicas  p99 TTFT ms  mean TTFT ms  mean TPOT ms  out tok/s  preemptions");
    for replicas in 1..=32 {
        let summary = Simulation::new(config(replicas, rate)?)?.run(std::io::sink())?;
        let l = &summary.latency;
        println!(
            "{replicas:>8}  {:>11.1}  {:>12.1}  {:>12.2}  {:>9.0}  {:>11}",
            l.ttft_ms.p99,
            l.ttft_ms.mean,
            l.tpot_ms.mean,
            summary.throughput.output_tokens_per_second,
            summary.preemptions
        );
        let c = &summary.requests;
        if l.ttft_ms.p99 <= slo_ms && c.rejected == 0 && c.dropped == 0 {
            println!("\n{replicas} replica(s) meet the SLO at {rate} req/s");
            return Ok(());
        }
    }
    println!("\nno replica count up to 32 meets the SLO");
    Ok(())
}
