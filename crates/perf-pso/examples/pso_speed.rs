//! Tuning speed: simulator evaluations per minute with 1 and 2 threads on a 10 000-request
//! workload, first with every candidate simulated, then as the tuner runs by default (a
//! candidate whose `MAX_NUM_SEQS` provably cannot change its run reuses an equivalent
//! candidate's simulation); whether all four give identical records, and a digest of them to
//! compare two builds (the same seed must give the same digest).
//!
//! Run: `cargo run --release -p perf-pso --example pso_speed [REQUESTS] [EVALUATIONS]`
//! `[inferno]` (defaults 10 000 and 40; the step-time model is the roofline unless `inferno`).
//!
//! ```text
//! Tuner (memoisation off) ──► SimEvaluator(jobs = 1 | 2) ──► perf-sim × EVALUATIONS
//!   one replica, Llama-3.1-8B on H100 (roofline, KV cache derived) or Inferno α 8 β 0.02
//!   γ 2e-4 (20 000 KV blocks), Poisson 40 req/s,
//!   lognormal input 512±256 / output 128±64; knobs MAX_NUM_SEQS, MAX_NUM_BATCHED_TOKENS
//! ```

use std::error::Error;
use std::time::Instant;

use perf_pso::{FieldSpec, Fitness, PsoParams, SearchSpace, SeedCompat, SimEvaluator, Tuner};
use serde_json::json;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let requests: u64 = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let evaluations: usize = args.next().map_or(Ok(40), |s| s.parse())?;
    let cost_model = match args.next().as_deref() {
        Some("inferno") => json!({ "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 }),
        _ => json!({ "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }),
    };
    // the roofline derives the KV cache from model and accelerator; Inferno needs a size
    let kv = if cost_model["kind"] == "inferno" {
        json!({ "num_gpu_blocks": 20000 })
    } else {
        json!({})
    };
    let base: perf_sim::SimConfig = serde_json::from_value(json!({
        "seed": 1, "max_requests": requests,
        "cluster": { "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
            "cost_model": cost_model, "kv_cache": kv },
        "workload": { "rate": 40.0, "clients": [ { "arrival": { "kind": "poisson" },
            "input": { "kind": "lognormal", "mean": 512.0, "std": 256.0 },
            "output": { "kind": "lognormal", "mean": 128.0, "std": 64.0 } } ] }
    }))?;
    let space = SearchSpace::new(
        &[
            FieldSpec::int("MAX_NUM_SEQS", "env", 16, 256),
            FieldSpec::range("MAX_NUM_BATCHED_TOKENS", "env", 512, 8192, 256),
        ],
        SeedCompat::Fixed,
    )?;
    let n = 10;
    let iters = evaluations.div_ceil(n);
    let mut outputs = Vec::new();
    for (share, jobs) in [(false, 1), (false, 2), (true, 1), (true, 2)] {
        let mut sim = SimEvaluator::new(&base)?
            .jobs(jobs)
            .share_equivalent_runs(share);
        let params = PsoParams {
            n_particles: n,
            iters,
            seed: 5,
            ..PsoParams::default()
        };
        let t0 = Instant::now();
        let report = Tuner::new(space.clone(), params, Fitness::default())
            .memoise(false)
            .record_timing(false)
            .run(&mut sim)?;
        let wall = t0.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let per_min = report.evaluations as f64 / wall * 60.0;
        let mode = if share {
            "equivalent runs shared"
        } else {
            "every candidate simulated"
        };
        println!(
            "{mode}, jobs {jobs}: {} evaluations ({} simulations) of {requests} requests in \
             {wall:.2} s = {per_min:.0} evaluations/min; best {:.4}",
            report.evaluations,
            report.evaluations as u64 - sim.shared_evaluations(),
            report.best_cost
        );
        outputs.push(serde_json::to_string(&report.records)?);
    }
    println!(
        "records of the four runs identical: {}; records digest {:016x} (FNV-1a of their JSON: \
         compare builds)",
        outputs.iter().all(|o| *o == outputs[0]),
        fnv1a(outputs[0].as_bytes())
    );
    Ok(())
}

/// FNV-1a, 64 bits: a digest to compare the records of two builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
