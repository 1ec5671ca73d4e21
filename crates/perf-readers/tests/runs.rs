//! Measured serving runs: one test per layout on small invented fixtures
//! (`tests/fixtures/runs/`), the errors, and an ignored test on the shared ground truth.
// Values are copied or computed exactly from the fixtures, so exact comparison is the point.
#![allow(clippy::float_cmp)]

use std::path::{Path, PathBuf};

use approx::assert_relative_eq;
use perf_readers::{
    LengthSpec, LoadStage, MeasuredAt, MeasuredRun, ReadError, RunLayout, RunServing,
    SharedPrefixSpec, detect_run, read_engine_config, read_engine_config_str, read_run, read_runs,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runs/");

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(format!("{FIXTURES}{rel}"))
}

fn one(rel: &str) -> MeasuredRun {
    match read_run(&fixture(rel)) {
        Ok(run) => run,
        Err(e) => panic!("{rel}: {e}"),
    }
}

/// The run survives a JSON round trip unchanged.
fn round_trips(run: &MeasuredRun) {
    let json = serde_json::to_string(run).unwrap();
    let back: MeasuredRun = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, run, "{json}");
}

fn has_note(run: &MeasuredRun, needle: &str) -> bool {
    run.notes.iter().any(|n| n.contains(needle))
}

/// A scratch folder under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("perf-readers-runs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn inference_perf_folder() {
    let run = one("inference-perf/run-a");
    assert_eq!(
        detect_run(&fixture("inference-perf/run-a")).unwrap(),
        RunLayout::InferencePerf
    );
    assert_eq!(run.name, "run-a");
    assert_eq!(run.layout, RunLayout::InferencePerf);
    assert_eq!(run.measured_at, MeasuredAt::Client);
    // exp-config.yaml, and the engine from profile.yaml's server.type.
    let s = &run.serving;
    assert_eq!(s.model.as_deref(), Some("example/tiny-7b"));
    assert_eq!(s.tensor_parallel, Some(2));
    assert_eq!(s.max_model_len, Some(2048));
    assert_eq!(s.max_num_batched_tokens, Some(1024));
    assert_eq!(s.max_num_seqs, Some(32));
    assert_eq!(s.engine.as_deref(), Some("vllm"));
    assert_eq!(s.num_gpu_blocks, None);
    // Workload: the expansion's groups win over the profile's.
    let w = &run.workload;
    assert!(w.requests.is_empty());
    assert_eq!(
        w.shared_prefix,
        Some(SharedPrefixSpec {
            groups: 4,
            prompts_per_group: 5,
            system_prompt_len: 20,
            question_len: 30
        })
    );
    assert_eq!(w.input, Some(LengthSpec::Fixed { tokens: 50 }));
    assert_eq!(w.output, Some(LengthSpec::Fixed { tokens: 40 }));
    assert_eq!(
        w.stages,
        [
            LoadStage {
                rate: 2.0,
                duration_s: 5.0
            },
            LoadStage {
                rate: 4.0,
                duration_s: 5.0
            }
        ]
    );
    assert_eq!(w.ignore_eos, Some(true));
    // Seconds → ms.
    let o = &run.measured.overall;
    assert_eq!(o.e2e.mean(), Some(500.0));
    assert_eq!(o.e2e.median(), Some(450.0));
    assert_eq!(o.e2e.p90(), Some(800.0));
    assert_eq!(o.e2e.p99(), Some(1000.0));
    assert_eq!(o.ttft.mean(), Some(20.0));
    assert_eq!(o.ttft.p95(), Some(35.0));
    assert_eq!(o.itl.median(), Some(0.02));
    assert_eq!(o.itl.p90(), Some(12.0));
    assert_eq!(o.tpot.mean(), Some(6.0));
    assert_eq!((o.successes, o.failures), (29, 1));
    assert_eq!(o.input_tokens_mean, Some(51.5));
    assert_eq!(o.output_tokens_mean, Some(30.0));
    assert_eq!(o.requests_per_s, Some(2.9));
    assert_eq!(o.output_tokens_per_s, Some(87.0));
    // Stages in order.
    let st = &run.measured.stages;
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].e2e.mean(), Some(400.0));
    assert_eq!(st[0].successes, 10);
    assert_eq!(st[1].e2e.mean(), Some(550.0));
    assert_eq!((st[1].successes, st[1].failures), (19, 1));
    // Definitions and notes.
    assert!(
        run.measured
            .definitions
            .itl
            .contains("streamed chunks (SSE), not tokens")
    );
    assert!(
        run.measured
            .definitions
            .tpot
            .contains("inference-perf time_per_output_token")
    );
    assert!(has_note(
        &run,
        "4 groups × 5 prompts, profile.yaml asked for 3 × 2"
    ));
    assert!(has_note(
        &run,
        "counted outputs (mean 30.0) below the offered output_len 40 with ignore_eos: \
         inference-perf counts streamed chunks, not tokens"
    ));
    assert!(has_note(&run, "so the requests generated about 40 tokens"));
    assert!(has_note(&run, "= 16.55 ms")); // (500 − 20)/(30 − 1)
    assert!(has_note(&run, "1 of 30 requests failed"));
    round_trips(&run);
    // A file of the folder reads the folder.
    for file in ["results/summary_lifecycle_metrics.json", "profile.yaml"] {
        let again = read_run(&fixture(&format!("inference-perf/run-a/{file}"))).unwrap();
        assert_eq!(again.measured, run.measured, "{file}");
    }
}

