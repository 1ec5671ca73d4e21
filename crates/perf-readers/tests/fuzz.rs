//! Robustness: truncated, byte-flipped, token-spliced and random inputs derived from the real
//! samples never panic, and every failure is a one-line error that starts with the file name.

use std::sync::LazyLock;

use perf_readers::{
    ReadOptions, Result, read_aisbench, read_analyzer_problem, read_analyzer_solution,
    read_azure_trace, read_burstgpt_trace, read_bytes, read_document_bytes, read_golden_primitives,
    read_guidellm_csv, read_guidellm_csv_json, read_guidellm_html, read_guidellm_json,
    read_guidellm_requests, read_guidellm_yaml, read_inferno, read_mooncake_trace, read_ms_batches,
    read_profile_bytes, read_profiler_summary, read_requests_bytes, read_sglang_bench,
    read_together_csv, read_trained_physics, read_trainer_result, read_vidur_trace,
    read_vllm_bench, read_vllm_requests,
};
use proptest::prelude::*;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/readers/");

fn load(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The first two rows of `guidellm-csv.json`, re-serialised, to keep each case fast.
fn csv_json_two_rows() -> Vec<u8> {
    let all: serde_json::Value =
        serde_json::from_slice(&load("inferno/guidellm-csv.json")).unwrap();
    let rows: Vec<_> = all.as_array().unwrap().iter().take(2).cloned().collect();
    serde_json::to_vec_pretty(&rows).unwrap()
}

/// A small report in the layout of `inferno/benchmarks.html`: its head, a reduced
/// `workloadDetails` and its first two benchmarks.
fn small_html() -> Vec<u8> {
    let page = String::from_utf8(load("inferno/benchmarks.html")).unwrap();
    let marker = "window.benchmarks = ";
    let at = page.find(marker).unwrap();
    let benchmarks: serde_json::Value = serde_json::from_str(&page[at + marker.len()..]).unwrap();
    let two: Vec<_> = benchmarks
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .cloned()
        .collect();
    let head = &page[..page.find("window.workloadDetails").unwrap()];
    format!(
        "{head}window.workloadDetails = {{\"prompts\": {{\"tokenDistributions\": {{\"statistics\": {{\"mean\": 1046.5}}}}}}, \"generations\": {{\"tokenDistributions\": {{\"statistics\": {{\"mean\": 1019.25}}}}}}}};\n {marker}{}",
        serde_json::to_string_pretty(&two).unwrap()
    )
    .into_bytes()
}

static HTML: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![small_html()]);
static TOGETHER: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![load("fixtures/together-qps.csv")]);
/// The header and first 30 requests of the Azure code trace.
fn azure_head() -> Vec<u8> {
    let text = String::from_utf8(load("traces/AzureLLMInferenceTrace_code.csv")).unwrap();
    text.split_inclusive('\n')
        .take(31)
        .collect::<String>()
        .into_bytes()
}

static AZURE: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![azure_head()]);
static MOONCAKE: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![load("traces/aisbench_smoke_test_mooncake_trace.jsonl")]);
/// The first benchmark of `inferno/guidellm.json` with its first 3 requests.
fn guidellm_with_requests() -> Vec<u8> {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&load("inferno/guidellm.json")).unwrap();
    let benchmarks = doc["benchmarks"].as_array_mut().unwrap();
    benchmarks.truncate(1);
    let ok = benchmarks[0]["requests"]["successful"]
        .as_array_mut()
        .unwrap();
    ok.truncate(3);
    serde_json::to_vec(&doc).unwrap()
}

