//! The profiler's benchmark JSON (`benchmark_data_<model>_TP_<tp>_PP_<pp>.json`): per-run
//! records, averaged rows, failed points and the sweep metadata.
//!
//! Field names and units are those of the LLM profiler's v2 files, which
//! `perf_readers::read_profiler_sweep` reads: latencies in seconds, throughputs in tokens/s,
//! `*_std` the population standard deviation over the runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{NpuError, Result};
use crate::profile::plan::SweepPoint;

/// One measurement of one point (an element of `runs_data`; the shape of a
/// `sglang.bench_one_batch` result line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// `sweep_bs<bs>_il<L>_run<i>`.
    pub run_name: String,
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt tokens per sequence.
    pub input_len: u32,
    /// Tokens generated per sequence.
    pub output_len: u32,
    /// Wall time of the one extend of `batch_size × input_len` tokens, s.
    pub prefill_latency: f64,
    /// `input_len × batch_size / prefill_latency`, tokens/s.
    pub prefill_throughput: f64,
    /// Median time of one decode step, s (absent when `output_len` is 1: no decode step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_decode_latency: Option<f64>,
    /// `batch_size / median_decode_latency`, tokens/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_decode_throughput: Option<f64>,
    /// Prefill plus every decode step, s.
    pub total_latency: f64,
    /// `(input_len + output_len) × batch_size / total_latency`, tokens/s.
    pub overall_throughput: f64,
}

/// A positive, finite time or an [`NpuError::Output`] naming `what`.
fn check_time(what: &str, s: f64) -> Result<f64> {
    if s.is_finite() && s > 0.0 {
        Ok(s)
    } else {
        Err(NpuError::Output(format!(
            "{what} must be a positive number of seconds, got {s}"
        )))
    }
}

impl RunData {
    /// A run from its three times (seconds), deriving the throughputs with the profiler's
    /// formulas: prefill `bs·L / prefill`, decode `bs / decode`, overall
    /// `bs·(L + output_len) / total`.
    ///
    /// # Errors
    /// [`NpuError::Output`] when a time is not positive and finite.
    pub fn new(
        point: SweepPoint,
        output_len: u32,
        run: u32,
        prefill_s: f64,
        decode_s: Option<f64>,
        total_s: f64,
    ) -> Result<Self> {
        let bs = f64::from(point.batch_size);
        let prefill = check_time("prefill_latency", prefill_s)?;
        let decode = decode_s
            .map(|d| check_time("median_decode_latency", d))
            .transpose()?;
        let total = check_time("total_latency", total_s)?;
        Ok(Self {
            run_name: run_name(point, run),
            batch_size: point.batch_size,
            input_len: point.input_len,
            output_len,
            prefill_latency: prefill,
            prefill_throughput: bs * f64::from(point.input_len) / prefill,
            median_decode_latency: decode,
            median_decode_throughput: decode.map(|d| bs / d),
            total_latency: total,
            overall_throughput: bs * (f64::from(point.input_len) + f64::from(output_len)) / total,
        })
    }

    /// The grid point.
    #[must_use]
    pub fn point(&self) -> SweepPoint {
        SweepPoint {
            batch_size: self.batch_size,
            input_len: self.input_len,
        }
    }
}

/// The profiler's run name: `sweep_bs<bs>_il<L>_run<i>`.
#[must_use]
pub fn run_name(point: SweepPoint, run: u32) -> String {
    format!(
        "sweep_bs{}_il{}_run{run}",
        point.batch_size, point.input_len
    )
}

/// One averaged point (an element of `results`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The first run's name.
    pub run_name: String,
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt tokens per sequence.
    pub input_len: u32,
    /// Tokens generated per sequence.
    pub output_len: u32,
    /// Mean prefill time over the runs, s.
    pub prefill_latency: f64,
    /// Mean prefill throughput, tokens/s.
    pub prefill_throughput: f64,
    /// Mean of the runs' median decode step times, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_decode_latency: Option<f64>,
    /// Mean decode throughput, tokens/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_decode_throughput: Option<f64>,
    /// Mean total time, s.
    pub total_latency: f64,
    /// Mean overall throughput, tokens/s.
    pub overall_throughput: f64,
    /// Population standard deviation of `prefill_latency` over the runs, s.
    pub prefill_latency_std: f64,
    /// Population standard deviation of `median_decode_latency`, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_decode_latency_std: Option<f64>,
    /// Population standard deviation of `prefill_throughput`.
    pub prefill_throughput_std: f64,
    /// Population standard deviation of `median_decode_throughput`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_decode_throughput_std: Option<f64>,
    /// Runs averaged.
    pub num_runs: u32,
    /// Planned runs that failed (partial success only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_failed_runs: Option<u32>,
    /// Why the missing runs failed (partial success only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_success_reason: Option<String>,
    /// Every run.
    pub runs_data: Vec<RunData>,
}

