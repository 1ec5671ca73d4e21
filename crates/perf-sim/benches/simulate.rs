//! Criterion bench: a 10 000-request simulation (Poisson 60 req/s, lognormal 512/128,
//! Llama-3.1-8B on H100 roofline, `max_num_seqs` 256, CSV to `io::sink()`).

use criterion::{Criterion, criterion_group, criterion_main};
use perf_sim::{SimConfig, Simulation};

fn config() -> SimConfig {
    serde_json::from_value(serde_json::json!({
        "seed": 1, "max_requests": 10_000,
        "cluster": {
            "engine": { "max_batch_size": 256, "max_num_batched_tokens": 8192 },
            "cost_model": { "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }
        },
        "workload": { "clients": [ {
            "arrival": { "kind": "poisson", "rate": 60.0 },
            "input": { "kind": "lognormal", "mean": 512.0, "std": 256.0 },
            "output": { "kind": "lognormal", "mean": 128.0, "std": 64.0 }
        } ] }
    }))
    .expect("bench config parses")
}

fn bench(c: &mut Criterion) {
    let sim = Simulation::new(config()).expect("valid config");
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    g.bench_function("10k_requests_roofline_h100", |b| {
        b.iter(|| sim.run(std::io::sink()).expect("run"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
