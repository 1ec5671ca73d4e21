//! A downstream crate building its own tuner on the public API: its own field (an enum of GPU
//! counts with a derived data-parallel degree, a fractional KV-cache knob) and its own evaluator
//! closure (an analytic throughput/latency model instead of a benchmark).
//!
//! Run: `cargo run -p perf-pso --example custom_tuner`
//!
//! ```text
//! FieldSpec ×4 ──► SearchSpace ──decode──► DecodedConfig ──► closure (analytic model)
//!                                                 │                     │
//!                      engine JSON + env ◄────────┘      PerformanceIndex ──► Fitness
//! Tuner (10 particles × 15 iterations, 2 threads) ──► best, top 3, Pareto front
//! ```

use std::error::Error;

use perf_model_core::{PerformanceIndex, PerformanceIndexData};
use perf_pso::{
    Candidate, FieldSpec, Fitness, FnEvaluator, PsoParams, SearchSpace, SeedCompat, Tuner,
    pareto_front,
};
use serde_json::json;

/// Our own performance model: a toy continuous-batching engine on `tp` GPUs, `dp` replicas.
fn model(c: &Candidate) -> Result<PerformanceIndex, String> {
    let get = |n: &str| c.config.get_f64(n).ok_or_else(|| format!("missing {n}"));
    let (batch, tp, dp, kv) = (
        get("max_num_seqs")?,
        get("tp")?,
        get("dp")?,
        get("KV_CACHE_FRACTION")?,
    );
    let rate = 40.0; // offered req/s
    let out_tokens = 200.0;
    let step_ms = 6.0 / tp.sqrt() + 0.08 * batch / tp; // decode step time
    let kv_batch = (kv * 400.0 * tp).min(batch); // requests whose KV fits
    if kv_batch < 1.0 {
        return Err(format!(
            "KV cache too small for one request (KV_CACHE_FRACTION {kv})"
        ));
    }
    let capacity = dp * kv_batch * 1000.0 / (step_ms * out_tokens); // req/s
    let load = (rate / capacity).min(0.99);
    let served = rate.min(capacity);
    PerformanceIndex::new(PerformanceIndexData {
        output_throughput: Some(served * out_tokens),
        request_throughput: Some(served),
        ttft_ms: Some(20.0 * tp.recip() + 30.0 * load / (1.0 - load)),
        tpot_ms: Some(step_ms),
        success_rate: Some((served / rate).min(1.0)),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

fn main() -> Result<(), Box<dyn Error>> {
    let space = SearchSpace::new(
        &[
            FieldSpec::int("max_num_seqs", "engine.max_num_seqs", 8, 512),
            FieldSpec::choice(
                "tp",
                "engine.parallel.tp",
                vec![json!(1), json!(2), json!(4), json!(8)],
            ),
            FieldSpec::factories("dp", "engine.parallel.dp", "tp", 8.0, true),
            FieldSpec::float("KV_CACHE_FRACTION", "env", 0.05, 0.95).with_value(json!(0.9)),
        ],
        SeedCompat::Fixed,
    )?;
    let fitness = Fitness {
        generate_speed_target: 8000.0,
        ttft_slo_ms: 200.0,
        tpot_slo_ms: 30.0,
        ..Fitness::default()
    };
    let params = PsoParams {
        n_particles: 10,
        iters: 15,
        seed: 42,
        ..PsoParams::default()
    };
    let mut eval = FnEvaluator::new(model).jobs(2);
    let report = Tuner::new(space, params, fitness).run_observed(&mut eval, &mut |s| {
        if s.iteration % 5 == 4 {
            println!(
                "iteration {:>2}: best {:.4} ({} evaluations)",
                s.iteration + 1,
                s.best_cost,
                s.evaluations
            );
        }
    })?;
    println!(
        "best cost {:.4}: {}",
        report.best_cost,
        serde_json::Value::Object(report.best_config.to_map())
    );
    let mut engine = serde_json::Value::Null;
    report.best_config.apply_to_json(&mut engine)?;
    println!("engine config: {engine}");
    println!("environment:   {:?}", report.best_config.env());
    println!("top 3:");
    for r in report.top_k(3) {
        println!(
            "  {:.4}  {}",
            r.fitness,
            serde_json::Value::Object(r.config.clone())
        );
    }
    println!(
        "Pareto front (tok/s, TTFT, TPOT): {} configurations",
        pareto_front(&report.records).len()
    );
    Ok(())
}
