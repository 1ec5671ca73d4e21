//! The protocol against the recording [`FakeRunner`]: fake clock, scripted children, no
//! process and no socket.

mod common;

use common::tmp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use npu_backends::aisbench::{AisBench, AisBenchConfig};
use npu_backends::mindie::{Mindie, MindieConfig};
use npu_backends::vllm_bench::{VllmBench, VllmBenchConfig};
use npu_backends::{
    BenchmarkEvaluation, DecodedConfig, Engine, EvaluationOptions, FakeBehaviour, FakeRunner,
    LaunchSettings, NpuError, Pass, Plan, ProcessRunner, Timeouts, dry_run,
};

const SAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../samples/npu/deepseekr1-w8a8_2node_800I-A2_config.json"
));

fn mindie(dir: &Path, run_s: f64) -> Mindie {
    let config_path = dir.join("conf/config.json");
    std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
    std::fs::write(&config_path, SAMPLE).unwrap();
    Mindie::new(MindieConfig {
        config_path,
        binary: Some(PathBuf::from("mindieservice_daemon")),
        launch: LaunchSettings {
            log_dir: dir.join("logs"),
            timeouts: Timeouts {
                run_s,
                poll_s: 1.0,
                stop_grace_s: 10.0,
            },
            ..LaunchSettings::default()
        },
        ..MindieConfig::default()
    })
    .unwrap()
}

fn vllm_bench(dir: &Path) -> VllmBench {
    VllmBench::new(VllmBenchConfig {
        binary: "vllm".to_owned(),
        model: "m".to_owned(),
        num_prompts: 200,
        result_dir: dir.join("results"),
        launch: LaunchSettings {
            log_dir: dir.join("logs"),
            ..LaunchSettings::default()
        },
        ..VllmBenchConfig::default()
    })
}

#[test]
fn health_timeout_runs_on_the_fake_clock() {
    let dir = tmp("timeout");
    let runner = Arc::new(FakeRunner::new());
    runner.script(
        "mindieservice_daemon",
        FakeBehaviour {
            log: "starting…\n".to_owned(),
            ..FakeBehaviour::default()
        },
    );
    let engine = mindie(&dir, 1800.0);
    let plan = engine.prepare(&DecodedConfig::new()).unwrap();
    let running = engine.start(&plan, runner.as_ref()).unwrap();
    let t0 = std::time::Instant::now();
    let err = engine.wait_ready(&running, runner.as_ref()).unwrap_err();
    assert!(
        matches!(err, NpuError::HealthTimeout { timeout_s, .. } if (timeout_s - 1800.0).abs() < 1e-9),
        "{err}"
    );
    assert!(runner.now() >= Duration::from_secs(1800));
    assert!(t0.elapsed() < Duration::from_secs(5));
    engine.stop(&running, runner.as_ref()).unwrap();
    engine.restore(&plan).unwrap();
    assert_eq!(runner.alive(), 0);
}

