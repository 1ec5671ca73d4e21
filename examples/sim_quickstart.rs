//! Simulator quickstart: one vLLM-V1-style replica of Llama-3.1-8B on an H100, Poisson
//! arrivals, roofline step costs; prints the summary and the first per-request rows.
//!
//! Run: `cargo run --release --example sim_quickstart [RATE]` (default 20 req/s).
//!
//! ```text
//!  Poisson(rate) ─► lognormal 512/128-token requests ─► router ─► replica
//!      (token budget 8192, max_num_seqs 256, paged KV, chunked prefill, preemption)
//!          ─► RooflineModel(Llama-3.1-8B, H100, bf16) per step ─► requests.csv + Summary
//! ```

use std::error::Error;

use llm_perf::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let rate: f64 = std::env::args().nth(1).map_or(Ok(20.0), |s| s.parse())?;
    let config: SimConfig = serde_json::from_str(&format!(
        r#"{{
          "seed": 1, "max_requests": 5000,
          "cluster": {{
            "replicas": 1,
            "engine": {{ "max_batch_size": 256, "max_num_batched_tokens": 8192 }},
            "cost_model": {{ "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100",
                             "dtype": "bf16" }} }},
          "workload": {{ "clients": [ {{
            "arrival": {{ "kind": "poisson", "rate": {rate} }},
            "input": {{ "kind": "lognormal", "mean": 512, "std": 256 }},
            "output": {{ "kind": "lognormal", "mean": 128, "std": 64 }} }} ] }}
        }}"#
    ))?;
    let simulation = Simulation::new(config)?;
    println!(
        "KV cache: {} blocks of 16 tokens",
        simulation.num_gpu_blocks()
    );
    let mut csv = Vec::new();
    let summary = simulation.run(&mut csv)?;
    println!("{}\n", summary.to_json()?);
    println!("first requests (CSV):");
    for line in String::from_utf8(csv)?.lines().take(4) {
        println!("  {line}");
    }
    Ok(())
}
