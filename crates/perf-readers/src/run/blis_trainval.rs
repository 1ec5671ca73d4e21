//! BLIS "trainval" summaries: `trained_physics*.json` (the experiments BLIS's trained-physics
//! coefficients were fit on: configuration and offered workload, from
//! `inference-sim/inference-sim`'s `testdata/`) with `error_records.csv` beside it (from
//! `inference-sim/sim-to-real-accuracy-validation`: one row per simulator, experiment, load
//! stage and metric, with the simulator's `predicted` and the measured `actual`, ms). One run
//! per experiment that has measurements.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use perf_model_core::{LatencyStats, LatencyStatsData};
use serde_json::Value;

use super::support::{file_name, missing, read_text, shown};
use super::{
    LengthSpec, MeasuredAt, MeasuredRun, MetricDefinitions, MetricSummary, RunLayout,
    RunMeasurement, RunServing, RunWorkload, SharedPrefixSpec,
};
use crate::error::{Location, ReadError, Result, shorten};
use crate::json::Cx;
use crate::text;
use crate::trained_physics::{PhysicsExperiment, TrainedPhysics, read_trained_physics};

/// The measurements' file name.
pub(super) const CSV_NAME: &str = "error_records.csv";

/// The ITL definition of the sim-to-real pipeline.
const ITL_DEFINITION: &str = "sim-to-real pipeline: (E2E_mean − TTFT_mean)/(output_len_mean − 1), \
     output counted by inference-perf";
/// What stands for TPOT.
const TPOT_DEFINITION: &str =
    "not reported: error_records.csv has only itl_mean, the per-token figure (see itl)";

/// The highest load-stage index accepted (a guard against absurd `stage_index` values).
const MAX_STAGE: i64 = 1023;

/// The vLLM version of the BLIS runs (not recorded in these files).
const ENGINE_VERSION: &str = "0.15.1";
/// The `max_model_len` of the BLIS runs (not recorded in these files).
const MAX_MODEL_LEN: u32 = 4096;
/// BLIS's KV block size, tokens.
const BLOCK_SIZE: u32 = 16;

/// Whether `name` is a trained-physics file name (`trained_physics*.json`).
pub(super) fn is_physics_name(name: &str) -> bool {
    name.starts_with("trained_physics") && name.ends_with(".json")
}

/// The `trained_physics*.json` files directly in `dir`, sorted (none when `dir` cannot be
/// listed).
fn physics_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_physics_name(&file_name(p)))
        .collect();
    out.sort();
    out
}

/// The folder of `file` (`.` for a bare file name).
fn folder_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The one `trained_physics*.json` of `dir`; `Ok(None)` when there is none.
fn one_physics(dir: &Path) -> Result<Option<PathBuf>> {
    let mut found = physics_in(dir);
    if found.len() > 1 {
        let names: Vec<String> = found.iter().map(|p| file_name(p)).collect();
        return Err(ReadError::UnknownFormat {
            path: shown(dir),
            reason: format!(
                "several trained_physics*.json files beside {CSV_NAME} ({}): pass the one to \
                 read",
                names.join(", ")
            ),
        });
    }
    Ok(found.pop())
}

/// The trained-physics file and `error_records.csv` of the run source at `path` (their
/// folder or either file), `Ok(None)` when `path` is not such a source. The folder must hold
/// `error_records.csv` and exactly one `trained_physics*.json`; a file of either name needs
/// the other beside it.
pub(super) fn locate(path: &Path) -> Result<Option<(PathBuf, PathBuf)>> {
    if path.is_dir() {
        let csv = path.join(CSV_NAME);
        if !csv.is_file() {
            return Ok(None);
        }
        return Ok(one_physics(path)?.map(|physics| (physics, csv)));
    }
    let name = file_name(path);
    let dir = folder_of(path);
    if name == CSV_NAME {
        return match one_physics(&dir)? {
            Some(physics) => Ok(Some((physics, path.to_path_buf()))),
            None => Err(missing(
                &dir.join("trained_physics*.json"),
                &format!(
                    "{} (BLIS trainval measurements) needs the trained-physics file with the \
                     experiments' configurations beside it",
                    shown(path)
                ),
            )),
        };
    }
    if is_physics_name(&name) {
        let csv = dir.join(CSV_NAME);
        if !csv.is_file() {
            return Err(missing(
                &csv,
                &format!(
                    "{} holds BLIS's configurations and predictions, not measurements: a BLIS \
                     trainval run needs the measurements beside it",
                    shown(path)
                ),
            ));
        }
        return Ok(Some((path.to_path_buf(), csv)));
    }
    Ok(None)
}