#[test]
fn two_phase_protocol_with_scripted_children() {
    let dir = tmp("two-phase");
    let runner = Arc::new(FakeRunner::new());
    runner.script(
        "mindieservice_daemon",
        FakeBehaviour {
            log: "Daemon start success!\n".to_owned(),
            ..FakeBehaviour::default()
        },
    );
    let hook = |plan: &Plan| {
        let dir = plan.output_dir.clone().unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("result.json"),
            r#"{"request_rate": "inf", "num_prompts": 200, "completed": 198, "failed": 2,
                "request_goodput:": null, "output_throughput": 1234.5, "request_throughput": 3.6,
                "mean_ttft_ms": 250.0, "mean_tpot_ms": 42.0}"#,
        )
        .unwrap();
    };
    runner.script(
        "vllm",
        FakeBehaviour {
            exit_after: Some(Duration::from_secs(3)),
            exit_success: true,
            on_spawn: Some(Arc::new(hook)),
            ..FakeBehaviour::default()
        },
    );
    let engine = mindie(&dir, 60.0);
    let original = std::fs::read_to_string(&engine.config().config_path).unwrap();
    let mut eval = BenchmarkEvaluation::new(
        Box::new(engine),
        Box::new(vllm_bench(&dir)),
        Arc::clone(&runner) as Arc<dyn ProcessRunner>,
    )
    .with_options(EvaluationOptions::default());
    let cfg = DecodedConfig::new().with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256);
    let e = eval.run_detailed(&cfg).unwrap();
    assert_eq!(e.attempts, 1);
    assert_eq!(e.passes.len(), 2);
    assert_eq!(e.passes[1].pass.rate, Some(1.05 * 3.6));
    assert_eq!(e.index.success_rate(), Some(0.99));
    let spawned = runner.spawned();
    assert_eq!(spawned.len(), 3);
    let pass1 = spawned[1].command_text();
    assert!(!pass1.contains("--request-rate"), "{pass1}");
    let pass2 = spawned[2].command_text();
    assert!(
        pass2.contains("--request-rate 3.7800000000000002"),
        "{pass2}"
    );
    // The engine was stopped and the config restored.
    assert_eq!(runner.alive(), 0);
    assert_eq!(
        std::fs::read_to_string(eval_config(&dir)).unwrap(),
        original
    );
}

/// A fine-tuning run (the candidate carries REQUESTRATE = 2.5 and CONCURRENCY = 64) is one
/// pass at that rate and concurrency after a restart of the engine, whatever the options say;
/// a swarm candidate (REQUESTRATE frozen without a value) keeps the two-phase protocol.
#[test]
fn explicit_request_rate_is_one_pass_at_that_rate() {
    let dir = tmp("one-pass");
    let runner = Arc::new(FakeRunner::new());
    runner.script(
        "mindieservice_daemon",
        FakeBehaviour {
            log: "Daemon start success!\n".to_owned(),
            ..FakeBehaviour::default()
        },
    );
    let hook = |plan: &Plan| {
        let dir = plan.output_dir.clone().unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("result.json"),
            r#"{"request_rate": 2.5, "num_prompts": 200, "completed": 200, "failed": 0,
                "max_concurrency": 64, "output_throughput": 250.0, "request_throughput": 2.4,
                "mean_ttft_ms": 120.0, "mean_tpot_ms": 31.0}"#,
        )
        .unwrap();
    };
    runner.script(
        "vllm",
        FakeBehaviour {
            exit_after: Some(Duration::from_secs(3)),
            exit_success: true,
            on_spawn: Some(Arc::new(hook)),
            ..FakeBehaviour::default()
        },
    );
    let mut eval = BenchmarkEvaluation::new(
        Box::new(mindie(&dir, 60.0)),
        Box::new(vllm_bench(&dir)),
        Arc::clone(&runner) as Arc<dyn ProcessRunner>,
    )
    .with_options(EvaluationOptions {
        concurrency: Some(200),
        ..EvaluationOptions::default()
    });
    assert!(EvaluationOptions::default().two_phase);
    let fine_tune = DecodedConfig::new()
        .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256)
        .with_env("CONCURRENCY", 64)
        .with_env("REQUESTRATE", 2.5);
    let e = eval.run_detailed(&fine_tune).unwrap();
    assert_eq!(e.passes.len(), 1);
    assert_eq!(
        e.passes[0].pass,
        Pass {
            rate: Some(2.5),
            concurrency: Some(64),
            num_prompts: None
        }
    );
    assert_eq!(e.index.request_rate(), Some(2.5));
    assert_eq!(e.index.tpot_ms(), Some(31.0));
    assert_eq!(e.index.request_throughput(), Some(2.4));
    let spawned = runner.spawned();
    assert_eq!(spawned.len(), 2, "one engine start, one benchmark pass");
    assert_eq!(spawned[0].program(), "mindieservice_daemon");
    let bench = spawned[1].command_text();
    assert!(
        bench.contains("--max-concurrency 64 --request-rate 2.5 --result-dir"),
        "{bench}"
    );
    assert_eq!(runner.alive(), 0);

    // The swarm's candidate, REQUESTRATE frozen without a value: a restart, then two passes,
    // the first unthrottled, both at the options' concurrency.
    let swarm = DecodedConfig::new()
        .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256)
        .with_env("REQUESTRATE", serde_json::Value::Null);
    let e = eval.run_detailed(&swarm).unwrap();
    assert_eq!(e.passes.len(), 2);
    assert_eq!(e.passes[0].pass.rate, None);
    assert_eq!(e.passes[1].pass.rate, Some(1.05 * 2.4));
    let spawned = runner.spawned();
    assert_eq!(spawned.len(), 5);
    assert_eq!(spawned[2].program(), "mindieservice_daemon");
    let (p1, p2) = (spawned[3].command_text(), spawned[4].command_text());
    assert!(p1.contains("--max-concurrency 200 --result-dir"), "{p1}");
    assert!(
        p2.contains("--max-concurrency 200 --request-rate 2.52 --result-dir"),
        "{p2}"
    );
    assert_eq!(runner.alive(), 0);

    // A REQUESTRATE that is not a number fails before anything starts, without a retry.
    let bad = DecodedConfig::new().with_env("REQUESTRATE", "fast");
    let err = eval.run_detailed(&bad).unwrap_err();
    assert!(matches!(err, NpuError::InvalidConfig(_)), "{err}");
    assert_eq!(runner.spawned().len(), 5);
}

