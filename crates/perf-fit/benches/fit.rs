//! Criterion benches of the Inferno trainer on `samples/inferno-trainer/data.json` (7 points,
//! model V3, weighted-absolute loss):
//! * `loss_eval`: one data-set loss evaluation (7 analyzer builds + chain solves, N = 512);
//! * `headline_fit`: the seed-compatible headline fit from (10, 0, 0), GoFloat32 arithmetic
//!   (≈1000 loss evaluations, as the Go trainer);
//! * `headline_multistart`: Nelder–Mead multistart on the same data and loss (what the default
//!   method runs for the weighted-absolute loss);
//! * `default_levenberg_marquardt` / `default_multistart`: the default fit (V7, relative
//!   squared, init (1, 0.01, 1e-4)) on the same points with the new default method and the old
//!   one (for an interleaved side-by-side timing see the `default_fit_time` example);
//! * `joint112_seed_compatible`: a 112-point joint fit (synthetic, model V6, relative squared,
//!   scaled from (1, 0.01, 1e-4), N = 256) — the size of the paper's exp2 joint fit.
//!
//! Run with `cargo bench -p perf-fit --bench fit`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use perf_fit::{
    FitMethod, FitPoint, InfernoTrainer, Loss, SyntheticSpec, dataset_loss, synthetic_points,
};
use perf_model_core::inferno::{Arithmetic, QueueModel};

/// The seven points of `data.json` (TTFT = avgWaitTime + avgPrefillTime, N = 512).
fn headline_points() -> Vec<FitPoint> {
    [
        (27.16, 18.05, 7.50),
        (52.06, 19.08, 8.06),
        (76.95, 20.47, 8.63),
        (101.85, 22.01, 9.27),
        (126.73, 24.37, 10.16),
        (151.83, 28.43, 11.47),
        (176.50, 40.56, 15.57),
    ]
    .into_iter()
    .map(|(r, t, i)| FitPoint::new(r, 64.0, 64.0, t, i).with_max_batch_size(512))
    .collect()
}

fn benches(c: &mut Criterion) {
    let points = headline_points();
    let theta = [
        6.760_506_205_916_267_5,
        0.025_362_709_109_593,
        2.575_997_037_645_202e-9,
    ];
    for (name, ar) in [
        ("loss_eval_f64", Arithmetic::F64),
        ("loss_eval_gofloat32", Arithmetic::GoFloat32),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                dataset_loss(
                    black_box(&points),
                    QueueModel::V3,
                    Loss::WeightedAbsolute,
                    ar,
                    black_box(theta),
                )
            });
        });
    }
    let params = InfernoTrainer::params()
        .model(QueueModel::V3)
        .loss(Loss::WeightedAbsolute)
        .init(10.0, 0.0, 0.0)
        .scaled(false);
    let mut group = c.benchmark_group("fit");
    group.sample_size(20);
    group.bench_function("headline_seed_compatible", |b| {
        let p = params
            .clone()
            .seed_compatible(true)
            .arithmetic(Arithmetic::GoFloat32);
        b.iter(|| p.clone().fit(black_box(&points)));
    });
    group.sample_size(10);
    group.bench_function("headline_multistart", |b| {
        let p = params.clone().method(FitMethod::NelderMeadMultistart);
        b.iter(|| p.clone().fit(black_box(&points)));
    });
    group.bench_function("default_multistart", |b| {
        let p = InfernoTrainer::params().method(FitMethod::NelderMeadMultistart);
        b.iter(|| p.clone().fit(black_box(&points)));
    });
    group.sample_size(50);
    group.bench_function("default_levenberg_marquardt", |b| {
        let p = InfernoTrainer::params();
        b.iter(|| p.clone().fit(black_box(&points)));
    });
    group.sample_size(10);
    if let Ok(joint) = synthetic_points(&SyntheticSpec {
        model: QueueModel::V6,
        points: 112,
        ..Default::default()
    }) {
        group.bench_function("loss_eval_joint112_f64", |b| {
            b.iter(|| {
                dataset_loss(
                    black_box(&joint),
                    QueueModel::V6,
                    Loss::RelativeSquared,
                    Arithmetic::F64,
                    black_box([6.0, 0.02, 5e-5]),
                )
            });
        });
        let p = InfernoTrainer::params()
            .model(QueueModel::V6)
            .loss(Loss::RelativeSquared)
            .init(1.0, 0.01, 1e-4)
            .seed_compatible(true);
        group.bench_function("joint112_seed_compatible", |b| {
            b.iter(|| p.clone().fit(black_box(&joint)));
        });
    }
    group.finish();
}

criterion_group!(fit, benches);
criterion_main!(fit);
