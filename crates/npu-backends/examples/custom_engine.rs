//! A plug-in engine registered from outside the crate and run against the fakes.
//!
//! `my-engine` is defined here, not in `npu-backends`: it implements [`Engine::prepare`] (the
//! lifecycle — port check, spawn, health polling, stop — comes from the trait's defaults),
//! is registered under its own name next to the built-ins, and is evaluated with the built-in
//! `vllm_benchmark` runner. The service is the crate's `fake-engine`, the load generator its
//! `fake-bench`.
//!
//! ```text
//! Registry ──"my-engine"──▶ MyEngine::prepare ─▶ Plan ─▶ SystemRunner ─▶ fake-engine :PORT
//!          ──"vllm-bench"─▶ VllmBench::prepare ─▶ Plan ─▶ SystemRunner ─▶ fake-bench ──┘
//! ```
//!
//! Run: `cargo build -p npu-backends --bins && cargo run -p npu-backends --example custom_engine`
//! (the fakes are found beside the example, or through `NPU_FAKE_ENGINE` / `NPU_FAKE_BENCH`).

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use npu_backends::config::{shell_split, substitute};
use npu_backends::{
    BenchmarkEvaluation, DecodedConfig, Engine, EvaluationOptions, HealthProbe, HttpProbe,
    NpuError, Plan, Registry, SystemRunner, Timeouts,
};

/// A third-party engine: a server started as `<binary> serve my-model --port P <flags>`.
struct MyEngine {
    binary: String,
    port: u16,
    flags: String,
    log_dir: PathBuf,
}

impl Engine for MyEngine {
    fn name(&self) -> &str {
        "my-engine"
    }

    fn prepare(&self, cfg: &DecodedConfig) -> npu_backends::Result<Plan> {
        let mut argv = vec![
            self.binary.clone(),
            "serve".into(),
            "my-model".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            self.port.to_string(),
        ];
        argv.extend(shell_split(&self.flags)?);
        Ok(Plan {
            name: self.name().into(),
            argv: substitute(&argv, &cfg.env_vars())?,
            health: HealthProbe {
                log_contains: None,
                http: Some(HttpProbe {
                    host: "127.0.0.1".into(),
                    port: self.port,
                    path: "/health".into(),
                }),
            },
            log_path: self.log_dir.join("my-engine.log"),
            timeouts: Timeouts {
                run_s: 10.0,
                poll_s: 0.05,
                stop_grace_s: 2.0,
            },
            listen: Some(("127.0.0.1".into(), self.port)),
            ..Plan::default()
        })
    }
}

fn fake(name: &str, var: &str) -> Result<String, Box<dyn Error>> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or("cannot locate the target directory")?;
    let p = dir.join(name);
    if !p.exists() {
        return Err(format!(
            "{} not found: run `cargo build -p npu-backends --bins` or set {var}",
            p.display()
        )
        .into());
    }
    Ok(p.display().to_string())
}

fn main() -> Result<(), Box<dyn Error>> {
    let engine_bin = fake("fake-engine", "NPU_FAKE_ENGINE")?;
    let bench_bin = fake("fake-bench", "NPU_FAKE_BENCH")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let work = std::env::temp_dir().join(format!("npu-custom-engine-{}", std::process::id()));

    let mut registry = Registry::with_builtins();
    let log_dir = work.join("logs");
    registry.register_engine("my-engine", move |section| {
        let get = |k: &str| {
            section
                .get(k)
                .and_then(toml::Value::as_str)
                .map(String::from)
        };
        Ok(Box::new(MyEngine {
            binary: get("binary").ok_or_else(|| NpuError::InvalidConfig("binary".into()))?,
            port: section
                .get("port")
                .and_then(toml::Value::as_integer)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| NpuError::InvalidConfig("port".into()))?,
            flags: get("flags").unwrap_or_default(),
            log_dir: log_dir.clone(),
        }))
    })?;
    println!("engines: {}", registry.engine_names().join(", "));
    println!("benchmarks: {}", registry.benchmark_names().join(", "));

    let mut engine_section = toml::Table::new();
    engine_section.insert("binary".into(), engine_bin.into());
    engine_section.insert("port".into(), i64::from(port).into());
    engine_section.insert("flags".into(), "--max-num-seqs $MAX_NUM_SEQS".into());
    let bench_section: toml::Value = toml::from_str(&format!(
        "binary = {bench_bin:?}\nport = {port}\nmodel = \"my-model\"\nnum_prompts = 8\n\
         result_dir = {:?}\nlog_dir = {:?}",
        work.join("results"),
        work.join("logs"),
    ))?;
    let engine = registry.engine("my-engine", &engine_section.into())?;
    let bench = registry.benchmark("vllm-bench", &bench_section)?;

    let runner = Arc::new(SystemRunner::new());
    let mut eval =
        BenchmarkEvaluation::new(engine, bench, runner).with_options(EvaluationOptions {
            attempts: 1,
            ..EvaluationOptions::default()
        });
    for seqs in [128, 320] {
        let cfg = DecodedConfig::new().with_env("MAX_NUM_SEQS", seqs);
        let (index, point) = eval.run(&cfg)?;
        println!(
            "my-engine MAX_NUM_SEQS={seqs}: {:.1} tok/s, TTFT {:.1} ms, TPOT {:.1} ms, success {:?}, {} ok",
            index.output_throughput().unwrap_or(f64::NAN),
            index.ttft_ms().unwrap_or(f64::NAN),
            index.tpot_ms().unwrap_or(f64::NAN),
            index.success_rate(),
            point.successful().unwrap_or(0),
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