fn eval_config(dir: &Path) -> PathBuf {
    dir.join("conf/config.json")
}

#[test]
fn failures_are_retried_then_reported_and_cleaned_up() {
    let dir = tmp("retry");
    let runner = Arc::new(FakeRunner::new());
    runner.script(
        "mindieservice_daemon",
        FakeBehaviour {
            log: "Daemon start success!\n".to_owned(),
            ..FakeBehaviour::default()
        },
    );
    // The benchmark exits with status 1 and writes nothing.
    runner.script(
        "vllm",
        FakeBehaviour {
            exit_after: Some(Duration::from_secs(1)),
            exit_success: false,
            ..FakeBehaviour::default()
        },
    );
    let mut eval = BenchmarkEvaluation::new(
        Box::new(mindie(&dir, 60.0)),
        Box::new(vllm_bench(&dir)),
        Arc::clone(&runner) as Arc<dyn ProcessRunner>,
    );
    let cfg = DecodedConfig::new().with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256);
    let err = eval.run(&cfg).unwrap_err();
    assert!(matches!(err, NpuError::Exited { .. }), "{err}");
    // 3 attempts × (engine + pass 1).
    assert_eq!(runner.spawned().len(), 6);
    assert_eq!(runner.alive(), 0);
    assert_eq!(std::fs::read_to_string(eval_config(&dir)).unwrap(), SAMPLE);
}

#[test]
fn dry_run_writes_the_files_of_the_spec_and_starts_nothing() {
    let dir = tmp("dry");
    let runner = FakeRunner::new();
    let engine = mindie(&dir, 60.0);
    let cfg = DecodedConfig::new()
        .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256)
        .with_path("BackendConfig.ModelDeployConfig.ModelConfig.0.tp", 4);
    let d = dry_run(&engine, &vllm_bench(&dir), &cfg, &Pass::default()).unwrap();
    let out = dir.join("dry-run/0-0");
    let files = d.write_to(&out).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "config.json",
            "config.diff.json",
            "env.txt",
            "command.txt",
            "benchmark.txt"
        ]
    );
    let diff: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.diff.json")).unwrap())
            .unwrap();
    assert_eq!(diff[0]["old"], 200);
    assert_eq!(diff[0]["new"], 256);
    assert_eq!(diff[1]["old"], serde_json::Value::Null);
    // Nothing launched, nothing written outside the output directory.
    assert!(runner.spawned().is_empty());
    assert_eq!(std::fs::read_to_string(eval_config(&dir)).unwrap(), SAMPLE);
    // Deterministic.
    let again = dry_run(&engine, &vllm_bench(&dir), &cfg, &Pass::default()).unwrap();
    assert_eq!(again.files(), d.files());

    // With AisBench: six files, the rewritten model config last.
    let model_py = dir.join("model.py");
    std::fs::write(&model_py, "request_rate = 0,\nbatch_size = 100,\n").unwrap();
    let ais = AisBench::new(AisBenchConfig {
        model_config: Some(model_py),
        ..AisBenchConfig::default()
    })
    .unwrap();
    let pass = Pass {
        rate: Some(2.5),
        concurrency: Some(64),
        num_prompts: Some(100),
    };
    let d = dry_run(&engine, &ais, &cfg, &pass).unwrap();
    let files = d.files();
    assert_eq!(files.len(), 6);
    assert_eq!(
        files[5],
        (
            "model.py".to_owned(),
            "request_rate = 2.5,\nbatch_size = 64,\n".to_owned()
        )
    );
    assert!(
        d.render().contains("request_rate: 0 -> 2.5"),
        "{}",
        d.render()
    );
}