/// Mean and population standard deviation.
fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl ResultRow {
    /// Averages the runs of one point (every numeric field is the mean, the `*_std` fields the
    /// population standard deviation, as the profiler's `average_results`); `None` for no run.
    /// A decode figure is averaged over the runs that have one.
    #[must_use]
    pub fn from_runs(runs: Vec<RunData>) -> Option<Self> {
        let first = runs.first()?;
        let col = |f: &dyn Fn(&RunData) -> Option<f64>| -> Vec<f64> {
            runs.iter().filter_map(f).collect()
        };
        let opt = |xs: Vec<f64>| (!xs.is_empty()).then(|| mean_std(&xs));
        let (prefill, prefill_std) = mean_std(&col(&|r| Some(r.prefill_latency)));
        let (prefill_tp, prefill_tp_std) = mean_std(&col(&|r| Some(r.prefill_throughput)));
        let decode = opt(col(&|r| r.median_decode_latency));
        let decode_tp = opt(col(&|r| r.median_decode_throughput));
        let (total, _) = mean_std(&col(&|r| Some(r.total_latency)));
        let (overall, _) = mean_std(&col(&|r| Some(r.overall_throughput)));
        Some(Self {
            run_name: first.run_name.clone(),
            batch_size: first.batch_size,
            input_len: first.input_len,
            output_len: first.output_len,
            prefill_latency: prefill,
            prefill_throughput: prefill_tp,
            median_decode_latency: decode.map(|d| d.0),
            median_decode_throughput: decode_tp.map(|d| d.0),
            total_latency: total,
            overall_throughput: overall,
            prefill_latency_std: prefill_std,
            median_decode_latency_std: decode.map(|d| d.1),
            prefill_throughput_std: prefill_tp_std,
            median_decode_throughput_std: decode_tp.map(|d| d.1),
            num_runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
            num_failed_runs: None,
            partial_success_reason: None,
            runs_data: runs,
        })
    }

    /// The grid point.
    #[must_use]
    pub fn point(&self) -> SweepPoint {
        SweepPoint {
            batch_size: self.batch_size,
            input_len: self.input_len,
        }
    }
}

/// A point that produced no measurement (an element of `metadata.failed_configs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedConfig {
    /// Sequences in the batch.
    pub batch_size: u32,
    /// Prompt tokens per sequence.
    pub input_len: u32,
    /// Tokens generated per sequence.
    pub output_len: u32,
    /// `oom`, `skipped_due_to_limits`, `timeout`, `runtime_error: …` or `exception: …`
    /// (see [`FailureReason`](crate::profile::FailureReason)).
    pub reason: String,
}

impl FailedConfig {
    /// The grid point.
    #[must_use]
    pub fn point(&self) -> SweepPoint {
        SweepPoint {
            batch_size: self.batch_size,
            input_len: self.input_len,
        }
    }
}

/// What a point came to: a row of `results` or an entry of `failed_configs`.
#[derive(Clone, Debug, PartialEq)]
pub enum PointOutcome {
    /// At least one run succeeded.
    Measured(ResultRow),
    /// No run succeeded.
    Failed(FailedConfig),
}

impl PointOutcome {
    /// The grid point.
    #[must_use]
    pub fn point(&self) -> SweepPoint {
        match self {
            Self::Measured(r) => r.point(),
            Self::Failed(f) => f.point(),
        }
    }
}

