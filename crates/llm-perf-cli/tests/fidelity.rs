//! `llm-perf validate` and `llm-perf calibrate` on measured runs: the sample run (a real
//! LLMServingSim measurement), inference-perf run folders written here in the tool's layout,
//! calibration files used by `validate` and `simulate`, and the one-line errors (exit 2).

mod common;

use std::path::Path;

use common::{repo_file, run_cli};
use serde_json::Value;

fn sample() -> String {
    repo_file("samples/runs/llmservingsim-rtxpro6000-llama-3.1-8b")
        .to_str()
        .expect("UTF-8 path")
        .to_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("dir");
    }
    std::fs::write(&path, text).expect("write");
}

/// An inference-perf run folder of `model` (TP `tp`) at 2 then 4 req/s for 20 s each,
/// shared-prefix prompts (2 groups × 3, 100 + 200 tokens, 50 out, ignore_eos). The measured
/// figures are invented but plausible for a 7B model on an H100.
fn inference_perf_run(dir: &Path, model: &str, tp: u32, summary: bool) {
    write(
        dir,
        "exp-config.yaml",
        &format!(
            "model: {model}\ntensor_parallelism: {tp}\nmax_model_len: 4096\n\
             max_num_batched_tokens: 2048\nmax_num_seqs: 64\napp: inference-perf\n"
        ),
    );
    write(
        dir,
        "profile.yaml",
        &format!(
            r#"{{"api":{{"streaming":true,"type":"completion"}},"data":{{"shared_prefix":{{"num_unique_system_prompts":2,"num_users_per_system_prompt":3,"output_len":50,"question_len":200,"system_prompt_len":100}},"type":"shared_prefix"}},"load":{{"stages":[{{"duration":20,"rate":2}},{{"duration":20,"rate":4}}],"type":"constant"}},"server":{{"ignore_eos":true,"model_name":"{model}","type":"vllm"}}}}"#
        ),
    );
    if summary {
        write(
            dir,
            "results/summary_lifecycle_metrics.json",
            r#"{"successes": {"count": 120, "latency": {
                 "request_latency": {"mean": 0.42, "median": 0.41, "p90": 0.45, "p95": 0.46, "p99": 0.5},
                 "time_to_first_token": {"mean": 0.03, "median": 0.029, "p90": 0.035, "p95": 0.037, "p99": 0.045},
                 "inter_token_latency": {"mean": 0.004, "median": 0.004, "p90": 0.005, "p95": 0.005, "p99": 0.006},
                 "time_per_output_token": {"mean": 0.008, "median": 0.008, "p90": 0.009, "p95": 0.009, "p99": 0.01}},
               "throughput": {"requests_per_sec": 3.0, "output_tokens_per_sec": 150.0},
               "prompt_len": {"mean": 310.0}, "output_len": {"mean": 50.0}},
              "failures": {"count": 0}}"#,
        );
    }
}

