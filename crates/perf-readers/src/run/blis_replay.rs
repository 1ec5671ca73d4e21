//! BLIS replay files: `<exp>.json` (the input trace: `requests[]` with arrivals in µs and
//! lengths, the server `config`) and `<exp>_ground_truth.json` beside it (per-request
//! `e2e_s`, `ttft_s`, joined on `index`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::engine_config::serving_from_node;
use super::inference_perf::{FolderProfile, read_folder_profile};
use super::support::{
    TpotRule, derived_itl, file_stem, missing, non_negative_at, opt_bool, opt_string, read_json,
    req_u32, shown, stage_at, stage_ranges, summarize,
};
use super::{
    MeasuredAt, MeasuredRun, MetricDefinitions, RunLayout, RunMeasurement, RunRequest, RunWorkload,
};
use crate::error::Result;
use crate::json::{Cx, Node};

/// Suffix of the ground-truth file name.
pub(super) const GROUND_TRUTH_SUFFIX: &str = "_ground_truth.json";

/// `<exp>_ground_truth.json` beside `<exp>.json`.
pub(super) fn ground_truth_path(main: &Path) -> PathBuf {
    main.with_file_name(format!("{}{GROUND_TRUTH_SUFFIX}", file_stem(main)))
}

/// `<exp>.json` for `<exp>_ground_truth.json`; `None` when the name does not end so.
pub(super) fn main_path_of(ground_truth: &Path) -> Option<PathBuf> {
    let name = ground_truth.file_name()?.to_str()?;
    let exp = name.strip_suffix(GROUND_TRUTH_SUFFIX)?;
    Some(ground_truth.with_file_name(format!("{exp}.json")))
}

/// One ground-truth row.
struct Truth {
    at: String,
    has_error: bool,
    ttft_s: Option<f64>,
    e2e_s: Option<f64>,
}

