//! End-to-end runs of the engines and benchmarks against the `fake-engine` and `fake-bench`
//! binaries of this crate, on loopback, with every failure path; each test checks that no
//! child process is left behind.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{assert_no_strays, free_port, launch, tmp};

use npu_backends::aisbench::{AisBench, AisBenchConfig};
use npu_backends::mindie::{HealthMode, Mindie, MindieConfig};
use npu_backends::vllm::{Vllm, VllmConfig};
use npu_backends::vllm_bench::{VllmBench, VllmBenchConfig};
use npu_backends::{
    BenchmarkEvaluation, DecodedConfig, Doc, EvaluationOptions, NpuError, ProcessRunner,
    SystemRunner,
};

const FAKE_ENGINE: &str = env!("CARGO_BIN_EXE_fake-engine");
const FAKE_BENCH: &str = env!("CARGO_BIN_EXE_fake-bench");
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json"
);

/// A MindIE config.json (the sample, on loopback ports) under `dir/conf`.
fn mindie_setup(dir: &Path) -> (PathBuf, u16) {
    let mut doc = Doc::parse(&std::fs::read_to_string(SAMPLE).unwrap(), "sample").unwrap();
    let port = free_port();
    let mport = free_port();
    for (p, v) in [
        ("ServerConfig.ipAddress", serde_json::json!("127.0.0.1")),
        (
            "ServerConfig.managementIpAddress",
            serde_json::json!("127.0.0.1"),
        ),
        ("ServerConfig.port", serde_json::json!(port)),
        ("ServerConfig.managementPort", serde_json::json!(mport)),
    ] {
        doc.set_path(p, &v).unwrap();
    }
    let path = dir.join("conf/config.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, doc.to_pretty()).unwrap();
    (path, port)
}

fn mindie_eval(
    dir: &Path,
    runner: Arc<SystemRunner>,
    run_s: f64,
) -> (BenchmarkEvaluation, PathBuf, u16) {
    let (config_path, port) = mindie_setup(dir);
    let engine = Mindie::new(MindieConfig {
        config_path: config_path.clone(),
        install_path: Some(dir.to_path_buf()),
        binary: Some(PathBuf::from(FAKE_ENGINE)),
        devices: Some("0,1,2,3".to_owned()),
        health: HealthMode::Both,
        launch: launch(dir, &[("FAKE_READY_DELAY_MS", "150")], run_s),
        ..MindieConfig::default()
    })
    .unwrap();
    let model_py = dir.join("vllm_api_stream_chat.py");
    std::fs::write(
        &model_py,
        format!(
            "from ais_bench.benchmark.models import VLLMCustomAPIChatStream\n\nmodels = [\n    dict(\n        \
             attr=\"service\",\n        type=VLLMCustomAPIChatStream,\n        abbr='vllm-api-stream-chat',\n        \
             path=\"\",\n        model=\"\",\n        request_rate = 0,\n        retry = 2,\n        \
             host_ip = \"127.0.0.1\",\n        host_port = {port},\n        max_out_len = 512,\n        \
             batch_size=1000,\n        trust_remote_code=False,\n        generation_kwargs = dict(\n            \
             temperature = 0.5,\n        )\n    )\n]\n"
        ),
    )
    .unwrap();
    let bench = AisBench::new(AisBenchConfig {
        binary: FAKE_BENCH.to_owned(),
        num_prompts: Some(6),
        work_dir: dir.join("ais_outputs"),
        model_config: None, // found with `--search`
        launch: launch(
            dir,
            &[("FAKE_AIS_MODEL_CONFIG", model_py.to_str().unwrap())],
            20.0,
        ),
        ..AisBenchConfig::default()
    })
    .unwrap();
    let eval = BenchmarkEvaluation::new(Box::new(engine), Box::new(bench), runner).with_options(
        EvaluationOptions {
            attempts: 1,
            concurrency: Some(200),
            ..EvaluationOptions::default()
        },
    );
    (eval, config_path, port)
}

#[test]
fn mindie_with_aisbench_end_to_end() {
    let dir = tmp("mindie");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, config_path, _) = mindie_eval(&dir, Arc::clone(&runner), 10.0);
    let original = std::fs::read_to_string(&config_path).unwrap();
    let model_py = dir.join("vllm_api_stream_chat.py");
    let model_original = std::fs::read_to_string(&model_py).unwrap();
    let mut results = Vec::new();
    for mbs in [100, 300, 600] {
        let cfg = DecodedConfig::new()
            .with_path("BackendConfig.ScheduleConfig.maxBatchSize", mbs)
            .with_path(
                "BackendConfig.ScheduleConfig.maxPrefillBatchSize",
                f64::from(mbs) / 2.0,
            )
            .with_path("BackendConfig.ScheduleConfig.supportSelectBatch", true);
        let e = eval.run_detailed(&cfg).unwrap();
        // The daemon read the candidate's integer from the file we wrote.
        let log = std::fs::read_to_string(dir.join("logs/mindie.log")).unwrap();
        assert!(log.contains(&format!("maxBatchSize {mbs},")), "{log}");
        assert!(log.contains("Daemon start success!"));
        assert_eq!(e.passes.len(), 2);
        assert_eq!(e.passes[0].pass.rate, None);
        let measured = e.passes[0].index.request_throughput().unwrap();
        let rate2 = e.passes[1].pass.rate.unwrap();
        assert!((rate2 - (1.05 * measured).clamp(1.0, 1000.0)).abs() < 1e-9);
        assert_eq!(e.index.success_rate(), Some(1.0));
        assert_eq!(e.index.request_rate(), Some(rate2));
        results.push((mbs, e.index.output_throughput().unwrap()));
        // Original files are back after each evaluation.
        assert_eq!(std::fs::read_to_string(&config_path).unwrap(), original);
        assert_eq!(std::fs::read_to_string(&model_py).unwrap(), model_original);
        assert!(!dir.join("logs/mindie-config.orig.json").exists());
    }
    let best = results.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(best.0, 300, "{results:?}");
    // The rewritten model file of pass 2 carried the rate and concurrency.
    let bench_log = std::fs::read_to_string(dir.join("logs/ais_bench.log")).unwrap();
    assert!(
        bench_log.contains("Performance results saved"),
        "{bench_log}"
    );
    drop(eval);
    assert_no_strays(&runner);
}

