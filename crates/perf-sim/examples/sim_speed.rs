//! Simulator speed: simulated requests per wall-clock second.
//!
//! Run: `cargo run --release -p perf-sim --example sim_speed [REQUESTS] [RATE] [REPLICAS]`,
//! or `… --example sim_speed reference [REQUESTS]` for the reference workload of
//! specs/simulator.md §11 (fixed 128/128 tokens, Poisson 100 req/s, one replica,
//! `max_num_seqs` 1024, 8192 tokens per step).
//!
//! ```text
//! Poisson(rate) ──► router ──► replica × N (vLLM V1, paged KV) ──► CSV → io::sink()
//!                              step time = RooflineModel(Llama-3.1-8B, H100, bf16, TP1)
//! ```
//! Each run also prints a saturation verdict (below saturation: throughput within 3 % of the
//! offered rate and mean scheduling delay under 10 % of mean E2E). Then every built-in engine
//! (`cluster.engine.kind`) runs the same workload with the same limits and its req/s is
//! printed (`vllm_v1` is the figure above; set `SIM_SPEED_ENGINES=0` to skip the table).
//! Defaults: 100 000 requests, lognormal input/output with means 512/128 (std = mean/2),
//! `max_num_seqs` 256, one replica, 60 req/s (≈ 87 % of the ≈ 69 req/s saturation rate). Peak RSS (Linux `VmHWM`) is printed after a
//! run with the requested count and after one with a tenth of it, to show memory is flat.

use std::error::Error;
use std::time::Instant;

use perf_sim::{SimConfig, Simulation};

/// The built-in engines, each with the limits of the workload (`max_batch_size`,
/// `max_num_batched_tokens`), its other knobs at their defaults.
const ENGINES: [&str; 9] = [
    "vllm_v1",
    "vllm_v0",
    "sarathi",
    "orca",
    "static",
    "sglang",
    "sglang:lpm",
    "trtllm",
    "trtllm:max_utilization",
];

/// `config` with engine `spec` (`kind` or `kind:policy`).
fn with_engine(mut config: SimConfig, spec: &str) -> Result<SimConfig, serde_json::Error> {
    let mut v = serde_json::to_value(&config)?;
    let (kind, policy) = spec.split_once(':').unwrap_or((spec, ""));
    let e = &mut v["cluster"]["engine"];
    let (seqs, budget) = (
        e["max_batch_size"].clone(),
        e["max_num_batched_tokens"].clone(),
    );
    let mut engine = serde_json::json!({ "kind": kind, "max_batch_size": seqs,
        "max_num_batched_tokens": budget });
    match (kind, policy) {
        ("sglang", "lpm") => engine["schedule_policy"] = "lpm".into(),
        ("trtllm", p) if !p.is_empty() => engine["capacity_scheduler_policy"] = p.into(),
        _ => {}
    }
    *e = engine;
    config = serde_json::from_value(v)?;
    Ok(config)
}

