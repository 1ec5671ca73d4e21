//! The LLM profiler's `profile` command: sweep one-batch benchmarks of a real engine over
//! batch sizes × input lengths and write the profiler's benchmark JSON.
//!
//! Reproduces `profile` of the LLM profiler (`vikranth22446/llm_execution_time_predictor`,
//! MIT): each grid point (powers of two by default, batch 1…64 × input 1…16384, 32 output
//! tokens) is measured `num_runs` times and averaged — prefill is the wall time of one extend
//! of `bs × input_len` tokens, decode the median step time over the output tokens. Failures
//! are recorded per point (`oom`, `skipped_due_to_limits`, `timeout`, `runtime_error: …`,
//! `exception: …`), partial successes keep `num_failed_runs` and `partial_success_reason`,
//! finished points are cached per configuration so a rerun resumes, and the output file
//! (`benchmark_data_<model>_TP_<tp>_PP_<pp>.json`) is what `perf_readers::read_profiler_sweep`
//! and `llm-perf predict train` read.
//!
//! | module | concept |
//! |---|---|
//! | [`plan`] | the grid |
//! | [`backends`] | SGLang `bench_one_batch` and `vllm bench latency`: command lines, result parsers |
//! | [`openai`] | the OpenAI-compatible server backend (concurrent streaming completions) |
//! | [`failure`] | failure reasons and out-of-memory detection |
//! | [`cache`] | the resumable per-configuration cache (FNV-1a keys) |
//! | [`output`] | the benchmark JSON |
//! | [`sweep`] | [`Profiler`]: the loop, through a [`ProcessRunner`](crate::ProcessRunner) |
//!
//! ```no_run
//! use npu_backends::SystemRunner;
//! use npu_backends::profile::{BackendConfig, BackendKind, ProfileOptions, Profiler, SweepPlan};
//! let plan = SweepPlan::powers_of_two(64, 16384, 32, 3)?;
//! let opts = ProfileOptions::new(BackendConfig::new(BackendKind::Sglang, "Qwen/Qwen3-4B"), plan);
//! let runner = SystemRunner::new();
//! let outcome = Profiler::new(opts, &runner).run(&mut |p| eprintln!("{p}"))?;
//! let path = outcome.file.write_to_dir(std::path::Path::new("."))?;
//! # Ok::<(), npu_backends::NpuError>(())
//! ```

pub mod backends;
pub mod cache;
pub mod failure;
pub mod openai;
pub mod output;
pub mod plan;
pub mod sweep;

pub use backends::{BackendConfig, BackendKind, PointMeasurement};
pub use cache::{SweepCache, canonical_json, config_key, fnv1a64};
pub use failure::{FailureReason, classify_exit, is_oom};
pub use output::{
    BenchmarkFile, FailedConfig, Metadata, PointOutcome, ResultRow, RunData, benchmark_file_name,
};
pub use plan::{SweepPlan, SweepPoint, parse_list, powers_of_two};
pub use sweep::{
    ProfileOptions, Profiler, Progress, SweepOutcome, interrupted, is_interrupted, outcome,
};