fn vllm_eval(dir: &Path, runner: Arc<SystemRunner>, run_s: f64) -> (BenchmarkEvaluation, u16) {
    let port = free_port();
    let engine = Vllm::ascend(VllmConfig {
        binary: FAKE_ENGINE.to_owned(),
        model: "Qwen3-8B".to_owned(),
        served_model_name: Some("qwen".to_owned()),
        port,
        others: "--max-num-seqs $MAX_NUM_SEQS --max-num-batched-tokens $MAX_NUM_BATCHED_TOKENS"
            .to_owned(),
        devices: Some("0".to_owned()),
        launch: launch(dir, &[("FAKE_READY_DELAY_MS", "100")], run_s),
        ..VllmConfig::default()
    });
    let bench = VllmBench::new(VllmBenchConfig {
        binary: FAKE_BENCH.to_owned(),
        port,
        model: "Qwen3-8B".to_owned(),
        served_model_name: Some("qwen".to_owned()),
        num_prompts: 8,
        result_dir: dir.join("results"),
        launch: launch(dir, &[], 20.0),
        ..VllmBenchConfig::default()
    });
    let eval = BenchmarkEvaluation::new(Box::new(engine), Box::new(bench), runner).with_options(
        EvaluationOptions {
            attempts: 1,
            ..EvaluationOptions::default()
        },
    );
    (eval, port)
}

fn vllm_cfg(seqs: u32) -> DecodedConfig {
    DecodedConfig::new()
        .with_env("MAX_NUM_SEQS", seqs)
        .with_env("MAX_NUM_BATCHED_TOKENS", 16384)
}

