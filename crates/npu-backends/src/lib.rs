//! Serving engines and benchmark runners behind plug-in traits, for GPUs and Ascend NPUs.
//!
//! This crate owns engines (MindIE, vLLM, vLLM-Ascend: config rewrite, launch, health check,
//! stop), benchmark runners (AisBench, `vllm bench serve`) whose output is parsed by
//! `perf-readers`, a plug-in registry, and an evaluator that benchmarks a real or fake service
//! for `perf-pso`. Accelerator facts (including Ascend NPUs) live in `perf_model_core::catalog`.
//!
//! ```
//! use npu_backends::mindie::{Mindie, MindieConfig};
//! use npu_backends::{DecodedConfig, Engine, Registry};
//! // A candidate: dotted paths into MindIE's config.json (and env fields).
//! let cfg = DecodedConfig::new()
//!     .with_path("BackendConfig.ScheduleConfig.maxBatchSize", 256.0)
//!     .with_env("ASCEND_LAUNCH_BLOCKING", 0);
//! let original = r#"{"BackendConfig": {"ScheduleConfig": {"maxBatchSize": 200}}}"#;
//! let mindie = Mindie::with_original(MindieConfig::default(), original.to_string())?;
//! let plan = mindie.prepare(&cfg)?;                 // integers stay integers
//! assert!(plan.files[0].new_text.contains(r#""maxBatchSize": 256"#));
//! assert_eq!(plan.env["ASCEND_LAUNCH_BLOCKING"], "0");
//! // Engines and benchmarks also come from a registry of named factories.
//! let reg = Registry::with_builtins();
//! let section: toml::Value = toml::from_str(r#"
//!     model = "Qwen3-8B"
//!     port = "8010"
//!     others = "--max-num-seqs $MAX_NUM_SEQS"
//! "#)?;
//! let vllm = reg.engine("vllm-ascend", &section)?;
//! // `prepare` is pure: it renders the launch without starting anything.
//! let plan = vllm.prepare(&DecodedConfig::new().with_env("MAX_NUM_SEQS", 128))?;
//! assert_eq!(plan.command_text(),
//!     "vllm serve Qwen3-8B --host 127.0.0.1 --port 8010 --max-num-seqs 128");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The big picture
//!
//! * [`Engine::prepare`] and [`Benchmark::prepare`] turn a [`DecodedConfig`] into a [`Plan`]
//!   (files with new and original text, env, argv, health probe, log path, timeouts), which
//!   is plain serde data; [`dry_run()`] stops there.
//! * A [`ProcessRunner`] is the only thing that spawns processes and opens sockets:
//!   [`SystemRunner`] (process groups, logs to files, SIGTERM then SIGKILL) or [`FakeRunner`].
//! * [`BenchmarkEvaluation::run`] is the per-candidate entry point (start, wait ready, two
//!   benchmark passes — or one at the candidate's explicit `REQUESTRATE` — stop, restore);
//!   [`BenchmarkEvaluator`] wraps it as a `perf_pso::Evaluator`.
//! * [`Registry`] maps names to factories; downstream crates add their own at run time.
//! * [`logscan`] classifies failures by log patterns (fatal ones are not retried);
//!   [`residual`] is the opt-in clean-up of leftover engine processes of the current user.
//! * The `fake-engine` and `fake-bench` binaries of this crate stand in for MindIE / vLLM and
//!   AisBench / `vllm bench serve` in tests.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub mod aisbench;
pub mod benchmark;
mod common;
pub mod config;
pub mod dry_run;
pub mod engine;
pub mod error;
pub mod evaluation;
pub mod jsondoc;
pub mod logscan;
pub mod metrics;
pub mod mindie;
pub mod plan;
pub mod profile;
pub mod pso_evaluator;
pub mod registry;
pub mod residual;
pub mod runner;
pub mod vllm;
pub mod vllm_bench;

pub use benchmark::{Benchmark, CandidateLoad, Pass};
pub use common::LaunchSettings;
pub use config::{DecodedConfig, Field, Placement};
pub use dry_run::{DryRun, dry_run};
pub use engine::{Engine, Health, Running};
pub use error::{NpuError, Result};
pub use evaluation::{BenchmarkEvaluation, Evaluated, EvaluationOptions, PassResult};
pub use jsondoc::Doc;
pub use logscan::{LogClass, LogPatterns};
pub use plan::{ConfigChange, FileWrite, HealthProbe, HttpProbe, Plan, Timeouts};
pub use pso_evaluator::{BenchmarkEvaluator, backend_config};
pub use registry::{BenchmarkFactory, EngineFactory, Registry};
pub use runner::{ChildId, ChildStatus, FakeBehaviour, FakeRunner, ProcessRunner, SystemRunner};