static GUIDELLM_REQ: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![guidellm_with_requests()]);
static AISBENCH: LazyLock<(Vec<u8>, Vec<u8>)> = LazyLock::new(|| {
    (
        load("fixtures/aisbench/synthetic.json"),
        load("fixtures/aisbench/synthetic.csv"),
    )
});
/// The raw v0.5 CSV with its first row, and with its first two rows (the second one has extra
/// status blocks that are placed from their values).
static GUIDELLM_CSV: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        load("guidellm/v0.5_sweep-i4096-o64_row1_raw.csv"),
        head(
            "guidellm/v0.5_model-trainer_sweep-i4096-o64_benchmarks.csv",
            4,
        ),
    ]
});
static INFERNO: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        load("../inferno-trainer/data.json"),
        load("../inferno-trainer/qm_train_s4.json"),
    ]
});
static GUIDELLM: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        load("guidellm/v0.3_guidellm-fixture_benchmarks_stripped.json"),
        load("fixtures/guidellm-v0.5-args-style.json"),
    ]
});
static CSV_JSON: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        csv_json_two_rows(),
        load("guidellm/v0.5_sweep-i4096-o64_row1_csv-v2.json"),
    ]
});
static VLLM: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        load("vllm-bench/H100_llm-d-1p1d_Llama-3.1-8B_benchmark_2025-05-13_04-37-51.json"),
        load("fixtures/vllm-bench-append.jsonl"),
    ]
});
static SGLANG: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![load("fixtures/sglang-bench.jsonl")]);

/// The YAML report without its request lists and with six metrics, re-serialised as YAML.
fn small_yaml() -> Vec<u8> {
    let text = String::from_utf8(load(
        "guidellm/v0.3_yaml_llama-3-2-3b_benchmark-results.yaml",
    ))
    .unwrap();
    let mut doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let b = &mut doc["benchmarks"][0];
    b.as_object_mut().unwrap().remove("requests");
    let keep = [
        "requests_per_second",
        "prompt_token_count",
        "output_token_count",
        "time_to_first_token_ms",
        "inter_token_latency_ms",
        "request_latency",
    ];
    b["metrics"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| keep.contains(&k.as_str()));
    serde_norway::to_string(&doc).unwrap().into_bytes()
}

/// The v2 llm-profiler sweep with its first three results.
fn small_sweep() -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(&load(
        "profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
    ))
    .unwrap();
    doc["results"].as_array_mut().unwrap().truncate(3);
    serde_json::to_vec_pretty(&doc).unwrap()
}

/// The header and first `n` rows of a CSV sample.
fn head(rel: &str, n: usize) -> Vec<u8> {
    let text = String::from_utf8(load(rel)).unwrap();
    text.split_inclusive('\n')
        .take(n + 1)
        .collect::<String>()
        .into_bytes()
}

static YAML: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![small_yaml()]);
static V01: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![load("fixtures/guidellm-v0.1-report.json")]);
static DETAILED: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![load("fixtures/vllm-bench-detailed.json")]);
static CSV_TRACES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        load("fixtures/burstgpt.csv"),
        load("fixtures/burstgpt-v3.csv"),
        load("fixtures/vidur-trace.csv"),
        load("fixtures/vidur-trace-length-only.csv"),
    ]
});
static PROFILES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        small_sweep(),
        load("profiles/llm-profiler/batch_composition_results.jsonl"),
        head("profiles/vidur/h100_Llama-2-7b-hf_mlp_head20.csv", 2),
        head("profiles/vidur/h100_dgx_all_reduce_head20.csv", 3),
        head(
            "profiles/llmservingsim/H100_Llama-3.1-70B_tp4_attention_excerpt.csv",
            3,
        ),
    ]
});

/// One way of damaging a sample.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(f64),
    Flip(Vec<(f64, u8)>),
    Splice(f64, &'static str),
    Random(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop_oneof![
        Just("Infinity"),
        Just("-Infinity"),
        Just("NaN"),
        Just("\""),
        Just("\\"),
        Just("["),
        Just("}"),
        Just("-1e999"),
        Just("null"),
        Just("\"inf\""),
        Just("\u{0}"),
        Just("\u{FEFF}"),
    ];
    prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        prop::collection::vec((0.0..1.0f64, any::<u8>()), 1..8).prop_map(Mutation::Flip),
        (0.0..1.0f64, tokens).prop_map(|(at, t)| Mutation::Splice(at, t)),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Mutation::Random),
    ]
}

