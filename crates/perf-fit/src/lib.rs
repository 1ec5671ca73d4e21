//! Fitting the Inferno queueing model (α, β, γ) to measured benchmark points.
//!
//! ```
//! use perf_fit::{FitPoint, InfernoTrainer, Loss};
//! use perf_model_core::inferno::QueueModel;
//! // Four rates of one 64/64-token sweep (ms; rates in req/s).
//! let points = [
//!     FitPoint::new(27.16, 64.0, 64.0, 18.05, 7.50),
//!     FitPoint::new(76.95, 64.0, 64.0, 20.47, 8.63),
//!     FitPoint::new(126.73, 64.0, 64.0, 24.37, 10.16),
//!     FitPoint::new(176.50, 64.0, 64.0, 40.56, 15.57),
//! ]
//! .map(|p| p.with_max_batch_size(512));
//! let fitted = InfernoTrainer::params()
//!     .model(QueueModel::V3)
//!     .loss(Loss::WeightedAbsolute)
//!     .init(10.0, 0.0, 0.0)
//!     .scaled(false)
//!     .seed_compatible(true)
//!     .fit(&points)?;
//! assert!(fitted.alpha() > 0.0 && fitted.loss().is_finite());
//! let body = serde_json::to_string(&fitted.seed_response()).unwrap_or_default();
//! assert!(body.starts_with(r#"{"OptimizedParms":{"alpha":"#));
//! # Ok::<(), perf_fit::FitError>(())
//! ```
//!
//! # Where this crate fits
//! This crate owns the Inferno **trainer** (upstream `llm-inferno/model-trainer`): loss
//! functions ([`Loss`]: weighted absolute, relative squared), three optimizers
//! ([`FitMethod`]): the default bound-constrained Levenberg–Marquardt from a closed-form
//! start (tens of loss evaluations; about 1 ms on `samples/inferno-trainer/data.json`),
//! Nelder–Mead through `argmin` ([`GonumNelderMead`], an argmin solver with gonum's exact
//! steps, for the seed-compatible mode) and deterministic Nelder–Mead multistart, joint fits over
//! several data sets ([`InfernoTrainerParams::fit_datasets`],
//! [`InfernoTrainerParams::fit_joint`]), per-point error reports ([`FitReport`]), bootstrap
//! confidence intervals ([`InfernoTrainerValidParams::bootstrap`]) and identifiability checks
//! ([`Identifiability`]). The forward model it fits is `perf_model_core::inferno`; reading
//! files is `perf-readers`; the CLI and HTTP service live in the facade/CLI crates.
//!
//! # Reproducing the Go trainer
//! `seed_compatible(true)` with the model, loss, init and scaling of the reference run
//! reproduces its fits. The README headline (`samples/data.json`, V3, weighted absolute,
//! init (10, 0, 0), unscaled) needs [`Arithmetic::GoFloat32`](perf_model_core::Arithmetic):
//! it gives α = 6.7604978, β = 0.02536275, γ = 2.8e-9 and errors 1.537239 / 0.799763 /
//! 1.045588 ms after 357 major iterations and 998 evaluations (Go: 362 and 1009), within
//! 2e-6 relative of the published digits (which came from float32 with arm64 fused
//! multiply-adds; Arithmetic::GoFloat32 has no FMA, like amd64 Go). At the published
//! parameters our GoFloat32 loss equals Go's `avgErrWeighted` bit for bit.
//!
//! With plain [`Arithmetic::F64`](perf_model_core::Arithmetic) the same run does **not**
//! stop there: Go's float32 loss is a staircase, so gonum's "no decrease > 1e-10 in 100
//! iterations" rule fires early; the smooth `f64` loss keeps improving and reaches
//! α = 6.7335, β = 0.024813, γ = 1.2e-6, loss 1.01130 at the 1000-iteration limit.
//! Multistart (what the default method runs for this non-least-squares loss) reaches
//! loss ≈ 1.01035 in either arithmetic.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod bootstrap;
mod error;
mod identify;
mod lm;
mod lm_fit;
mod loss;
mod nelder_mead;
mod objective;
mod point;
mod report;
mod start;
mod synthetic;
mod trainer;

pub use bootstrap::{BootstrapCi, Interval};
pub use error::{FitError, Result};
pub use identify::{CONDITION_LIMIT, Identifiability, NEGLIGIBLE_SENSITIVITY};
pub use lm::LmStop;
pub use loss::{Loss, dataset_loss};
pub use nelder_mead::{GonumNelderMead, NmAction, NmState, NmStop};
pub use objective::InfernoCost;
pub use point::{DEFAULT_MAX_BATCH_SIZE, FitPoint, points_from_datasets};
pub use report::{ErrorSummary, FitReport, PointReport, SeedAnalysis, SeedParams, SeedResponse};
pub use synthetic::{SyntheticSpec, synthetic_points};
pub use trainer::{
    FitMethod, FittedInferno, InfernoTrainer, InfernoTrainerParams, InfernoTrainerValidParams,
};

#[cfg(test)]
mod tests {
    fn ok<T: Send + Sync + Clone>() {}

    #[test]
    fn public_types_are_send_sync_clone() {
        ok::<crate::FittedInferno>();
        ok::<crate::FitPoint>();
        ok::<crate::InfernoTrainerParams>();
        ok::<crate::BootstrapCi>();
        ok::<crate::GonumNelderMead>();
    }
}
