//! Inferno analyzer benchmarks: `solve` at N = 256, Q = 256 (K = 512) for V3 and V7, and
//! `size`, on the queue-analysis REST example problem with the batch limit raised to 256.
//!
//! Run with `cargo bench -p perf-model-core --bench analyzer`; solves/s = 1 / time per solve.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use perf_model_core::inferno::{
    Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams, SloTargets,
};

fn analyzer(model: QueueModel) -> Analyzer {
    let params = ServiceParams::new(12.0, 0.05, 5e-4).expect("valid parameters");
    let shape = RequestShape::new(128.0, 512.0).expect("valid shape");
    let config = QueueConfig::new(256, 256).expect("valid config");
    Analyzer::new(model, params, shape, config).expect("valid analyzer")
}

fn bench_solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("inferno_solve_n256_k512");
    for model in [QueueModel::V3, QueueModel::V7] {
        let a = analyzer(model);
        // 80 % of the top of the rate range: a loaded but stable server.
        let rate = 0.8 * a.rate_range().max_rps;
        group.bench_function(model.to_string(), |b| {
            b.iter(|| a.solve(black_box(rate)).expect("rate in range"));
        });
    }
    group.finish();
}

fn bench_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("inferno_size_n256_k512");
    let targets = SloTargets::latency(60.0, 20.0);
    for model in [QueueModel::V3, QueueModel::V7] {
        let a = analyzer(model);
        group.bench_function(model.to_string(), |b| {
            b.iter(|| a.size(black_box(&targets)).expect("reachable targets"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_solve, bench_size);
criterion_main!(benches);