#[test]
fn stale_backup_blocks_start_unless_restored() {
    let dir = tmp("stale");
    let runner = FakeRunner::new();
    runner.script(
        "mindieservice_daemon",
        FakeBehaviour {
            log: "Daemon start success!\n".to_owned(),
            ..FakeBehaviour::default()
        },
    );
    let engine = mindie(&dir, 60.0);
    let backup = engine.config().backup_path();
    let plan = engine
        .prepare(&DecodedConfig::new().with_path("BackendConfig.ScheduleConfig.maxBatchSize", 9))
        .unwrap();
    let running = engine.start(&plan, &runner).unwrap();
    assert!(backup.exists());
    // Simulate a crash: the candidate stays in config.json, the backup stays behind.
    drop(running);
    let mut cfg = engine.config().clone();
    let err = Mindie::new(cfg.clone()).unwrap_err();
    assert!(err.to_string().contains("stale backup"), "{err}");
    cfg.restore_stale_backup = true;
    let again = Mindie::new(cfg).unwrap();
    assert_eq!(std::fs::read_to_string(eval_config(&dir)).unwrap(), SAMPLE);
    assert!(!backup.exists());
    // A normal start / restore cycle leaves no backup.
    let plan = again.prepare(&DecodedConfig::new()).unwrap();
    let running = again.start(&plan, &runner).unwrap();
    again.stop(&running, &runner).unwrap();
    again.restore(&plan).unwrap();
    assert!(!backup.exists());
}

#[test]
fn fatal_log_pattern_stops_retries() {
    let dir = tmp("fatal");
    let runner = Arc::new(FakeRunner::new());
    runner.script(
        "mindieservice_daemon",
        FakeBehaviour {
            log: "loading weights\nRuntimeError: NPU out of memory. Tried to allocate 2 GiB\n"
                .to_owned(),
            ..FakeBehaviour::default()
        },
    );
    let mut eval = BenchmarkEvaluation::new(
        Box::new(mindie(&dir, 30.0)),
        Box::new(vllm_bench(&dir)),
        Arc::clone(&runner) as Arc<dyn ProcessRunner>,
    )
    .with_log_patterns(
        npu_backends::LogPatterns::upstream_example(),
        npu_backends::LogPatterns::upstream_example(),
    );
    let err = eval.run(&DecodedConfig::new()).unwrap_err();
    assert!(
        matches!(&err, NpuError::Classified { class: "fatal", name, .. } if name == "out_of_memory"),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("NPU out of memory"), "{err}");
    assert_eq!(runner.spawned().len(), 1, "a fatal failure is not retried");
    assert_eq!(runner.alive(), 0);
    // Config errors are reported as they are.
    let err = eval
        .run(&DecodedConfig::new().with_path("BackendConfig.ModelDeployConfig.ModelConfig.7.tp", 1))
        .unwrap_err();
    assert!(matches!(err, NpuError::ConfigPathNotFound { .. }), "{err}");
}