#[test]
fn vllm_with_vllm_bench_end_to_end() {
    let dir = tmp("vllm");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, _) = vllm_eval(&dir, Arc::clone(&runner), 10.0);
    let mut results = Vec::new();
    for seqs in [64, 300, 900] {
        let e = eval.run_detailed(&vllm_cfg(seqs)).unwrap();
        assert_eq!(e.index.success_rate(), Some(1.0));
        assert!(e.index.ttft_ms().unwrap() > 0.0);
        results.push((seqs, e.index.output_throughput().unwrap()));
    }
    let best = results.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(best.0, 300, "{results:?}");
    let result = std::fs::read_to_string(dir.join("results/result.json")).unwrap();
    assert!(result.contains("\"request_goodput:\": null"));
    drop(eval);
    assert_no_strays(&runner);
}

#[test]
fn never_healthy_times_out_and_the_next_candidate_still_runs() {
    let dir = tmp("never");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, _) = vllm_eval(&dir, Arc::clone(&runner), 1.0);
    let bad = vllm_cfg(300).with_env("FAKE_FAIL", "never-ready");
    let err = eval.run(&bad).unwrap_err();
    assert!(matches!(err, NpuError::HealthTimeout { .. }), "{err}");
    assert!(err.is_retryable());
    // The run continues with the next candidate.
    let ok = eval.run(&vllm_cfg(300)).unwrap();
    assert!(ok.0.output_throughput().unwrap() > 0.0);
    drop(eval);
    assert_no_strays(&runner);
}

#[test]
fn engine_crash_during_the_benchmark_is_reported() {
    let dir = tmp("crash");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, _) = vllm_eval(&dir, Arc::clone(&runner), 10.0);
    let err = eval
        .run(&vllm_cfg(300).with_env("FAKE_FAIL", "crash-after:2"))
        .unwrap_err();
    assert!(matches!(err, NpuError::EngineCrashed { .. }), "{err}");
    assert!(err.to_string().contains("simulated crash"), "{err}");
    drop(eval);
    assert_no_strays(&runner);
}

#[test]
fn crash_on_start_quotes_the_log() {
    let dir = tmp("crash-start");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, _) = vllm_eval(&dir, Arc::clone(&runner), 10.0);
    let err = eval
        .run(&vllm_cfg(300).with_env("FAKE_FAIL", "crash-on-start"))
        .unwrap_err();
    assert!(matches!(err, NpuError::Exited { .. }), "{err}");
    assert!(
        err.to_string().contains("simulated crash on start"),
        "{err}"
    );
    drop(eval);
    assert_no_strays(&runner);
}

#[test]
fn truncated_benchmark_output_is_a_parse_error() {
    let dir = tmp("trunc");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, _) = vllm_eval(&dir, Arc::clone(&runner), 10.0);
    let err = eval
        .run(&vllm_cfg(300).with_env("FAKE_TRUNCATE", "1"))
        .unwrap_err();
    assert!(matches!(err, NpuError::Parse(_)), "{err}");
    // AisBench too.
    let dir2 = tmp("trunc-ais");
    let (mut eval2, _, _) = mindie_eval(&dir2, Arc::clone(&runner), 10.0);
    let err = eval2
        .run(&DecodedConfig::new().with_env("FAKE_TRUNCATE", "1"))
        .unwrap_err();
    assert!(matches!(err, NpuError::Parse(_)), "{err}");
    drop((eval, eval2));
    assert_no_strays(&runner);
}

#[test]
fn taken_port_is_refused_before_launch() {
    let dir = tmp("port");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, port) = vllm_eval(&dir, Arc::clone(&runner), 10.0);
    let _holder = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let err = eval.run(&vllm_cfg(300)).unwrap_err();
    assert!(
        matches!(err, NpuError::PortInUse { port: p, .. } if p == port),
        "{err}"
    );
    assert!(runner.pids().is_empty());
}

