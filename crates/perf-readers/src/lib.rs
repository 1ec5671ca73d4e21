//! Readers that turn the benchmark data people already have into `perf-model-core` types.
//!
//! This crate owns every input format and nothing else: GuideLLM JSON, CSV and HTML reports,
//! `vllm bench serve` results, Inferno data sets, Together-style benchmark CSVs, SGLang
//! forward profiles, Vidur-style profiling CSVs and request traces (Azure, BurstGPT,
//! Mooncake), with format detection, lenient JSON (`Infinity`, `NaN`), unit-suffixed values,
//! and errors that name the file, line and field. It produces `BenchmarkPoint`, `PerfDataset`
//! and `RequestRecord` values from `perf-model-core`; fitting and statistics live elsewhere.
//!
//! ```
//! use perf_readers::{Format, ReadOptions, read_bytes};
//! let text = br#"{"name": "demo", "data": [
//!     {"requestRate": 27.16, "inputTokens": 64, "outputTokens": 64,
//!      "avgWaitTime": 0.0, "avgPrefillTime": 18.05, "avgITLTime": 7.50, "maxBatchSize": 512}]}"#;
//! let (format, ds) = read_bytes(text, "data.json", &ReadOptions::default())?;
//! assert_eq!(format, Format::InfernoDataSet);
//! assert_eq!(ds.points[0].request_rate(), Some(27.16));
//! assert_eq!(ds.points[0].ttft().mean(), Some(18.05));
//! # Ok::<(), perf_readers::ReadError>(())
//! ```
//!
//! # Formats read so far
//!
//! | [`Format`] | reader | source |
//! |---|---|---|
//! | [`Format::InfernoDataSet`] | [`read_inferno`] | `llm-inferno/model-trainer` `DataSet` (ms or, with [`TimeUnit::Seconds`], s) |
//! | [`Format::GuidellmJson`] | [`read_guidellm_json`] | GuideLLM v0.1 (GuidanceReport, statistics computed from `results`), v0.2–0.3, v0.4–0.6 and v0.7+ JSON |
//! | [`Format::GuidellmYaml`] | [`read_guidellm_yaml`] | GuideLLM YAML report (same structure as the JSON) |
//! | [`Format::GuidellmCsvJson`] | [`read_guidellm_csv_json`] | GuideLLM CSV rows as JSON (Inferno's `guidellm-csv.json`) |
//! | [`Format::GuidellmCsv`] | [`read_guidellm_csv`] | GuideLLM CSV export (single header, or v0.4+ three header rows; rows with extra status blocks placed from their values) |
//! | [`Format::GuidellmHtml`] | [`read_guidellm_html`] | GuideLLM HTML report (`window.benchmarks`) |
//! | [`Format::VllmBench`] | [`read_vllm_bench`] | `vllm bench serve` / `benchmark_serving.py` JSON and JSONL |
//! | [`Format::SglangBench`] | [`read_sglang_bench`] | SGLang `bench_serving` JSONL |
//! | [`Format::TogetherCsv`] | [`read_together_csv`] | Together benchmark CSV (one row per traffic level) |
//! | [`Format::AisbenchJson`], [`Format::AisbenchCsv`] | [`read_aisbench`] | AISBench `<dataset>.json` + `.csv` (read together by [`read_any`]) |
//!
//! Request records, through [`read_requests_any`]: traces ([`Format::AzureTrace`] with
//! [`read_azure_trace`], [`Format::MooncakeTrace`] with [`read_mooncake_trace`],
//! [`Format::BurstGptTrace`] with [`read_burstgpt_trace`], [`Format::VidurTrace`] with
//! [`read_vidur_trace`]), the `--save-detailed` arrays of vLLM / SGLang results
//! ([`read_vllm_requests`]) and the per-request lists of GuideLLM JSON reports
//! ([`read_guidellm_requests`], per benchmark and status).
//!
//! Profiles (not benchmarks), through [`read_profile_any`] → [`Profile`]: llm-profiler sweeps
//! ([`Format::LlmProfilerSweep`], [`read_profiler_sweep`] → [`ProfilerSweep`]), Vidur
//! `mlp.csv` ([`read_vidur_mlp`]), Vidur-layout `attention.csv` ([`read_vidur_attention`]) and
//! `all_reduce.csv`/`send_recv.csv` ([`read_vidur_collective`]). [`read_any`] on a trace or a
//! profile returns [`ReadError::NotBenchmark`].
//!
//! Also profiles: the llm-profiler sweep summary ([`Format::LlmProfilerSummary`],
//! [`read_profiler_summary`]) and msserviceprofiler per-batch execute times
//! ([`Format::MsServiceProfilerBatches`], [`read_ms_batches`]).
//!
//! Model documents (not measurements), through [`read_document_any`] → [`Document`]: Inferno
//! queue-analysis problems and answers ([`read_analyzer_problem`], [`read_analyzer_solution`]),
//! its golden primitives ([`read_golden_primitives`]), the model-trainer's fit results
//! ([`read_trainer_result`]) and BLIS trained-physics coefficients ([`read_trained_physics`]).
//!
//! Model architectures: a Hugging Face `config.json` ([`Format::HfModelConfig`]) is read by
//! [`read_hf_config`] into a `perf_model_core::catalog::ModelSpec` (Llama, Mistral, Mixtral,
//! Qwen2/2.5/3 and their MoE variants, Gemma 1–3, Phi-3, Granite, OLMo-2, InternLM2,
//! DeepSeek-V2/V3 with MLA, Llama-4 Scout); [`read_document_any`] returns it as
//! [`Document::ModelConfig`].
//!
//! Measured serving runs (workload + serving configuration + measurement, for replaying a
//! run in a simulator and comparing), through [`read_runs`] / [`read_run`] → [`MeasuredRun`],
//! layout detected by [`detect_run`]:
//!
//! | [`RunLayout`] | source |
//! |---|---|
//! | [`RunLayout::InferencePerf`] | `kubernetes-sigs/inference-perf` run folder (`exp-config.yaml`, `profile.yaml`, `results/*_lifecycle_metrics.json`) |
//! | [`RunLayout::BlisReplay`] | BLIS replay `<exp>.json` + `<exp>_ground_truth.json` |
//! | [`RunLayout::LlmServingSim`] | LLMServingSim `bench run` folder (`vllm/meta.json`, `vllm/requests.jsonl`) |
//! | [`RunLayout::Guidellm`] | GuideLLM JSON report with per-request timings (one run per benchmark) |
//! | [`RunLayout::VllmBench`] | `vllm bench serve --save-result [--save-detailed]` JSON |
//! | [`RunLayout::BlisTrainval`] | BLIS trainval summaries: `trained_physics*.json` (configurations) + `error_records.csv` (measured means and percentiles), one run per experiment |
//!
//! Serving flags the run files do not record come from an engine-config YAML
//! ([`read_engine_config`], [`read_engine_config_str`] → [`RunServing`]).
//!
//! Not read yet (issue #4): LLMServingSim v1.1 profile CSVs.
//!
//! Which points of a file are kept is explicit: see [`SelectOptions`]; the default reproduces
//! the Inferno readers.
//!
//! # Broken values
//!
//! Reports in the wild carry clock glitches (a TTFT mean of −2.2e8 ms beside a sane median).
//! What is validated is what is used, after selection: a statistic (mean, median, p90, p95,
//! p99 of TTFT, ITL, TPOT or E2E) that is infinite, negative or a quantile out of order, and a
//! negative or infinite throughput, is dropped from its point instead of failing the file, and
//! a point that does not validate as a whole (negative tokens, no load) fails the file only if
//! the selection keeps it. Every such value becomes a
//! [`DataWarning`](perf_model_core::benchmark::DataWarning) in [`PerfDataset::warnings`] naming
//! the file, the place in it, the point and the field (and whether the selection dropped the
//! point), and is logged with `tracing::warn!`. A NaN statistic is absent (Python's statistic
//! of an empty set), without a warning. Users of the points decide whether a dropped value
//! matters: `perf_fit::points_from_datasets` fails naming it when the fit needs it.
//!
//! ```
//! use perf_readers::{ReadOptions, read_bytes};
//! let run = br#"{"request_throughput": 2.5, "completed": 10, "total_input_tokens": 1000,
//!     "total_output_tokens": 500, "mean_ttft_ms": -2.2e8, "median_ttft_ms": 41.5}"#;
//! let (_, ds) = read_bytes(run, "run.json", &ReadOptions::default())?;
//! assert_eq!(ds.points[0].ttft().median(), Some(41.5));
//! assert_eq!(ds.points[0].ttft().mean(), None);
//! assert_eq!(
//!     ds.warnings[0].to_string(),
//!     "run.json: line 1: $, point 0: ttft.mean = -220000000: must be >= 0; dropped"
//! );
//! # Ok::<(), perf_readers::ReadError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod aisbench;
mod bench_serve;
mod detect;
mod document;
mod error;
mod guidellm;
mod guidellm_csv_layout;
mod guidellm_v01;
mod hf_config;
mod html;
mod inferno;
mod inferno_golden;
mod inferno_rest;
mod json;
mod ms_batches;
mod point;
mod profile;
mod profiler_summary;
mod run;
mod select;
mod table;
mod text;
mod together;
mod trace;
mod trained_physics;
mod trainer_result;
mod yaml;