#[test]
fn inference_perf_missing_summary_names_the_file() {
    let dir = fixture("inference-perf/missing-summary");
    assert_eq!(detect_run(&dir).unwrap(), RunLayout::InferencePerf);
    let err = read_run(&dir).unwrap_err();
    assert!(matches!(err, ReadError::MissingFile { .. }), "{err}");
    let expected = format!(
        "{}/results/summary_lifecycle_metrics.json: missing: an inference-perf run folder needs it",
        dir.display()
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn inference_perf_other_data_types() {
    let scratch = Scratch::new("random");
    scratch.write(
        "results/summary_lifecycle_metrics.json",
        r#"{"successes": {"count": 2, "latency": {"request_latency": {"mean": 1.5}}}, "failures": {"count": 0}}"#,
    );
    scratch.write(
        "profile.yaml",
        r#"{"data":{"type":"random","input_distribution":{"min":10,"max":30,"mean":20.4,"std":5},"output_distribution":{"min":5,"max":15,"mean":9.6,"std":2}},"load":{"stages":[{"rate":1,"duration":2}]}}"#,
    );
    let run = read_run(&scratch.0).unwrap();
    assert_eq!(run.workload.input, Some(LengthSpec::Fixed { tokens: 20 }));
    assert_eq!(run.workload.output, Some(LengthSpec::Fixed { tokens: 10 }));
    assert!(has_note(
        &run,
        "input_distribution (min 10, max 30) taken as fixed at its mean 20"
    ));
    assert!(has_note(&run, "no exp-config.yaml"));
    assert_eq!(run.measured.overall.e2e.mean(), Some(1500.0));
    round_trips(&run);

    scratch.write("profile.yaml", r#"{"data":{"type":"sharegpt"}}"#);
    let err = read_run(&scratch.0).unwrap_err().to_string();
    assert!(
        err.contains("profile.yaml: $.data.type: unsupported inference-perf data.type"),
        "{err}"
    );
    assert!(err.contains("(found: \"sharegpt\")"), "{err}");

    scratch.write(
        "profile.yaml",
        r#"{"data":{"type":"random","input_distribution":{"mean":20}},"load":{"stages":[{"rate":-1,"duration":2}]}}"#,
    );
    let err = read_run(&scratch.0).unwrap_err().to_string();
    assert!(err.contains("$.load.stages[0].rate"), "{err}");
    assert!(err.contains("(found: -1)"), "{err}");
}

#[test]
fn blis_replay_joins_ground_truth_and_splits_stages() {
    let run = one("blis/replay_data/exp-small.json");
    assert_eq!(run.layout, RunLayout::BlisReplay);
    assert_eq!(run.measured_at, MeasuredAt::Client);
    assert_eq!(run.name, "exp-small");
    let s = &run.serving;
    assert_eq!(s.model.as_deref(), Some("example/tiny-7b"));
    assert_eq!(s.tensor_parallel, Some(1));
    assert_eq!(s.max_num_seqs, Some(16));
    assert_eq!(s.max_num_batched_tokens, Some(512));
    assert_eq!(s.num_gpu_blocks, Some(1234));
    assert_eq!(s.block_size, Some(16));
    assert_eq!(s.max_model_len, Some(1024)); // from ../default_args/exp-small/exp-config.yaml
    // Requests in arrival order, µs → ms, joined on index.
    let r = &run.workload.requests;
    let arrivals: Vec<f64> = r.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(arrivals, [0.0, 400.0, 1100.0, 2000.0, 2250.0, 2500.0]);
    assert_eq!(r[4].output_tokens, 41);
    assert_eq!(r[4].ttft_ms, Some(50.0));
    assert_eq!(r[4].e2e_ms, Some(850.0));
    assert!(r[3].failed);
    assert_eq!(r[0].prefix_group, None);
    // The profile beside it.
    let w = &run.workload;
    assert_eq!(
        w.stages,
        [
            LoadStage {
                rate: 1.0,
                duration_s: 2.0
            },
            LoadStage {
                rate: 2.0,
                duration_s: 2.0
            }
        ]
    );
    assert_eq!(
        w.shared_prefix.map(|p| (p.groups, p.prompts_per_group)),
        Some((2, 3))
    );
    assert_eq!(w.output, Some(LengthSpec::Fixed { tokens: 20 }));
    assert_eq!(w.ignore_eos, Some(true));
    assert!(has_note(
        &run,
        "profile.yaml; max_model_len from its exp-config.yaml"
    ));
    // Overall from the requests (s → ms).
    let o = &run.measured.overall;
    assert_eq!((o.successes, o.failures), (5, 1));
    assert_relative_eq!(o.ttft.mean().unwrap(), 33.0, epsilon = 1e-9);
    assert_eq!(o.ttft.median(), Some(30.0));
    assert_relative_eq!(o.e2e.mean().unwrap(), 353.0, epsilon = 1e-9);
    assert_eq!(o.tpot.mean(), Some(20.0)); // (e2e − ttft)/(out − 1); the 1-token request left out
    assert!(o.itl.is_empty());
    assert_eq!(o.output_tokens_mean, Some(17.0));
    assert_relative_eq!(o.requests_per_s.unwrap(), 5.0 / 3.1, epsilon = 1e-12);
    // Split at the cumulative counts 2 (1 r/s × 2 s) and 6.
    let st = &run.measured.stages;
    assert_eq!(st.len(), 2);
    assert_eq!((st[0].successes, st[0].failures), (2, 0));
    assert_relative_eq!(st[0].ttft.mean().unwrap(), 25.0, epsilon = 1e-9);
    assert_relative_eq!(st[0].e2e.mean().unwrap(), 325.0, epsilon = 1e-9);
    assert_eq!((st[1].successes, st[1].failures), (3, 1));
    assert!(
        run.measured
            .definitions
            .tpot
            .contains("(E2E − TTFT)/(output − 1)")
    );
    round_trips(&run);
    // The ground-truth file reads the same run.
    let via_truth = one("blis/replay_data/exp-small_ground_truth.json");
    assert_eq!(via_truth, run);
    assert_eq!(
        detect_run(&fixture("blis/replay_data/exp-small_ground_truth.json")).unwrap(),
        RunLayout::BlisReplay
    );
}

#[test]
fn blis_replay_without_ground_truth() {
    let err = read_run(&fixture("blis/replay_data/no-truth.json")).unwrap_err();
    assert!(matches!(err, ReadError::MissingFile { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: missing: a BLIS replay file",
            fixture("blis/replay_data/no-truth_ground_truth.json").display()
        )),
        "{msg}"
    );
}

#[test]
fn llmservingsim_folder() {
    let run = one("llmservingsim/run-a");
    assert_eq!(run.layout, RunLayout::LlmServingSim);
    assert_eq!(run.measured_at, MeasuredAt::Engine);
    assert_eq!(run.name, "llmservingsim/run-a"); // <hardware>/<model> folders
    let s = &run.serving;
    assert_eq!(s.model.as_deref(), Some("example/tiny-8b"));
    assert_eq!(s.tensor_parallel, Some(1));
    assert_eq!(s.data_parallel, Some(1));
    assert_eq!(s.max_num_seqs, Some(8));
    assert_eq!(s.max_num_batched_tokens, Some(256));
    assert_eq!(s.max_model_len, None);
    assert_eq!(s.dtype.as_deref(), Some("bf16"));
    assert_eq!(s.engine.as_deref(), Some("vllm"));
    assert_eq!(s.engine_version.as_deref(), Some("0.19.0"));
    assert_eq!(s.accelerator.as_deref(), Some("RTX PRO 6000 Blackwell"));
    assert_eq!(s.gpu_memory_utilization, Some(0.85));
    // The device as the cluster config describes it.
    assert_eq!(s.accelerator_memory_gb, Some(96.0));
    assert_eq!(s.accelerator_bandwidth_gbs, Some(1500.0));
    let r = &run.workload.requests;
    let arrivals: Vec<f64> = r.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(arrivals, [0.0, 250.0, 500.0, 1000.0]);
    assert_eq!(r[1].input_tokens, 200);
    assert_eq!(r[1].ttft_ms, Some(250.0)); // first_token_ts − queued_ts
    assert_eq!(r[3].e2e_ms, Some(1250.0)); // last_token_ts − queued_ts
    assert_eq!(run.workload.ignore_eos, Some(true));
    let o = &run.measured.overall;
    assert_eq!(o.ttft.mean(), Some(250.0));
    assert_eq!(o.e2e.mean(), Some(687.5));
    // (last − first)/max(1, out − 1): 125, 0 (one token), 125, 125.
    assert_eq!(o.tpot.mean(), Some(93.75));
    assert_eq!(o.tpot.median(), Some(125.0));
    assert_eq!((o.successes, o.failures), (4, 0));
    assert!(run.measured.stages.is_empty());
    assert!(has_note(&run, "output lengths are exact"));
    round_trips(&run);
    // The vllm/ folder and its files read the same run.
    for p in [
        "llmservingsim/run-a/vllm",
        "llmservingsim/run-a/vllm/meta.json",
    ] {
        assert_eq!(one(p), run, "{p}");
    }
}

#[test]
fn llmservingsim_bad_lines_name_file_line_and_field() {
    let err = read_run(&fixture("llmservingsim/bad-line")).unwrap_err();
    let msg = err.to_string();
    let file = fixture("llmservingsim/bad-line/vllm/requests.jsonl");
    assert!(matches!(err, ReadError::Json { line: 3, .. }), "{msg}");
    assert!(msg.starts_with(&format!("{}:3:", file.display())), "{msg}");

    let err = read_run(&fixture("llmservingsim/missing-field"))
        .unwrap_err()
        .to_string();
    let file = fixture("llmservingsim/missing-field/vllm/requests.jsonl");
    assert_eq!(
        err,
        format!(
            "{}: line 2: $.first_token_ts: missing required number (found: nothing)",
            file.display()
        )
    );
}

#[test]
fn guidellm_report_gives_one_run_per_benchmark() {
    let path = fixture("guidellm/two-benchmarks.json");
    assert_eq!(detect_run(&path).unwrap(), RunLayout::Guidellm);
    let runs = read_runs(&path).unwrap();
    assert_eq!(runs.len(), 2);
    let (a, b) = (&runs[0], &runs[1]);
    assert_eq!(a.name, "two-benchmarks#0 constant@2.00");
    assert_eq!(b.name, "two-benchmarks#1 concurrent@2");
    assert_eq!(a.serving.model.as_deref(), Some("example/guide-1b"));
    assert_eq!(a.measured_at, MeasuredAt::Client);
    assert_eq!(
        a.workload.stages,
        [LoadStage {
            rate: 2.0,
            duration_s: 2.0
        }]
    );
    assert_eq!(a.workload.concurrency, None);
    let arrivals: Vec<f64> = a.workload.requests.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(arrivals, [0.0, 500.0, 1000.0, 1500.0]);
    assert!(a.workload.requests[2].failed);
    let o = &a.measured.overall;
    assert_eq!((o.successes, o.failures), (3, 1));
    assert_relative_eq!(o.ttft.mean().unwrap(), 250.0 / 3.0, epsilon = 1e-9);
    assert_eq!(o.ttft.median(), Some(62.5));
    assert_relative_eq!(o.e2e.mean().unwrap(), 1000.0 / 3.0, epsilon = 1e-9);
    assert_eq!(o.tpot.mean(), Some(62.5));
    assert_eq!(o.input_tokens_mean, Some(64.0));
    // Closed loop: concurrency, arrivals relative to the benchmark's first request.
    assert_eq!(b.workload.concurrency, Some(2));
    assert!(b.workload.stages.is_empty());
    let arrivals: Vec<f64> = b.workload.requests.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(arrivals, [0.0, 0.0]);
    assert!(has_note(b, "2 of 4 successful kept"));
    for run in &runs {
        round_trips(run);
    }
    let err = read_run(&path).unwrap_err();
    assert!(
        matches!(err, ReadError::SeveralRuns { count: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("use read_runs"), "{err}");
}

#[test]
fn guidellm_repository_sample() {
    // samples/readers/guidellm (Apache-2.0, see samples/SOURCES.md): one request kept.
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/readers/guidellm/v0.3_guidellm-fixture_benchmarks_stripped.json"
    ));
    let run = read_run(path).unwrap();
    assert_eq!(run.layout, RunLayout::Guidellm);
    assert_eq!(run.workload.requests.len(), 1);
    assert_eq!(run.workload.concurrency, Some(1)); // synchronous
    assert!(run.measured.overall.ttft.mean().is_some());
    round_trips(&run);
}

#[test]
fn vllm_bench_detailed() {
    let path = fixture("vllm-bench/detailed.json");
    assert_eq!(detect_run(&path).unwrap(), RunLayout::VllmBench);
    let run = read_run(&path).unwrap();
    assert_eq!(run.name, "detailed");
    assert_eq!(run.serving.model.as_deref(), Some("example/bench-3b"));
    let w = &run.workload;
    assert_eq!(
        w.stages,
        [LoadStage {
            rate: 2.0,
            duration_s: 2.0
        }]
    );
    assert_eq!(w.concurrency, Some(3));
    let arrivals: Vec<f64> = w.requests.iter().map(|r| r.arrival_ms).collect();
    assert_eq!(arrivals, [0.0, 500.0, 1250.0, 1750.0]);
    assert_eq!(w.requests[1].ttft_ms, Some(125.0));
    assert_eq!(w.requests[2].e2e_ms, Some(500.0));
    assert!(w.requests[3].failed);
    let o = &run.measured.overall;
    assert_eq!((o.successes, o.failures), (3, 1));
    assert_relative_eq!(o.ttft.mean().unwrap(), 437.5 / 3.0, epsilon = 1e-9);
    assert_relative_eq!(o.e2e.mean().unwrap(), 937.5 / 3.0, epsilon = 1e-9);
    // TPOT per request: 125/3, 125/4, 250/2.
    assert_relative_eq!(
        o.tpot.mean().unwrap(),
        (125.0 / 3.0 + 31.25 + 125.0) / 3.0,
        epsilon = 1e-9
    );
    // ITL: the 9 gaps of the successful requests pooled.
    assert_relative_eq!(o.itl.mean().unwrap(), 500.0 / 9.0, epsilon = 1e-9);
    assert_eq!(o.itl.median(), Some(31.25));
    assert_eq!(o.requests_per_s, Some(1.2));
    assert_eq!(o.output_tokens_per_s, Some(4.8));
    assert!(run.measured.definitions.itl.starts_with("vLLM itl"));
    assert!(run.notes.is_empty(), "{:?}", run.notes);
    round_trips(&run);
}

#[test]
fn vllm_bench_summary_only_and_append() {
    let run = one("vllm-bench/summary-only.json");
    assert_eq!(run.layout, RunLayout::VllmBench);
    assert!(run.workload.requests.is_empty());
    assert!(run.workload.stages.is_empty());
    assert_eq!(run.workload.concurrency, Some(2));
    assert!(has_note(&run, "saved without --save-detailed"));
    assert!(has_note(&run, "request_rate inf"));
    let o = &run.measured.overall;
    assert_eq!(o.ttft.mean(), Some(80.0));
    assert_eq!(o.ttft.median(), Some(75.0));
    assert_eq!(o.ttft.p99(), Some(120.0));
    assert_eq!(o.itl.p99(), Some(20.0));
    assert_eq!(o.tpot.median(), Some(8.5));
    assert_eq!(o.e2e.mean(), Some(520.0));
    assert_eq!((o.successes, o.failures), (10, 0));
    assert_eq!(o.input_tokens_mean, Some(100.0));
    assert_eq!(o.output_tokens_mean, Some(50.0));
    round_trips(&run);

    let runs = read_runs(&fixture("vllm-bench/append.jsonl")).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].name, "append#1");
    assert_eq!(
        runs[1].workload.stages,
        [LoadStage {
            rate: 2.0,
            duration_s: 8.0
        }]
    );
    assert!(has_note(&runs[1], "burstiness 0.5"));
    // Gamma gaps with CV 1/√0.5.
    assert!((runs[1].workload.arrival_cv.unwrap() - 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(runs[1].measured.overall.e2e.p99(), Some(560.0));
    // Lengths without arrivals: pairs for the stages to carry, no replayable requests.
    let run = read_run(&fixture("vllm-bench/no-start-times.json")).unwrap();
    assert!(run.workload.requests.is_empty());
    // The successful requests' lengths (the fourth timed out).
    assert_eq!(run.workload.pairs, [[100, 4], [120, 5], [110, 3]]);
    assert!(has_note(&run, "no start_times"));
    assert_eq!(
        run.measured.overall.ttft.mean(),
        read_run(&fixture("vllm-bench/detailed.json"))
            .unwrap()
            .measured
            .overall
            .ttft
            .mean()
    );
    assert!(matches!(
        read_run(&fixture("vllm-bench/append.jsonl")),
        Err(ReadError::SeveralRuns { count: 2, .. })
    ));
}

#[test]
fn engine_config_file_and_merge() {
    let path = fixture("engine/h100.yaml");
    let extra = read_engine_config(&path).unwrap();
    assert_eq!(extra.accelerator.as_deref(), Some("H100"));
    assert_eq!(extra.dtype.as_deref(), Some("fp16"));
    assert_eq!(extra.tensor_parallel, Some(1));
    assert_eq!(extra.num_gpu_blocks, Some(7000));
    assert_eq!(extra.block_size, Some(16));
    assert_eq!(extra.enable_prefix_caching, Some(true));
    assert_eq!(extra.enable_chunked_prefill, Some(true));
    assert_eq!(extra.cpu_offload_gib, Some(8.0));
    assert_eq!(extra.gpu_memory_utilization, Some(0.9));
    assert_eq!(extra.engine_version.as_deref(), Some("0.15.1"));
    // A relative model_config is relative to the YAML's folder.
    assert_eq!(
        extra.model_config,
        Some(fixture("engine/configs/tiny.json"))
    );
    let back: RunServing = serde_json::from_str(&serde_json::to_string(&extra).unwrap()).unwrap();
    assert_eq!(back, extra);

    let mut run = one("inference-perf/run-a");
    run.serving.merge(&extra);
    assert_eq!(run.serving.num_gpu_blocks, Some(7000));
    assert_eq!(run.serving.tensor_parallel, Some(1)); // the YAML wins
    assert_eq!(run.serving.max_num_seqs, Some(32)); // kept
}

#[test]
fn engine_config_unknown_key() {
    let path = fixture("engine/unknown-key.yaml");
    let err = read_engine_config(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReadError::Field { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "{}: $.kv_cache_dtype: unknown engine-config key `kv_cache_dtype`",
            path.display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("accepted keys: model, model_config, accelerator, dtype"),
        "{msg}"
    );
    assert!(
        msg.contains("tensor_parallel_size (= tensor_parallel)"),
        "{msg}"
    );
    assert!(msg.ends_with("(found: \"fp8\")"), "{msg}");
    assert!(!msg.contains('\n'));
    // Dashes are underscores; bad YAML names its line.
    assert_eq!(
        read_engine_config_str("max-num-seqs: 64\n", "e.yaml")
            .unwrap()
            .max_num_seqs,
        Some(64)
    );
    let err = read_engine_config_str("model: [a\n", "e.yaml").unwrap_err();
    assert!(matches!(err, ReadError::Yaml { .. }), "{err}");
}

#[test]
fn unknown_layouts() {
    let scratch = Scratch::new("empty");
    let err = detect_run(&scratch.0).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReadError::UnknownFormat { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "{}: unknown format: not a run folder",
            scratch.0.display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("results/summary_lifecycle_metrics.json"),
        "{msg}"
    );
    assert!(msg.contains("vllm/meta.json"), "{msg}");
    assert!(matches!(
        read_runs(&scratch.0),
        Err(ReadError::UnknownFormat { .. })
    ));

    let csv = scratch.write("trace.csv", "a,b\n1,2\n");
    let msg = detect_run(&csv).unwrap_err().to_string();
    assert!(
        msg.contains("unknown format: not a JSON run file (line 1 column 1"),
        "{msg}"
    );
    let json = scratch.write("other.json", r#"{"hello": "world"}"#);
    let msg = read_run(&json).unwrap_err().to_string();
    assert!(
        msg.contains("not a measured run: looked for `benchmarks`"),
        "{msg}"
    );
    let err = read_run(&scratch.0.join("nowhere")).unwrap_err();
    assert!(matches!(err, ReadError::Io { .. }), "{err}");
    // A GuideLLM report without per-request timings is not a run.
    let agg = scratch.write(
        "agg.json",
        r#"{"benchmarks": [{"args": {"strategy": {"type_": "synchronous"}}, "metrics": {}}]}"#,
    );
    let msg = read_run(&agg).unwrap_err().to_string();
    assert!(
        msg.contains("no benchmark kept per-request timings"),
        "{msg}"
    );
}

/// The invented BLIS trainval pair: `trained_physics_test.json` + `error_records.csv`.
const TRAINVAL: &str = "blis-trainval";

/// Copies the trainval fixtures into `scratch/<dir>/`, with `csv` replacing the CSV when given.
fn trainval_copy(scratch: &Scratch, dir: &str, csv: Option<&str>) -> PathBuf {
    let physics =
        std::fs::read_to_string(fixture(&format!("{TRAINVAL}/trained_physics_test.json"))).unwrap();
    scratch.write(&format!("{dir}/trained_physics_test.json"), &physics);
    let text = match csv {
        Some(t) => t.to_owned(),
        None => std::fs::read_to_string(fixture(&format!("{TRAINVAL}/error_records.csv"))).unwrap(),
    };
    scratch.write(&format!("{dir}/error_records.csv"), &text);
    scratch.0.join(dir)
}

#[test]
fn blis_trainval_joins_experiments_and_dedups_actuals() {
    let runs = read_runs(&fixture(TRAINVAL)).unwrap();
    // Experiment `9` has no rows: skipped. The rows of `99-…` match no experiment.
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["7-model-a-tp2-chat-1", "20990101-120000-model-b-tp1-chat"]
    );
    for run in &runs {
        assert_eq!(run.layout, RunLayout::BlisTrainval);
        assert_eq!(run.measured_at, MeasuredAt::Client);
        assert_eq!(run.source, fixture(TRAINVAL));
        assert!(run.workload.requests.is_empty());
        assert_eq!(run.workload.ignore_eos, Some(true));
        assert_eq!(
            run.measured.definitions.itl,
            "sim-to-real pipeline: (E2E_mean − TTFT_mean)/(output_len_mean − 1), output \
             counted by inference-perf"
        );
        let o = &run.measured.overall;
        assert_eq!((o.successes, o.failures), (0, 0));
        assert!(o.tpot.is_empty());
        assert!(has_note(run, "no request counts"), "{:?}", run.notes);
        assert!(has_note(run, "99-model-z-tp1 (1 rows)"), "{:?}", run.notes);
        assert!(has_note(run, "ignore_eos assumed true"), "{:?}", run.notes);
        assert!(has_note(run, "vLLM 0.15.1"), "{:?}", run.notes);
        round_trips(run);
    }

    let a = &runs[0];
    let s = &a.serving;
    assert_eq!(s.model.as_deref(), Some("example-org/Model-A-FP8"));
    assert_eq!(s.accelerator.as_deref(), Some("H100"));
    assert_eq!(s.dtype.as_deref(), Some("fp8"));
    assert_eq!(s.tensor_parallel, Some(2));
    assert_eq!(s.max_num_seqs, Some(64));
    assert_eq!(s.max_num_batched_tokens, Some(1024));
    assert_eq!(s.num_gpu_blocks, Some(5000));
    assert_eq!(s.block_size, Some(16));
    assert_eq!(s.max_model_len, Some(4096));
    assert_eq!(s.enable_prefix_caching, Some(true));
    assert_eq!(s.enable_chunked_prefill, Some(true));
    assert_eq!(s.engine.as_deref(), Some("vllm"));
    assert_eq!(s.engine_version.as_deref(), Some("0.15.1"));
    assert_eq!(s.cpu_offload_gib, None);
    assert_eq!(s.data_parallel, None);
    assert!(has_note(a, "cpu_kv_blocks 300"), "{:?}", a.notes);
    assert!(has_note(a, "BLIS's KV block size"), "{:?}", a.notes);
    let w = &a.workload;
    assert_eq!(
        w.shared_prefix,
        Some(SharedPrefixSpec {
            groups: 3,
            prompts_per_group: 2,
            system_prompt_len: 50,
            question_len: 150,
        })
    );
    assert_eq!(w.input, Some(LengthSpec::Fixed { tokens: 200 }));
    assert_eq!(w.output, Some(LengthSpec::Fixed { tokens: 100 }));
    assert_eq!(
        w.stages,
        [
            LoadStage {
                rate: 2.0,
                duration_s: 60.0
            },
            LoadStage {
                rate: 4.0,
                duration_s: 60.0
            }
        ]
    );
    // Every actual is on two simulators' rows: read once.
    let o = &a.measured.overall;
    assert_eq!(
        (o.ttft.mean(), o.ttft.p90(), o.ttft.p99()),
        (Some(40.0), Some(55.0), Some(70.0))
    );
    assert_eq!(o.ttft.median(), None);
    assert_eq!(
        (o.e2e.mean(), o.e2e.p90(), o.e2e.p99()),
        (Some(1030.0), Some(1200.0), Some(1400.0))
    );
    assert_eq!(o.itl.mean(), Some(10.0));
    // (1030 − 40)/10 + 1.
    assert_eq!(o.output_tokens_mean, Some(100.0));
    assert!(has_note(a, "output_tokens_mean derived"), "{:?}", a.notes);
    assert!(!has_note(a, "counted outputs"), "{:?}", a.notes);
    assert_eq!(a.measured.stages.len(), 2);
    let (s0, s1) = (&a.measured.stages[0], &a.measured.stages[1]);
    assert_eq!((s0.ttft.mean(), s0.e2e.mean()), (Some(30.0), Some(820.0)));
    assert_eq!(s0.e2e.p99(), None);
    assert_relative_eq!(s0.output_tokens_mean.unwrap(), 790.0 / 8.0 + 1.0);
    assert_eq!(s1.e2e.p99(), Some(1500.0));
    assert_relative_eq!(s1.output_tokens_mean.unwrap(), 1190.0 / 12.0 + 1.0);

    let b = &runs[1];
    assert_eq!(b.serving.dtype.as_deref(), Some("fp16"));
    assert_eq!(b.serving.tensor_parallel, Some(1));
    assert!(has_note(b, "cpu_kv_blocks 0"), "{:?}", b.notes);
    assert!(has_note(b, "workloads chat, general"), "{:?}", b.notes);
    let o = &b.measured.overall;
    // Only a stage row for ttft_p90: left empty overall.
    assert_eq!(o.ttft.p90(), None);
    assert_eq!(b.measured.stages.len(), 1);
    assert_eq!(b.measured.stages[0].ttft.p90(), Some(25.0));
    assert_eq!(b.measured.stages[0].ttft.mean(), None);
    assert_eq!(b.measured.stages[0].output_tokens_mean, None);
    assert!(
        has_note(b, "no whole-run (stage_index -1) rows for ttft_p90"),
        "{:?}",
        b.notes
    );
    // (1612 − 20)/10 + 1 = 160.2 counted, 200 offered.
    assert_relative_eq!(o.output_tokens_mean.unwrap(), 160.2, epsilon = 1e-9);
    assert!(
        has_note(
            b,
            "counted outputs (mean 160.2) below the offered output_len 200 with ignore_eos"
        ),
        "{:?}",
        b.notes
    );
    assert!(has_note(b, "= 8.00 ms"), "{:?}", b.notes);
}

#[test]
fn blis_trainval_detection() {
    let dir = fixture(TRAINVAL);
    let csv = dir.join("error_records.csv");
    let physics = dir.join("trained_physics_test.json");
    for path in [&dir, &csv, &physics] {
        assert_eq!(
            detect_run(path).unwrap(),
            RunLayout::BlisTrainval,
            "{path:?}"
        );
    }
    let from_csv = read_runs(&csv).unwrap();
    assert_eq!(from_csv.len(), 2);
    assert_eq!(from_csv[0].source, csv);
    let err = read_run(&dir).unwrap_err();
    assert!(
        matches!(err, ReadError::SeveralRuns { count: 2, .. }),
        "{err}"
    );

    let scratch = Scratch::new("trainval-detect");
    // Either file alone is not a run.
    let lone_csv = scratch.write("csv-only/error_records.csv", "a,b\n1,2\n");
    let err = detect_run(&lone_csv).unwrap_err();
    assert!(matches!(err, ReadError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("trained_physics*.json"), "{err}");
    assert!(matches!(
        detect_run(&scratch.0.join("csv-only")),
        Err(ReadError::UnknownFormat { .. })
    ));
    let lone_physics = scratch.write("json-only/trained_physics_x.json", "{}");
    let err = detect_run(&lone_physics).unwrap_err();
    assert!(matches!(err, ReadError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("error_records.csv"), "{err}");
    assert!(matches!(
        detect_run(&scratch.0.join("json-only")),
        Err(ReadError::UnknownFormat { .. })
    ));
    // Other names beside error_records.csv are not a trained-physics file.
    scratch.write("other/physics.json", "{}");
    scratch.write("other/error_records.csv", "a,b\n1,2\n");
    assert!(matches!(
        detect_run(&scratch.0.join("other")),
        Err(ReadError::UnknownFormat { .. })
    ));
    // Two trained-physics files: ambiguous for the folder and the CSV, not for either JSON.
    let two = trainval_copy(&scratch, "two", None);
    scratch.write("two/trained_physics_other.json", "{}");
    for path in [two.clone(), two.join("error_records.csv")] {
        let err = detect_run(&path).unwrap_err();
        assert!(
            err.to_string()
                .contains("several trained_physics*.json files"),
            "{err}"
        );
    }
    assert_eq!(
        read_runs(&two.join("trained_physics_test.json"))
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn blis_trainval_conflicting_actuals_name_the_line() {
    let text = std::fs::read_to_string(fixture(&format!("{TRAINVAL}/error_records.csv"))).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The sim-b copy of the first row (overall ttft_mean 40) says 41.
    let n = lines
        .iter()
        .position(|l| l.starts_with("sim-b,") && l.contains(",-1,ttft_mean,"))
        .unwrap();
    let mut changed: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    changed[n] = changed[n].replace(",40,", ",41,");
    let scratch = Scratch::new("trainval-conflict");
    let dir = trainval_copy(&scratch, "run", Some(&(changed.join("\n") + "\n")));
    let err = read_runs(&dir).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReadError::Field { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!(
            "{}: line {}: column `actual`: ttft_mean of `7-model-a-tp2-chat-1` at \
             stage_index -1 disagrees with 40 on line 2",
            dir.join("error_records.csv").display(),
            n + 1
        )),
        "{msg}"
    );
    assert!(msg.ends_with("(found: 41)"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn blis_trainval_no_match_names_both_files() {
    let scratch = Scratch::new("trainval-nomatch");
    let csv = "experiment_folder,exp_id,stage_index,metric_name,actual\n\
               /x/42-other-run,42,-1,e2e_mean,100\n";
    let dir = trainval_copy(&scratch, "run", Some(csv));
    let msg = read_runs(&dir).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: file: no row matches an experiment of {} (ids 7, 20990101-120000, 9)",
            dir.join("error_records.csv").display(),
            dir.join("trained_physics_test.json").display()
        )),
        "{msg}"
    );
    assert!(msg.contains("42-other-run"), "{msg}");
    // A header without the measurements.
    let dir = trainval_copy(
        &scratch,
        "nohdr",
        Some("experiment_folder,exp_id\n/x/7-a,7\n"),
    );
    let msg = read_runs(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("line 1: missing column `stage_index`"),
        "{msg}"
    );
}

#[test]
fn blis_trainval_bad_rows_name_line_and_column() {
    let scratch = Scratch::new("trainval-bad");
    let head = "experiment_folder,exp_id,stage_index,metric_name,actual,tp\n";
    for (row, needle) in [
        (
            "/x/7-a,7,zero,e2e_mean,100,2",
            "line 2: column `stage_index`: expected -1 (whole run) or a load-stage index",
        ),
        (
            "/x/7-a,7,-1,e2e_mean,-5,2",
            "line 2: column `actual`: expected the measured value",
        ),
        (
            "/x/7-a,7,-1,e2e_mean,NaN,2",
            "line 2: column `actual`: expected the measured value",
        ),
        (
            "/x/7-a,8,-1,e2e_mean,100,2",
            "line 2: column `exp_id`: does not match experiment `7`",
        ),
        (
            "/x/7-a,7,-1,e2e_mean,100,4",
            "line 2: column `tp`: disagrees with tp 2 of experiment `7`",
        ),
        (
            "/x/7-a,7,-1,e2e_mean,100,2\n/x/7-b,7,-1,e2e_mean,100,2",
            "line 3: column `experiment_folder`: a second folder for experiment `7`",
        ),
        (
            "/x/7-a,7,-1,e2e_mean,100,2\n/x/7-a,7,-1,e2e_mean,100,1",
            "line 3: column `tp`: disagrees with `2` on line 2",
        ),
        (
            "/x/7-a,7,-1,e2e_p90,200,2\n/x/7-a,7,-1,e2e_p99,100,2",
            "line 3: column `actual`: E2E of `7-a` at stage_index -1: inconsistent values: latency \
             p99 = 100 is below p90 = 200 (found: 100)",
        ),
    ] {
        let dir = trainval_copy(&scratch, "run", Some(&format!("{head}{row}\n")));
        let msg = read_runs(&dir).unwrap_err().to_string();
        assert!(
            msg.starts_with(&dir.join("error_records.csv").display().to_string()),
            "{msg}"
        );
        assert!(msg.contains(needle), "{row}: {msg}");
    }
    // A row with a metric that is not read is no measurement; with one that is, the run reads.
    let dir = trainval_copy(
        &scratch,
        "run",
        Some(&format!(
            "{head}/x/7-a,7,-1,tpot_mean,5,2\n/x/7-a,7,-1,e2e_mean,100,2\n"
        )),
    );
    let run = read_run(&dir).unwrap();
    assert_eq!(run.measured.overall.e2e.mean(), Some(100.0));
    assert!(
        has_note(&run, "metrics not read: tpot_mean"),
        "{:?}",
        run.notes
    );
    assert!(run.measured.stages.is_empty());
}

/// The repository's real trained-physics file (Apache-2.0) with invented measurements.
#[test]
fn blis_trainval_with_the_shipped_trained_physics() {
    let physics = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/readers/blis/trained_physics_iter29.json"
    ))
    .unwrap();
    let scratch = Scratch::new("trainval-iter29");
    scratch.write("tv/trained_physics_iter29.json", &physics);
    scratch.write(
        "tv/error_records.csv",
        "simulator,experiment_folder,stage_index,metric_name,actual,exp_id,precision\n\
         s,/a/20260217-155451-some-run,-1,e2e_mean,1000,20260217,FP16\n\
         s,/a/20260217-155451-some-run,-1,ttft_mean,10,20260217,FP16\n\
         s,/a/20260217-155451-some-run,-1,itl_mean,5,20260217,FP16\n\
         s,/a/17-some-run,0,e2e_mean,500,17,FP8\n",
    );
    let runs = read_runs(&scratch.0.join("tv")).unwrap();
    assert_eq!(runs.len(), 2);
    let (scout, llama) = (&runs[0], &runs[1]);
    assert_eq!(scout.name, "17-some-run");
    assert_eq!(
        scout.serving.model.as_deref(),
        Some("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic")
    );
    assert_eq!(scout.serving.num_gpu_blocks, Some(8253));
    assert_eq!(scout.serving.dtype.as_deref(), Some("fp8"));
    let sp = scout.workload.shared_prefix.unwrap();
    assert_eq!((sp.groups, sp.prompts_per_group), (9, 5));
    assert_eq!(scout.workload.stages[0].rate, 2.5);
    assert!(scout.measured.overall.e2e.is_empty());
    assert_eq!(scout.measured.stages[0].e2e.mean(), Some(500.0));
    assert_eq!(llama.name, "20260217-155451-some-run");
    assert_eq!(llama.serving.num_gpu_blocks, Some(7463));
    assert_eq!(llama.measured.overall.output_tokens_mean, Some(199.0));
}

proptest::proptest! {
    #[test]
    fn engine_config_never_panics(s in "\\PC{0,200}") {
        let _ = read_engine_config_str(&s, "fuzz.yaml");
    }

    #[test]
    fn engine_config_values_never_panic(key in "[a-z_]{1,24}", value in "\\PC{0,20}") {
        let _ = read_engine_config_str(&format!("{key}: {value}\n"), "fuzz.yaml");
    }
}

/// Odd JSON values for the fuzz tests below.
const ODD: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "\"x\"",
    "\"inf\"",
    "null",
    "true",
    "[]",
    "{}",
    "4294967296",
    "1e-300",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn run_files_never_panic(s in "\\PC{0,200}") {
        let scratch = Scratch::new("fuzz-text");
        scratch.write("sim/vllm/meta.json", r#"{"engine_kwargs": {}}"#);
        scratch.write("sim/vllm/requests.jsonl", &s);
        let _ = read_runs(&scratch.0.join("sim"));
        scratch.write("ip/results/summary_lifecycle_metrics.json", &s);
        let _ = read_runs(&scratch.0.join("ip"));
        scratch.write("ip/profile.yaml", &s);
        let _ = read_runs(&scratch.0.join("ip"));
        let file = scratch.write("run.json", &s);
        let _ = read_runs(&file);
        let tv = trainval_copy(&scratch, "tv", Some(&s));
        let _ = read_runs(&tv);
        scratch.write("tv/trained_physics_test.json", &s);
        let _ = read_runs(&tv);
    }

    #[test]
    fn odd_values_never_panic(i in 0..ODD.len(), j in 0..ODD.len(), k in 0..ODD.len()) {
        let (a, b, c) = (ODD[i], ODD[j], ODD[k]);
        let scratch = Scratch::new("fuzz-values");
        scratch.write("sim/vllm/meta.json", &format!(
            r#"{{"engine_kwargs": {{"max_num_seqs": {a}, "dtype": {b}}}, "num_requests": {c}}}"#));
        scratch.write("sim/vllm/requests.jsonl", &format!(
            r#"{{"input_toks": {a}, "output_toks": {b}, "arrival_time": {c}, "queued_ts": 1, "first_token_ts": {a}, "last_token_ts": {b}}}"#));
        let _ = read_runs(&scratch.0.join("sim"));
        scratch.write("ip/results/summary_lifecycle_metrics.json", &format!(
            r#"{{"successes": {{"count": {a}, "latency": {{"request_latency": {{"mean": {b}, "median": {c}, "p90": {a}}}}}}}, "failures": {{"count": {c}}}}}"#));
        scratch.write("ip/profile.yaml", &format!(
            r#"{{"data": {{"type": "shared_prefix", "shared_prefix": {{"system_prompt_len": {a}, "question_len": {b}, "output_len": {c}, "num_groups": {a}, "num_prompts_per_group": 1}}}}, "load": {{"stages": [{{"rate": {b}, "duration": {c}}}]}}, "server": {{"ignore_eos": {a}}}}}"#));
        let _ = read_runs(&scratch.0.join("ip"));
        scratch.write("r/exp.json", &format!(
            r#"{{"experiment": "exp", "config": {{"kv_blocks_total_gpu": {a}}}, "requests": [{{"index": {b}, "arrival_time_us": {c}, "input_tokens": {a}, "output_tokens": {b}}}]}}"#));
        scratch.write("r/exp_ground_truth.json", &format!(
            r#"[{{"index": {b}, "ttft_s": {c}, "e2e_s": {a}}}]"#));
        let _ = read_runs(&scratch.0.join("r/exp.json"));
        let bench = scratch.write("bench.json", &format!(
            r#"{{"request_rate": {a}, "num_prompts": {b}, "max_concurrency": {c}, "input_lens": [{a}], "output_lens": [{b}], "ttfts": [{c}], "itls": [[{a}]], "start_times": [{b}], "latencies": [{c}]}}"#));
        let _ = read_runs(&bench);
        let guide = scratch.write("guide.json", &format!(
            r#"{{"benchmarks": [{{"args": {{"strategy": {{"type_": "constant", "rate": {a}}}}}, "duration": {b}, "requests": {{"successful": [{{"prompt_tokens": {c}, "output_tokens": {a}, "start_time": {b}, "first_token_time": {c}, "end_time": {a}}}]}}}}]}}"#));
        let _ = read_runs(&guide);
        let tv = trainval_copy(&scratch, "tv", Some(&format!(
            "experiment_folder,exp_id,stage_index,metric_name,actual,tp,dp,gpu_mem_util\n\
             /x/7-a,{a},{b},e2e_mean,{c},{a},{b},{c}\n/x/7-a,7,-1,itl_mean,{a},2,,\n")));
        let _ = read_runs(&tv);
        scratch.write("tv/trained_physics_test.json", &format!(
            r#"{{"alpha_coeffs": [], "beta_coeffs": [], "experiments": [{{"id": "7", "tp": {a}, "total_kv_blocks": {b}, "workload": {{"num_requests": {c}, "inference_perf": {{"shared_prefix": {{"output_len": {a}, "question_len": {b}, "system_prompt_len": {c}, "num_unique_system_prompts": 1, "num_users_per_system_prompt": {a}, "enable_multi_turn_chat": {b}}}, "stages": [{{"rate": {c}, "duration": {a}}}]}}}}}}]}}"#));
        let _ = read_runs(&tv);
    }
}

#[test]
fn public_run_types_are_send_sync_clone() {
    fn ok<T: Send + Sync + Clone>() {}
    ok::<MeasuredRun>();
    ok::<RunServing>();
    ok::<RunLayout>();
}

/// Reads the real runs of `/work/shared/data/ground-truth` (set `LLM_PERF_GROUND_TRUTH`) and
/// checks the headline figures of its SOURCES.md.
#[test]
#[ignore = "needs LLM_PERF_GROUND_TRUTH pointing at the shared ground-truth folder"]
#[allow(clippy::print_stdout)]
fn ground_truth_headlines() {
    let root = PathBuf::from(
        std::env::var("LLM_PERF_GROUND_TRUTH")
            .expect("set LLM_PERF_GROUND_TRUTH to the ground-truth folder"),
    );
    let show = |run: &MeasuredRun| {
        let o = &run.measured.overall;
        println!(
            "{:<50} {:?} ok {:>5} fail {:>5} reqs {:>5} stages {} | TTFT mean {:>9.1} p99 {:>9.1} | E2E mean {:>9.1} p99 {:>9.1} | TPOT mean {:>6.2} | out {:>7.1}",
            run.name,
            run.layout,
            o.successes,
            o.failures,
            run.workload.requests.len(),
            run.measured.stages.len(),
            o.ttft.mean().unwrap_or(f64::NAN),
            o.ttft.p99().unwrap_or(f64::NAN),
            o.e2e.mean().unwrap_or(f64::NAN),
            o.e2e.p99().unwrap_or(f64::NAN),
            o.tpot.mean().unwrap_or(f64::NAN),
            o.output_tokens_mean.unwrap_or(f64::NAN),
        );
        for note in &run.notes {
            println!("    note: {note}");
        }
    };
    let default_args = root.join("blis-training-h100/default_args");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&default_args)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 7);
    let mut folder_stages = std::collections::HashMap::new();
    for dir in &dirs {
        let run = perf_readers::read_run(dir).unwrap();
        folder_stages.insert(run.name.clone(), run.measured.stages.clone());
        assert_eq!(run.layout, RunLayout::InferencePerf);
        show(&run);
        if run.name.ends_with("codegen") {
            let o = &run.measured.overall;
            assert_relative_eq!(o.ttft.mean().unwrap(), 28.0, epsilon = 0.05);
            assert_relative_eq!(o.e2e.mean().unwrap(), 2081.0, epsilon = 0.5);
            assert_eq!(o.successes, 9000);
            assert_eq!(run.measured.stages.len(), 2);
            assert_eq!(run.serving.max_num_seqs, Some(128));
            assert_eq!(run.serving.tensor_parallel, Some(1));
            assert_eq!(run.workload.stages.len(), 2);
            let sp = run.workload.shared_prefix.unwrap();
            assert_eq!((sp.groups, sp.prompts_per_group), (10, 10));
        }
    }
    let replay = root.join("blis-training-h100/replay_data");
    for exp in [
        "20260217-155451-llama-2-7b-tp1-codegen",
        "20260217-162547-llama-2-7b-tp1-roleplay",
    ] {
        let run = perf_readers::read_run(&replay.join(format!("{exp}.json"))).unwrap();
        assert_eq!(run.layout, RunLayout::BlisReplay);
        show(&run);
        for (k, s) in run.measured.stages.iter().enumerate() {
            println!(
                "    stage {k}: ok {} TTFT mean {:.1} E2E mean {:.1} p90 {:.1}",
                s.successes,
                s.ttft.mean().unwrap_or(f64::NAN),
                s.e2e.mean().unwrap_or(f64::NAN),
                s.e2e.p90().unwrap_or(f64::NAN)
            );
        }
        // The replay split at the cumulative stage counts agrees with inference-perf's own
        // stage files.
        let stages = &folder_stages[exp];
        assert_eq!(stages.len(), run.measured.stages.len());
        for (ours, theirs) in run.measured.stages.iter().zip(stages) {
            assert_eq!(ours.successes, theirs.successes);
            assert_relative_eq!(
                ours.ttft.mean().unwrap(),
                theirs.ttft.mean().unwrap(),
                epsilon = 0.01
            );
            assert_relative_eq!(
                ours.e2e.mean().unwrap(),
                theirs.e2e.mean().unwrap(),
                epsilon = 0.01
            );
            assert_relative_eq!(
                ours.e2e.p90().unwrap(),
                theirs.e2e.p90().unwrap(),
                epsilon = 0.01
            );
        }
        if exp.ends_with("codegen") {
            let o = &run.measured.overall;
            assert_eq!(run.workload.requests.len(), 9000);
            assert_relative_eq!(o.ttft.mean().unwrap(), 28.0, epsilon = 0.05);
            assert_relative_eq!(o.e2e.mean().unwrap(), 2081.0, epsilon = 0.5);
            let counts: Vec<u64> = run.measured.stages.iter().map(|s| s.successes).collect();
            assert_eq!(counts, [3000, 6000]);
            assert_eq!(run.serving.num_gpu_blocks, Some(7462));
            assert_eq!(run.serving.max_model_len, Some(4096));
        }
    }
    let sim = root.join("llmservingsim-bench/RTXPRO6000/Llama-3.1-8B");
    let run = perf_readers::read_run(&sim).unwrap();
    assert_eq!(run.layout, RunLayout::LlmServingSim);
    show(&run);
    let o = &run.measured.overall;
    println!(
        "    TTFT median {:.1} p90 {:.1} p99 {:.1}; TPOT mean {:.2} median {:.2}; E2E p99 {:.1}; accelerator {:?}, dtype {:?}, gpu_memory_utilization {:?}",
        o.ttft.median().unwrap(),
        o.ttft.p90().unwrap(),
        o.ttft.p99().unwrap(),
        o.tpot.mean().unwrap(),
        o.tpot.median().unwrap(),
        o.e2e.p99().unwrap(),
        run.serving.accelerator,
        run.serving.dtype,
        run.serving.gpu_memory_utilization,
    );
    assert_eq!(run.workload.requests.len(), 300);
    assert_relative_eq!(o.ttft.mean().unwrap(), 7097.2, epsilon = 0.05);
    assert_relative_eq!(o.ttft.median().unwrap(), 9442.7, epsilon = 0.05);
    assert_relative_eq!(o.e2e.mean().unwrap(), 28200.7, epsilon = 0.05);
    assert_relative_eq!(o.e2e.p99().unwrap(), 37638.8, epsilon = 0.05);
    assert_relative_eq!(o.tpot.mean().unwrap(), 32.5, epsilon = 0.05);
    // The vllm/ folder reads the same run.
    assert_eq!(perf_readers::read_run(&sim.join("vllm")).unwrap(), run);

    // BLIS's trainval summaries: 13 of the 15 experiments have measurements.
    let trainval = root.join("blis-trainval-summary");
    assert_eq!(detect_run(&trainval).unwrap(), RunLayout::BlisTrainval);
    let runs = read_runs(&trainval).unwrap();
    assert_eq!(runs.len(), 13);
    println!(
        "{:<50} {:>7} {:>7} {:>8} | {:>9} {:>7} | per stage",
        "BLIS trainval run", "out", "offered", "counted%", "ITL/token", "ITL"
    );
    for run in &runs {
        assert_eq!(run.layout, RunLayout::BlisTrainval);
        let o = &run.measured.overall;
        let counted = o.output_tokens_mean.unwrap();
        let Some(LengthSpec::Fixed { tokens: offered }) = run.workload.output else {
            panic!("{}: no offered output length", run.name)
        };
        let per_token = (o.e2e.mean().unwrap() - o.ttft.mean().unwrap()) / f64::from(offered - 1);
        let stages: Vec<String> = run
            .measured
            .stages
            .iter()
            .map(|s| format!("{:.1}", s.output_tokens_mean.unwrap_or(f64::NAN)))
            .collect();
        println!(
            "{:<50} {counted:>7.1} {offered:>7} {:>7.1}% | {per_token:>9.2} {:>7.2} | {}",
            run.name,
            100.0 * counted / f64::from(offered),
            o.itl.mean().unwrap(),
            stages.join(" ")
        );
    }
    for run in &runs {
        show(run);
    }
    let by_name = |name: &str| {
        runs.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no run {name}"))
    };
    let scout = by_name("17-llama-4-scout-17b-16e-tp2-general-lite-2-1");
    let o = &scout.measured.overall;
    assert_eq!(o.e2e.mean().unwrap().round(), 5270.0);
    assert_relative_eq!(o.ttft.mean().unwrap(), 62.7, epsilon = 0.05);
    assert_relative_eq!(o.itl.mean().unwrap(), 21.17, epsilon = 0.005);
    assert_eq!(scout.measured.stages.len(), 2);
    assert_eq!(scout.serving.dtype.as_deref(), Some("fp8"));
    assert_eq!(scout.serving.tensor_parallel, Some(2));
    assert_eq!(scout.serving.num_gpu_blocks, Some(8253));
    assert_eq!(scout.workload.stages.len(), 2);
    let qwen = by_name("66-qwen2-5-7b-instruct-tp1-reasoning-lite-1-1");
    assert_eq!(qwen.measured.overall.e2e.mean().unwrap().round(), 10662.0);
    assert_eq!(qwen.serving.max_num_batched_tokens, Some(1024));
    let codegen = by_name("20260217-155451-llama-2-7b-tp1-codegen");
    assert_relative_eq!(
        codegen.measured.overall.e2e.mean().unwrap(),
        2081.0,
        epsilon = 0.5
    );
    assert_relative_eq!(
        codegen.measured.overall.itl.mean().unwrap(),
        10.58,
        epsilon = 0.005
    );
    // SOURCES.md: inference-perf counted a mean of 195 of the offered 247 tokens.
    assert_relative_eq!(
        codegen.measured.overall.output_tokens_mean.unwrap(),
        195.0,
        epsilon = 0.5
    );
    // The two Llama-2-7B runs of the physics file without measurements are not runs.
    assert!(!runs.iter().any(|r| r.name.starts_with("20260217-162547")));
    assert!(!runs.iter().any(|r| r.name.starts_with("20260217-231439")));
}