#[test]
fn missing_config_path_names_it_and_leaves_the_file_alone() {
    let dir = tmp("path");
    let runner = Arc::new(SystemRunner::new());
    let (mut eval, config_path, _) = mindie_eval(&dir, Arc::clone(&runner), 10.0);
    let before = std::fs::read_to_string(&config_path).unwrap();
    let err = eval
        .run(&DecodedConfig::new().with_path("BackendConfig.ModelDeployConfig.ModelConfig.3.tp", 2))
        .unwrap_err();
    assert!(matches!(err, NpuError::ConfigPathNotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("BackendConfig.ModelDeployConfig.ModelConfig.3.tp")
    );
    assert!(!err.is_retryable());
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), before);
    // Only the `--search` discovery ran; no engine was started.
    assert_eq!(runner.pids().len(), 1);
    drop(eval);
    assert_no_strays(&runner);
}

#[test]
fn custom_engine_example_runs() {
    let exe = Path::new(FAKE_ENGINE)
        .parent()
        .unwrap()
        .join("examples/custom_engine");
    let out = std::process::Command::new(&exe)
        .env("NPU_FAKE_ENGINE", FAKE_ENGINE)
        .env("NPU_FAKE_BENCH", FAKE_BENCH)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("my-engine"), "{stdout}");
}

#[test]
fn http_probe_is_loopback_only() {
    let r = SystemRunner::new();
    let err = r
        .http_get(
            "192.0.2.1",
            80,
            "/health",
            std::time::Duration::from_millis(100),
        )
        .unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn shutdown_stops_children_and_refuses_new_ones() {
    let dir = tmp("shutdown");
    let runner = SystemRunner::new();
    let port = free_port();
    let plan = npu_backends::Plan {
        name: "fake".to_owned(),
        argv: vec![
            FAKE_ENGINE.to_owned(),
            "serve".to_owned(),
            "m".to_owned(),
            "--port".to_owned(),
            port.to_string(),
        ],
        log_path: dir.join("fake.log"),
        ..npu_backends::Plan::default()
    };
    let child = runner.spawn(&plan).unwrap();
    assert_eq!(
        runner.status(child).unwrap(),
        npu_backends::ChildStatus::Running
    );
    runner.shutdown(std::time::Duration::from_secs(2));
    assert!(matches!(
        runner.status(child).unwrap(),
        npu_backends::ChildStatus::Exited { success: false, .. }
    ));
    assert!(matches!(runner.spawn(&plan), Err(NpuError::Spawn { .. })));
    assert_no_strays(&runner);
}

#[test]
fn residual_processes_are_found_by_name_and_stopped_by_pid() {
    let dir = tmp("residual");
    // A copy of the fake engine under a name no other process has.
    let name = format!("npu-resid-{}", std::process::id() % 100_000);
    let exe = dir.join(&name);
    std::fs::copy(FAKE_ENGINE, &exe).unwrap();
    let port = free_port();
    let mut child = std::process::Command::new(&exe)
        .args(["serve", "m", "--port", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // /proc shows the new name once exec has happened.
    let mut found = Vec::new();
    for _ in 0..100 {
        found = npu_backends::residual::find_residual(&[name.as_str()]);
        if !found.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].pid, child.id());
    let killed = npu_backends::residual::kill_residual(&found, std::time::Duration::from_secs(2));
    assert!(killed.is_empty(), "SIGTERM was enough");
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(npu_backends::residual::find_residual(&[name.as_str()]).is_empty());
}

/// A short PSO run (3 particles × 2 iterations) where every candidate is a real start of the
/// fake service and a real benchmark: issue #9's end-to-end acceptance.
fn tune(
    eval: BenchmarkEvaluation,
    fields: &[perf_pso::FieldSpec],
    seed: u64,
) -> perf_pso::TuneReport {
    let space = perf_pso::SearchSpace::new(fields, perf_pso::SeedCompat::Fixed).unwrap();
    let params = perf_pso::PsoParams {
        n_particles: 3,
        iters: 2,
        seed,
        ..perf_pso::PsoParams::default()
    };
    let mut evaluator = npu_backends::BenchmarkEvaluator::new(eval);
    perf_pso::Tuner::new(space, params, perf_pso::Fitness::default())
        .run(&mut evaluator)
        .unwrap()
}

#[test]
fn swarm_over_fake_mindie_and_aisbench() {
    let dir = tmp("swarm-mindie");
    let runner = Arc::new(SystemRunner::new());
    let (eval, config_path, _) = mindie_eval(&dir, Arc::clone(&runner), 10.0);
    let original = std::fs::read_to_string(&config_path).unwrap();
    let report = tune(
        eval,
        &[perf_pso::FieldSpec::int(
            "maxBatchSize",
            "BackendConfig.ScheduleConfig.maxBatchSize",
            50,
            600,
        )],
        3,
    );
    assert_eq!(report.records.len(), 6);
    // Every candidate was benchmarked for real and succeeded.
    assert!(
        report
            .records
            .iter()
            .all(|r| r.index.is_some() && r.error.is_none()),
        "{:?}",
        report.records
    );
    assert!(report.best_cost.is_finite());
    let best = report.best_config.get_f64("maxBatchSize").unwrap();
    assert!(
        (50.0..=600.0).contains(&best) && best.fract() == 0.0,
        "{best}"
    );
    // The daemon of the last candidate read its integer at the right path (the log holds the
    // last start), and the original file is back.
    let last = report.records.last().unwrap().config["maxBatchSize"].clone();
    let log = std::fs::read_to_string(dir.join("logs/mindie.log")).unwrap();
    assert!(
        log.contains(&format!("maxBatchSize {last},")),
        "{last}: {log}"
    );
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), original);
    assert_no_strays(&runner);
}