/// `metadata` of a sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Always `comprehensive_sweep`.
    pub benchmark_type: String,
    /// The model (path or hub name).
    pub model_path: String,
    /// The backend that measured (`sglang`, `vllm`, `openai`; later profiler versions).
    pub backend: String,
    /// Largest batch size of the grid.
    pub max_batch_size: u32,
    /// Largest input length of the grid.
    pub max_input_tokens: u32,
    /// Tokens generated per sequence.
    pub output_len: u32,
    /// Tensor-parallel degree.
    pub tp_size: u32,
    /// Pipeline-parallel degree.
    pub pp_size: u32,
    /// Accelerator name (`nvidia-smi` name, `--gpu-type`, or `unknown`).
    pub gpu_type: String,
    /// The batch-size axis.
    pub batch_sizes_tested: Vec<u32>,
    /// The input-length axis.
    pub input_lens_tested: Vec<u32>,
    /// Planned runs per point.
    pub num_runs: u32,
    /// Points without a measurement.
    pub failed_configs: Vec<FailedConfig>,
    /// Points with a measurement (`results.len()`).
    pub successful_configs: u32,
}

/// A whole sweep file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkFile {
    /// The sweep description and its failed points.
    pub metadata: Metadata,
    /// The measured points, in grid order.
    pub results: Vec<ResultRow>,
}

/// The profiler's output name: `benchmark_data_<model with / replaced by _>_TP_<tp>_PP_<pp>.json`.
///
/// ```
/// assert_eq!(npu_backends::profile::benchmark_file_name("Qwen/Qwen3-4B", 1, 1),
///            "benchmark_data_Qwen_Qwen3-4B_TP_1_PP_1.json");
/// ```
#[must_use]
pub fn benchmark_file_name(model: &str, tp: u32, pp: u32) -> String {
    format!(
        "benchmark_data_{}_TP_{tp}_PP_{pp}.json",
        model.replace('/', "_")
    )
}

/// Writes `text` to `path` through a temporary file and a rename, so a reader never sees
/// half a file.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| NpuError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| NpuError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| NpuError::io(path, e))
}

impl BenchmarkFile {
    /// The JSON text (two-space indentation, as the profiler's `json.dump(indent=2)`).
    ///
    /// # Errors
    /// [`NpuError::Output`] if serialisation fails.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| NpuError::Output(format!("cannot serialise the sweep: {e}")))
    }

    /// Writes the file as [`benchmark_file_name`] under `dir` (created if needed); returns
    /// its path.
    ///
    /// # Errors
    /// [`NpuError::Io`] naming the file.
    pub fn write_to_dir(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(benchmark_file_name(
            &self.metadata.model_path,
            self.metadata.tp_size,
            self.metadata.pp_size,
        ));
        write_atomic(&path, &self.to_json()?)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(batch_size: u32, input_len: u32) -> SweepPoint {
        SweepPoint {
            batch_size,
            input_len,
        }
    }

    #[test]
    fn runs_are_averaged_with_population_std() {
        let runs = vec![
            RunData::new(p(2, 8), 4, 0, 0.010, Some(0.002), 0.016).unwrap(),
            RunData::new(p(2, 8), 4, 1, 0.030, Some(0.004), 0.042).unwrap(),
        ];
        assert_eq!(runs[1].run_name, "sweep_bs2_il8_run1");
        assert!((runs[0].prefill_throughput - 1600.0).abs() < 1e-9);
        assert!((runs[0].median_decode_throughput.unwrap() - 1000.0).abs() < 1e-9);
        assert!((runs[0].overall_throughput - 24.0 / 0.016).abs() < 1e-9);
        let row = ResultRow::from_runs(runs).unwrap();
        assert_eq!(row.run_name, "sweep_bs2_il8_run0");
        assert!((row.prefill_latency - 0.020).abs() < 1e-12);
        assert!((row.prefill_latency_std - 0.010).abs() < 1e-12);
        assert!((row.median_decode_latency.unwrap() - 0.003).abs() < 1e-12);
        assert!((row.median_decode_latency_std.unwrap() - 0.001).abs() < 1e-12);
        assert!((row.median_decode_throughput.unwrap() - 750.0).abs() < 1e-9);
        assert_eq!(row.num_runs, 2);
        assert!(ResultRow::from_runs(Vec::new()).is_none());
    }

    #[test]
    fn bad_times_are_errors() {
        assert!(RunData::new(p(1, 1), 2, 0, 0.0, None, 1.0).is_err());
        assert!(RunData::new(p(1, 1), 2, 0, 1.0, Some(f64::NAN), 1.0).is_err());
        assert!(RunData::new(p(1, 1), 2, 0, 1.0, None, -1.0).is_err());
    }
}
