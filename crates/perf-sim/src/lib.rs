//! A discrete-event simulator of LLM inference serving.
//!
//! **Status: planned (issue #7).** This crate will own the event loop, workload generators
//! and trace replay, per-replica schedulers (continuous batching, chunked prefill, paged KV
//! cache, preemption), routers, multi-replica clusters, metrics, per-request CSV and summary
//! JSON. Step costs come only through `perf_model_core::StepTimeModel`, so any cost model
//! (roofline, Inferno, learned) plugs in without this crate knowing it.
#![forbid(unsafe_code)]
