//! Fitting the Inferno queueing model to measured benchmark points.
//!
//! **Status: planned (issue #5).** This crate will own the Inferno trainer: loss functions
//! (weighted absolute, relative squared), Nelder–Mead through `argmin` (seed-compatible and
//! improved), deterministic multistart, joint fits over several data sets, per-point error
//! reports, bootstrap confidence intervals and identifiability checks. The forward model it
//! fits is `perf_model_core::inferno`; reading files is `perf-readers`
