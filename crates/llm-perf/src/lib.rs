//! **llm-perf** predicts, simulates and tunes the performance of LLM inference serving.
//!
//! This crate is the stable front door: it re-exports every llm-perf crate as a module and
//! gathers the names most programs need in [`prelude`].
//!
//! ```
//! use llm_perf::prelude::*;
//!
//! // How many replicas of a server with these fitted Inferno parameters serve 40 req/s of
//! // 1024-in / 256-out requests with mean TTFT ≤ 200 ms and ITL ≤ 25 ms?
//! let analyzer = Analyzer::new(
//!     QueueModel::V7,
//!     ServiceParams::new(6.76, 0.0254, 2.6e-9)?,
//!     RequestShape::new(1024.0, 256.0)?,
//!     QueueConfig::new(256, 256)?,
//! )?;
//! let slo = SloTargets::latency(200.0, 25.0);
//! let plan = analyzer.replicas_for(40.0, &slo)?;
//! assert!(plan.per_replica_analysis.itl_ms <= 25.0);
//!
//! // What does one decode step of Llama-3.1-8B cost on an H100 at batch 64, context 2048?
//! let roofline = RooflineModel::new(
//!     ModelSpec::lookup("meta-llama/Llama-3.1-8B-Instruct")?,
//!     Accelerator::lookup("H100")?,
//!     Dtype::Bf16,
//!     1,
//! )?;
//! let ms = roofline.step_time(&BatchShape::decode(64, 2048));
//! // Never faster than streaming the 15 GB of linear-layer and LM-head weights at 3.35 TB/s.
//! assert!(ms >= roofline.lower_bound(&BatchShape::decode(64, 2048)) && ms > 4.4);
//! # Ok::<(), llm_perf::Error>(())
//! ```
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`model`] | `perf-model-core` | vocabulary, catalogues, Inferno analyzer, roofline |
//! | [`readers`] | `perf-readers` | GuideLLM, vLLM bench, SGLang, AISBench, Together, Inferno files and traces |
//! | [`fit`] | `perf-fit` | fitting the Inferno model's α, β, γ (Nelder–Mead, multistart, bootstrap) |
//! | [`predict`] | `perf-predict` | step-time predictors (min-norm linear, GBDT, forest, Vidur per-op) and benchmark regression |
//! | [`sim`] | `perf-sim` | discrete-event serving simulator (vLLM-V1 replicas, routers) |
//! | [`pso`] | `perf-pso` | particle swarm tuning of serving knobs (search spaces, fitness, resume) |
//! | [`npu`] | `npu-backends` | MindIE / vLLM / vLLM-Ascend engines, AisBench / vLLM bench runners, plug-in registry |
//! | [`sweep`] | (this crate) | grids of simulations sharded over SLURM / Kubernetes arrays, one result file per item, merged |
//! | [`distributed`] | (this crate) | distributed PSO: each iteration's candidates as one array job of any `Scheduler`, results read back, resumable |
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub use npu_backends as npu;
pub use perf_fit as fit;
pub use perf_model_core as model;
pub use perf_predict as predict;
pub use perf_pso as pso;
pub use perf_readers as readers;
pub use perf_sim as sim;

pub mod calibrate;
pub mod distributed;
mod model_configs;
pub mod sweep;
mod trace_files;
pub mod validate;
pub use model_configs::resolve_model_configs;
pub use trace_files::resolve_trace_files;

/// The crate README's example (the crates.io page), compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The workspace version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Any error from an llm-perf crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From `perf-model-core`: invalid values, unknown catalogue names, infeasible queues.
    #[error(transparent)]
    Model(#[from] perf_model_core::Error),
    /// From `perf-fit`: invalid training points, degenerate data, optimiser failures.
    #[error(transparent)]
    Fit(#[from] perf_fit::FitError),
    /// From `perf-predict`: bad training data, model files, feature mismatches.
    #[error(transparent)]
    Predict(#[from] perf_predict::PredictError),
    /// From `npu-backends`: engine and benchmark processes, config rewrites, result parsing.
    #[error(transparent)]
    Npu(#[from] npu_backends::NpuError),
    /// From `perf-pso`: invalid search spaces, tuning configs, checkpoints.
    #[error(transparent)]
    Pso(#[from] perf_pso::PsoError),
    /// From `perf-readers`: unreadable, malformed or unrecognised input files.
    #[error(transparent)]
    Read(#[from] perf_readers::ReadError),
    /// From `perf-sim`: invalid simulation configs, cost-model failures, output I/O.
    #[error(transparent)]
    Sim(#[from] perf_sim::SimError),
    /// From [`sweep`]: sweep files, shards, results directories, schedulers.
    #[error(transparent)]
    Sweep(#[from] sweep::SweepError),
    /// A measured run (or calibration file) that cannot be validated or calibrated as given:
    /// the file, the field and why.
    #[error("{path}: {field}: {message}")]
    Run {
        /// The run's folder or file.
        path: String,
        /// The field missing or wrong (`model`, `accelerator`, …).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// `Result` with the facade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The names most programs need: `use llm_perf::prelude::*;`.
pub mod prelude {
    pub use crate::{Error, Result};
    pub use perf_fit::{FitPoint, FittedInferno, InfernoTrainer, Loss};
    pub use perf_model_core::catalog::{Accelerator, ModelSpec};
    pub use perf_model_core::inferno::{
        Analysis, Analyzer, Arithmetic, InfernoStepModel, QueueConfig, QueueModel, RequestShape,
        ServiceParams, SloTargets,
    };
    pub use perf_model_core::roofline::RooflineModel;
    pub use perf_model_core::{
        BatchShape, BenchmarkPoint, BenchmarkPointData, Dtype, LatencyStats, LatencyStatsData,
        PerfDataset, PerformanceIndex, PerformanceIndexData, RequestRecord, RequestRecordData,
        ServingConfig, ServingConfigData, StepTimeModel,
    };
    pub use perf_predict::{PredictorFile, StepPredictor};
    pub use perf_readers::{ReadOptions, read_any, read_requests_any};
    pub use perf_sim::{SimConfig, Simulation, Summary};
}
