//! Overhead of the tuner itself: decoding positions and a full run with a trivial evaluator.

use criterion::{Criterion, criterion_group, criterion_main};
use perf_model_core::{PerformanceIndex, PerformanceIndexData};
use perf_pso::{
    Candidate, FieldSpec, Fitness, FnEvaluator, PsoParams, SearchSpace, SeedCompat, Tuner,
};
use serde_json::json;

fn space() -> SearchSpace {
    SearchSpace::new(
        &[
            FieldSpec::int("max_batch_size", "B.S.maxBatchSize", 10, 1000),
            FieldSpec::ratio(
                "max_prefill_batch_size",
                "B.S.maxPrefillBatchSize",
                "max_batch_size",
                0.1,
                0.7,
            ),
            FieldSpec::range(
                "prefill_time_ms_per_req",
                "B.S.prefillTimeMsPerReq",
                0,
                1000,
                10,
            ),
            FieldSpec::bool("support_select_batch", "B.S.supportSelectBatch"),
            FieldSpec::range(
                "max_queue_delay_microseconds",
                "B.S.maxQueueDelayMicroseconds",
                500,
                1_000_000,
                100,
            ),
            FieldSpec::choice(
                "tp",
                "B.M.ModelConfig.0.tp",
                vec![json!(1), json!(2), json!(4), json!(8), json!(16)],
            ),
            FieldSpec::factories("dp", "B.M.ModelConfig.0.dp", "tp", 16.0, true),
        ],
        SeedCompat::Fixed,
    )
    .expect("valid space")
}

fn toy(c: &Candidate) -> Result<PerformanceIndex, String> {
    let b = c.config.get_f64("max_batch_size").ok_or("missing")?;
    PerformanceIndex::new(PerformanceIndexData {
        output_throughput: Some(10.0 * b),
        ttft_ms: Some(b),
        tpot_ms: Some(20.0),
        success_rate: Some(1.0),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

fn bench(c: &mut Criterion) {
    let s = space();
    c.bench_function("decode 6-dimension MindIE-like position", |b| {
        b.iter(|| s.decode(std::hint::black_box(&[0.3, 0.5, 0.7, 0.9, 0.123, 0.6])));
    });
    c.bench_function(
        "tuner 20 particles x 20 iterations, trivial evaluator",
        |b| {
            b.iter(|| {
                let params = PsoParams {
                    n_particles: 20,
                    iters: 20,
                    seed: 1,
                    ..PsoParams::default()
                };
                Tuner::new(s.clone(), params, Fitness::default()).run(&mut FnEvaluator::new(toy))
            });
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