#[test]
fn swarm_over_fake_vllm_and_vllm_bench() {
    let dir = tmp("swarm-vllm");
    let runner = Arc::new(SystemRunner::new());
    let (eval, _) = vllm_eval(&dir, Arc::clone(&runner), 3.0);
    let report = tune(
        eval,
        &[
            perf_pso::FieldSpec::int("MAX_NUM_SEQS", "env", 16, 512),
            perf_pso::FieldSpec::int("MAX_NUM_BATCHED_TOKENS", "env", 8192, 16384),
        ],
        5,
    );
    assert_eq!(report.records.len(), 6);
    assert!(report.best_cost.is_finite());
    assert!(
        report.records.iter().all(|r| r.index.is_some()),
        "{:?}",
        report.records
    );
    assert_no_strays(&runner);
}

#[test]
fn a_failing_service_becomes_a_failed_evaluation_and_the_swarm_goes_on() {
    let dir = tmp("swarm-fail");
    let runner = Arc::new(SystemRunner::new());
    let (eval, _) = vllm_eval(&dir, Arc::clone(&runner), 1.0);
    // Every other candidate asks the fake engine never to become ready.
    let report = tune(
        eval,
        &[
            perf_pso::FieldSpec::int("MAX_NUM_SEQS", "env", 16, 512),
            perf_pso::FieldSpec::int("MAX_NUM_BATCHED_TOKENS", "env", 8192, 16384),
            perf_pso::FieldSpec::choice(
                "FAKE_FAIL",
                "env",
                vec![serde_json::json!("never-ready"), serde_json::json!("slow")],
            ),
        ],
        11,
    );
    let failed = report.records.iter().filter(|r| r.error.is_some()).count();
    assert!(failed > 0, "{:?}", report.records);
    for r in report.records.iter().filter(|r| r.error.is_some()) {
        assert!(r.fitness.is_infinite());
        assert!(
            r.error.as_deref().unwrap_or("").contains("health"),
            "{:?}",
            r.error
        );
    }
    assert_no_strays(&runner);
}
