//! Which layout a run folder or file has, and reading it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::{file_name, missing, read_text, shown};
use super::{
    MeasuredRun, RunLayout, blis_replay, blis_trainval, guidellm_run, inference_perf,
    llmservingsim, vllm_bench_run,
};
use crate::error::{ReadError, Result};
use crate::json::parse_records;

/// What a folder is checked for.
const FOLDER_LOOKED_FOR: &str = "not a run folder: looked for exp-config.yaml, profile.yaml or \
     results/summary_lifecycle_metrics.json (inference-perf), vllm/meta.json or \
     vllm/requests.jsonl (LLMServingSim) and trained_physics*.json with error_records.csv (BLIS \
     trainval); BLIS replays, GuideLLM reports and vllm bench results are files: pass the file";

/// What a JSON file is checked for.
const FILE_LOOKED_FOR: &str = "looked for `benchmarks` (GuideLLM report), `requests` with \
     `experiment`/`config` (BLIS replay), `engine_kwargs` (LLMServingSim meta.json) and \
     `input_lens`/`ttfts`/`mean_ttft_ms`/`completed` (vllm bench serve result)";

/// A detected run with what was already read while detecting it.
enum Found {
    InferencePerf(PathBuf),
    BlisReplay(PathBuf, Option<Value>),
    LlmServingSim(PathBuf, PathBuf),
    Guidellm(Value),
    VllmBench(Vec<(usize, Value)>),
    BlisTrainval(PathBuf, PathBuf),
}

impl Found {
    fn layout(&self) -> RunLayout {
        match self {
            Self::InferencePerf(_) => RunLayout::InferencePerf,
            Self::BlisReplay(..) => RunLayout::BlisReplay,
            Self::LlmServingSim(..) => RunLayout::LlmServingSim,
            Self::Guidellm(_) => RunLayout::Guidellm,
            Self::VllmBench(_) => RunLayout::VllmBench,
            Self::BlisTrainval(..) => RunLayout::BlisTrainval,
        }
    }
}

/// Detects the layout of the run at `path`, a folder or a file.
///
/// Folders: `exp-config.yaml`, `profile.yaml` or `results/summary_lifecycle_metrics.json` →
/// [`RunLayout::InferencePerf`]; `vllm/meta.json` or `vllm/requests.jsonl` (or those files
/// directly in the folder, i.e. the `vllm/` folder itself) → [`RunLayout::LlmServingSim`];
/// `error_records.csv` with exactly one `trained_physics*.json` → [`RunLayout::BlisTrainval`].
/// Files, by name: `<exp>_ground_truth.json` → [`RunLayout::BlisReplay`]; `meta.json` /
/// `requests.jsonl` → LLMServingSim; `results/*_lifecycle_metrics.json`, `exp-config.yaml`,
/// `profile.yaml` → the inference-perf folder they are in; `error_records.csv` or
/// `trained_physics*.json` → BLIS trainval (the other file must be beside it). Other files
/// by their JSON keys:
/// `benchmarks` → [`RunLayout::Guidellm`]; `requests` with `experiment`, `config` or
/// `model_id` → BLIS replay; `engine_kwargs` → LLMServingSim; `input_lens`, `ttfts`,
/// `mean_ttft_ms`, `completed`, … → [`RunLayout::VllmBench`] (JSON Lines too).
///
/// # Examples
/// ```no_run
/// use perf_readers::{RunLayout, detect_run};
/// let layout = detect_run("runs/20260217-155451-llama-2-7b-tp1-codegen".as_ref())?;
/// assert_eq!(layout, RunLayout::InferencePerf);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Io`] for a path that does not exist; [`ReadError::UnknownFormat`] naming
/// what was looked for; [`ReadError::MissingFile`] for a ground-truth file without its
/// replay; the text errors ([`ReadError::Empty`], …) of a file that is read to detect it.
pub fn detect_run(path: &Path) -> Result<RunLayout> {
    find(path).map(|f| f.layout())
}

/// Reads the measured runs at `path`: detects the layout (see [`detect_run`]) and reads it.
/// A GuideLLM report gives one run per benchmark (named `<file stem>#<index> <strategy>`), a
/// JSON-Lines `vllm bench serve` result one per line (`<file stem>#<index>`), BLIS trainval
/// summaries one per experiment with measurements (named after its `experiment_folder`);
/// every other layout gives one run.
///
/// Times in the runs are milliseconds (files in seconds or µs are converted).
///
/// # Examples
/// ```no_run
/// let runs = perf_readers::read_runs("results/guidellm-sweep.json".as_ref())?;
/// for run in &runs {
///     println!("{}: TTFT mean {:?} ms", run.name, run.measured.overall.ttft.mean());
/// }
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// As [`detect_run`]; [`ReadError::MissingFile`] for a file the layout needs (an
/// inference-perf folder without `results/summary_lifecycle_metrics.json`, a BLIS replay
/// without its ground truth, an LLMServingSim folder without `vllm/meta.json` or
/// `vllm/requests.jsonl`, a BLIS `error_records.csv` or `trained_physics*.json` without the
/// other); [`ReadError::Json`], [`ReadError::Yaml`] and [`ReadError::Field`] naming the file,
/// line or JSON path and the bad value (for BLIS trainval also two rows that disagree on a
/// measurement, and no row matching any experiment).
pub fn read_runs(path: &Path) -> Result<Vec<MeasuredRun>> {
    match find(path)? {
        Found::InferencePerf(dir) => Ok(vec![inference_perf::read(&dir)?]),
        Found::BlisReplay(main, value) => Ok(vec![blis_replay::read(&main, value)?]),
        Found::LlmServingSim(run, vllm) => Ok(vec![llmservingsim::read(&run, &vllm)?]),
        Found::Guidellm(value) => guidellm_run::read(path, &value),
        Found::VllmBench(records) => vllm_bench_run::read(path, &records),
        Found::BlisTrainval(physics, csv) => blis_trainval::read(path, &physics, &csv),
    }
}

