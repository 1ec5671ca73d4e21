//! Inferno analyzer benchmarks, old vs new: `solve` at N = 256, Q = 256 (K = 512) for V3 and
//! V7, `size`, the batch APIs (`solve_rates`, `ParamSweep`) and `Analyzer::new`, on the
//! queue-analysis REST example problem with the batch limit raised to 256.
//!
//! "old" is the pre-issue-18 implementation (`src/inferno/reference.rs`, compiled into this
//! bench only); "new" the library. Run with
//! `cargo bench -p perf-model-core --bench analyzer`; solves/s = 1 / time per solve. For a
//! one-screen summary with medians of interleaved rounds, run the `inferno_speed` example.

#[path = "../src/inferno/reference.rs"]
mod reference;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use perf_model_core::inferno::{
    Analyzer, ParamSweep, QueueConfig, QueueModel, RequestShape, ServiceParams, SloTargets,
};
use reference::{Model, Problem, RefAnalyzer};

fn params() -> ServiceParams {
    ServiceParams::new(12.0, 0.05, 5e-4).expect("valid parameters")
}

fn shape() -> RequestShape {
    RequestShape::new(128.0, 512.0).expect("valid shape")
}

fn config() -> QueueConfig {
    QueueConfig::new(256, 256).expect("valid config")
}

fn analyzer(model: QueueModel) -> Analyzer {
    Analyzer::new(model, params(), shape(), config()).expect("valid analyzer")
}

fn old_analyzer(model: QueueModel) -> RefAnalyzer {
    let model = match model {
        QueueModel::V3 => Model::V3,
        QueueModel::V6 => Model::V6,
        QueueModel::V7 => Model::V7,
    };
    RefAnalyzer::new(Problem {
        model,
        alpha: 12.0,
        beta: 0.05,
        gamma: 5e-4,
        n: 128.0,
        m: 512.0,
        max_batch: 256,
        max_queue: 256,
        max_tokens: 8192,
        f32: false,
    })
    .expect("valid analyzer")
}

fn bench_solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("inferno_solve_n256_k512");
    for model in [QueueModel::V3, QueueModel::V7] {
        let a = analyzer(model);
        let old = old_analyzer(model);
        // 80 % of the top of the rate range: a loaded but stable server.
        let rate = 0.8 * a.rate_range().max_rps;
        group.bench_function(format!("{model}/old"), |b| {
            b.iter(|| old.solve(black_box(rate)).expect("rate in range"));
        });
        group.bench_function(format!("{model}/new"), |b| {
            b.iter(|| a.solve(black_box(rate)).expect("rate in range"));
        });
    }
    group.finish();
}

fn bench_batch(c: &mut Criterion) {
    let a = analyzer(QueueModel::V7);
    let rates: Vec<f64> = (1..=64)
        .map(|i| a.rate_range().max_rps * f64::from(i) / 64.0)
        .collect();
    let mut group = c.benchmark_group("inferno_v7_64_rates");
    group.throughput(Throughput::Elements(64));
    group.bench_function("solve_each", |b| {
        b.iter(|| {
            for &r in &rates {
                black_box(a.solve(black_box(r)).expect("ok"));
            }
        });
    });
    group.bench_function("solve_rates", |b| {
        let mut out = Vec::with_capacity(64);
        b.iter(|| {
            out.clear();
            a.solve_rates_into(black_box(&rates), &mut out);
        });
    });
    group.finish();

    let sets: Vec<ServiceParams> = (0..64)
        .map(|i| {
            let f = 1.0 + 0.01 * f64::from(i);
            ServiceParams::new(12.0 * f, 0.05 / f, 5e-4 * f).expect("valid")
        })
        .collect();
    let rate = 0.8 * a.rate_range().max_rps;
    let mut group = c.benchmark_group("inferno_v7_64_param_sets");
    group.throughput(Throughput::Elements(64));
    group.bench_function("old_new_and_solve", |b| {
        b.iter(|| {
            for p in &sets {
                let mut q = Problem {
                    model: Model::V7,
                    alpha: p.alpha(),
                    beta: p.beta(),
                    gamma: p.gamma(),
                    n: 128.0,
                    m: 512.0,
                    max_batch: 256,
                    max_queue: 256,
                    max_tokens: 8192,
                    f32: false,
                };
                q.alpha = black_box(q.alpha);
                black_box(RefAnalyzer::new(q).expect("ok").solve(rate).expect("ok"));
            }
        });
    });
    group.bench_function("new_and_solve", |b| {
        b.iter(|| {
            for p in &sets {
                let a = Analyzer::new(QueueModel::V7, *p, shape(), config()).expect("ok");
                black_box(a.solve(rate).expect("ok"));
            }
        });
    });
    group.bench_function("param_sweep", |b| {
        let mut sweep = ParamSweep::new(a.clone());
        let mut out = Vec::with_capacity(64);
        b.iter(|| {
            out.clear();
            sweep.solve_params_into(black_box(&sets), rate, &mut out);
        });
    });
    group.finish();
}

fn bench_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("inferno_size_n256_k512");
    let targets = SloTargets::latency(60.0, 20.0);
    for model in [QueueModel::V3, QueueModel::V7] {
        let a = analyzer(model);
        let old = old_analyzer(model);
        group.bench_function(format!("{model}/old"), |b| {
            b.iter(|| {
                old.size(Some(60.0), Some(20.0), None)
                    .expect("reachable targets")
            });
        });
        group.bench_function(format!("{model}/new"), |b| {
            b.iter(|| a.size(black_box(&targets)).expect("reachable targets"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_solve, bench_batch, bench_size);
criterion_main!(benches);