use std::path::Path;

use perf_model_core::{PerfDataset, RequestRecord};

pub use aisbench::read_aisbench;
pub use bench_serve::{read_sglang_bench, read_vllm_bench, read_vllm_requests};
pub use detect::{Format, detect};
pub use document::{Document, read_document_any, read_document_bytes};
pub use error::{Location, ReadError, Result};
pub use guidellm::{
    BenchmarkRequests, read_guidellm_csv, read_guidellm_csv_json, read_guidellm_json,
    read_guidellm_json_reader, read_guidellm_requests,
};
pub use hf_config::read_hf_config;
pub use html::read_guidellm_html;
pub use inferno::{TimeUnit, read_inferno};
pub use inferno_golden::{GoldenPrimitive, read_golden_primitives};
pub use inferno_rest::{
    AnalyzerProblem, AnalyzerSolution, read_analyzer_problem, read_analyzer_solution,
};
pub use json::parse_json_lenient;
pub use ms_batches::{BatchExecuteRow, BatchRequest, read_ms_batches};
pub use profile::{
    FailedConfig, OpStats, Profile, ProfilerSweep, Stage, SweepRow, VidurAttentionRow,
    VidurCollectiveRow, VidurMlpRow, read_profile_any, read_profile_bytes, read_profiler_sweep,
    read_vidur_attention, read_vidur_collective, read_vidur_mlp,
};
pub use profiler_summary::{ProfilerSummary, SummaryGroup, read_profiler_summary};
pub use run::{
    LengthSpec, LoadStage, MeasuredAt, MeasuredRun, MetricDefinitions, MetricSummary, RunLayout,
    RunMeasurement, RunRequest, RunServing, RunWorkload, SharedPrefixSpec, detect_run,
    read_engine_config, read_engine_config_str, read_run, read_runs,
};
pub use select::{SelectOptions, SelectRule, StrategyKind};
pub use together::read_together_csv;
pub use trace::{read_azure_trace, read_burstgpt_trace, read_mooncake_trace, read_vidur_trace};
pub use trained_physics::{
    PhysicsExperiment, PhysicsSharedPrefix, PhysicsWorkload, TrainedPhysics, read_trained_physics,
};
pub use trainer_result::{TrainerResult, TrainerResultRow, read_trainer_result};
pub use yaml::read_guidellm_yaml;