fn config(
    requests: u64,
    rate: f64,
    replicas: u32,
    reference: bool,
) -> Result<SimConfig, serde_json::Error> {
    if reference {
        return serde_json::from_value(serde_json::json!({
            "seed": 1,
            "max_requests": requests,
            "cluster": {
                "engine": { "max_batch_size": 1024, "max_num_batched_tokens": 8192 },
                "cost_model": { "kind": "roofline", "model": "Llama-3-8B", "accelerator": "H100" }
            },
            "workload": { "clients": [ {
                "arrival": { "kind": "poisson", "rate": rate },
                "input": { "kind": "fixed", "value": 128 },
                "output": { "kind": "fixed", "value": 128 }
            } ] }
        }));
    }
    serde_json::from_value(serde_json::json!({
        "seed": 1,
        "max_requests": requests,
        "cluster": {
            "replicas": replicas,
            "router": "least_outstanding_requests",
            "engine": { "max_batch_size": 256, "max_num_batched_tokens": 8192 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }
        },
        "workload": { "clients": [ {
            "arrival": { "kind": "poisson", "rate": rate },
            "input": { "kind": "lognormal", "mean": 512.0, "std": 256.0 },
            "output": { "kind": "lognormal", "mean": 128.0, "std": 64.0 }
        } ] }
    }))
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(requests: u64, rate: f64, replicas: u32, reference: bool) -> Result<(), Box<dyn Error>> {
    let sim = Simulation::new(config(requests, rate, replicas, reference)?)?;
    let t0 = Instant::now();
    let s = sim.run(std::io::sink())?;
    let wall = t0.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_s = s.requests.arrived as f64 / wall;
    // Saturation verdict: below saturation when the replicas keep up with the offered rate
    // (throughput within 3 % of it) and requests barely wait (mean scheduling delay under
    // 10 % of mean E2E); otherwise the queue builds and the figures depend on the run length.
    let keeps_up = s.throughput.requests_per_second >= 0.97 * rate;
    let short_waits =
        s.latency.scheduling_delay_ms.mean < 0.1 * s.latency.e2e_ms.mean.max(f64::MIN_POSITIVE);
    let verdict = if keeps_up && short_waits {
        "below saturation"
    } else {
        "saturated (queue builds)"
    };
    println!(
        "{requests} requests, {replicas} replica(s), {rate} req/s: wall {wall:.3} s, {per_s:.0} simulated req/s; \
         completed {}, simulated {:.1} s, throughput {:.2} req/s, mean batch {:.1}, KV usage {:.3}, \
         preemptions {}, TTFT mean {:.1} ms p99 {:.1} ms, ITL mean {:.2} ms, events {}, blocks {}; peak RSS {} KiB",
        s.requests.completed,
        s.simulated_time_s,
        s.throughput.requests_per_second,
        s.mean_batch_size,
        s.kv_usage_mean,
        s.preemptions,
        s.latency.ttft_ms.mean,
        s.latency.ttft_ms.p99,
        s.latency.itl_ms.mean,
        s.events,
        sim.num_gpu_blocks(),
        peak_rss_kib().unwrap_or(0),
    );
    println!(
        "  {verdict}: throughput {:.1} % of the offered {rate} req/s, mean scheduling delay {:.2} ms of {:.1} ms E2E",
        100.0 * s.throughput.requests_per_second / rate,
        s.latency.scheduling_delay_ms.mean,
        s.latency.e2e_ms.mean
    );
    Ok(())
}

/// Every engine's req/s on the workload of `config(requests, …)`.
fn engines(requests: u64, rate: f64, replicas: u32, reference: bool) -> Result<(), Box<dyn Error>> {
    println!("engines on the same workload ({requests} requests):");
    for spec in ENGINES {
        let sim = Simulation::new(with_engine(
            config(requests, rate, replicas, reference)?,
            spec,
        )?)?;
        let t0 = Instant::now();
        let s = sim.run(std::io::sink())?;
        let wall = t0.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let per_s = s.requests.arrived as f64 / wall;
        println!(
            "  {spec:<24} {per_s:>10.0} simulated req/s (wall {wall:.3} s): completed {}, \
             mean batch {:.1}, TTFT mean {:.1} ms, ITL mean {:.2} ms, preemptions {}",
            s.requests.completed,
            s.mean_batch_size,
            s.latency.ttft_ms.mean,
            s.latency.itl_ms.mean,
            s.preemptions,
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let reference = args.next_if(|a| a == "reference").is_some();
    let requests: u64 = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let default_rate = if reference { 100.0 } else { 60.0 };
    let rate: f64 = args.next().map_or(Ok(default_rate), |a| a.parse())?;
    let replicas: u32 = args.next().map_or(Ok(1), |a| a.parse())?;
    run(requests / 10, rate, replicas, reference)?;
    run(requests, rate, replicas, reference)?;
    if std::env::var("SIM_SPEED_ENGINES").as_deref() != Ok("0") {
        engines(requests, rate, replicas, reference)?;
    }
    Ok(())
}