/// Reads the one measured run at `path` (see [`read_runs`]).
///
/// # Examples
/// ```no_run
/// let run = perf_readers::read_run("bench/RTXPRO6000/Llama-3.1-8B".as_ref())?;
/// assert_eq!(run.layout, perf_readers::RunLayout::LlmServingSim);
/// println!("{} requests", run.workload.requests.len());
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// As [`read_runs`]; [`ReadError::SeveralRuns`] when the file holds several runs (a GuideLLM
/// report with several benchmarks, BLIS trainval summaries of several experiments): read
/// those with [`read_runs`].
pub fn read_run(path: &Path) -> Result<MeasuredRun> {
    let mut runs = read_runs(path)?;
    if runs.len() == 1
        && let Some(run) = runs.pop()
    {
        return Ok(run);
    }
    Err(ReadError::SeveralRuns {
        path: shown(path),
        count: runs.len(),
    })
}

fn find(path: &Path) -> Result<Found> {
    std::fs::metadata(path).map_err(|source| ReadError::Io {
        path: shown(path),
        source,
    })?;
    if path.is_dir() {
        let inference_perf = ["exp-config.yaml", "profile.yaml"]
            .iter()
            .any(|f| path.join(f).is_file())
            || path
                .join("results")
                .join("summary_lifecycle_metrics.json")
                .is_file();
        if inference_perf {
            return Ok(Found::InferencePerf(path.to_path_buf()));
        }
        if let Some((run, vllm)) = llmservingsim::locate(path) {
            return Ok(Found::LlmServingSim(run, vllm));
        }
        if let Some((physics, csv)) = blis_trainval::locate(path)? {
            return Ok(Found::BlisTrainval(physics, csv));
        }
        return Err(ReadError::UnknownFormat {
            path: shown(path),
            reason: FOLDER_LOOKED_FOR.to_owned(),
        });
    }
    let name = file_name(path);
    if let Some(main) = blis_replay::main_path_of(path) {
        if !main.is_file() {
            return Err(missing(
                &main,
                &format!(
                    "the BLIS ground truth {} needs its replay file beside it",
                    shown(path)
                ),
            ));
        }
        return Ok(Found::BlisReplay(main, None));
    }
    if let Some((physics, csv)) = blis_trainval::locate(path)? {
        return Ok(Found::BlisTrainval(physics, csv));
    }
    let parent = path.parent();
    if matches!(name.as_str(), "meta.json" | "requests.jsonl")
        && let Some((run, vllm)) = llmservingsim::locate(path)
        && vllm.join("meta.json").is_file()
    {
        return Ok(Found::LlmServingSim(run, vllm));
    }
    if name.ends_with("_lifecycle_metrics.json")
        && let Some(results) = parent.filter(|p| p.file_name().is_some_and(|n| n == "results"))
        && let Some(dir) = results.parent()
    {
        return Ok(Found::InferencePerf(dir.to_path_buf()));
    }
    if matches!(name.as_str(), "exp-config.yaml" | "profile.yaml")
        && let Some(dir) = parent
    {
        return Ok(Found::InferencePerf(dir.to_path_buf()));
    }
    let (text, path_shown) = read_text(path)?;
    let unknown = |reason: String| ReadError::UnknownFormat {
        path: path_shown.clone(),
        reason,
    };
    let records = match parse_records(&text, &path_shown) {
        Ok(r) => r,
        Err(ReadError::Json {
            line,
            column,
            message,
            ..
        }) => {
            return Err(unknown(format!(
                "not a JSON run file (line {line} column {column}: {message}); \
                 {FILE_LOOKED_FOR}"
            )));
        }
        Err(e) => return Err(e),
    };
    if let [(_, value)] = records.as_slice() {
        if value.get("benchmarks").is_some_and(Value::is_array) {
            let Some((_, value)) = records.into_iter().next() else {
                return Err(unknown(FILE_LOOKED_FOR.to_owned()));
            };
            return Ok(Found::Guidellm(value));
        }
        let replay_keys = ["experiment", "config", "model_id"]
            .iter()
            .any(|k| value.get(k).is_some());
        if value.get("requests").is_some_and(Value::is_array) && replay_keys {
            let Some((_, value)) = records.into_iter().next() else {
                return Err(unknown(FILE_LOOKED_FOR.to_owned()));
            };
            return Ok(Found::BlisReplay(path.to_path_buf(), Some(value)));
        }
        if llmservingsim::is_meta(value)
            && let Some((run, vllm)) = llmservingsim::locate(path)
        {
            return Ok(Found::LlmServingSim(run, vllm));
        }
    }
    if !records.is_empty() && records.iter().all(|(_, v)| vllm_bench_run::is_result(v)) {
        return Ok(Found::VllmBench(records));
    }
    Err(unknown(format!("not a measured run: {FILE_LOOKED_FOR}")))
}
