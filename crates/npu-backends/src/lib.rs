//! Serving engines and benchmark runners behind plug-in traits, for GPUs and Ascend NPUs.
//!
//! **Status: planned (issue #9).** This crate will own engines (MindIE, vLLM, vLLM-Ascend:
//! config rewrite, launch, health check, stop), benchmark runners (AisBench, `vllm bench
//! serve`) whose output is parsed by `perf-readers`, a plug-in registry, and an evaluator that
//! benchmarks a real or fake service for `perf-pso`. Accelerator facts (including Ascend NPUs)
//! live in `perf_model_core::catalog`.
#![forbid(unsafe_code)]
