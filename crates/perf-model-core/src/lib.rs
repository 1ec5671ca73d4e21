//! Shared vocabulary and closed-form models of LLM serving performance.
//!
//! ```
//! use perf_model_core::{BatchShape, BenchmarkPoint, BenchmarkPointData, LatencyStats};
//! let point = BenchmarkPoint::new(BenchmarkPointData {
//!     request_rate: Some(3.0), input_tokens: 128.0, output_tokens: 512.0,
//!     ttft: LatencyStats::from_mean(75.3)?, ..Default::default()
//! })?;
//! assert_eq!(point.ttft().mean(), Some(75.3));
//! assert_eq!(BatchShape::decode(32, 1024).total_tokens(), 32);
//! # Ok::<(), perf_model_core::Error>(())
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

pub mod benchmark;
pub mod catalog;
pub mod dtype;
pub mod error;
pub mod index;
pub mod inferno;
pub mod latency;
pub mod request;
pub mod roofline;
pub mod serving;
pub mod step;
pub mod validate;

pub use benchmark::{BenchmarkPoint, BenchmarkPointData, DatasetMeta, PerfDataset};
pub use catalog::{Accelerator, MlaSpec, ModelSpec, MoeSpec};
pub use dtype::Dtype;
pub use error::{Error, Result};
pub use index::{PerformanceIndex, PerformanceIndexData};
pub use inferno::{
    Analysis, Analyzer, Arithmetic, InfernoStepModel, OptimalConcurrency, Primitives, QueueConfig,
    QueueModel, RateRange, ReplicaPlan, RequestShape, ServiceParams, ServiceTimes, Sizing,
    SloTargets,
};
pub use latency::{LatencyStats, LatencyStatsData};
pub use request::{RequestRecord, RequestRecordData};
pub use roofline::{
    AllReduce, ComputeEfficiency, Overheads, RooflineCalibration, RooflineModel, StepCost,
};
pub use serving::{ServingConfig, ServingConfigData};
pub use step::{BatchShape, StepTimeModel};

#[cfg(test)]
mod tests {
    fn ok<T: Send + Sync + Clone>() {}

    #[test]
    fn public_types_are_send_sync_clone() {
        ok::<crate::BenchmarkPoint>();
        ok::<crate::PerfDataset>();
        ok::<crate::LatencyStats>();
        ok::<crate::RequestRecord>();
        ok::<crate::ServingConfig>();
        ok::<crate::PerformanceIndex>();
        ok::<crate::BatchShape>();
        ok::<crate::Error>();
    }
}