/// A metric of `error_records.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Metric {
    TtftMean,
    TtftP90,
    TtftP99,
    E2eMean,
    E2eP90,
    E2eP99,
    ItlMean,
}

impl Metric {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ttft_mean" => Self::TtftMean,
            "ttft_p90" => Self::TtftP90,
            "ttft_p99" => Self::TtftP99,
            "e2e_mean" => Self::E2eMean,
            "e2e_p90" => Self::E2eP90,
            "e2e_p99" => Self::E2eP99,
            "itl_mean" => Self::ItlMean,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::TtftMean => "ttft_mean",
            Self::TtftP90 => "ttft_p90",
            Self::TtftP99 => "ttft_p99",
            Self::E2eMean => "e2e_mean",
            Self::E2eP90 => "e2e_p90",
            Self::E2eP99 => "e2e_p99",
            Self::ItlMean => "itl_mean",
        }
    }

    const ALL: [Self; 7] = [
        Self::TtftMean,
        Self::TtftP90,
        Self::TtftP99,
        Self::E2eMean,
        Self::E2eP90,
        Self::E2eP99,
        Self::ItlMean,
    ];
}

/// Per-experiment columns of `error_records.csv` that must agree across its rows.
const META_COLUMNS: [&str; 8] = [
    "model",
    "hardware",
    "precision",
    "tp",
    "max_num_batched_tokens",
    "dp",
    "gpu_mem_util",
    "cpu_offload",
];

/// What `error_records.csv` says about one experiment.
#[derive(Default)]
struct Measured {
    /// The folder name (last component of `experiment_folder`) and its first line.
    folder: String,
    /// `actual` (ms) and its first line, per (stage index, metric).
    values: BTreeMap<(i64, Metric), (f64, usize)>,
    /// The value and first line of each of [`META_COLUMNS`] that is set.
    meta: BTreeMap<&'static str, (String, usize)>,
    /// The `workload` labels seen.
    workloads: BTreeSet<String>,
    /// Metric names not read.
    unknown_metrics: BTreeSet<String>,
}

/// `error_records.csv` with its path as shown, for errors naming a line and column.
struct Csv<'a> {
    shown: &'a str,
}

impl Csv<'_> {
    fn bad(&self, line: usize, column: &str, value: &str, message: &str) -> ReadError {
        ReadError::Field {
            path: self.shown.to_owned(),
            location: Location::Line { line, column: 0 },
            value: if value.is_empty() {
                "nothing".to_owned()
            } else {
                shorten(value)
            },
            message: format!("column `{column}`: {message}"),
        }
    }
}

/// The last component of an `experiment_folder` path (`/` or `\` separated).
fn last_component(folder: &str) -> &str {
    folder
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
}

