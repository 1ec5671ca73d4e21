//! End-to-end tests of the `llm-perf` binary: outputs on the queue-analysis REST examples and
//! exit code 2 with a message naming the field for every kind of bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/inferno"
    ))
    .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(args)
        // runs without --out go to a scratch directory, not into the checkout
        .env(
            "LLM_PERF_RUNS_DIR",
            std::env::temp_dir().join("llm-perf-test-runs"),
        )
        .output()
        .expect("the llm-perf binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure with exit code 2 whose message contains `needle`.
fn fails_naming(args: &[&str], needle: &str) {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "args {args:?}: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(needle),
        "args {args:?}: expected `{needle}` in: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("valid JSON output")
}

fn close(actual: &serde_json::Value, expected: &serde_json::Value, key: &str) {
    let a = actual[key].as_f64().unwrap_or(f64::NAN);
    let e = expected[key].as_f64().unwrap_or(f64::NAN);
    let scale = e.abs().max(1e-30);
    assert!(
        (a - e).abs() <= 1e-5 * scale,
        "{key}: got {a}, expected {e}"
    );
}

/// A valid problem as flags (the REST example), to which each bad-input test changes one value.
const PROBLEM: [&str; 16] = [
    "--rate",
    "3",
    "--max-batch",
    "48",
    "--input-tokens",
    "128",
    "--output-tokens",
    "512",
    "--alpha",
    "12",
    "--beta",
    "0.05",
    "--gamma",
    "5e-4",
    "--max-queue",
    "128",
];

fn with(cmd: &str, flag: &str, value: &str) -> Vec<String> {
    let mut args = vec![cmd.to_owned()];
    let mut it = PROBLEM.iter();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        args.push((*f).to_owned());
        args.push(if *f == flag {
            value.to_owned()
        } else {
            (*v).to_owned()
        });
    }
    args
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn analyze_json_reproduces_v3_solve_example() {
    let file = sample("problem-data.json");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample("solution-solve.json")).unwrap())
            .unwrap();
    for arithmetic in ["f64", "go"] {
        let out = run(&[
            "analyze",
            "-f",
            file.to_str().unwrap(),
            "--model",
            "v3",
            "--arithmetic",
            arithmetic,
            "--json",
        ]);
        let got = json(&out);
        for key in [
            "throughput",
            "avgRespTime",
            "avgNumInServ",
            "avgTTFT",
            "avgITL",
            "maxRPS",
        ] {
            close(&got, &expected, key);
        }
        if arithmetic == "go" {
            // The wait is a float32 difference of two ~1e4 ms numbers in Go; only the parity
            // path reproduces it to 1e-5.
            close(&got, &expected, "avgWaitTime");
        }
    }
}

#[test]
fn size_json_reproduces_v3_target_example() {
    let file = sample("problem-data.json");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample("solution-target.json")).unwrap())
            .unwrap();
    let out = run(&[
        "size",
        "-f",
        file.to_str().unwrap(),
        "--model",
        "v3",
        "--arithmetic",
        "go",
        "--json",
    ]);
    let got = json(&out);
    for key in [
        "throughput",
        "avgTTFT",
        "avgITL",
        "RPSTargetTTFT",
        "RPSTargetITL",
        "maxRPS",
    ] {
        close(&got, &expected, key);
    }
}

#[test]
fn optimize_json_reproduces_example() {
    let file = sample("problem-data.json");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sample("solution-optimize.json")).unwrap())
            .unwrap();
    let got = json(&run(&[
        "optimize",
        "-f",
        file.to_str().unwrap(),
        "--arithmetic",
        "go",
        "--json",
    ]));
    assert_eq!(got["concurrency"], expected["concurrency"]);
    assert_eq!(got["M_ITL"], expected["M_ITL"]);
    assert_eq!(got["M_TPF"], expected["M_TPF"]);
    assert_eq!(got["feasible"], expected["feasible"]);
    for key in ["throughput", "avgTTFT", "avgITL", "maxRPS", "avgWaitTime"] {
        close(&got, &expected, key);
    }
}

#[test]
fn size_with_total_rate_prints_replicas() {
    let mut args = with("size", "--rate", "3");
    args.extend(
        [
            "--target-ttft",
            "60",
            "--target-itl",
            "20",
            "--total-rate",
            "10",
        ]
        .map(String::from),
    );
    let out = run(&refs(&args));
    assert!(out.status.success(), "{}", stderr(&out));
    // V7 sizes one replica at ≈ 2.95 req/s, so 10 req/s needs 4.
    assert!(stdout(&out).contains("replicas"), "{}", stdout(&out));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("replicas"))
        .unwrap()
        .to_owned();
    assert_eq!(line.split_whitespace().last(), Some("4"), "{line}");
}

#[test]
fn flags_override_file() {
    let file = sample("problem-data.json");
    let got = json(&run(&[
        "analyze",
        "-f",
        file.to_str().unwrap(),
        "--rate",
        "1.5",
        "--json",
    ]));
    assert_eq!(got["offeredRPS"].as_f64(), Some(1.5));
}

#[test]
fn nan_parameter_is_rejected() {
    fails_naming(&refs(&with("analyze", "--alpha", "NaN")), "alpha");
}

#[test]
fn negative_parameter_is_rejected() {
    fails_naming(&refs(&with("analyze", "--beta", "-0.05")), "beta = -0.05");
    fails_naming(&refs(&with("analyze", "--gamma", "-1")), "gamma");
}

#[test]
fn zero_output_tokens_is_rejected() {
    fails_naming(
        &refs(&with("analyze", "--output-tokens", "0")),
        "output_tokens",
    );
}

#[test]
fn zero_max_batch_is_rejected() {
    fails_naming(
        &refs(&with("analyze", "--max-batch", "0")),
        "max_batch_size",
    );
}

#[test]
fn zero_rate_is_rejected() {
    fails_naming(&refs(&with("analyze", "--rate", "0")), "rate");
}

#[test]
fn rate_above_capacity_is_rejected_by_v3() {
    let mut args = with("analyze", "--rate", "50");
    args.extend(["--model", "v3"].map(String::from));
    fails_naming(&refs(&args), "above the maximum rate");
}

#[test]
fn unreachable_target_is_rejected() {
    let mut args = with("size", "--rate", "3");
    args.extend(["--target-itl", "1"].map(String::from));
    fails_naming(&refs(&args), "ITL");
}