fn apply(seed: &[u8], m: &Mutation) -> Vec<u8> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let at = |f: f64| ((seed.len() as f64) * f) as usize;
    match m {
        Mutation::Truncate(f) => seed[..at(*f).min(seed.len())].to_vec(),
        Mutation::Flip(flips) => {
            let mut out = seed.to_vec();
            for &(f, b) in flips {
                if let Some(x) = out.get_mut(at(f)) {
                    *x = b;
                }
            }
            out
        }
        Mutation::Splice(f, t) => {
            let mut out = seed.to_vec();
            let i = at(*f).min(out.len());
            out.splice(i..i, t.bytes());
            out
        }
        Mutation::Random(bytes) => bytes.clone(),
    }
}

fn check<T>(result: Result<T>, path: &str) {
    if let Err(e) = result {
        let msg = e.to_string();
        assert!(msg.starts_with(path), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(e.path(), path);
    }
}

type Reader = fn(&[u8], &str, &ReadOptions) -> Result<perf_model_core::PerfDataset>;

fn fuzz_one(seeds: &[Vec<u8>], pick: usize, m: &Mutation, reader: Reader) {
    let input = apply(&seeds[pick % seeds.len()], m);
    let opts = ReadOptions::default();
    check(reader(&input, "fuzz.json", &opts), "fuzz.json");
    check(read_bytes(&input, "fuzz.json", &opts), "fuzz.json");
}

type TraceReader = fn(&[u8], &str) -> Result<Vec<perf_model_core::RequestRecord>>;

fn fuzz_trace(seeds: &[Vec<u8>], pick: usize, m: &Mutation, reader: TraceReader) {
    let input = apply(&seeds[pick % seeds.len()], m);
    check(reader(&input, "fuzz.csv"), "fuzz.csv");
    check(read_requests_bytes(&input, "fuzz.csv"), "fuzz.csv");
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 10_000,
        // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
        // seed to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn inferno_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&INFERNO, pick, &m, read_inferno);
    }

    #[test]
    fn guidellm_json_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&GUIDELLM, pick, &m, read_guidellm_json);
    }

    #[test]
    fn guidellm_requests_never_panic(pick in 0usize..8, m in mutation()) {
        let input = apply(&GUIDELLM_REQ[pick % GUIDELLM_REQ.len()], &m);
        check(read_guidellm_requests(&input, "fuzz.json"), "fuzz.json");
    }

    #[test]
    fn guidellm_csv_json_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&CSV_JSON, pick, &m, read_guidellm_csv_json);
    }

    #[test]
    fn vllm_bench_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&VLLM, pick, &m, read_vllm_bench);
    }

    #[test]
    fn sglang_bench_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&SGLANG, pick, &m, read_sglang_bench);
    }

    #[test]
    fn guidellm_html_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&HTML, pick, &m, read_guidellm_html);
    }

    #[test]
    fn together_csv_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&TOGETHER, pick, &m, read_together_csv);
    }

    #[test]
    fn azure_trace_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_trace(&AZURE, pick, &m, read_azure_trace);
    }

    #[test]
    fn mooncake_trace_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_trace(&MOONCAKE, pick, &m, read_mooncake_trace);
    }

    #[test]
    fn aisbench_never_panics(which in any::<bool>(), m in mutation()) {
        let (json, csv) = &*AISBENCH;
        let opts = ReadOptions::default();
        if which {
            let bad = apply(json, &m);
            check(read_aisbench(Some((&bad, "fuzz.json")), Some((csv, "ok.csv")), &opts), "fuzz.json");
        } else {
            let bad = apply(csv, &m);
            let r = read_aisbench(Some((json, "ok.json")), Some((&bad, "fuzz.csv")), &opts);
            if let Err(e) = r {
                assert!(!e.to_string().contains('\n'));
            }
        }
    }

    #[test]
    fn guidellm_csv_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&GUIDELLM_CSV, pick, &m, read_guidellm_csv);
    }

    #[test]
    fn guidellm_yaml_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&YAML, pick, &m, read_guidellm_yaml);
    }

    #[test]
    fn guidellm_v01_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_one(&V01, pick, &m, read_guidellm_json);
    }

    #[test]
    fn vllm_requests_never_panic(pick in 0usize..8, m in mutation()) {
        fuzz_trace(&DETAILED, pick, &m, read_vllm_requests);
    }

    #[test]
    fn burstgpt_and_vidur_traces_never_panic(pick in 0usize..8, m in mutation()) {
        let reader: TraceReader = if pick % 4 < 2 { read_burstgpt_trace } else { read_vidur_trace };
        fuzz_trace(&CSV_TRACES, pick, &m, reader);
    }

    #[test]
    fn profiles_never_panic(pick in 0usize..8, m in mutation()) {
        let input = apply(&PROFILES[pick % PROFILES.len()], &m);
        check(read_profile_bytes(&input, "fuzz.csv"), "fuzz.csv");
        check(read_bytes(&input, "fuzz.csv", &ReadOptions::default()), "fuzz.csv");
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        check(read_bytes(s.as_bytes(), "fuzz.txt", &ReadOptions::default()), "fuzz.txt");
        check(read_requests_bytes(s.as_bytes(), "fuzz.txt"), "fuzz.txt");
        check(read_document_bytes(s.as_bytes(), "fuzz.txt"), "fuzz.txt");
    }
}

