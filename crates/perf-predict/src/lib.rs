//! Predictors of forward-pass (step) time and of benchmark-level metrics.
//!
//! **Status: planned (issue #6).** This crate will own forward-time predictors (linear
//! min-norm least squares on four features, gradient-boosted trees, random forests,
//! Vidur-style per-operator models), benchmark-level regression (`metric = a + b·in + c·out`)
//! with confidence, cross-validation and versioned model JSON. Its predictors implement
//! `perf_model_core::StepTimeModel` so the simulator can use them.
#![forbid(unsafe_code)]
