//! `kubernetes-sigs/inference-perf` run folders: `exp-config.yaml` (server flags),
//! `profile.yaml` (client profile), `results/config.yaml` (the profile as inference-perf
//! expanded it) and `results/{summary,stage_<N>}_lifecycle_metrics.json` (seconds).

use std::path::{Path, PathBuf};

use perf_model_core::LatencyStats;
use serde_json::Value;

use super::engine_config::serving_from_node;
use super::support::{
    derived_itl, file_name, missing, opt_bool, opt_string, read_json, read_yaml, req_u32, shown,
};
use super::{
    LengthSpec, LoadStage, MeasuredAt, MeasuredRun, MetricDefinitions, MetricSummary, RunLayout,
    RunMeasurement, RunServing, RunWorkload, SharedPrefixSpec,
};
use crate::error::{ReadError, Result};
use crate::json::{Cx, Node};
use crate::point::{RawStats, latency_strict};

/// The ITL definition of inference-perf.
const ITL_DEFINITION: &str =
    "inference-perf inter_token_latency: gaps between streamed chunks (SSE), not tokens";
/// The TPOT definition of inference-perf.
const TPOT_DEFINITION: &str = "inference-perf time_per_output_token: per request, the mean gap \
     between streamed chunks (SSE), not tokens; per-token TPOT is (E2E − TTFT)/(output − 1)";

/// The configuration part of a run folder: server flags, offered workload and what was
/// noticed reading them.
pub(super) struct FolderProfile {
    pub serving: RunServing,
    pub workload: RunWorkload,
    pub notes: Vec<String>,
}

/// A parsed YAML document with its path as shown, for lookups across the profile and its
/// expansion.
struct Doc {
    value: Value,
    shown: String,
}

impl Doc {
    fn load(path: &Path) -> Result<Option<Self>> {
        if !path.is_file() {
            return Ok(None);
        }
        let (value, shown) = read_yaml(path)?;
        Ok(Some(Self { value, shown }))
    }

    fn cx(&self) -> Cx<'_> {
        Cx {
            path: &self.shown,
            line: 0,
        }
    }

    fn at(&self, keys: &[&str]) -> Option<Node<'_>> {
        Node::root(&self.value).at(keys)
    }
}

/// The first document (profile, then expansion) that has `keys`, with the node.
fn pick<'a>(docs: &'a [&'a Doc], keys: &[&str]) -> Option<(&'a Doc, Node<'a>)> {
    docs.iter().find_map(|d| d.at(keys).map(|n| (*d, n)))
}

/// Reads `exp-config.yaml`, `profile.yaml` and `results/config.yaml` of an inference-perf run
/// folder (each optional).
pub(super) fn read_folder_profile(dir: &Path) -> Result<FolderProfile> {
    let mut notes = Vec::new();
    let mut serving = match Doc::load(&dir.join("exp-config.yaml"))? {
        Some(exp) if exp.value.is_object() => {
            serving_from_node(&Node::root(&exp.value), &exp.cx(), false)?
        }
        Some(exp) => {
            return Err(exp.cx().field_err(
                "$",
                Some(&exp.value),
                "expected a mapping of server settings",
            ));
        }
        None => {
            notes.push("no exp-config.yaml: the server's flags are unknown".to_owned());
            RunServing::default()
        }
    };
    let profile = Doc::load(&dir.join("profile.yaml"))?;
    let expanded = Doc::load(&dir.join("results").join("config.yaml"))?;
    let docs: Vec<&Doc> = profile.iter().chain(expanded.iter()).collect();
    if docs.is_empty() {
        notes.push(
            "no profile.yaml or results/config.yaml: the offered workload is unknown".to_owned(),
        );
        return Ok(FolderProfile {
            serving,
            workload: RunWorkload::default(),
            notes,
        });
    }
    let mut workload = RunWorkload::default();
    read_data(
        &docs,
        profile.as_ref(),
        expanded.as_ref(),
        &mut workload,
        &mut notes,
    )?;
    if let Some((doc, stages)) = pick(&docs, &["load", "stages"]) {
        let cx = doc.cx();
        let Some(items) = stages.items() else {
            return Err(cx.field_err(&stages.path, Some(stages.v), "expected a list of stages"));
        };
        for item in &items {
            let rate = item.req_num(&["rate"], &cx)?;
            let duration = item.req_num(&["duration"], &cx)?;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(cx.field_err(
                    &format!("{}.rate", item.path),
                    item.v.get("rate"),
                    "expected a rate > 0 (requests per second)",
                ));
            }
            if !(duration.is_finite() && duration > 0.0) {
                return Err(cx.field_err(
                    &format!("{}.duration", item.path),
                    item.v.get("duration"),
                    "expected a duration > 0 (seconds)",
                ));
            }
            workload.stages.push(LoadStage {
                rate,
                duration_s: duration,
            });
        }
    }
    if let Some((doc, kind)) = pick(&docs, &["load", "type"])
        && let Some(kind) = kind.as_str()
        && kind != "constant"
    {
        notes.push(format!(
            "{}: load.type `{kind}`: arrivals follow inference-perf's `{kind}` schedule",
            doc.shown
        ));
    }
    if let Some((doc, _)) = pick(&docs, &["server", "ignore_eos"]) {
        workload.ignore_eos = opt_bool(
            &Node::root(&doc.value),
            &["server", "ignore_eos"],
            &doc.cx(),
        )?;
    }
    if let Some((doc, _)) = pick(&docs, &["server", "type"]) {
        serving.engine = opt_string(&Node::root(&doc.value), &["server", "type"], &doc.cx())?
            .map(|s| s.trim().to_ascii_lowercase());
    }
    if serving.model.is_none()
        && let Some((doc, _)) = pick(&docs, &["server", "model_name"])
    {
        serving.model = opt_string(
            &Node::root(&doc.value),
            &["server", "model_name"],
            &doc.cx(),
        )?;
    }
    Ok(FolderProfile {
        serving,
        workload,
        notes,
    })
}

