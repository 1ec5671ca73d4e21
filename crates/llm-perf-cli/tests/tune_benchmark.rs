//! `llm-perf tune` on a seed `config.toml` with real processes: the `fake-engine` (as `vllm
//! serve`) and `fake-bench` (as `vllm bench serve`) of `npu-backends`. The swarm, then the
//! top-k fine-tuning of the load (specs/tuning.md §6), the final choice, and the seed's results
//! CSV with every run.

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};

/// A loopback port below the ephemeral range (a port from `bind(…:0)` may be taken by any
/// outgoing connection before the engine binds it).
fn free_port() -> u16 {
    let base = 21_000 + (std::process::id() % 1_000) as u16 * 9;
    (0..2_000)
        .map(|k| 20_000 + (base - 20_000 + k) % 12_000)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

fn seed_config(port: u16) -> String {
    let engine = common::npu_fake("fake-engine");
    let bench = common::npu_fake("fake-bench");
    format!(
        r#"
n_particles = 3
iters = 2
ttft_penalty = 1
tpot_penalty = 3
ttft_slo = 2.0
tpot_slo = 0.028
theory_guided_enable = false
max_fine_tune = 3

[data_storage]
pso_top_k = 1

[cbo]
enabled = false

[vllm]
binary = "{engine}"
[vllm.command]
host = "127.0.0.1"
port = "{port}"
model = "Qwen3-8B"
served_model_name = "qwen"
others = "--max-num-seqs $MAX_NUM_SEQS"
[[vllm.target_field]]
name = "MAX_NUM_SEQS"
config_position = "env"
min = 32
max = 512
dtype = "int"
value = 64

[vllm_benchmark]
binary = "{bench}"
[vllm_benchmark.command]
host = "127.0.0.1"
port = "{port}"
model = "Qwen3-8B"
served_model_name = "qwen"
num_prompts = 60
others = "--max-concurrency $CONCURRENCY --request-rate $REQUESTRATE"
[[vllm_benchmark.target_field]]
name = "CONCURRENCY"
config_position = "env"
min = 1
max = 100
dtype = "int"
value = 100
[[vllm_benchmark.target_field]]
name = "REQUESTRATE"
config_position = "env"
min = 1
max = 100
dtype = "float"
value = 10
"#,
        engine = engine.display(),
        bench = bench.display()
    )
}

#[test]
fn a_seed_benchmark_run_fine_tunes_the_load_and_stores_every_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, seed_config(free_port())).expect("write");
    let out_dir = dir.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_llm-perf"))
        .args(["tune", config.to_str().expect("path"), "--out"])
        .arg(&out_dir)
        .arg("--json")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("llm-perf runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["evaluations"], 6, "{report}");
    // Fine-tuning: the best row re-run with its rate doubled, then CONCURRENCY stepped down
    // toward the TPOT SLO (28 ms) while the measured TPOT is above it.
    let fine = &report["fine_tune"];
    let runs = fine["runs"].as_array().expect("runs");
    let session = &fine["sessions"][0];
    let steps = session["steps"].as_array().expect("steps");
    assert!(!steps.is_empty(), "{fine}");
    assert_eq!(runs.len(), steps.len() + 1, "{fine}");
    assert_eq!(
        runs[0]["config"]["entries"].as_array().map(Vec::len),
        Some(3)
    );
    let mut previous = f64::INFINITY;
    for s in steps {
        let tpot = s["tpot_ms"].as_f64().expect("tpot");
        let (c, next) = (
            s["concurrency"].as_f64().expect("c"),
            s["new_concurrency"].as_f64().expect("new c"),
        );
        assert!(tpot > 28.0 && next < c && c < previous, "{s}");
        previous = c;
    }
    let tpots: Vec<f64> = runs
        .iter()
        .filter_map(|r| r["index"]["tpot_ms"].as_f64())
        .collect();
    assert!(
        tpots.last() < tpots.first(),
        "TPOT falls toward the SLO: {tpots:?}"
    );
    assert!(report["final_choice"]["run"].is_u64(), "{report}");
    // Every swarm and fine-tuning run in one seed-layout CSV.
    let store: Vec<_> = std::fs::read_dir(out_dir.join("store"))
        .expect("store dir")
        .flatten()
        .collect();
    assert_eq!(store.len(), 1, "{store:?}");
    let csv = std::fs::read_to_string(store[0].path()).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "generate_speed,time_to_first_token,time_per_output_token,success_rate,throughput,\
             MAX_NUM_SEQS,CONCURRENCY,REQUESTRATE,error,backup,duration,real_evaluation,fitness,\
             is_predicted"
        )
    );
    assert_eq!(lines.count(), 6 + runs.len(), "{csv}");
}