#[test]
fn validate_prints_the_table_and_json_of_the_sample_run() {
    let (out, err, code) = run_cli(&["validate", &sample()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("llmservingsim-rtxpro6000-llama-3.1-8b"),
        "{out}"
    );
    assert!(
        out.contains("median error, runs not overloaded (1 runs)"),
        "{out}"
    );
    assert!(out.contains("7097 / "), "{out}"); // TTFT mean real, ms
    let (out, err, code) = run_cli(&["validate", &sample(), "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let m = &v["runs"][0]["metrics"];
    for key in ["ttft_mean", "ttft_p99", "itl", "e2e_mean", "e2e_p99"] {
        let (real, sim, e) = (
            m[key]["real"].as_f64().expect("real"),
            m[key]["sim"].as_f64().expect("sim"),
            m[key]["err"].as_f64().expect("err"),
        );
        assert!(((sim - real).abs() / real - e).abs() < 1e-12, "{key}");
    }
    assert!((m["e2e_mean"]["real"].as_f64().unwrap() - 28200.7).abs() < 0.05);
    assert_eq!(v["median"]["e2e_mean"], m["e2e_mean"]["err"]);
}

#[test]
fn validate_expands_a_folder_of_runs_and_writes_a_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    inference_perf_run(
        &dir.path().join("runs/a"),
        "meta-llama/Llama-2-7b-hf",
        1,
        true,
    );
    inference_perf_run(
        &dir.path().join("runs/b"),
        "meta-llama/Llama-2-7b-hf",
        2,
        true,
    );
    let runs = dir.path().join("runs");
    let report = dir.path().join("validate.html");
    let (out, err, code) = run_cli(
        &[
            "validate",
            runs.to_str().unwrap(),
            "--accelerator",
            "H100",
            "--seeds",
            "2",
            "--json",
            "--report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let names: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(v["runs"][0]["accelerator"], "H100 SXM");
    assert_eq!(v["runs"][0]["seeds"], 2);
    // Client-side measurement: the front-end delay is in the simulated TTFT.
    let notes = v["runs"][0]["notes"].to_string();
    assert!(notes.contains("front-end overheads on"), "{notes}");
    assert!(
        v["runs"][0]["metrics"]["ttft_mean"]["sim"]
            .as_f64()
            .unwrap()
            > 15.0
    );
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(html.contains("Simulated vs measured") && html.contains("parity-e2e_mean"));
}

#[test]
fn calibrate_writes_a_cost_model_that_validate_and_simulate_accept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cal = dir.path().join("calibrated.json");
    let (out, err, code) = run_cli(
        &[
            "calibrate",
            &sample(),
            "--out",
            cal.to_str().unwrap(),
            "--iterations",
            "15",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("RTX PRO 6000 Blackwell: {"), "{out}");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&cal).expect("written")).expect("JSON");
    assert_eq!(file["format"], "llm-perf-calibration");
    let before = file["fit"]["objective_default"].as_f64().unwrap();
    let after = file["fit"]["objective"].as_f64().unwrap();
    assert!(after <= before, "{before} -> {after}");
    // One run: nothing to hold out.
    assert!(file.get("leave_one_run_out").is_none());

    let (out, err, code) = run_cli(
        &[
            "validate",
            &sample(),
            "--cost-model",
            cal.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let calibrated = v["runs"][0]["metrics"]["e2e_mean"]["err"].as_f64().unwrap();
    let (out, _, _) = run_cli(&["validate", &sample(), "--json"], &[]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let default = v["runs"][0]["metrics"]["e2e_mean"]["err"].as_f64().unwrap();
    assert!(calibrated <= default + 1e-9, "{calibrated} vs {default}");

    write(
        dir.path(),
        "sim.yaml",
        "max_requests: 50
cluster: { cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: RTX PRO 6000 } }
workload: { rate: 2.0, clients: [ { arrival: { kind: poisson },
  input: { kind: fixed, value: 256 }, output: { kind: fixed, value: 32 } } ] }
",
    );
    let sim = dir.path().join("sim.yaml");
    let (_, err, code) = run_cli(
        &[
            "simulate",
            sim.to_str().unwrap(),
            "--cost-model",
            cal.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("calibrated roofline from"), "{err}");
}

/// Runs `args`, expects exit 2 and one line on stderr containing every `needle`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let (_, err, code) = run_cli(args, &[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}

#[test]
fn broken_runs_are_one_line_errors_naming_file_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A run folder without its metrics file.
    let missing = dir.path().join("missing");
    inference_perf_run(&missing, "meta-llama/Llama-2-7b-hf", 1, false);
    fails_with(
        &[
            "validate",
            missing.to_str().unwrap(),
            "--accelerator",
            "H100",
        ],
        &["results/summary_lifecycle_metrics.json", "missing"],
    );
    // A config naming a model the catalogue does not know.
    let unknown = dir.path().join("unknown");
    inference_perf_run(&unknown, "acme/Llama-9-123B", 1, true);
    fails_with(
        &[
            "validate",
            unknown.to_str().unwrap(),
            "--accelerator",
            "H100",
        ],
        &["unknown", ": model: ", "acme/Llama-9-123B", "model_config"],
    );
    // A model that does not fit in the accelerator's memory.
    let big = dir.path().join("big");
    inference_perf_run(&big, "meta-llama/Llama-2-70b-hf", 1, true);
    fails_with(
        &[
            "calibrate",
            big.to_str().unwrap(),
            "--accelerator",
            "L4",
            "--out",
            "x.json",
        ],
        &["big", ": tensor_parallel: ", "does not fit"],
    );
    // An engine config with a key we do not know.
    let engine = dir.path().join("engine.yaml");
    write(
        dir.path(),
        "engine.yaml",
        "accelerator: H100\nkv_cache_dtype: fp8\n",
    );
    fails_with(
        &[
            "validate",
            &sample(),
            "--engine-config",
            engine.to_str().unwrap(),
        ],
        &["engine.yaml", "kv_cache_dtype"],
    );
    // A calibration file that is not one.
    fails_with(
        &[
            "validate",
            &sample(),
            "--cost-model",
            engine.to_str().unwrap(),
        ],
        &["engine.yaml"],
    );
}
