//! Tuning serving configurations with particle swarm optimisation.
//!
//! **Status: planned (issue #8).** This crate will own search spaces over mixed parameters
//! (int, float, bool, enum, ratio, range, derived, environment variables, dotted config
//! paths), a seeded parallel PSO, SLO-weighted fitness over `perf_model_core::PerformanceIndex`,
//! the `Evaluator` trait, checkpoint and resume, a result store, and a simulator-backed
//! evaluator behind the `sim` feature. Engine processes live in `npu-backends`.
#![forbid(unsafe_code)]