/// Options shared by all readers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Which points to keep (default: Inferno-compatible, see [`SelectRule::SeedCompatible`]).
    pub select: SelectOptions,
    /// Unit of the time fields of an Inferno `DataSet` (default: milliseconds).
    pub inferno_time_unit: TimeUnit,
}

/// Reads the file at `path` with default options, detecting its format from the content.
///
/// # Examples
/// ```no_run
/// let ds = perf_readers::read_any("samples/inferno-trainer/data.json")?;
/// assert_eq!(ds.name, "sample_dataset");
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// As [`read_any_with`].
pub fn read_any(path: impl AsRef<Path>) -> Result<PerfDataset> {
    read_any_with(path, &ReadOptions::default()).map(|(_, ds)| ds)
}

/// Reads the file at `path`, detecting its format from the content, and returns the format
/// with the data set.
///
/// # Errors
/// [`ReadError::IsDirectory`], [`ReadError::Io`] (missing or unreadable file), and everything
/// [`read_bytes`] returns.
pub fn read_any_with(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<(Format, PerfDataset)> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    if path.is_dir() {
        return Err(ReadError::IsDirectory { path: shown });
    }
    if let Some(ds) = stream_large_guidellm(path, &shown, opts, STREAM_ABOVE)? {
        return Ok((Format::GuidellmJson, ds));
    }
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: shown.clone(),
        source,
    })?;
    // AISBench writes `<dataset>.json` and `<dataset>.csv` side by side: read both.
    let format = detect(&bytes, Some(path));
    let sibling_ext = match format {
        Format::AisbenchJson => Some("csv"),
        Format::AisbenchCsv => Some("json"),
        _ => None,
    };
    if let Some(ext) = sibling_ext {
        let other = path.with_extension(ext);
        let other_shown = other.display().to_string();
        let other_bytes = if other.is_file() {
            Some(std::fs::read(&other).map_err(|source| ReadError::Io {
                path: other_shown.clone(),
                source,
            })?)
        } else {
            None
        };
        let this = Some((bytes.as_slice(), shown.as_str()));
        let that = other_bytes.as_deref().map(|b| (b, other_shown.as_str()));
        let (json, csv) = if format == Format::AisbenchJson {
            (this, that)
        } else {
            (that, this)
        };
        return Ok((format, read_aisbench(json, csv, opts)?));
    }
    read_bytes(&bytes, &shown, opts)
}

