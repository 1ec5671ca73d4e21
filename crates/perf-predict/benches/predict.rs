//! Prediction cost of each step-time model kind (linear, GBDT, random forest), trained on the
//! Qwen3-4B A100 sample sweep, through `StepTimeModel::step_time` on a decode batch, so that a
//! simulator can budget its cost model; also one Together estimate.
//!
//! Run with `cargo bench -p perf-predict --bench predict`; predictions/s = 1 / time per call.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use perf_model_core::{BatchShape, StepTimeModel};
use perf_predict::together::{BenchmarkStore, EstimateQuery};
use perf_predict::{ForestParams, GbdtParams, ProfileData, StepPredictor, Trainer};

const SWEEP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../samples/readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json"
);
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../samples/predict/together-fixture.csv"
);

fn bench_step_time(c: &mut Criterion) {
    let data = ProfileData::read(Path::new(SWEEP)).expect("sample sweep");
    let mut group = c.benchmark_group("step_time_decode_bs8_ctx1024");
    for t in [
        Trainer::Linear,
        Trainer::Gbdt(GbdtParams::default()),
        Trainer::Forest(ForestParams::default()),
    ] {
        let p = StepPredictor::train(&data, &t).expect("trains");
        let shape = BatchShape::decode(8, 1024);
        group.bench_function(t.name(), |b| b.iter(|| p.step_time(black_box(&shape))));
    }
    group.finish();
}

fn bench_together(c: &mut Criterion) {
    let mut store = BenchmarkStore::new();
    store.add_csv_file(Path::new(FIXTURE)).expect("fixture");
    let q = EstimateQuery::new(1500.0, 300.0);
    c.bench_function("together_estimate_8_rows", |b| {
        b.iter(|| {
            store
                .estimate("fixture/model-a", black_box(&q))
                .expect("estimate")
        });
    });
}

criterion_group!(benches, bench_step_time, bench_together);
criterion_main!(benches);
