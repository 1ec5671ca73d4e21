//! Any model, from its Hugging Face `config.json`: `llm-perf models --config`, `simulate
//! --model-config` and `cost_model.model_config` in a simulation config, and their errors.

mod common;

use common::run_cli;
use serde_json::Value;

/// Qwen2.5-7B's published architecture (HF `config.json` fields), not in the catalogue as such.
const QWEN25_7B: &str = r#"{
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "_name_or_path": "Qwen/Qwen2.5-7B-Instruct",
  "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
  "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
  "tie_word_embeddings": false, "max_position_embeddings": 32768, "torch_dtype": "bfloat16"
}"#;

fn write(dir: &std::path::Path, rel: &str, text: &str) -> String {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("dir");
    }
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("UTF-8 path").to_owned()
}

#[test]
fn models_shows_a_config_file_with_derived_sizes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "Qwen2.5-7B-Instruct/config.json", QWEN25_7B);
    let (out, err, code) = run_cli(&["models", "--config", &file, "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let spec: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(spec["layers"], 28);
    assert_eq!(spec["kv_heads"], 4);
    assert_eq!(spec["head_dim"], 128);
    assert_eq!(spec["qkv_bias"], true);
    let (out, err, code) = run_cli(&["models", "--config", &file], &[]);
    assert_eq!(code, 0, "{err}");
    // 2 (K and V) × 28 layers × 4 heads × 128 dims × 2 bytes.
    assert!(out.contains("57344"), "{out}");
}

#[test]
fn simulate_runs_any_model_from_its_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "models/qwen/config.json", QWEN25_7B);
    let config = write(
        dir.path(),
        "sim.yaml",
        "max_requests: 200\n\
         cluster:\n  cost_model: { kind: roofline, model: My-Qwen-7B, accelerator: H100, model_config: models/qwen/config.json }\n\
         workload:\n  rate: 4\n  clients:\n    - arrival: { kind: poisson }\n      input: { kind: fixed, value: 1024 }\n      output: { kind: fixed, value: 128 }\n",
    );
    let (out, err, code) = run_cli(&["simulate", &config, "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).expect("summary");
    assert_eq!(summary["requests"]["completed"], 200);
    // The same run with the file given on the command line (relative to the working directory).
    let plain = write(
        dir.path(),
        "plain.yaml",
        &std::fs::read_to_string(&config)
            .expect("read")
            .replace(", model_config: models/qwen/config.json", ""),
    );
    let file = dir.path().join("models/qwen/config.json");
    let (out2, err, code) = run_cli(
        &[
            "simulate",
            &plain,
            "--json",
            "--model-config",
            file.to_str().expect("path"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, out2, "same architecture, same seed: same summary");
    // Without the file the name alone is not a catalogue model.
    let (_, err, code) = run_cli(&["simulate", &plain], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("My-Qwen-7B"), "{err}");
}

#[test]
fn bad_model_configs_are_one_line_errors_naming_file_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let unknown = write(
        dir.path(),
        "gpt2/config.json",
        r#"{"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257}"#,
    );
    let (_, err, code) = run_cli(&["models", "--config", &unknown], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("gpt2/config.json") && err.contains("model_type"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let missing = write(
        dir.path(),
        "broken/config.json",
        &QWEN25_7B.replace("\"hidden_size\": 3584, ", ""),
    );
    let (_, err, code) = run_cli(&["models", "--config", &missing], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("broken/config.json") && err.contains("hidden_size"),
        "{err}"
    );
    let config = write(
        dir.path(),
        "sim.yaml",
        "max_requests: 10\ncluster:\n  cost_model: { kind: roofline, model: X, accelerator: H100, model_config: nowhere/config.json }\nworkload:\n  rate: 1\n  clients: [ { arrival: { kind: poisson }, input: { kind: fixed, value: 8 }, output: { kind: fixed, value: 8 } } ]\n",
    );
    let (_, err, code) = run_cli(&["simulate", &config], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("nowhere/config.json"), "{err}");
}
