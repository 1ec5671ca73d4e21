//! **llm-perf** predicts, simulates and tunes the performance of LLM inference serving.
//!
//! This crate is the stable front door: it re-exports every llm-perf crate as a module and
//! gathers the names most programs need in [`prelude`].
//!
//! ```
//! use llm_perf::prelude::*;
//!
//! let point = BenchmarkPoint::new(BenchmarkPointData {
//!     request_rate: Some(3.0),
//!     input_tokens: 128.0,
//!     output_tokens: 512.0,
//!     itl: LatencyStats::from_mean(20.5)?,
//!     ..Default::default()
//! })?;
//! assert_eq!(point.itl().mean(), Some(20.5));
//! # Ok::<(), llm_perf::Error>(())
//! ```
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`model`] | `perf-model-core` | vocabulary, catalogues, Inferno analyzer, roofline |
//! | [`readers`] | `perf-readers` | benchmark, trace and profile formats (planned) |
//! | [`fit`] | `perf-fit` | fitting the Inferno model (planned) |
//! | [`predict`] | `perf-predict` | forward-time predictors (planned) |
//! | [`sim`] | `perf-sim` | discrete-event serving simulator (planned) |
//! | [`pso`] | `perf-pso` | particle swarm tuning (planned) |
//! | [`npu`] | `npu-backends` | engines and benchmark runners (planned) |
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub use npu_backends as npu;
pub use perf_fit as fit;
pub use perf_model_core as model;
pub use perf_predict as predict;
pub use perf_pso as pso;
pub use perf_readers as readers;
pub use perf_sim as sim;

/// The workspace version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Any error from an llm-perf crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From `perf-model-core`: invalid values, unknown catalogue names, infeasible queues.
    #[error(transparent)]
    Model(#[from] perf_model_core::Error),
}

/// `Result` with the facade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The names most programs need: `use llm_perf::prelude::*;`.
pub mod prelude {
    pub use crate::{Error, Result};
    pub use perf_model_core::{
        BatchShape, BenchmarkPoint, BenchmarkPointData, Dtype, LatencyStats, LatencyStatsData,
        PerfDataset, PerformanceIndex, PerformanceIndexData, RequestRecord, RequestRecordData,
        ServingConfig, ServingConfigData, StepTimeModel,
    };
}
