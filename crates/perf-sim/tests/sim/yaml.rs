//! YAML and JSON loading: equivalence, unknown keys named by path, files by extension.

use perf_sim::{SimConfig, SimError};

const YAML: &str = "
seed: 4
max_requests: 50
cluster:
  replicas: 2
  router: least_outstanding_requests
  engine: { max_batch_size: 32, max_num_batched_tokens: 1024 }
  cost_model: { kind: inferno, alpha: 5.0, beta: 0.02, gamma: 0.0 }
  kv_cache: { num_gpu_blocks: 2048 }
  overheads: { pre_schedule_ms: 1.5 }
workload:
  clients:
    - name: chat
      arrival:
        kind: stages
        stages: [ { rate: 4.0, duration_s: 10 }, { rate: 8.0, duration_s: 5 } ]
      input: { kind: lognormal, mean: 200, std: 100 }
      output: { kind: uniform, low: 4, high: 32 }
    - arrival: { kind: closed_loop, users: 3, think_time_s: 0.5 }
      pairs: [[10, 5], [20, 7]]
";

fn parse_error(e: SimError) -> (Option<String>, String) {
    match e {
        SimError::Parse { path, message, .. } => (path, message),
        other => panic!("expected Parse, got {other}"),
    }
}

#[test]
fn yaml_equals_json_and_runs() {
    let y = SimConfig::from_yaml_str(YAML).unwrap();
    let json = serde_json::to_string(&y).unwrap();
    let j = SimConfig::from_json_str(&json).unwrap();
    assert_eq!(y, j);
    assert!((y.cluster.overheads.pre_schedule_ms - 1.5).abs() < 1e-12);
    let (s, _) = crate::run(y);
    assert_eq!(s.requests.arrived, 50);
}

#[test]
fn unknown_keys_name_their_path() {
    for (from, to, want) in [
        (
            "rate: 4.0",
            "rat: 4.0",
            "workload.clients[0].arrival.stages[0].rat",
        ),
        (
            "think_time_s",
            "think_s",
            "workload.clients[1].arrival.think_s",
        ),
        ("max_batch_size", "max_seqs", "cluster.engine.max_seqs"),
        ("pre_schedule_ms", "pre_ms", "cluster.overheads.pre_ms"),
        ("seed: 4", "sed: 4", "sed"),
    ] {
        let text = YAML.replacen(from, to, 1);
        let (path, msg) = parse_error(SimConfig::from_yaml_str(&text).unwrap_err());
        assert_eq!(path.as_deref(), Some(want), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
        let v: serde_json::Value = serde_norway::from_str(&text).unwrap();
        let (path, _) =
            parse_error(SimConfig::from_json_str(&serde_json::to_string(&v).unwrap()).unwrap_err());
        assert_eq!(path.as_deref(), Some(want));
    }
}

#[test]
fn type_errors_keep_the_parser_location() {
    let err = SimConfig::from_yaml_str(&YAML.replace("replicas: 2", "replicas: two")).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("<yaml>: cluster.replicas: "), "{text}");
    assert!(text.contains("line"), "{text}");
}

#[test]
fn files_by_extension_and_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("perf-sim-yaml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let y = dir.join("sim.yaml");
    std::fs::write(&y, YAML).unwrap();
    let from_yaml = SimConfig::from_path(&y).unwrap();
    let j = dir.join("sim.json");
    std::fs::write(&j, serde_json::to_string_pretty(&from_yaml).unwrap()).unwrap();
    assert_eq!(SimConfig::from_path(&j).unwrap(), from_yaml);

    let bad = dir.join("bad.yml");
    std::fs::write(&bad, YAML.replace("users: 3", "userz: 3")).unwrap();
    let msg = SimConfig::from_path(&bad).unwrap_err().to_string();
    assert!(msg.starts_with(&bad.display().to_string()), "{msg}");
    assert!(msg.contains("workload.clients[1].arrival.userz"), "{msg}");

    let txt = dir.join("sim.txt");
    std::fs::write(&txt, YAML).unwrap();
    assert!(
        matches!(SimConfig::from_path(&txt).unwrap_err(), SimError::File { file, .. } if file.ends_with("sim.txt"))
    );
    let missing = dir.join("missing.yaml");
    assert!(
        matches!(SimConfig::from_path(&missing).unwrap_err(), SimError::File { file, .. } if file.ends_with("missing.yaml"))
    );
    std::fs::remove_dir_all(&dir).ok();
}