/// The experiment (index into `ids`) that a row's folder name and `exp_id` belong to: the
/// longest id that the folder name equals or starts with followed by `-`; else the id that
/// equals `exp_id`. `Err` with a message when the folder matches an id that `exp_id`
/// contradicts.
fn match_experiment(
    ids: &[&str],
    folder: &str,
    exp_id: &str,
) -> std::result::Result<Option<usize>, String> {
    let by_folder = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| {
            !id.is_empty()
                && folder
                    .strip_prefix(**id)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
        .max_by_key(|(_, id)| id.len());
    if let Some((k, id)) = by_folder {
        let agrees = exp_id.is_empty()
            || exp_id == *id
            || id
                .strip_prefix(exp_id)
                .is_some_and(|rest| rest.starts_with('-'));
        return if agrees {
            Ok(Some(k))
        } else {
            Err(format!(
                "does not match experiment `{id}`, which the folder `{folder}` belongs to"
            ))
        };
    }
    Ok(ids
        .iter()
        .position(|id| !exp_id.is_empty() && *id == exp_id))
}

/// Two `actual` values that are the same measurement.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// What `error_records.csv` holds, joined with the experiments.
struct Records {
    /// The measurements per experiment (index into the trained-physics experiments).
    measured: BTreeMap<usize, Measured>,
    /// Folder names of rows that match no experiment, with their row counts.
    unmatched: BTreeMap<String, usize>,
    /// The file as shown in messages.
    shown: String,
}

/// Reads `error_records.csv` into the measurements of the experiments of `physics`.
fn read_csv(path: &Path, physics: &TrainedPhysics) -> Result<Records> {
    let (text, csv_shown) = read_text(path)?;
    let csv = Csv { shown: &csv_shown };
    let mut reader = text::csv_reader(&text);
    let csv_err = |e: &csv::Error| text::csv_error(&csv_shown, &text, e);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_err(&e))?
        .iter()
        .map(str::to_owned)
        .collect();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let req_col = |name: &str| {
        col(name).ok_or_else(|| ReadError::Field {
            path: csv_shown.clone(),
            location: Location::Line { line: 1, column: 0 },
            value: shorten(&headers.join(",")),
            message: format!("missing column `{name}` in the header of BLIS's error records"),
        })
    };
    let c_folder = req_col("experiment_folder")?;
    let c_exp = req_col("exp_id")?;
    let c_stage = req_col("stage_index")?;
    let c_metric = req_col("metric_name")?;
    let c_actual = req_col("actual")?;
    let c_workload = col("workload");
    let meta_cols: Vec<(&'static str, usize)> = META_COLUMNS
        .iter()
        .filter_map(|name| col(name).map(|c| (*name, c)))
        .collect();
    let ids: Vec<&str> = physics.experiments.iter().map(|e| e.id.as_str()).collect();

    let mut measured: BTreeMap<usize, Measured> = BTreeMap::new();
    let mut unmatched: BTreeMap<String, usize> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_err(&e))?;
        let line = text::csv_line(&text, record.position());
        let cell = |c: usize| record.get(c).unwrap_or("");
        let folder_cell = cell(c_folder);
        let folder = last_component(folder_cell);
        if folder.is_empty() {
            return Err(csv.bad(
                line,
                "experiment_folder",
                folder_cell,
                "expected the experiment's folder",
            ));
        }
        let exp_id = cell(c_exp);
        let k = match match_experiment(&ids, folder, exp_id) {
            Ok(Some(k)) => k,
            Ok(None) => {
                *unmatched.entry(folder.to_owned()).or_default() += 1;
                continue;
            }
            Err(message) => return Err(csv.bad(line, "exp_id", exp_id, &message)),
        };
        let stage_cell = cell(c_stage);
        let stage = stage_cell
            .parse::<i64>()
            .ok()
            .filter(|s| (-1..=MAX_STAGE).contains(s))
            .ok_or_else(|| {
                csv.bad(
                    line,
                    "stage_index",
                    stage_cell,
                    &format!("expected -1 (whole run) or a load-stage index 0..={MAX_STAGE}"),
                )
            })?;
        let entry = measured.entry(k).or_default();
        if entry.folder.is_empty() {
            folder.clone_into(&mut entry.folder);
        } else if entry.folder != folder {
            return Err(csv.bad(
                line,
                "experiment_folder",
                folder,
                &format!(
                    "a second folder for experiment `{}`, which already has `{}`",
                    ids.get(k).copied().unwrap_or_default(),
                    entry.folder
                ),
            ));
        }
        if let Some(c) = c_workload
            && !cell(c).is_empty()
        {
            entry.workloads.insert(cell(c).to_owned());
        }
        for &(name, c) in &meta_cols {
            let value = cell(c);
            if value.is_empty() {
                continue;
            }
            match entry.meta.get(name) {
                None => {
                    entry.meta.insert(name, (value.to_owned(), line));
                }
                Some((first, first_line)) if first != value => {
                    return Err(csv.bad(
                        line,
                        name,
                        value,
                        &format!("disagrees with `{first}` on line {first_line} for `{folder}`"),
                    ));
                }
                Some(_) => {}
            }
        }
        let metric_cell = cell(c_metric);
        let Some(metric) = Metric::parse(metric_cell) else {
            entry.unknown_metrics.insert(metric_cell.to_owned());
            continue;
        };
        let actual_cell = cell(c_actual);
        let actual = actual_cell
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| {
                csv.bad(
                    line,
                    "actual",
                    actual_cell,
                    "expected the measured value, a finite number of ms >= 0",
                )
            })?;
        match entry.values.get(&(stage, metric)) {
            None => {
                entry.values.insert((stage, metric), (actual, line));
            }
            Some(&(first, first_line)) if !same(first, actual) => {
                return Err(csv.bad(
                    line,
                    "actual",
                    actual_cell,
                    &format!(
                        "{} of `{folder}` at stage_index {stage} disagrees with {first} on line \
                         {first_line} (the measurement repeats on every simulator's row)",
                        metric.name()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(Records {
        measured,
        unmatched,
        shown: csv_shown,
    })
}

/// Reads the BLIS trainval runs of the trained-physics file `physics_path` and its
/// `error_records.csv` (`csv_path`); `source` is the path the caller gave.
pub(super) fn read(
    source: &Path,
    physics_path: &Path,
    csv_path: &Path,
) -> Result<Vec<MeasuredRun>> {
    let (bytes, physics_shown) = text::read_file(physics_path)?;
    let physics = read_trained_physics(&bytes, &physics_shown)?;
    let pcx = Cx {
        path: &physics_shown,
        line: 0,
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, e) in physics.experiments.iter().enumerate() {
        if e.id.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(e.id.as_str(), k) {
            return Err(pcx.field_err(
                &format!("$.experiments[{k}].id"),
                Some(&Value::from(e.id.clone())),
                &format!("duplicate experiment id (also $.experiments[{first}].id)"),
            ));
        }
    }
    let Records {
        mut measured,
        unmatched,
        shown: csv_shown,
    } = read_csv(csv_path, &physics)?;
    // Rows of an experiment with no metric that is read are no measurement.
    measured.retain(|_, m| !m.values.is_empty());
    if measured.is_empty() {
        let ids: Vec<&str> = physics.experiments.iter().map(|e| e.id.as_str()).collect();
        let folders: Vec<&str> = unmatched.keys().map(String::as_str).collect();
        return Err(ReadError::Field {
            path: csv_shown,
            location: Location::File,
            value: shorten(&format!("folders {}", folders.join(", "))),
            message: format!(
                "no row matches an experiment of {physics_shown} (ids {}): no measured run",
                ids.join(", ")
            ),
        });
    }
    let unmatched_note = (!unmatched.is_empty()).then(|| {
        let list: Vec<String> = unmatched
            .iter()
            .map(|(f, n)| format!("{f} ({n} rows)"))
            .collect();
        format!(
            "{csv_shown} has rows for folders that match no experiment of {physics_shown}, \
             ignored: {}",
            list.join(", ")
        )
    });
    let mut runs = Vec::with_capacity(measured.len());
    for (k, m) in &measured {
        let Some(e) = physics.experiments.get(*k) else {
            continue;
        };
        let files = Files {
            physics: &physics_shown,
            csv: &csv_shown,
        };
        let mut run = one_run(source, *k, e, m, &files)?;
        run.notes.extend(unmatched_note.clone());
        runs.push(run);
    }
    Ok(runs)
}

/// The two files as shown in messages.
struct Files<'a> {
    physics: &'a str,
    csv: &'a str,
}

/// One run: experiment `k` of the trained-physics file with its measurements.
fn one_run(
    source: &Path,
    k: usize,
    e: &PhysicsExperiment,
    m: &Measured,
    files: &Files<'_>,
) -> Result<MeasuredRun> {
    let pcx = Cx {
        path: files.physics,
        line: 0,
    };
    let csv = Csv { shown: files.csv };
    let at = |key: &str| format!("$.experiments[{k}].{key}");
    let u32_of = |v: Option<u64>, key: &str| -> Result<Option<u32>> {
        v.map(|x| {
            u32::try_from(x).map_err(|_| {
                pcx.field_err(&at(key), Some(&Value::from(x)), "expected a whole number")
            })
        })
        .transpose()
    };
    let mut notes = vec![format!(
        "configuration and offered workload from {} experiment `{}` (its `expected` block is \
         BLIS's prediction, not read); measurements from the `actual` column of {} (ms, one \
         value per stage and metric, repeated on every simulator's row)",
        files.physics, e.id, files.csv
    )];
    let meta = |name: &str| m.meta.get(name).map(|(v, line)| (v.as_str(), *line));

    // Serving.
    let tensor_parallel = u32_of(e.tp, "tp")?;
    let max_num_batched_tokens = u32_of(e.max_num_batched_tokens, "max_num_batched_tokens")?;
    for (column, ours, key) in [
        ("tp", tensor_parallel, "tp"),
        (
            "max_num_batched_tokens",
            max_num_batched_tokens,
            "max_num_batched_tokens",
        ),
    ] {
        if let (Some((text, line)), Some(ours)) = (meta(column), ours) {
            let theirs = text.parse::<f64>().ok();
            if theirs != Some(f64::from(ours)) {
                return Err(csv.bad(
                    line,
                    column,
                    text,
                    &format!(
                        "disagrees with {key} {ours} of experiment `{}` in {}",
                        e.id, files.physics
                    ),
                ));
            }
        }
    }
    let mut serving = RunServing {
        model: e
            .model
            .clone()
            .or_else(|| meta("model").map(|(v, _)| v.to_owned())),
        accelerator: e
            .hardware
            .clone()
            .or_else(|| meta("hardware").map(|(v, _)| v.to_owned())),
        dtype: meta("precision").map(|(v, _)| v.to_ascii_lowercase()),
        tensor_parallel,
        max_num_seqs: u32_of(e.max_num_seqs, "max_num_seqs")?,
        max_num_batched_tokens,
        max_model_len: Some(MAX_MODEL_LEN),
        enable_chunked_prefill: Some(true),
        enable_prefix_caching: Some(true),
        num_gpu_blocks: e.total_kv_blocks,
        block_size: Some(BLOCK_SIZE),
        engine: Some("vllm".to_owned()),
        engine_version: Some(ENGINE_VERSION.to_owned()),
        ..RunServing::default()
    };
    for (column, theirs) in [("model", &e.model), ("hardware", &e.hardware)] {
        if let (Some((text, line)), Some(ours)) = (meta(column), theirs)
            && text != ours
        {
            notes.push(format!(
                "{} line {line} names {column} `{text}`, {} `{ours}`: the latter is used",
                files.csv, files.physics
            ));
        }
    }
    if let Some((text, line)) = meta("dp") {
        let dp = text
            .parse::<u32>()
            .ok()
            .filter(|&d| d >= 1)
            .ok_or_else(|| csv.bad(line, "dp", text, "expected a data-parallel degree >= 1"))?;
        serving.data_parallel = Some(dp);
    }
    if let Some((text, line)) = meta("gpu_mem_util") {
        let util = text
            .parse::<f64>()
            .ok()
            .filter(|u| *u > 0.0 && *u <= 1.0)
            .ok_or_else(|| csv.bad(line, "gpu_mem_util", text, "expected a fraction in (0, 1]"))?;
        serving.gpu_memory_utilization = Some(util);
    }
    if let Some((text, _)) = meta("cpu_offload") {
        notes.push(format!(
            "{} gives cpu_offload `{text}` (not interpreted)",
            files.csv
        ));
    }
    notes.push(format!(
        "vLLM {ENGINE_VERSION} (inference-sim fork), max_model_len {MAX_MODEL_LEN}, prefix \
         caching and chunked prefill on: not recorded in these files, assumed from the \
         sim-to-real design doc (inference-sim/sim-to-real-accuracy-validation, 2026-03-04, §1), \
         which says so of all its experiments (its fp16 and max_num_batched_tokens 2048 do not \
         hold for all of them)"
    ));
    notes.push(format!(
        "block_size {BLOCK_SIZE}: BLIS's KV block size (total_kv_blocks counts {BLOCK_SIZE}-token \
         blocks)"
    ));
    match e.cpu_kv_blocks {
        Some(0) => {
            notes.push("cpu_kv_blocks 0: BLIS models no CPU KV tier for this experiment".to_owned())
        }
        Some(n) => notes.push(format!(
            "cpu_kv_blocks {n}: BLIS models a CPU KV tier of {n} {BLOCK_SIZE}-token blocks; \
             cpu_offload_gib is left unset, since converting blocks to GiB \
             needs the model's KV bytes per token"
        )),
        None => {}
    }

    // Workload.
    let mut workload = RunWorkload {
        ignore_eos: Some(true),
        ..RunWorkload::default()
    };
    notes.push(
        "ignore_eos assumed true: BLIS's inference-perf profiles set server.ignore_eos (not \
         recorded in these files)"
            .to_owned(),
    );
    let mut offered_output = None;
    match &e.workload {
        None => notes.push(format!(
            "{} has no workload for experiment `{}`: the offered workload is unknown",
            files.physics, e.id
        )),
        Some(w) => {
            workload.stages.clone_from(&w.stages);
            match &w.shared_prefix {
                None => notes.push(format!(
                    "{} has no workload.inference_perf.shared_prefix for experiment `{}`: prompt \
                     and output lengths are unknown",
                    files.physics, e.id
                )),
                Some(sp) => {
                    let base = "workload.inference_perf.shared_prefix";
                    let field = |v: Option<u64>, key: &str| -> Result<u32> {
                        let path = at(&format!("{base}.{key}"));
                        let x = v.ok_or_else(|| {
                            pcx.field_err(&path, None, "missing from the shared prefix")
                        })?;
                        u32::try_from(x).map_err(|_| {
                            pcx.field_err(&path, Some(&Value::from(x)), "expected a token count")
                        })
                    };
                    let groups = field(sp.num_unique_system_prompts, "num_unique_system_prompts")?;
                    let per = field(
                        sp.num_users_per_system_prompt,
                        "num_users_per_system_prompt",
                    )?;
                    let system = field(sp.system_prompt_len, "system_prompt_len")?;
                    let question = field(sp.question_len, "question_len")?;
                    let output = field(sp.output_len, "output_len")?;
                    workload.shared_prefix = Some(SharedPrefixSpec {
                        groups,
                        prompts_per_group: per,
                        system_prompt_len: system,
                        question_len: question,
                    });
                    workload.input = Some(LengthSpec::Fixed {
                        tokens: system.saturating_add(question),
                    });
                    workload.output = Some(LengthSpec::Fixed { tokens: output });
                    offered_output = Some(output);
                    if sp.enable_multi_turn_chat == Some(true) {
                        notes.push(
                            "enable_multi_turn_chat: inference-perf's multi-turn chat over the \
                             shared prefixes (not described by the shared-prefix spec)"
                                .to_owned(),
                        );
                    }
                }
            }
            let offered: f64 = w.stages.iter().map(|s| s.rate * s.duration_s).sum();
            #[allow(clippy::cast_precision_loss)]
            if let Some(n) = w.num_requests
                && !w.stages.is_empty()
                && (n as f64 - offered).abs() > 0.5
            {
                notes.push(format!(
                    "workload.num_requests {n} differs from Σ rate × duration = {offered}"
                ));
            }
        }
    }

    // Measurement.
    let max_stage = m.values.keys().map(|(s, _)| *s).max().unwrap_or(-1);
    let overall = summary(m, -1, &csv)?;
    let mut stages = Vec::new();
    let mut gaps = Vec::new();
    for s in 0..=max_stage {
        if !m.values.keys().any(|(st, _)| *st == s) {
            gaps.push(s.to_string());
        }
        stages.push(summary(m, s, &csv)?);
    }
    if !gaps.is_empty() {
        notes.push(format!(
            "{} has no rows for load stage(s) {} of `{}`: left empty",
            files.csv,
            gaps.join(", "),
            m.folder
        ));
    }
    let missing_overall: Vec<&str> = Metric::ALL
        .iter()
        .filter(|metric| {
            !m.values.contains_key(&(-1, **metric))
                && m.values.keys().any(|(s, x)| *s >= 0 && x == *metric)
        })
        .map(|metric| metric.name())
        .collect();
    if !missing_overall.is_empty() {
        notes.push(format!(
            "no whole-run (stage_index -1) rows for {}: left empty overall (the stages have them)",
            missing_overall.join(", ")
        ));
    }
    if !workload.stages.is_empty() && !stages.is_empty() && stages.len() != workload.stages.len() {
        notes.push(format!(
            "{} has {} load stages for `{}`, the workload {}",
            files.csv,
            stages.len(),
            m.folder,
            workload.stages.len()
        ));
    }
    notes.push(format!(
        "{} has no request counts: successes and failures are 0 (unknown), throughputs unknown",
        files.csv
    ));
    if let Some(out) = overall.output_tokens_mean {
        let mut note = format!(
            "output_tokens_mean derived by inverting the sim-to-real ITL, itl_mean = (E2E_mean − \
             TTFT_mean)/(output_len_mean − 1): (E2E_mean − TTFT_mean)/itl_mean + 1 = {out:.1} \
             tokens counted by inference-perf overall"
        );
        if let Some(n) = offered_output {
            note.push_str(&format!(" (offered output_len {n})"));
        }
        notes.push(note);
        if let (Some(n), Some(e2e), Some(ttft)) =
            (offered_output, overall.e2e.mean(), overall.ttft.mean())
            && out < 0.95 * f64::from(n)
            && n > 1
        {
            notes.push(format!(
                "counted outputs (mean {out:.1}) below the offered output_len {n} with \
                 ignore_eos: inference-perf counts streamed chunks, not tokens; per generated \
                 token, (E2E_mean − TTFT_mean)/(output_len − 1) = {:.2} ms",
                (e2e - ttft) / f64::from(n - 1)
            ));
        }
    }
    if m.workloads.len() > 1 {
        notes.push(format!(
            "{} labels the rows of `{}` with workloads {}; their actual values agree, so they are \
             one measurement",
            files.csv,
            m.folder,
            m.workloads.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !m.unknown_metrics.is_empty() {
        notes.push(format!(
            "{} metrics not read: {}",
            files.csv,
            m.unknown_metrics
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(MeasuredRun {
        name: m.folder.clone(),
        source: source.to_path_buf(),
        layout: RunLayout::BlisTrainval,
        measured_at: MeasuredAt::Client,
        serving,
        workload,
        measured: RunMeasurement {
            overall,
            stages,
            definitions: MetricDefinitions {
                itl: ITL_DEFINITION.to_owned(),
                tpot: TPOT_DEFINITION.to_owned(),
            },
        },
        notes,
    })
}

/// The measurements of stage `stage` (−1: whole run) as a [`MetricSummary`]; the output mean
/// is derived from the E2E, TTFT and ITL means when all three are there.
fn summary(m: &Measured, stage: i64, csv: &Csv<'_>) -> Result<MetricSummary> {
    let get = |metric: Metric| m.values.get(&(stage, metric)).copied();
    // A validation failure names the line of the last value of the statistics.
    let invalid = |what: &str, line: usize, value: f64, e: &perf_model_core::Error| {
        csv.bad(
            line,
            "actual",
            &value.to_string(),
            &format!("{what} of `{}` at stage_index {stage}: {e}", m.folder),
        )
    };
    let stats = |what: &str, metrics: [Metric; 3]| -> Result<LatencyStats> {
        let [mean, p90, p99] = metrics.map(get);
        let data = LatencyStatsData {
            mean: mean.map(|(v, _)| v),
            p90: p90.map(|(v, _)| v),
            p99: p99.map(|(v, _)| v),
            ..LatencyStatsData::default()
        };
        LatencyStats::new(data).map_err(|e| {
            let (value, line) = [mean, p90, p99]
                .into_iter()
                .flatten()
                .max_by_key(|(_, l)| *l)
                .unwrap_or((f64::NAN, 0));
            invalid(what, line, value, &e)
        })
    };
    let ttft = stats("TTFT", [Metric::TtftMean, Metric::TtftP90, Metric::TtftP99])?;
    let e2e = stats("E2E", [Metric::E2eMean, Metric::E2eP90, Metric::E2eP99])?;
    let itl = match get(Metric::ItlMean) {
        Some((v, line)) => LatencyStats::from_mean(v).map_err(|e| invalid("ITL", line, v, &e))?,
        None => LatencyStats::default(),
    };
    let output_tokens_mean = match (e2e.mean(), ttft.mean(), itl.mean()) {
        (Some(e2e), Some(ttft), Some(itl)) if itl > 0.0 && e2e >= ttft => {
            Some((e2e - ttft) / itl + 1.0).filter(|x| x.is_finite())
        }
        _ => None,
    };
    Ok(MetricSummary {
        ttft,
        itl,
        e2e,
        output_tokens_mean,
        ..MetricSummary::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(last_component("/a/b/17-x-tp2/"), "17-x-tp2");
        assert_eq!(last_component(r"C:\runs\20-y"), "20-y");
        assert_eq!(last_component("plain"), "plain");
        assert_eq!(last_component(""), "");
    }

    #[test]
    fn joins_on_folder_then_exp_id() {
        let ids = ["17", "20260217-155451", "20260217-162547", "20", ""];
        assert_eq!(match_experiment(&ids, "17-llama-tp2", "17"), Ok(Some(0)));
        assert_eq!(
            match_experiment(&ids, "20260217-155451-llama-2-7b-codegen", "20260217"),
            Ok(Some(1))
        );
        // `20` is not a prefix of `20260217-…` at a dash.
        assert_eq!(
            match_experiment(&ids, "20260217-999999-x", "20260217"),
            Ok(None)
        );
        assert_eq!(match_experiment(&ids, "20-scout", ""), Ok(Some(3)));
        assert_eq!(match_experiment(&ids, "renamed-folder", "20"), Ok(Some(3)));
        assert_eq!(match_experiment(&ids, "other", ""), Ok(None));
        assert!(match_experiment(&ids, "17-llama", "20").is_err());
    }

    #[test]
    fn names() {
        assert!(is_physics_name("trained_physics_iter29.json"));
        assert!(is_physics_name("trained_physics.json"));
        assert!(!is_physics_name("trained_physics_iter29.json.bak"));
        assert!(!is_physics_name("physics.json"));
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
        assert_eq!(Metric::parse("tpot_mean"), None);
    }
}