#[test]
fn missing_parameter_names_key_and_flag() {
    let out = run(&["analyze", "--rate", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--alpha"), "{}", stderr(&out));
}

#[test]
fn unknown_model_lists_nearest() {
    fails_naming(&["models", "Llama-3.1-9B"], "Llama-3.1-8B");
    fails_naming(&["accelerators", "H1000"], "nearest known names");
}

#[test]
fn malformed_json_file_is_rejected() {
    let dir = std::env::temp_dir().join(format!("llm-perf-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"RPS\": 3,\n  \"alpha\": 12,,\n}").unwrap();
    fails_naming(&["analyze", "-f", bad.to_str().unwrap()], "line 2");
    let typo = dir.join("typo.json");
    std::fs::write(&typo, r#"{"RPS": 3, "alpah": 12}"#).unwrap();
    fails_naming(&["analyze", "-f", typo.to_str().unwrap()], "alpah");
    let wrong_type = dir.join("type.json");
    std::fs::write(&wrong_type, r#"{"maxBatchSize": "many"}"#).unwrap();
    fails_naming(
        &["analyze", "-f", wrong_type.to_str().unwrap()],
        "maxBatchSize",
    );
    fails_naming(&["analyze", "-f", "/nonexistent/p.json"], "cannot read");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn catalogue_commands_list_and_show() {
    let out = run(&["models"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("DeepSeek-V3"));
    let one = json(&run(&[
        "models",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--json",
    ]));
    assert_eq!(one["name"], "Llama-3.1-8B");
    let shown = stdout(&run(&["models", "llama-2-7b", "--dtype", "fp16"]));
    assert!(shown.contains("524288 bytes"), "{shown}");
    let gpus = stdout(&run(&["accelerators"]));
    assert!(gpus.contains("MI300X") && gpus.contains("910B"), "{gpus}");
}

#[test]
fn every_subcommand_has_help() {
    for cmd in [
        "analyze",
        "size",
        "optimize",
        "simulate",
        "engines",
        "models",
        "accelerators",
    ] {
        let out = run(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd} --help");
        assert!(stdout(&out).contains("Usage: llm-perf"), "{cmd}");
    }
}

fn sim_config() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/sim/llama31-8b-h100.json"
    ))
}

#[test]
fn simulate_writes_csv_and_summary_deterministically() {
    let dir = std::env::temp_dir().join(format!("llm-perf-sim-test-{}", std::process::id()));
    let run_into = |sub: &str| {
        let out_dir = dir.join(sub);
        let out = run(&[
            "simulate",
            sim_config().to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ]);
        let summary = json(&out);
        let csv = std::fs::read_to_string(out_dir.join("requests.csv")).unwrap();
        let saved = std::fs::read_to_string(out_dir.join("summary.json")).unwrap();
        (summary, csv, saved)
    };
    let (summary, csv, saved) = run_into("a");
    assert_eq!(summary["requests"]["arrived"], 2000);
    assert_eq!(csv.lines().count(), 2001, "header + one row per request");
    let (_, csv_again, saved_again) = run_into("b");
    assert_eq!(csv, csv_again);
    assert_eq!(saved, saved_again);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_seed_override_changes_the_run() {
    let a = json(&run(&[
        "simulate",
        sim_config().to_str().unwrap(),
        "--json",
    ]));
    let b = json(&run(&[
        "simulate",
        sim_config().to_str().unwrap(),
        "--seed",
        "8",
        "--json",
    ]));
    assert_ne!(
        a["latency"]["ttft_ms"]["mean"],
        b["latency"]["ttft_ms"]["mean"]
    );
}

#[test]
fn simulate_bad_config_names_the_field() {
    let dir = std::env::temp_dir().join(format!("llm-perf-simbad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(sim_config()).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, text.replace("\"replicas\": 1", "\"replicas\": 0")).unwrap();
    fails_naming(&["simulate", bad.to_str().unwrap()], "replicas");
    let typo = dir.join("typo.json");
    std::fs::write(&typo, text.replace("\"router\"", "\"ruoter\"")).unwrap();
    fails_naming(&["simulate", typo.to_str().unwrap()], "ruoter");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn samples(rel: &str) -> String {
    format!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/{}"),
        rel
    )
}

#[test]
fn fit_headline_reproduces_the_go_trainer() {
    let out = run(&[
        "fit",
        &samples("inferno-trainer/data.json"),
        "--model",
        "v3",
        "--loss",
        "weighted-abs",
        "--init",
        "10,0,0",
        "--seed-compatible",
        "--json",
    ]);
    let got = json(&out);
    let p = &got["OptimizedParms"];
    let a = &got["AnalysisResults"];
    let rel = |v: &serde_json::Value, want: f64| (v.as_f64().unwrap() - want).abs() / want;
    assert!(rel(&p["alpha"], 6.760_506_205_916_267_5) < 1e-4, "{p}");
    assert!(rel(&p["beta"], 0.025_362_709_109_593) < 1e-4, "{p}");
    assert!(p["gamma"].as_f64().unwrap().abs() < 1e-6, "{p}");
    assert!(rel(&a["avgErrTTFT"], 1.537_237_319_946_289_2) < 1e-5, "{a}");
    assert!(rel(&a["avgErrITL"], 0.799_758_480_616_978) < 1e-5, "{a}");
    assert!(
        rel(&a["avgErrWeighted"], 1.045_584_760_393_415_2) < 1e-5,
        "{a}"
    );
    assert!(got["llmPerf"]["fit"].is_object());
}

#[test]
fn fit_table_shows_points_and_identifiability() {
    let out = run(&[
        "fit",
        &samples("inferno-trainer/qm_train_s4.json"),
        "--seconds",
        "--scaled",
        "--bootstrap",
        "8",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("14 points from 1 file(s)"), "{text}");
    assert!(text.contains("CI"), "{text}");
}

#[test]
fn fit_rejects_bad_input() {
    fails_naming(
        &[
            "fit",
            &samples("inferno-trainer/data.json"),
            "--init",
            "1,2",
        ],
        "--init",
    );
    fails_naming(
        &[
            "fit",
            &samples("inferno-trainer/data.json"),
            "--init",
            "1,-2,0",
        ],
        "init.beta",
    );
    fails_naming(
        &["fit", &samples("sim/llama31-8b-h100.json")],
        "sim/llama31-8b-h100.json",
    );
}

#[test]
fn read_detects_formats_and_summarises_traces() {
    let out = run(&[
        "read",
        &samples("readers/inferno/guidellm-csv.json"),
        &samples("readers/traces/AzureLLMInferenceTrace_code.csv"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("guidellm-csv-json"), "{text}");
    assert!(text.contains("constant@27.13"), "{text}");
    assert!(text.contains("azure-trace (8819 requests"), "{text}");
    let all = json(&run(&[
        "read",
        &samples("readers/inferno/guidellm-csv.json"),
        "--select",
        "all",
        "--json",
    ]));
    assert_eq!(all[0]["points"].as_array().map(Vec::len), Some(10));
}

#[test]
fn read_bad_files_are_one_line_errors() {
    let dir = std::env::temp_dir().join(format!("llm-perf-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let binary = dir.join("blob.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    let utf16 = dir.join("utf16.json");
    let mut wide = vec![0xFFu8, 0xFE];
    wide.extend(
        "{\"name\": \"x\", \"data\": []}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    std::fs::write(&utf16, wide).unwrap();
    for path in [
        empty.to_str().unwrap(),
        binary.to_str().unwrap(),
        utf16.to_str().unwrap(),
        dir.to_str().unwrap(),
        "/nonexistent/file.json",
    ] {
        let out = run(&["read", path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert_eq!(stderr(&out).lines().count(), 1, "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains(path), "{path}: {}", stderr(&out));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_train_query_and_show() {
    let dir = std::env::temp_dir().join(format!("llm-perf-predict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("predictors.json");
    let out_path = out_file.to_str().unwrap();
    let profile = samples(
        "readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
    );
    let trained = run(&[
        "predict",
        "train",
        "--profile",
        &profile,
        "--config",
        "qwen3-4b",
        "--out",
        out_path,
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    // The seed README's commands; the spec's reference weights give 74.5537 and 8.34057 ms.
    let ms = |mode: &str, bs: &str, len: &str| -> f64 {
        let out = run(&[
            "predict",
            "query",
            out_path,
            "qwen3-4b",
            "--mode",
            mode,
            "--bs",
            bs,
            "--input-len",
            len,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().trim_end_matches(" ms").parse().unwrap()
    };
    assert!((ms("prefill", "4", "512") - 74.5537).abs() / 74.5537 < 1e-3);
    assert!((ms("decode", "8", "1024") - 8.34057).abs() / 8.34057 < 1e-3);
    let shown = stdout(&run(&["predict", "show", out_path]));
    assert!(
        shown.contains("config `qwen3-4b`") && shown.contains("CV MAPE"),
        "{shown}"
    );
    fails_naming(
        &[
            "predict",
            "query",
            out_path,
            "nope",
            "--mode",
            "decode",
            "--bs",
            "1",
            "--input-len",
            "1",
        ],
        "nope",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn estimate_on_benchmark_csv() {
    let got = json(&run(&[
        "estimate",
        "--csv",
        &samples("predict/together-fixture.csv"),
        "--model",
        "fixture/model-a",
        "--input",
        "1000",
        "--output",
        "400",
        "--json",
    ]));
    // The fixture is exact: ttft_mean = 300 + 0.02·in − 0.01·out.
    let ttft = got["predictions"]["ttft_mean"].as_f64().unwrap();
    assert!((ttft - 316.0).abs() < 1e-6, "{ttft}");
    fails_naming(
        &[
            "estimate",
            "--csv",
            &samples("predict/together-fixture.csv"),
            "--model",
            "no/such",
            "--input",
            "1",
            "--output",
            "1",
        ],
        "no/such",
    );
}

#[test]
fn simulate_reads_yaml_like_json() {
    let from_json = stdout(&run(&[
        "simulate",
        &samples("sim/llama31-8b-h100.json"),
        "--json",
    ]));
    let from_yaml = stdout(&run(&[
        "simulate",
        &samples("sim/llama31-8b-h100.yaml"),
        "--json",
    ]));
    assert!(from_json.contains("\"arrived\": 2000"), "{from_json}");
    assert_eq!(from_json, from_yaml);
}

#[test]
fn tune_resume_and_jobs_give_identical_results() {
    let dir = std::env::temp_dir().join(format!("llm-perf-tune-{}", std::process::id()));
    let config = samples("pso/sim_tune.toml");
    let tune_into = |sub: &str, extra: &[&str]| {
        let out_dir = dir.join(sub);
        let mut args = vec!["tune", config.as_str(), "--out", out_dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        (
            stdout(&out),
            std::fs::read(out_dir.join("results.jsonl")).unwrap(),
            std::fs::read(out_dir.join("checkpoint.json")).unwrap(),
        )
    };
    let (table, results, checkpoint) = tune_into("whole", &["--jobs", "1"]);
    assert!(
        table.contains("rank") && table.contains("MAX_NUM_SEQS"),
        "{table}"
    );
    let (_, par_results, par_checkpoint) = tune_into("parallel", &["--jobs", "2"]);
    assert_eq!(results, par_results);
    assert_eq!(checkpoint, par_checkpoint);
    let (stopped, _, _) = tune_into("resumed", &["--stop-after", "2"]);
    assert!(stopped.contains("stopped early"), "{stopped}");
    let (_, res_results, res_checkpoint) = tune_into("resumed", &["--resume"]);
    assert_eq!(results, res_results);
    assert_eq!(checkpoint, res_checkpoint);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tune_rejects_bad_configs() {
    fails_naming(
        &["tune", &samples("pso/bad_fields.toml")],
        "bad_fields.toml",
    );
    fails_naming(
        &["tune", &samples("pso/duplicate_key.toml")],
        "duplicate key",
    );
}

#[test]
fn convert_to_inferno_json_round_trips_through_the_reader_and_fit() {
    let dir = std::env::temp_dir().join(format!("llm-perf-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = samples("readers/inferno/guidellm-csv.json");
    let converted = dir.join("dataset.json");
    let out = run(&[
        "convert",
        &source,
        "--to",
        "inferno-json",
        "-o",
        converted.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let back = json(&run(&["read", converted.to_str().unwrap(), "--json"]));
    let orig = json(&run(&["read", &source, "--json"]));
    let (b, o) = (&back[0]["points"], &orig[0]["points"]);
    assert_eq!(b.as_array().map(Vec::len), Some(7));
    for i in 0..7 {
        assert_eq!(b[i]["request_rate"], o[i]["request_rate"]);
        assert_eq!(b[i]["ttft"]["mean"], o[i]["ttft"]["median"]);
        assert_eq!(b[i]["itl"]["mean"], o[i]["itl"]["mean"]);
    }
    // The trainer sees the same observations either way, so the fit is identical.
    let fit =
        |f: &str| json(&run(&["fit", f, "--seed-compatible", "--json"]))["AnalysisResults"].clone();
    assert_eq!(fit(&source), fit(converted.to_str().unwrap()));
    let csv = stdout(&run(&["convert", &source, "--to", "csv"]));
    assert_eq!(csv.lines().count(), 8, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("guidellm-csv,synchronous,2.2577"),
        "{csv}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn engines_lists_builtins_with_aliases() {
    let text = stdout(&run(&["engines"]));
    for name in ["mindie", "vllm-ascend", "ais_bench", "vllm_benchmark"] {
        assert!(text.contains(name), "{text}");
    }
    let list = json(&run(&["engines", "--json"]));
    assert!(list.as_array().is_some_and(|l| l.len() == 5), "{list}");
}

#[test]
fn tune_benchmark_dry_run_prints_the_diff_and_commands() {
    let out = run(&[
        "tune",
        &samples("pso/seed_layout.toml"),
        "--evaluator",
        "benchmark",
        "--dry-run",
        "--benchmark",
        "ais_bench",
        "--engine-config",
        &samples("npu/fixture_mindie-llm-layout_config.json"),
        "--benchmark-config",
        &samples("npu/vllm_api_stream_chat.py"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("== mindie =="), "{text}");
    assert!(
        text.contains("BackendConfig.ScheduleConfig.maxBatchSize: 200 -> "),
        "{text}"
    );
    assert!(
        text.contains("command: ais_bench --models vllm_api_stream_chat"),
        "{text}"
    );
    let vllm = stdout(&run(&[
        "tune",
        &samples("pso/seed_layout.toml"),
        "--evaluator",
        "benchmark",
        "--dry-run",
        "--engine",
        "vllm",
        "--benchmark",
        "vllm_benchmark",
    ]));
    assert!(vllm.contains("command: vllm serve /models/demo"), "{vllm}");
    assert!(vllm.contains("command: vllm bench serve"), "{vllm}");
    // The seed's default MindIE path does not exist here: a clear error, exit 2.
    fails_naming(
        &[
            "tune",
            &samples("pso/seed_layout.toml"),
            "--evaluator",
            "benchmark",
            "--dry-run",
        ],
        "config.json",
    );
}

#[test]
fn a_seed_config_needs_no_evaluator_flag_and_every_key_is_accounted_for() {
    // No --evaluator: the seed's sections select real benchmarks, the keys are listed, and the
    // only failure left is the missing MindIE install (one line, exit 2), never a schema error.
    let out = run(&["tune", &samples("pso/seed_layout.toml"), "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("a seed tuner config ("), "{err}");
    assert!(
        err.contains("evaluating candidates with real benchmarks"),
        "{err}"
    );
    assert!(!err.contains("unknown field"), "{err}");
    for line in [
        "used: [mindie] (the engine tuned)",
        "ignored: [vllm] (tuning [mindie]; --engine vllm tunes this one)",
        "used: [cbo] (surrogate pre-filter: after 5 measured particles",
        "used: [pso_strategy] (coefficient schedules, applied every iteration: w exp_decay",
        "used: [data_storage] pso_top_k = 0",
        "used: ttft_slo = ",
    ] {
        assert!(err.contains(line), "{line:?} not in {err}");
    }
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: tuning the [mindie] engine section")
            && last.contains("--engine NAME")
            && last.contains("config.json"),
        "{last}"
    );
    // With the engine the file can run here, the plan is printed.
    let vllm = run(&[
        "tune",
        &samples("pso/seed_layout.toml"),
        "--dry-run",
        "--engine",
        "vllm",
    ]);
    assert!(vllm.status.success(), "{}", stderr(&vllm));
    assert!(stdout(&vllm).contains("command: vllm serve /models/demo"));
    // Our own tuning TOML still defaults to the simulator.
    let sim = run(&[
        "tune",
        &samples("pso/sim_tune.toml"),
        "--stop-after",
        "1",
        "--json",
    ]);
    assert!(sim.status.success(), "{}", stderr(&sim));
    assert!(!stderr(&sim).contains("seed tuner config"));
}

#[test]
fn a_new_users_wrong_turns_get_the_fix() {
    // An Inferno file in seconds fitted as milliseconds: refused, with the flag that fixes it.
    let qm = samples("inferno-trainer/qm_train_s4.json");
    fails_naming(&["fit", &qm], "rerun with --seconds");
    let fitted = json(&run(&["fit", &qm, "--seconds", "--json"]));
    // With the unit right, α is a few milliseconds per step, not thousandths.
    let alpha = fitted["OptimizedParms"]["alpha"].as_f64().unwrap();
    assert!((1.0..50.0).contains(&alpha), "{fitted}");
    // A Together CSV to `fit`: the file and the command that models it.
    let together = samples("predict/together-fixture.csv");
    fails_naming(
        &["fit", &together],
        "together-fixture.csv: a Together benchmark CSV",
    );
    fails_naming(&["fit", &together], "llm-perf estimate");
    // An Inferno data set to `predict train`: what it is and what the trainer takes.
    fails_naming(
        &[
            "predict",
            "train",
            "--profile",
            &samples("inferno-trainer/data.json"),
            "--config",
            "x",
            "--out",
            "never-written.json",
        ],
        "detected as inferno-json",
    );
    // A simulation config to `tune`: which command takes it.
    fails_naming(
        &["tune", &samples("sim/llama31-8b-h100.yaml")],
        "a simulation config (YAML/JSON), not a tuning config: `llm-perf simulate",
    );
    // An estimate far outside the data says it extrapolates, and never answers 0 tok/s.
    let far = stdout(&run(&[
        "estimate",
        "--csv",
        &together,
        "--model",
        "fixture/model-a",
        "--input",
        "1e12",
        "--output",
        "400",
    ]));
    assert!(
        far.contains("note: input tokens 1000000000000 are outside the measured 500–4000"),
        "{far}"
    );
    assert!(
        far.contains("note: linear gives user_tps_mean = 0, which no server measures"),
        "{far}"
    );
    // `run` is `simulate`.
    let out = run(&["run", &samples("sim/llama31-8b-h100.json"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["requests"]["completed"], 2000);
}

#[test]
fn a_corrupted_statistic_warns_when_unused_and_fails_when_used() {
    let fixture = |name: &str| {
        format!(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../perf-readers/tests/fixtures/glitch/{}"
            ),
            name
        )
    };
    // The throughput run's TTFT mean is a clock glitch (−2.2e8 ms); the fit drops that run.
    let out = run(&["fit", &fixture("guidellm-csv-unused-glitch.json"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("$[1] (throughput), point dropped by the selection: ttft.mean = -222574949"),
        "{err}"
    );
    assert!(json(&out)["OptimizedParms"]["alpha"].as_f64().unwrap() > 0.0);
    // A kept point's TTFT median is broken: the fit needs it, so it fails naming it.
    fails_naming(
        &["fit", &fixture("guidellm-csv-used-glitch.json")],
        "$[3], point 2 (constant@51.99): ttft.median = -187.25",
    );
}

#[test]
fn predict_view_reads_queries_from_stdin() {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join(format!("llm-perf-view-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pred.json");
    let trained = run(&[
        "predict",
        "train",
        "--profile",
        &samples(
            "readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
        ),
        "--config",
        "qwen3-4b-a100",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let view = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
            .args(["predict", "view", file.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let query = |mode: &str, bs: &str, len: &str| {
        let out = run(&[
            "predict",
            "query",
            file.to_str().unwrap(),
            "qwen3-4b-a100",
            "--mode",
            mode,
            "--bs",
            bs,
            "--input-len",
            len,
        ]);
        stdout(&out).trim().trim_end_matches(" ms").to_owned()
    };
    let out = view("mode decode\nbs 8\n# nothing yet\ninput-len 512\nmode prefill\nbs 1\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The weights first, as `predict show` prints them.
    assert!(text.starts_with("config `qwen3-4b-a100`"), "{text}");
    // A prediction once mode, bs and input-len are set, then after every line: 3 of them,
    // each equal to `predict query`.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" ms  (config"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, (mode, bs)) in
        lines
            .iter()
            .zip([("decode", "8"), ("prefill", "8"), ("prefill", "1")])
    {
        let ms = line.split(" ms").next().unwrap();
        assert_eq!(ms, query(mode, bs, "512"), "{line}");
        assert!(
            line.contains(&format!("{mode}, bs {bs}, input-len 512")),
            "{line}"
        );
    }
    // A line it cannot use is reported, the session goes on, and the exit code says so.
    let out = view("config other\nmode decode\nbs 2\ninput-len 64\n");
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("error: config = other: not in the file (configurations: qwen3-4b-a100)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{} ms  (config qwen3-4b-a100, decode, bs 2",
            query("decode", "2", "64")
        )),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_example_config_runs_as_printed() {
    let out = run(&["simulate", "--example-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = std::env::temp_dir().join(format!("llm-perf-starter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("starter.yaml");
    std::fs::write(&path, &out.stdout).unwrap();
    let summary = json(&run(&["simulate", path.to_str().unwrap(), "--json"]));
    assert_eq!(summary["requests"]["arrived"], 5000);
    fails_naming(&["simulate"], "CONFIG");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_warm_up_is_reported_in_json_and_table() {
    let out = run(&["simulate", "--example-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let starter = stdout(&out);
    assert!(starter.contains("\n# warm_up_s: 60"), "{starter}");
    let dir = std::env::temp_dir().join(format!("llm-perf-warm-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("warm.yaml");
    std::fs::write(
        &path,
        starter.replacen("\n# warm_up_s: 60", "\nwarm_up_s: 60", 1),
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let summary = json(&run(&["simulate", p, "--json"]));
    assert_eq!(summary["warm_up_s"], 60.0);
    assert_eq!(summary["requests"]["arrived"], 5000);
    let warm = summary["requests"]["warm_up"].as_u64().unwrap();
    assert!(warm > 0 && warm < 5000, "{warm}");
    let completed = summary["requests"]["completed"].as_u64().unwrap();
    assert_eq!(
        summary["latency"]["ttft_ms"]["count"].as_u64().unwrap() + warm,
        completed
    );
    let table = run(&["simulate", p]);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(
        stdout(&table).contains(&format!("; {warm} arrived in the 60 s warm-up")),
        "{}",
        stdout(&table)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_reports_goodput_under_the_starter_slos() {
    let starter = stdout(&run(&["simulate", "--example-config"]));
    assert!(starter.contains("\n# slo: { ttft_ms: 500"), "{starter}");
    let dir = std::env::temp_dir().join(format!("llm-perf-slo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("slo.yaml");
    // A tight TTFT objective so that some requests miss it.
    let text = starter.replacen("\n# slo: { ttft_ms: 500", "\nslo: { ttft_ms: 40", 1);
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap();
    let out_dir = dir.join("out");
    let summary = json(&run(&[
        "simulate",
        p,
        "--json",
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    let g = &summary["goodput"];
    let (met, measured) = (g["met"].as_u64().unwrap(), g["measured"].as_u64().unwrap());
    assert_eq!(measured, 5000);
    assert!(met > 0 && met < measured, "{met} of {measured}");
    assert_eq!(g["per_client"][0]["client"], "chat");
    assert_eq!(g["per_client"][0]["slo"]["ttft_ms"], 40.0);
    let csv = std::fs::read_to_string(out_dir.join("requests.csv")).unwrap();
    let trues = csv.lines().filter(|l| l.ends_with(",true")).count() as u64;
    assert_eq!(trues, met);
    let table = stdout(&run(&["simulate", p]));
    assert!(
        table.contains(&format!("{met} of {measured} measured requests")),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_replays_a_trace_file_named_relative_to_the_config() {
    let dir = std::env::temp_dir().join(format!("llm-perf-trace-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("traces")).unwrap();
    std::fs::copy(
        samples("readers/traces/AzureLLMInferenceTrace_code.csv"),
        dir.join("traces/azure.csv"),
    )
    .unwrap();
    let config = dir.join("replay.yaml");
    std::fs::write(
        &config,
        "cluster:\n  cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: H100 }\n\
         workload:\n  clients:\n  - arrival: { kind: trace_file, path: traces/azure.csv, \
         start_s: 0, end_s: 60 }\n",
    )
    .unwrap();
    let summary = json(&run(&["simulate", config.to_str().unwrap(), "--json"]));
    // The Azure code trace's first minute, replayed request by request.
    let arrived = summary["requests"]["arrived"].as_u64().unwrap();
    assert!(arrived > 50, "{arrived}");
    assert_eq!(summary["requests"]["completed"].as_u64().unwrap(), arrived);
    std::fs::write(
        &config,
        "cluster:\n  cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: H100 }\n\
         workload:\n  clients:\n  - arrival: { kind: trace_file, path: traces/missing.csv }\n",
    )
    .unwrap();
    fails_naming(&["simulate", config.to_str().unwrap()], "missing.csv");
    // `llm-perf tune` resolves trace files of its [simulator] section the same way.
    let tune = std::fs::read_to_string(samples("pso/sim_tune.toml")).unwrap();
    let client_at = tune.find("[[simulator.workload.clients]]").unwrap();
    let tune = format!(
        "{}[[simulator.workload.clients]]\narrival = {{ kind = \"trace_file\", path = \"traces/azure.csv\", end_s = 30.0 }}\n",
        &tune[..client_at]
    );
    let tune_path = dir.join("tune.toml");
    std::fs::write(&tune_path, tune).unwrap();
    let report = json(&run(&["tune", tune_path.to_str().unwrap(), "--json"]));
    assert!(report["evaluations"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["best_cost"].as_f64().unwrap().is_finite(),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tune_reports_the_pareto_front_of_everything_evaluated() {
    let config = samples("pso/sim_tune.toml");
    let report = json(&run(&["tune", &config, "--json"]));
    let front = report["pareto_front"].as_array().unwrap();
    assert!(!front.is_empty());
    let figures = |r: &serde_json::Value| {
        let i = &r["index"];
        (
            i["output_throughput"].as_f64().unwrap(),
            i["ttft_p99_ms"].as_f64().unwrap(),
            i["tpot_ms"].as_f64().unwrap(),
        )
    };
    let points: Vec<(f64, f64, f64)> = front.iter().map(|p| figures(&p["record"])).collect();
    // No point of the front dominates another, and it is sorted by throughput.
    for (i, a) in points.iter().enumerate() {
        for (j, b) in points.iter().enumerate() {
            let dominates = a.0 >= b.0 && a.1 <= b.1 && a.2 <= b.2 && a != b;
            assert!(i == j || !dominates, "{a:?} dominates {b:?}");
        }
    }
    assert!(points.windows(2).all(|w| w[0].0 >= w[1].0));
    let table = stdout(&run(&["tune", &config]));
    assert!(
        table.contains("Pareto front of the") && table.contains("p99 TTFT ms"),
        "{table}"
    );
}

#[test]
fn predict_vidur_kind_trains_queries_and_shows() {
    let dir = std::env::temp_dir().join(format!("llm-perf-vidur-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("vidur.json");
    let out_path = out_file.to_str().unwrap();
    let mlp = samples("readers/profiles/vidur/h100_Llama-2-7b-hf_mlp_head20.csv");
    let trained = run(&[
        "predict",
        "train",
        "--kind",
        "vidur",
        "--profile",
        &mlp,
        "--model",
        "Llama-2-7B",
        "--accelerator",
        "H100",
        "--config",
        "l2",
        "--out",
        out_path,
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    // The excerpt covers 3 520–4 096 tokens per step: query inside it.
    let ms = |len: &str| -> f64 {
        let out = run(&[
            "predict",
            "query",
            out_path,
            "l2",
            "--mode",
            "prefill",
            "--bs",
            "1",
            "--input-len",
            len,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().trim_end_matches(" ms").parse().unwrap()
    };
    let (short, long) = (ms("3600"), ms("4000"));
    // Never below the compute bound: 2·6.5e9 FLOPs per token at 989.4 TFLOPS ≈ 52.5 ms at 4000.
    assert!(long > 52.5 && long > short, "{short} {long}");
    let shown = stdout(&run(&["predict", "show", out_path]));
    assert!(
        shown.contains("config `l2` (vidur): 32 layers") && shown.contains("roofline attention")
    );
    fails_naming(
        &[
            "predict",
            "train",
            "--kind",
            "vidur",
            "--profile",
            &mlp,
            "--config",
            "x",
            "--out",
            out_path,
        ],
        "--model",
    );
    fails_naming(
        &[
            "predict",
            "train",
            "--kind",
            "vidur",
            "--profile",
            &mlp,
            "--model",
            "Llama-2-7B",
            "--accelerator",
            "H100",
            "--tp",
            "2",
            "--config",
            "x",
            "--out",
            out_path,
        ],
        "no rows for TP 2",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tune_with_a_learned_step_model() {
    let dir = std::env::temp_dir().join(format!("llm-perf-tune-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let predictors = dir.join("p.json");
    let profile = samples(
        "readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
    );
    let trained = run(&[
        "predict",
        "train",
        "--profile",
        &profile,
        "--config",
        "q",
        "--cv",
        "0",
        "--out",
        predictors.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let config = samples("pso/sim_tune.toml");
    let learned = json(&run(&[
        "tune",
        &config,
        "--evaluator",
        "model",
        "--predictor",
        predictors.to_str().unwrap(),
        "--predictor-config",
        "q",
        "--json",
    ]));
    let simulated = json(&run(&["tune", &config, "--json"]));
    assert!(
        learned["best_cost"].as_f64().is_some_and(f64::is_finite),
        "{learned}"
    );
    // The learned Qwen3-4B/A100 steps differ from the config's Inferno cost model.
    assert_ne!(learned["top"][0]["index"], simulated["top"][0]["index"]);
    fails_naming(&["tune", &config, "--evaluator", "model"], "--predictor");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn seed_sim_config() -> String {
    samples("sim/llmperforacle-example.yaml")
}

/// Runs `llm-perf` in `dir` (the seed config writes its outputs relative to it).
fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the llm-perf binary runs")
}

#[test]
fn simulate_runs_a_seed_config_unchanged() {
    let dir = std::env::temp_dir().join(format!("llm-perf-seedcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = run_in(&dir, &["simulate", &seed_sim_config(), "--json"]);
    let summary = json(&out);
    assert_eq!(summary["requests"]["arrived"], 300);
    assert_eq!(summary["requests"]["completed"], 300);
    // One decision per line on stderr.
    let err = stderr(&out);
    for needle in [
        "seed config: ignored: simulation.lod",
        "seed config: ignored: frameworks_to_test[0].config.scheduler_iteration_delay_s",
        "seed config: unit converted: hardware_profile.compute_devices[0].memory_capacity_bytes",
        "seed config: mapped: workload.load_balancing_strategy: least_outstanding_requests",
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(needle)),
            "{needle} in {err}"
        );
    }
    // metrics_config's output paths, relative to the working directory.
    let saved = std::fs::read_to_string(dir.join("llmperforacle_summary.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&saved).unwrap(),
        summary
    );
    let csv = std::fs::read_to_string(dir.join("llmperforacle_requests.csv")).unwrap();
    assert_eq!(csv.lines().count(), 301, "header + one row per request");
    // A key the seed does not have: an error naming its path.
    let text = std::fs::read_to_string(seed_sim_config()).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, text.replace("max_num_seqs: 128", "max_num_seq: 128")).unwrap();
    fails_naming(
        &["simulate", bad.to_str().unwrap()],
        "frameworks_to_test[0].config.max_num_seq",
    );
    std::fs::write(&bad, text.replace("rate: 6.0 }", "rate: -1.0 }")).unwrap();
    fails_naming(
        &["simulate", bad.to_str().unwrap()],
        "workload.client_profiles[0].inter_arrival_time_dist_config.rate = -1",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_with_a_learned_cost_model() {
    let dir = std::env::temp_dir().join(format!("llm-perf-simcost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("linear.json");
    let model_path = model.to_str().unwrap();
    let profile = samples(
        "readers/profiles/llm-profiler/A100_benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.v2.json",
    );
    let trained = run(&[
        "predict",
        "train",
        "--profile",
        &profile,
        "--config",
        "qwen3-4b",
        "--cv",
        "0",
        "--out",
        model_path,
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let config = sim_config();
    let config = config.to_str().unwrap();
    let roofline = json(&run(&["simulate", config, "--json"]));
    let learned = json(&run(&[
        "simulate",
        config,
        "--cost-model",
        model_path,
        "--json",
    ]));
    let named = json(&run(&[
        "simulate",
        config,
        "--cost-model",
        model_path,
        "--cost-model-config",
        "qwen3-4b",
        "--json",
    ]));
    assert_eq!(
        learned, named,
        "the file's only configuration is the default"
    );
    assert_eq!(learned["requests"]["completed"], 2000);
    assert_ne!(
        learned["latency"]["itl_ms"]["mean"],
        roofline["latency"]["itl_ms"]["mean"]
    );
    // Steps priced by the linear model (Qwen3-4B on an A100, measured) are slower than the
    // H100 roofline's for Llama-3.1-8B: mean ITL ≈ 15.5 ms against ≈ 8.9 ms.
    let itl = learned["latency"]["itl_ms"]["mean"].as_f64().unwrap();
    let itl_roofline = roofline["latency"]["itl_ms"]["mean"].as_f64().unwrap();
    assert!(itl > itl_roofline && itl < 40.0, "{itl} vs {itl_roofline}");
    // The seed config with the learned model.
    let seed = json(&run_in(
        &dir,
        &[
            "simulate",
            &seed_sim_config(),
            "--cost-model",
            model_path,
            "--json",
        ],
    ));
    assert_eq!(seed["requests"]["completed"], 300);
    fails_naming(
        &[
            "simulate",
            config,
            "--cost-model",
            model_path,
            "--cost-model-config",
            "nope",
        ],
        "unknown config `nope`",
    );
    // A Vidur per-operator file works the same way.
    let vidur = dir.join("vidur.json");
    let mlp = samples("readers/profiles/vidur/h100_Llama-2-7b-hf_mlp_head20.csv");
    let trained = run(&[
        "predict",
        "train",
        "--kind",
        "vidur",
        "--profile",
        &mlp,
        "--model",
        "Llama-2-7B",
        "--accelerator",
        "H100",
        "--config",
        "l2",
        "--out",
        vidur.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let per_op = json(&run(&[
        "simulate",
        config,
        "--cost-model",
        vidur.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(per_op["requests"]["completed"], 2000);
    assert_ne!(
        per_op["latency"]["itl_ms"]["mean"],
        learned["latency"]["itl_ms"]["mean"]
    );
    fails_naming(
        &[
            "simulate",
            config,
            "--cost-model",
            "/nonexistent/model.json",
        ],
        "/nonexistent/model.json",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `llm-perf read` on files that are not benchmark points says what they hold.
#[test]
fn read_describes_analyzer_documents_fits_and_profiles() {
    let readers = |rel: &str| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/readers/"
        ))
        .join(rel)
    };
    let problem = sample("problem-data.json");
    let out = run(&["read", problem.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("inferno-problem (Inferno analyzer problem: RPS 3, maxBatchSize 48"),
        "{text}"
    );
    assert!(text.contains("use `llm-perf analyze -f"), "{text}");

    let out = run(&["read", sample("solution-optimize.json").to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("`/optimize` answer): throughput 2.94946 req/s"),
        "{text}"
    );
    assert!(
        text.contains("concurrency 48, M_ITL 31, M_TPF 48, oracle calls 6, feasible true"),
        "{text}"
    );
    let out = run(&["read", sample("solution-target.json").to_str().unwrap()]);
    assert!(
        stdout(&out).contains("`/target` answer"),
        "{}",
        stdout(&out)
    );

    let out = run(&["read", sample("golden_primitives.json").to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("inferno-golden-primitives"), "{text}");
    assert!(text.contains("8504.38"), "{text}");

    let fit = readers("inferno/exp2_results_sweep-i64-o64.txt");
    let out = run(&["read", fit.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("inferno-trainer-result (Inferno model-trainer fit of `GuideLLM HTML benchmark data`, 7 points): alpha 10.146122 ms, beta 0.037190153"), "{text}");

    let summary = readers("profiles/llm-profiler/benchmark_data_Qwen_Qwen3-4B.summary.json");
    let out = run(&["read", summary.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains(
            "llm-profiler-summary (llm-profiler sweep summary: 95 experiments, 7 batch sizes"
        ),
        "{text}"
    );

    let physics = readers("blis/trained_physics_iter29.json");
    let out = run(&["read", physics.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("3 alpha, 10 beta; 15 experiments"),
        "{}",
        stdout(&out)
    );

    let csv = readers("guidellm/v0.5_model-trainer_sweep-i1024-o1024_benchmarks.csv");
    let out = run(&["read", "--select", "all", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("guidellm-csv `v0.5_model-trainer_sweep-i1024-o1024_benchmarks`, 10 points"),
        "{}",
        stdout(&out)
    );

    fails_naming(
        &["read", readers("LICENSE-Apache-2.0").to_str().unwrap()],
        "a licence text, not data",
    );
}

/// `llm-perf read --json` prints profiles and model documents as JSON too.
#[test]
fn read_json_prints_documents_and_profiles_as_json() {
    let problem = sample("problem-data.json");
    let doc = json(&run(&["read", problem.to_str().unwrap(), "--json"]));
    assert_eq!(doc["format"], "inferno-problem");
    // The REST example's maximum batch size.
    let p = &doc["document"]["AnalyzerProblem"];
    assert_eq!(p["max_batch_size"], 48.0, "{doc}");
    let mlp = samples("readers/profiles/vidur/h100_Llama-2-7b-hf_mlp_head20.csv");
    let prof = json(&run(&["read", &mlp, "--json"]));
    assert_eq!(prof["format"], "vidur-mlp-profile");
    assert_eq!(prof["profile"]["VidurMlp"].as_array().unwrap().len(), 20);
    // Mixed kinds: one JSON array of per-file objects, in the order given.
    let report = samples("readers/fixtures/guidellm-v0.1-report.json");
    let mixed = json(&run(&[
        "read",
        problem.to_str().unwrap(),
        &report,
        "--json",
    ]));
    let items = mixed.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["format"], "inferno-problem");
    assert_eq!(items[1]["format"], "guidellm-json");
    assert!(items[1]["dataset"].is_object(), "{mixed}");
}

#[test]
fn theory_bound_narrows_max_batch_size_from_recorded_npu_smi_output() {
    // specs/tuning.md §10: a Llama-3.1-8B-shaped model on a 64 GiB card at 3 % use, block 128,
    // maxPrefillTokens 8192, tp 1, statistics 1024 / 4096 / 512 → max_batch_size 10–1000
    // becomes 176–345.
    let dir = std::env::temp_dir().join(format!("llm-perf-theory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("config.json");
    std::fs::write(
        &model,
        r#"{"hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
            "num_hidden_layers": 32, "vocab_size": 128256, "max_position_embeddings": 8192,
            "intermediate_size": 14336, "torch_dtype": "bfloat16"}"#,
    )
    .unwrap();
    let mut mindie: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(samples("npu/fixture_mindie-llm-layout_config.json")).unwrap(),
    )
    .unwrap();
    mindie["BackendConfig"]["ModelDeployConfig"]["ModelConfig"][0]["worldSize"] = 1.into();
    let engine = dir.join("mindie-config.json");
    std::fs::write(&engine, mindie.to_string()).unwrap();
    let npu_smi = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../perf-pso/tests/fixtures/npu_smi_usages_hbm.txt"
    );
    let args = [
        "tune",
        &samples("pso/seed_layout.toml"),
        "--dry-run",
        "--engine-config",
        engine.to_str().unwrap(),
        "--model-config",
        model.to_str().unwrap(),
        "--device-memory",
        npu_smi,
    ];
    let mut with_stats = args.to_vec();
    with_stats.extend(["--theory-stats", "1024,4096,512"]);
    let err = stderr(&run(&with_stats));
    assert!(
        err.contains("theory-guided bound on max_batch_size"),
        "{err}"
    );
    assert!(err.contains("65536 MB at 3 % use"), "{err}");
    assert!(err.contains("blocks = "), "{err}");
    assert!(err.contains("= 2123"), "{err}");
    assert!(
        err.contains("max_batch_size 10–1000 → 176–345"),
        "the narrowed range is printed: {err}"
    );
    // A missing input is named with the flag that supplies it, never skipped silently.
    let err = stderr(&run(&args));
    assert!(
        err.contains("skipped, no token statistics of a default run (give --theory-stats"),
        "{err}"
    );
    let err = stderr(&run(&[
        "tune",
        &samples("pso/seed_layout.toml"),
        "--dry-run",
        "--engine-config",
        engine.to_str().unwrap(),
        "--theory-stats",
        "1024,4096,x",
    ]));
    assert!(
        err.contains("--theory-stats") && err.contains("AVG_IN,MAX_IN,MAX_OUT"),
        "{err}"
    );
    // Without --device-memory the host's `npu-smi` is asked (here a stand-in printing the
    // recorded output, first on PATH).
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("npu-smi");
    std::fs::write(&tool, format!("#!/bin/sh\ncat '{npu_smi}'\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let probed = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(&args[..7])
        .args(["--theory-stats", "1024,4096,512"])
        .env("PATH", path)
        .output()
        .unwrap();
    let err = stderr(&probed);
    assert!(
        err.contains("from `npu-smi info -t usages -i 0 -c 0`")
            && err.contains("max_batch_size 10–1000 → 176–345"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_too_big_for_the_disk_is_refused_before_it_starts() {
    // 10¹¹ requests: about 18 TiB of requests.csv, more than this machine's free space.
    let dir = std::env::temp_dir().join(format!("llm-perf-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("big.json");
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(samples("sim/llama31-8b-h100.json")).unwrap(),
    )
    .unwrap();
    cfg["max_requests"] = serde_json::json!(100_000_000_000u64);
    std::fs::write(&config, cfg.to_string()).unwrap();
    let out_dir = dir.join("out");
    let out = run(&[
        "simulate",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to start: ")
            && err.contains(
                "requests.csv would be about 18.2 TiB (100000000000 requests × ~200 B per row)"
            )
            && err.contains("free on"),
        "{err}"
    );
    assert!(!out_dir.join("requests.csv").exists());
    // A small limit refuses a small run, naming both sizes.
    cfg["max_requests"] = serde_json::json!(100_000);
    std::fs::write(&config, cfg.to_string()).unwrap();
    let out = run(&[
        "simulate",
        config.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--max-output",
        "1M",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("would be about 19.1 MiB (100000 requests")
            && err.contains("above --max-output 1 MiB"),
        "{err}"
    );
    assert!(!out_dir.join("requests.csv").exists());
    // A bad size names the flag's value.
    let out = run(&["simulate", config.to_str().unwrap(), "--max-output", "12Q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("12Q: unknown unit"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_simulation_and_writes_a_summary_marked_interrupted() {
    use std::time::{Duration, Instant};
    let dir = std::env::temp_dir().join(format!("llm-perf-sigint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("long.json");
    let mut cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(samples("sim/llama31-8b-h100.json")).unwrap(),
    )
    .unwrap();
    // Minutes of work: it is stopped long before.
    cfg["max_requests"] = serde_json::json!(2_000_000);
    std::fs::write(&config, cfg.to_string()).unwrap();
    let out_dir = dir.join("out");
    let csv = out_dir.join("requests.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(["simulate", config.to_str().unwrap(), "--json", "--out"])
        .arg(&out_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Rows on disk: the run is under way (and its Ctrl-C handler installed).
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&csv).map_or(0, |m| m.len()) == 0 {
        assert!(Instant::now() < deadline, "no rows after 60 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: stopping the simulation")
            && err.contains("\"interrupted\": true"),
        "{err}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["interrupted"], true);
    let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(printed, summary);
    // Every arrived request has its row, the unfinished ones included.
    let arrived = summary["requests"]["arrived"].as_u64().unwrap();
    assert!(arrived > 0 && arrived < 2_000_000, "{arrived}");
    assert!(summary["requests"]["unfinished"].as_u64().unwrap() > 0);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count() as u64, arrived + 1);
    let _ = std::fs::remove_dir_all(&dir);
}