/// Files above this size that detect as GuideLLM JSON are streamed (see
/// [`read_guidellm_json_reader`]) instead of being read into memory.
const STREAM_ABOVE: u64 = 16 * 1024 * 1024;

/// Streams a large GuideLLM JSON report; `None` when the file is small, is another format, or
/// does not stream (bare `Infinity`/`NaN` tokens, a v0.1 report, a bad value), so that the
/// caller reads it whole and reports any error exactly. Files of at most `above` bytes are
/// left to the caller.
fn stream_large_guidellm(
    path: &Path,
    shown: &str,
    opts: &ReadOptions,
    above: u64,
) -> Result<Option<PerfDataset>> {
    use std::io::Read;
    let io = |source| ReadError::Io {
        path: shown.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len <= above {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut file)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(io)?;
    if detect(&head, Some(path)) != Format::GuidellmJson {
        return Ok(None);
    }
    let rest = std::io::Cursor::new(head).chain(file);
    Ok(read_guidellm_json_reader(rest, shown, opts)
        .ok()
        .filter(|ds| !ds.is_empty()))
}

/// Detects the format of `bytes` (see [`detect`]) and reads them; `path` is used in messages,
/// as the data set's source and as the detection hint.
///
/// # Errors
/// [`ReadError::Empty`], [`ReadError::Binary`], [`ReadError::Utf16`], [`ReadError::Utf8`] for
/// content that is not text; [`ReadError::UnknownFormat`]; the reader's errors; and
/// [`ReadError::NoPoints`] when no point is left after selection.
pub fn read_bytes(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<(Format, PerfDataset)> {
    // Text errors (empty, binary, UTF-16) come before "unknown format".
    let text = text::decode(bytes, path)?;
    let format = detect(text.as_bytes(), Some(Path::new(path)));
    let ds = match format {
        Format::InfernoDataSet => read_inferno(bytes, path, opts)?,
        Format::GuidellmJson => read_guidellm_json(bytes, path, opts)?,
        Format::GuidellmYaml => read_guidellm_yaml(bytes, path, opts)?,
        Format::GuidellmCsvJson => read_guidellm_csv_json(bytes, path, opts)?,
        Format::GuidellmHtml => read_guidellm_html(bytes, path, opts)?,
        Format::GuidellmCsv => read_guidellm_csv(bytes, path, opts)?,
        Format::VllmBench => read_vllm_bench(bytes, path, opts)?,
        Format::SglangBench => read_sglang_bench(bytes, path, opts)?,
        Format::TogetherCsv => read_together_csv(bytes, path, opts)?,
        Format::AisbenchJson => read_aisbench(Some((bytes, path)), None, opts)?,
        Format::AisbenchCsv => read_aisbench(None, Some((bytes, path)), opts)?,
        Format::AzureTrace
        | Format::MooncakeTrace
        | Format::BurstGptTrace
        | Format::VidurTrace
        | Format::LlmProfilerSweep
        | Format::VidurMlpProfile
        | Format::VidurAttentionProfile
        | Format::VidurCollectiveProfile
        | Format::LlmProfilerSummary
        | Format::MsServiceProfilerBatches
        | Format::InfernoProblem
        | Format::InfernoSolution
        | Format::InfernoGoldenPrimitives
        | Format::InfernoTrainerResult
        | Format::TrainedPhysics
        | Format::HfModelConfig => {
            return Err(ReadError::NotBenchmark {
                path: path.to_owned(),
                format,
            });
        }
        Format::Unknown => {
            return Err(ReadError::UnknownFormat {
                path: path.to_owned(),
                reason: describe(text),
            });
        }
    };
    if ds.is_empty() {
        return Err(ReadError::NoPoints {
            path: path.to_owned(),
            detail: format!(" ({} file, after point selection)", format.name()),
        });
    }
    Ok((format, ds))
}

/// Reads the request records at `path`, detecting its format from the content: a trace
/// (Azure, Mooncake, BurstGPT, Vidur), vLLM / SGLang results saved with per-request arrays
/// ([`read_vllm_requests`]), or a GuideLLM JSON report (the successful requests of every
/// benchmark, in order).
///
/// # Examples
/// ```no_run
/// let (format, records) = perf_readers::read_requests_any("AzureLLMInferenceTrace_code.csv")?;
/// assert_eq!(format, perf_readers::Format::AzureTrace);
/// assert_eq!(records[0].arrival_ms(), 0.0);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// As [`read_any_with`] for the file; [`ReadError::UnknownFormat`] for a file that is not a
/// request trace; the trace reader's errors.
pub fn read_requests_any(path: impl AsRef<Path>) -> Result<(Format, Vec<RequestRecord>)> {
    let (bytes, shown) = text::read_file(path.as_ref())?;
    read_requests_bytes(&bytes, &shown)
}

/// Detects the format of `bytes` and reads them as a request trace.
///
/// # Errors
/// As [`read_requests_any`].
pub fn read_requests_bytes(bytes: &[u8], path: &str) -> Result<(Format, Vec<RequestRecord>)> {
    let text = text::decode(bytes, path)?;
    let format = detect(text.as_bytes(), Some(Path::new(path)));
    let records = match format {
        Format::AzureTrace => read_azure_trace(bytes, path)?,
        Format::MooncakeTrace => read_mooncake_trace(bytes, path)?,
        Format::BurstGptTrace => read_burstgpt_trace(bytes, path)?,
        Format::VidurTrace => read_vidur_trace(bytes, path)?,
        Format::VllmBench | Format::SglangBench => read_vllm_requests(bytes, path)?,
        Format::GuidellmJson => read_guidellm_requests(bytes, path)?
            .into_iter()
            .flat_map(|b| b.successful)
            .collect(),
        _ => {
            return Err(ReadError::UnknownFormat {
                path: path.to_owned(),
                reason: format!("not a request trace (detected: {format})"),
            });
        }
    };
    Ok((format, records))
}

/// A short description of unrecognised text, for [`ReadError::UnknownFormat`].
fn describe(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with("Apache License")
        || trimmed.starts_with("MIT License")
        || trimmed.contains("Permission is hereby granted, free of charge")
    {
        return "a licence text, not data".to_owned();
    }
    let checksum_line = |l: &str| {
        l.split_once(char::is_whitespace)
            .is_some_and(|(hash, name)| {
                matches!(hash.len(), 32 | 40 | 64 | 128)
                    && hash.bytes().all(|b| b.is_ascii_hexdigit())
                    && !name.trim().is_empty()
            })
    };
    if trimmed.lines().take(20).all(checksum_line) {
        return "a checksum list (`sha256sum` output), not data".to_owned();
    }
    let start: String = trimmed.chars().take(40).collect();
    format!(
        "no known benchmark format starts like `{}`",
        error::shorten(&start)
    )
}

#[cfg(test)]
mod tests {
    fn ok<T: Send + Sync>() {}

    #[test]
    fn large_guidellm_json_is_streamed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/readers/");
        let opts = crate::ReadOptions::default();
        let report =
            std::path::PathBuf::from(format!("{dir}fixtures/guidellm-v0.5-args-style.json"));
        let streamed = super::stream_large_guidellm(&report, "r.json", &opts, 0)
            .unwrap()
            .unwrap();
        let (_, whole) = crate::read_any_with(&report, &opts).unwrap();
        assert_eq!(streamed.points, whole.points);
        assert_eq!(streamed.meta.model, whole.meta.model);
        // Small files, other formats and v0.1 reports are read whole.
        assert!(
            super::stream_large_guidellm(&report, "r.json", &opts, u64::MAX)
                .unwrap()
                .is_none()
        );
        for other in [
            "fixtures/vllm-bench-detailed.json",
            "fixtures/guidellm-v0.1-report.json",
        ] {
            let p = std::path::PathBuf::from(format!("{dir}{other}"));
            assert!(
                super::stream_large_guidellm(&p, other, &opts, 0)
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn public_types_are_send_sync() {
        ok::<crate::ReadError>();
        ok::<crate::ReadOptions>();
        ok::<crate::SelectOptions>();
        ok::<crate::Format>();
        ok::<crate::MeasuredRun>();
        ok::<crate::RunServing>();
        ok::<crate::RunLayout>();
    }
}