/// Reads a replay `<exp>.json` (already parsed when `value` is given) with its ground truth.
pub(super) fn read(main: &Path, value: Option<Value>) -> Result<MeasuredRun> {
    let gt_path = ground_truth_path(main);
    if !gt_path.is_file() {
        return Err(missing(
            &gt_path,
            &format!(
                "a BLIS replay file ({}) needs its ground truth beside it",
                shown(main)
            ),
        ));
    }
    let (value, main_shown) = match value {
        Some(v) => (v, shown(main)),
        None => read_json(main)?,
    };
    let cx = Cx {
        path: &main_shown,
        line: 0,
    };
    let root = Node::root(&value);
    let name = opt_string(&root, &["experiment"], &cx)?.unwrap_or_else(|| file_stem(main));
    let mut serving = match root.get("config") {
        Some(config) => {
            let mut s = serving_from_node(&config, &cx, false)?;
            if let Some(blocks) = config.opt_count(&["kv_blocks_total_gpu"], &cx)? {
                s.num_gpu_blocks = Some(blocks);
            }
            s
        }
        None => super::RunServing::default(),
    };
    if let Some(model) = opt_string(&root, &["model_id"], &cx)? {
        serving.model = Some(model);
    }
    let Some(items) = root.get("requests").and_then(|r| r.items()) else {
        return Err(cx.field_err(
            "$.requests",
            root.get("requests").map(|n| n.v),
            "expected the replay's array of requests",
        ));
    };

    let (mut truth, gt_shown) = read_truth(&gt_path)?;
    let gcx = Cx {
        path: &gt_shown,
        line: 0,
    };

    let mut requests = Vec::with_capacity(items.len());
    for item in &items {
        let Some(index) = item.opt_count(&["index"], &cx)? else {
            return Err(cx.field_err(&format!("{}.index", item.path), None, "missing index"));
        };
        let Some(arrival) = item.get("arrival_time_us") else {
            return Err(cx.field_err(
                &format!("{}.arrival_time_us", item.path),
                None,
                "missing arrival time (µs)",
            ));
        };
        let arrival_us = non_negative_at(&arrival, &cx, "an arrival time >= 0 (µs)")?;
        let Some(t) = truth.remove(&index) else {
            return Err(cx.field_err(
                &format!("{}.index", item.path),
                item.v.get("index"),
                &format!("no row with this index in {gt_shown}"),
            ));
        };
        let failed = opt_bool(item, &["has_error"], &cx)?.unwrap_or(false) || t.has_error;
        let (ttft_ms, e2e_ms) = times(&t, failed, &gcx)?;
        let prefix_group =
            opt_string(item, &["prefix_group"], &cx)?.filter(|g| !g.trim().is_empty());
        requests.push(RunRequest {
            arrival_ms: arrival_us / 1000.0,
            input_tokens: req_u32(item, &["input_tokens"], &cx, "a token count")?,
            output_tokens: req_u32(item, &["output_tokens"], &cx, "a token count")?,
            prefix_group,
            ttft_ms,
            e2e_ms,
            failed,
        });
    }
    requests.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));

    let mut notes = Vec::new();
    if !truth.is_empty() {
        notes.push(format!(
            "{gt_shown}: {} rows have no request in the replay file and were ignored",
            truth.len()
        ));
    }
    let workload_dir = main
        .parent()
        .map(|d| d.join("..").join("default_args").join(&name));
    let mut workload = profile_beside(workload_dir, &name, &requests, &mut serving, &mut notes)?;
    let overall = summarize(&requests, TpotRule::SkipSingle, &gt_shown, "$")?;
    if let Some(itl) = derived_itl(&overall) {
        notes.push(format!(
            "(E2E mean − TTFT mean)/(output mean − 1) = {itl:.2} ms, the sim-to-real pipeline's \
             measured ITL; the per-request TPOT mean is {:.2} ms (short outputs weigh more)",
            overall.tpot.mean().unwrap_or(f64::NAN)
        ));
    }
    let (ranges, split_note) = stage_ranges(requests.len(), &workload.stages);
    notes.extend(split_note);
    let stages = ranges
        .into_iter()
        .enumerate()
        .map(|(k, range)| {
            summarize(
                requests.get(range).unwrap_or_default(),
                TpotRule::SkipSingle,
                &gt_shown,
                &stage_at(k),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    workload.requests = requests;
    Ok(MeasuredRun {
        name,
        source: main.to_path_buf(),
        layout: RunLayout::BlisReplay,
        measured_at: MeasuredAt::Client,
        serving,
        workload,
        measured: RunMeasurement {
            overall,
            stages,
            definitions: MetricDefinitions {
                itl: "not measured: the BLIS ground truth keeps per-request E2E and TTFT only"
                    .to_owned(),
                tpot: "(E2E − TTFT)/(output − 1) per request with output > 1, from the \
                       client's E2E and TTFT (as the sim-to-real pipeline derives ITL)"
                    .to_owned(),
            },
        },
        notes,
    })
}

/// The workload of `../default_args/<exp>/` (stages, shared prefix, offered lengths,
/// ignore_eos; `max_model_len` and the engine into `serving`), or an empty one with a note.
fn profile_beside(
    profile_dir: Option<PathBuf>,
    name: &str,
    requests: &[RunRequest],
    serving: &mut super::RunServing,
    notes: &mut Vec<String>,
) -> Result<RunWorkload> {
    let mut workload = RunWorkload::default();
    match profile_dir.filter(|d| d.join("profile.yaml").is_file()) {
        Some(dir) => {
            let FolderProfile {
                serving: folder_serving,
                workload: folder_workload,
                notes: folder_notes,
            } = read_folder_profile(&dir)?;
            workload = folder_workload;
            if folder_serving.max_model_len.is_some() {
                serving.max_model_len = folder_serving.max_model_len;
            }
            if serving.engine.is_none() {
                serving.engine = folder_serving.engine;
            }
            notes.push(format!(
                "load stages, shared prefix, ignore_eos and offered lengths from {}; \
                 max_model_len from its exp-config.yaml",
                shown(&dir.join("profile.yaml"))
            ));
            notes.extend(folder_notes);
            if workload.shared_prefix.is_some() && requests.iter().all(|r| r.prefix_group.is_none())
            {
                notes.push(
                    "requests[].prefix_group is empty: the replay keeps no prefix structure; \
                     workload.shared_prefix is the profile's"
                        .to_owned(),
                );
            }
        }
        None => notes.push(format!(
            "no ../default_args/{name}/profile.yaml beside the replay: load stages unknown, \
             no per-stage split"
        )),
    }
    Ok(workload)
}

/// The ground-truth rows of `path`, by index, and the path as shown.
fn read_truth(path: &Path) -> Result<(HashMap<u64, Truth>, String)> {
    let (gt_value, gt_shown) = read_json(path)?;
    let gcx = Cx {
        path: &gt_shown,
        line: 0,
    };
    let Some(rows) = Node::root(&gt_value).items() else {
        return Err(gcx.field_err(
            "$",
            Some(&gt_value),
            "expected an array of {index, has_error, e2e_s, ttft_s}",
        ));
    };
    let mut truth: HashMap<u64, Truth> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let Some(index) = row.opt_count(&["index"], &gcx)? else {
            return Err(gcx.field_err(&format!("{}.index", row.path), None, "missing index"));
        };
        let t = Truth {
            at: row.path.clone(),
            has_error: opt_bool(row, &["has_error"], &gcx)?.unwrap_or(false),
            ttft_s: row.opt_num(&["ttft_s"], &gcx)?,
            e2e_s: row.opt_num(&["e2e_s"], &gcx)?,
        };
        if let Some(first) = truth.insert(index, t) {
            return Err(gcx.field_err(
                &format!("{}.index", row.path),
                row.v.get("index"),
                &format!("index given twice (first at {})", first.at),
            ));
        }
    }
    Ok((truth, gt_shown))
}

/// TTFT and E2E of a ground-truth row in ms, checked for a successful request.
fn times(t: &Truth, failed: bool, gcx: &Cx<'_>) -> Result<(Option<f64>, Option<f64>)> {
    let ms = |x: Option<f64>| x.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v * 1000.0);
    if failed {
        return Ok((ms(t.ttft_s), ms(t.e2e_s)));
    }
    let check = |key: &str, x: Option<f64>| -> Result<f64> {
        match x {
            Some(v) if v.is_finite() && v >= 0.0 => Ok(v * 1000.0),
            other => Err(gcx.field_err(
                &format!("{}.{key}", t.at),
                other.map(Value::from).as_ref(),
                "expected a time >= 0 in seconds for a request without error",
            )),
        }
    };
    let ttft = check("ttft_s", t.ttft_s)?;
    let e2e = check("e2e_s", t.e2e_s)?;
    if e2e < ttft {
        return Err(gcx.field_err(
            &format!("{}.e2e_s", t.at),
            t.e2e_s.map(Value::from).as_ref(),
            &format!("E2E is below TTFT ({} s)", ttft / 1000.0),
        ));
    }
    Ok((Some(ttft), Some(e2e)))
}
