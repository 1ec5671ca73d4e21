//! Reading a generated ~100 MB GuideLLM v0.4–0.6 JSON report (two benchmarks whose request
//! lists hold ~40 000 requests each, as `guidellm benchmark` writes them), compared with
//! serde_json's plain parse of the same bytes into a `Value` as the baseline.
//!
//! Three readers are timed: `read_guidellm_json` on the bytes in memory, the streaming
//! `read_guidellm_json_reader` over the same bytes, and `read_any` on the file written to the
//! temporary directory (which streams files above 16 MiB, so the text is never held whole).
//!
//! Run with `cargo bench -p perf-readers --bench large_guidellm`; MB/s = size / time.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use perf_readers::{ReadOptions, read_any, read_guidellm_json, read_guidellm_json_reader};
use serde_json::{Value, json};

const TARGET_BYTES: usize = 100 * 1024 * 1024;

/// The fixture report with its request lists filled until the file is ~100 MB.
fn large_report() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/readers/fixtures/guidellm-v0.5-args-style.json"
    );
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("fixture JSON");
    let prompt = "lorem ipsum dolor sit amet ".repeat(30);
    let request = |i: usize| {
        json!({
            "type_": "generative_request_stats", "request_id": format!("req-{i}"),
            "request_args": {"model": "example/model-4b", "max_tokens": 128},
            "output": prompt, "info": {"timings": {
                "request_start": 1.7e9 + i as f64 * 0.01, "first_token_iteration": 1.7e9 + i as f64 * 0.01 + 0.1,
                "request_end": 1.7e9 + i as f64 * 0.01 + 2.9}},
            "prompt_tokens": 256, "output_tokens": 128, "request_latency": 2.9,
            "time_to_first_token_ms": 100.0, "time_per_output_token_ms": 21.5,
            "inter_token_latency_ms": 21.5, "tokens_per_second": 132.4,
            "output_tokens_per_second": 44.1
        })
    };
    let one = serde_json::to_vec(&request(0)).expect("serialise").len();
    let per_benchmark = TARGET_BYTES / one / 2;
    for b in doc["benchmarks"].as_array_mut().expect("benchmarks") {
        b["requests"]["successful"] = Value::Array((0..per_benchmark).map(request).collect());
    }
    serde_json::to_vec(&doc).expect("serialise")
}

fn bench_large(c: &mut Criterion) {
    let bytes = large_report();
    let mut group = c.benchmark_group("guidellm_json_100mb");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let opts = ReadOptions::default();
    group.bench_function("read_guidellm_json", |b| {
        b.iter(|| read_guidellm_json(black_box(&bytes), "large.json", &opts).expect("reads"));
    });
    group.bench_function("read_guidellm_json_reader", |b| {
        b.iter(|| {
            read_guidellm_json_reader(black_box(&bytes[..]), "large.json", &opts).expect("reads")
        });
    });
    let file = std::env::temp_dir().join(format!(
        "llm-perf-large-guidellm-{}.json",
        std::process::id()
    ));
    std::fs::write(&file, &bytes).expect("write the report");
    group.bench_function("read_any_file_streamed", |b| {
        b.iter(|| read_any(black_box(&file)).expect("reads"));
    });
    group.bench_function("serde_json_value_baseline", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).expect("parses"));
    });
    group.finish();
    // Best effort: a leftover file in the temporary directory is harmless.
    let _ = std::fs::remove_file(&file);
}

criterion_group!(benches, bench_large);
criterion_main!(benches);
