//! Readers that turn the benchmark data people already have into `perf-model-core` types.
//!
//! **Status: planned (issue #4).** This crate will own every input format and nothing else:
//! GuideLLM JSON, CSV and HTML reports, `vllm bench serve` results, Inferno data sets,
//! Together-style benchmark CSVs, SGLang forward profiles, Vidur-style profiling CSVs and
//! request traces (Azure, BurstGPT, Mooncake), with format detection, lenient JSON
//! (`Infinity`, `NaN`), unit-suffixed values, and errors that name the file, line and field.
//! It produces `BenchmarkPoint`, `PerfDataset` and `RequestRecord` values from
//! `perf-model-core`; fitting and statistics live elsewhere.
#![forbid(unsafe_code)]