/// Reads `data` (the prompt set) into `workload`.
fn read_data(
    docs: &[&Doc],
    profile: Option<&Doc>,
    expanded: Option<&Doc>,
    workload: &mut RunWorkload,
    notes: &mut Vec<String>,
) -> Result<()> {
    let Some((doc, kind_node)) = pick(docs, &["data", "type"]) else {
        notes.push("the profile has no data.type: prompt lengths are unknown".to_owned());
        return Ok(());
    };
    let cx = doc.cx();
    let Some(kind) = kind_node.as_str() else {
        return Err(cx.field_err(
            &kind_node.path,
            Some(kind_node.v),
            "expected a data type name",
        ));
    };
    if kind == "shared_prefix" {
        let Some((doc, sp)) = pick(docs, &["data", "shared_prefix"]) else {
            return Err(cx.field_err(
                "$.data.shared_prefix",
                None,
                "data.type is shared_prefix but the shared_prefix block is missing",
            ));
        };
        let cx = doc.cx();
        let system = req_u32(&sp, &["system_prompt_len"], &cx, "a token count")?;
        let question = req_u32(&sp, &["question_len"], &cx, "a token count")?;
        let output = req_u32(&sp, &["output_len"], &cx, "a token count")?;
        let groups_of = |d: &Doc| -> Result<Option<(u32, u32)>> {
            let Some(sp) = d.at(&["data", "shared_prefix"]) else {
                return Ok(None);
            };
            let cx = d.cx();
            for (g, p) in [
                ("num_groups", "num_prompts_per_group"),
                ("num_unique_system_prompts", "num_users_per_system_prompt"),
            ] {
                if sp.get(g).is_some() || sp.get(p).is_some() {
                    let groups = req_u32(&sp, &[g], &cx, "a group count")?;
                    let per = req_u32(&sp, &[p], &cx, "a prompt count")?;
                    return Ok(Some((groups, per)));
                }
            }
            Ok(None)
        };
        let from_profile = profile.map(groups_of).transpose()?.flatten();
        let from_expansion = expanded.map(groups_of).transpose()?.flatten();
        let (groups, per) = match (from_expansion, from_profile) {
            (Some(e), Some(p)) => {
                if e != p {
                    notes.push(format!(
                        "results/config.yaml expands the shared prefix to {} groups × {} \
                         prompts, profile.yaml asked for {} × {}: the expansion is what ran",
                        e.0, e.1, p.0, p.1
                    ));
                }
                e
            }
            (Some(g), None) | (None, Some(g)) => g,
            (None, None) => {
                return Err(cx.field_err(
                    &format!("{}.num_groups", sp.path),
                    None,
                    "missing the number of prompt groups (num_groups or \
                     num_unique_system_prompts)",
                ));
            }
        };
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
        return Ok(());
    }
    let mut found = false;
    for (key, slot) in [
        ("input_distribution", &mut workload.input),
        ("output_distribution", &mut workload.output),
    ] {
        let Some((doc, dist)) = pick(docs, &["data", key]) else {
            continue;
        };
        let cx = doc.cx();
        let mean = dist.req_num(&["mean"], &cx)?;
        if !(mean.is_finite() && mean >= 0.0 && mean <= f64::from(u32::MAX)) {
            return Err(cx.field_err(
                &format!("{}.mean", dist.path),
                dist.v.get("mean"),
                "expected a mean token count",
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let tokens = mean.round() as u32;
        *slot = Some(LengthSpec::Fixed { tokens });
        let range = match (dist.opt_num(&["min"], &cx)?, dist.opt_num(&["max"], &cx)?) {
            (Some(lo), Some(hi)) => format!(" (min {lo}, max {hi})"),
            _ => String::new(),
        };
        notes.push(format!(
            "data.type `{kind}`: {key}{range} taken as fixed at its mean {tokens} tokens"
        ));
        found = true;
    }
    if !found {
        return Err(cx.field_err(
            &kind_node.path,
            Some(kind_node.v),
            "unsupported inference-perf data.type: supported are shared_prefix and types \
             with input_distribution/output_distribution",
        ));
    }
    Ok(())
}

/// Reads an inference-perf run folder.
pub(super) fn read(dir: &Path) -> Result<MeasuredRun> {
    let results = dir.join("results");
    let summary_path = results.join("summary_lifecycle_metrics.json");
    if !summary_path.is_file() {
        return Err(missing(
            &summary_path,
            "an inference-perf run folder needs it",
        ));
    }
    let FolderProfile {
        serving,
        workload,
        mut notes,
    } = read_folder_profile(dir)?;
    let (value, shown_summary) = read_json(&summary_path)?;
    let overall = lifecycle(&value, &shown_summary)?;
    let mut stages = Vec::new();
    for (_, path) in stage_files(&results)? {
        let (value, shown_stage) = read_json(&path)?;
        stages.push(lifecycle(&value, &shown_stage)?);
    }
    if !workload.stages.is_empty() && stages.len() != workload.stages.len() {
        notes.push(format!(
            "the profile has {} load stages but results/ has {} stage_<N> files",
            workload.stages.len(),
            stages.len()
        ));
    }
    if overall.failures > 0 {
        notes.push(format!(
            "{} of {} requests failed (errors, timeouts): the latencies are of the successes",
            overall.failures,
            overall.failures + overall.successes
        ));
    }
    if workload.ignore_eos == Some(true)
        && let (Some(LengthSpec::Fixed { tokens }), Some(mean)) =
            (&workload.output, overall.output_tokens_mean)
        && mean < 0.95 * f64::from(*tokens)
    {
        notes.push(format!(
            "counted outputs (mean {mean:.1}) below the offered output_len {tokens} with \
             ignore_eos: inference-perf counts streamed chunks, not tokens (in BLIS's \
             per-request Llama-2-7B data, requests counted at 0-50 tokens decode as long as \
             those counted at 248), so the requests generated about {tokens} tokens"
        ));
    }
    if let Some(itl) = derived_itl(&overall) {
        notes.push(format!(
            "per-token TPOT derived as (E2E mean − TTFT mean)/(output mean − 1) = {itl:.2} ms; \
             inference-perf's own tpot and itl are per streamed chunk"
        ));
    }
    Ok(MeasuredRun {
        name: file_name(dir),
        source: dir.to_path_buf(),
        layout: RunLayout::InferencePerf,
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

/// The `stage_<N>_lifecycle_metrics.json` files of `results`, sorted by `N`.
fn stage_files(results: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = std::fs::read_dir(results).map_err(|source| ReadError::Io {
        path: shown(results),
        source,
    })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ReadError::Io {
            path: shown(results),
            source,
        })?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_prefix("stage_"))
            .and_then(|s| s.strip_suffix("_lifecycle_metrics.json"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((n, entry.path()));
    }
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// One lifecycle-metrics file (seconds) as a [`MetricSummary`] (ms).
pub(super) fn lifecycle(value: &Value, path: &str) -> Result<MetricSummary> {
    let cx = Cx { path, line: 0 };
    let root = Node::root(value);
    let Some(succ) = root.get("successes") else {
        return Err(cx.field_err(
            "$.successes",
            None,
            "missing the successes block of inference-perf lifecycle metrics",
        ));
    };
    let lat = |key: &str| -> Result<LatencyStats> {
        let Some(n) = succ.at(&["latency", key]) else {
            return Ok(LatencyStats::default());
        };
        let raw = RawStats {
            mean: n.opt_num(&["mean"], &cx)?,
            median: n.opt_num(&["median"], &cx)?,
            p90: n.opt_num(&["p90"], &cx)?,
            p95: n.opt_num(&["p95"], &cx)?,
            p99: n.opt_num(&["p99"], &cx)?,
        };
        latency_strict(&cx, &n.path, raw, 1000.0)
    };
    let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
    Ok(MetricSummary {
        ttft: lat("time_to_first_token")?,
        itl: lat("inter_token_latency")?,
        tpot: lat("time_per_output_token")?,
        e2e: lat("request_latency")?,
        input_tokens_mean: finite(succ.opt_num(&["prompt_len", "mean"], &cx)?),
        output_tokens_mean: finite(succ.opt_num(&["output_len", "mean"], &cx)?),
        requests_per_s: finite(succ.opt_num(&["throughput", "requests_per_sec"], &cx)?),
        output_tokens_per_s: finite(succ.opt_num(&["throughput", "output_tokens_per_sec"], &cx)?),
        successes: succ.opt_count(&["count"], &cx)?.unwrap_or(0),
        failures: root.opt_count(&["failures", "count"], &cx)?.unwrap_or(0),
    })
}