/// The BLIS coefficient file with its first two experiments.
fn small_physics() -> Vec<u8> {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&load("blis/trained_physics_iter29.json")).unwrap();
    doc["experiments"].as_array_mut().unwrap().truncate(2);
    serde_json::to_vec_pretty(&doc).unwrap()
}

fn inferno_sample(name: &str) -> Vec<u8> {
    load(&format!("../inferno/{name}"))
}

static SUMMARY: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![load(
        "profiles/llm-profiler/benchmark_data_Qwen_Qwen3-4B.summary.json",
    )]
});
static MS_BATCHES: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![load("fixtures/msserviceprofiler-batches.csv")]);
static PHYSICS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![small_physics()]);
static PROBLEM: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![inferno_sample("problem-data.json")]);
static SOLUTIONS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    vec![
        inferno_sample("solution-solve.json"),
        inferno_sample("solution-target.json"),
        inferno_sample("solution-optimize.json"),
    ]
});
static GOLDEN: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![inferno_sample("golden_primitives.json")]);
static TRAINER: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![load("inferno/exp2_results_sweep-i64-o64.txt")]);

/// Damages a seed and runs `reader` and every detecting entry point on it.
fn fuzz_any<T>(seeds: &[Vec<u8>], pick: usize, m: &Mutation, reader: fn(&[u8], &str) -> Result<T>) {
    let input = apply(&seeds[pick % seeds.len()], m);
    check(reader(&input, "fuzz.json"), "fuzz.json");
    check(
        read_bytes(&input, "fuzz.json", &ReadOptions::default()),
        "fuzz.json",
    );
    check(read_profile_bytes(&input, "fuzz.json"), "fuzz.json");
    check(read_document_bytes(&input, "fuzz.json"), "fuzz.json");
}

proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 10_000,
        // A fixed seed: CI runs the same cases every time (set PROPTEST_CASES / edit the
        // seed to explore further).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_11f0),
        ..proptest::test_runner::Config::default()
    })]

    #[test]
    fn profiler_summary_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_any(&SUMMARY, pick, &m, read_profiler_summary);
    }

    #[test]
    fn ms_batches_never_panic(pick in 0usize..8, m in mutation()) {
        fuzz_any(&MS_BATCHES, pick, &m, read_ms_batches);
    }

    #[test]
    fn trained_physics_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_any(&PHYSICS, pick, &m, read_trained_physics);
    }

    #[test]
    fn analyzer_problem_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_any(&PROBLEM, pick, &m, read_analyzer_problem);
    }

    #[test]
    fn analyzer_solution_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_any(&SOLUTIONS, pick, &m, read_analyzer_solution);
    }

    #[test]
    fn golden_primitives_never_panic(pick in 0usize..8, m in mutation()) {
        fuzz_any(&GOLDEN, pick, &m, read_golden_primitives);
    }

    #[test]
    fn trainer_result_never_panics(pick in 0usize..8, m in mutation()) {
        fuzz_any(&TRAINER, pick, &m, read_trainer_result);
    }
}

#[test]
fn undamaged_document_and_profile_seeds_read() {
    for seeds in [&*SUMMARY, &*MS_BATCHES] {
        for seed in seeds {
            assert!(read_profile_bytes(seed, "s.json").is_ok());
        }
    }
    for seeds in [&*PHYSICS, &*PROBLEM, &*SOLUTIONS, &*GOLDEN, &*TRAINER] {
        for seed in seeds {
            assert!(read_document_bytes(seed, "s.json").is_ok());
        }
    }
}

#[test]
fn undamaged_seeds_read() {
    let opts = ReadOptions::default();
    for seed in INFERNO.iter() {
        assert!(read_inferno(seed, "s.json", &opts).is_ok());
    }
    for seed in GUIDELLM.iter() {
        assert!(read_guidellm_json(seed, "s.json", &opts).is_ok());
    }
    for seed in CSV_JSON.iter() {
        assert!(read_guidellm_csv_json(seed, "s.json", &opts).is_ok());
    }
    for seed in VLLM.iter() {
        assert!(read_vllm_bench(seed, "s.json", &opts).is_ok());
    }
    for seed in HTML.iter() {
        assert_eq!(
            read_guidellm_html(seed, "s.html", &opts)
                .map(|d| d.len())
                .ok(),
            Some(1)
        );
    }
    for seed in TOGETHER.iter() {
        assert!(read_together_csv(seed, "s.csv", &opts).is_ok());
    }
    assert_eq!(
        read_azure_trace(&AZURE[0], "s.csv").map(|t| t.len()).ok(),
        Some(30)
    );
    assert_eq!(
        read_mooncake_trace(&MOONCAKE[0], "s.jsonl")
            .map(|t| t.len())
            .ok(),
        Some(15)
    );
    let reqs = read_guidellm_requests(&GUIDELLM_REQ[0], "s.json").unwrap();
    assert_eq!(reqs[0].successful.len(), 3);
    assert!(read_guidellm_csv(&GUIDELLM_CSV[0], "s.csv", &opts).is_ok());
    assert_eq!(
        read_guidellm_csv(&GUIDELLM_CSV[1], "s.csv", &opts)
            .map(|d| d.len())
            .ok(),
        Some(2)
    );
    for seed in SGLANG.iter() {
        assert!(read_sglang_bench(seed, "s.jsonl", &opts).is_ok());
    }
    assert_eq!(
        read_guidellm_yaml(&YAML[0], "s.yaml", &opts)
            .map(|d| d.len())
            .ok(),
        Some(1)
    );
    assert_eq!(
        read_guidellm_json(&V01[0], "s.json", &opts)
            .map(|d| d.len())
            .ok(),
        Some(2)
    );
    assert_eq!(
        read_vllm_requests(&DETAILED[0], "s.json")
            .map(|r| r.len())
            .ok(),
        Some(4)
    );
    for (i, seed) in CSV_TRACES.iter().enumerate() {
        let r = if i < 2 {
            read_burstgpt_trace(seed, "s.csv")
        } else {
            read_vidur_trace(seed, "s.csv")
        };
        assert!(r.is_ok(), "{i}");
    }
    for seed in PROFILES.iter() {
        assert!(read_profile_bytes(seed, "s.csv").is_ok());
    }
}
