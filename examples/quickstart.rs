//! Quickstart: capacity planning for Llama-3.1-8B on an H100 with the Inferno queueing model.
//!
//! A capacity planner's question: *how many requests per second can one replica take while mean
//! TTFT stays ≤ 200 ms and mean ITL ≤ 25 ms, and how many replicas does 40 req/s need?*
//!
//! ```text
//!  fitted α, β, γ ──► Analyzer (V7 birth–death queue) ──► size(SLO) ──► max rate per replica
//!  request shape  ─┘                                   └─► replicas_for(40 req/s)
//!  ModelSpec + Accelerator ──► RooflineModel ──► physical cross-check of α
//! ```
//!
//! Run it with `cargo run --release --example quickstart`.
//!
//! The α, β, γ used are the published fit of the Inferno model-trainer (its README headline) to
//! its `samples/data.json`: seven constant-rate points of a vLLM sweep of
//! `meta-llama/Llama-3.1-8B` with 64-token prompts and outputs at max batch 512. The source does
//! not name the GPU. The roofline cross-check printed below puts the fitted α (the fixed cost of
//! one engine step) beside the roofline's batch-1 decode step on an H100 (weight streaming at the
//! default 77 % bandwidth efficiency plus per-step overheads) and its 100 %-bandwidth bound.
//!
//! Caveat, as a planner should read it: a fit on 64/64-token requests barely sees the context
//! term, so γ ≈ 0 here and the 1024/256-token plan below extrapolates beyond the fitted data.
//! Fit on your own sweep (`perf-fit`) before trusting absolute numbers.

use std::error::Error;

use llm_perf::prelude::*;

/// Published Inferno fit for Llama-3.1-8B (model-trainer README headline): ms per iteration.
const ALPHA_MS: f64 = 6.760_506_205_916_267_5;
/// ms per token computed.
const BETA_MS: f64 = 0.025_362_709_109_593;
/// ms per token of context read.
const GAMMA_MS: f64 = 2.575_997_037_645_202e-9;

fn main() -> Result<(), Box<dyn Error>> {
    let params = ServiceParams::new(ALPHA_MS, BETA_MS, GAMMA_MS)?;
    let shape = RequestShape::new(1024.0, 256.0)?;
    let config = QueueConfig::new(256, 256)?;
    let slo = SloTargets::latency(200.0, 25.0);
    let total_rate = 40.0;

    println!("llm-perf quickstart: Llama-3.1-8B on H100, Inferno queueing model V7\n");
    println!(
        "service parameters   α = {:.4} ms/step, β = {:.6} ms/token, γ = {:.3e} ms/(token·ctx)",
        params.alpha(),
        params.beta(),
        params.gamma()
    );

    // Physical cross-check: a batch-1 decode step is bound by streaming the weights.
    let model = ModelSpec::lookup("meta-llama/Llama-3.1-8B-Instruct")?;
    let gpu = Accelerator::lookup("H100")?;
    let roofline = RooflineModel::new(model.clone(), gpu.clone(), Dtype::Bf16, 1)?;
    let decode = BatchShape::decode(1, 128);
    println!(
        "roofline cross-check {} in bf16 = {:.2} GB of weights on {}: batch-1 decode step {:.2} ms \
         (bound at 100 % bandwidth {:.2} ms) vs fitted α {:.2} ms",
        model.name,
        model.weight_bytes(Dtype::Bf16) / 1e9,
        gpu.name,
        roofline.step_time(&decode),
        roofline.lower_bound(&decode),
        params.alpha()
    );

    println!(
        "workload             {} input / {} output tokens per request, max batch {}, queue {}",
        shape.input_tokens(),
        shape.output_tokens(),
        config.max_batch_size(),
        config.max_queue_size()
    );
    println!("SLO                  mean TTFT ≤ 200 ms, mean ITL ≤ 25 ms\n");

    let analyzer = Analyzer::new(QueueModel::V7, params, shape, config)?;
    let sizing = analyzer.size(&slo)?;
    let at = &sizing.analysis;
    println!(
        "max rate per replica {:.2} req/s  (TTFT allows {:.2}, ITL allows {:.2}; capacity {:.2})",
        sizing.rate_rps,
        sizing.rate_ttft_rps.unwrap_or(f64::NAN),
        sizing.rate_itl_rps.unwrap_or(f64::NAN),
        analyzer.rate_range().max_rps
    );
    println!(
        "  at that rate       TTFT {:.1} ms, ITL {:.2} ms, mean batch {:.1}, {:.0} output tok/s",
        at.ttft_ms,
        at.itl_ms,
        at.in_service,
        at.throughput_rps * shape.output_tokens()
    );

    let plan = analyzer.replicas_for(total_rate, &slo)?;
    let per = &plan.per_replica_analysis;
    println!(
        "replicas for {total_rate} req/s  {}  (each at {:.2} req/s: TTFT {:.1} ms, ITL {:.2} ms, utilisation {:.0} %)",
        plan.replicas,
        plan.per_replica_rps,
        per.ttft_ms,
        per.itl_ms,
        100.0 * per.rho
    );

    let best = analyzer.optimal_concurrency(&slo)?;
    println!(
        "smallest max batch within 1 % of peak SLO throughput: {} (feasible: {})",
        best.concurrency, best.feasible
    );
    Ok(())
}
