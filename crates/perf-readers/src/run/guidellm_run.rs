//! GuideLLM JSON reports whose benchmarks keep their per-request timings: one run per
//! benchmark.

use std::path::Path;

use perf_model_core::RequestRecord;
use serde_json::Value;

use super::support::{TpotRule, file_stem, shown, summarize};
use super::{
    LoadStage, MeasuredAt, MeasuredRun, MetricDefinitions, RunLayout, RunMeasurement, RunRequest,
    RunServing, RunWorkload,
};
use crate::error::Result;
use crate::guidellm::{guidellm_requests_from_value, report_model, strategy_label};
use crate::json::{Cx, Node};
use crate::select::StrategyKind;

/// Reads every benchmark of a parsed GuideLLM report at `path` as a run.
pub(super) fn read(path: &Path, value: &Value) -> Result<Vec<MeasuredRun>> {
    let path_shown = shown(path);
    let cx = Cx {
        path: &path_shown,
        line: 0,
    };
    let root = Node::root(value);
    let Some(benchmarks) = root.get("benchmarks").and_then(|b| b.items()) else {
        return Err(cx.field_err(
            "$.benchmarks",
            root.get("benchmarks").map(|n| n.v),
            "expected an array of GuideLLM benchmarks",
        ));
    };
    if benchmarks.is_empty() {
        return Err(cx.field_err("$.benchmarks", Some(root.v), "no benchmark in the report"));
    }
    let lists = guidellm_requests_from_value(value, &path_shown)?;
    if lists
        .iter()
        .all(|b| b.successful.is_empty() && b.errored.is_empty() && b.incomplete.is_empty())
    {
        return Err(cx.field_err(
            "$.benchmarks[*].requests",
            None,
            "no benchmark kept per-request timings; read the report's aggregates with \
             read_guidellm_json",
        ));
    }
    let model = report_model(&root, &benchmarks);
    let stem = file_stem(path);
    let mut runs = Vec::with_capacity(benchmarks.len());
    for (index, (b, list)) in benchmarks.iter().zip(lists).enumerate() {
        let (kind, label, streams) = strategy_label(b, &cx)?;
        let strategy = b
            .at(&["config", "strategy"])
            .or_else(|| b.at(&["args", "strategy"]));
        let rate = match &strategy {
            Some(s) => s.opt_num(&["rate"], &cx)?,
            None => None,
        };
        let max_concurrency = match &strategy {
            Some(s) => s.opt_num(&["max_concurrency"], &cx)?,
            None => None,
        };
        let duration = match b.opt_num(&["duration"], &cx)? {
            Some(d) => Some(d),
            None => match (
                b.opt_num(&["start_time"], &cx)?,
                b.opt_num(&["end_time"], &cx)?,
            ) {
                (Some(s), Some(e)) => Some(e - s),
                _ => None,
            },
        }
        .filter(|d| d.is_finite() && *d > 0.0);

        let (mut workload, mut notes) =
            load(kind, &label, rate, streams, max_concurrency, duration);

        let (n_ok, n_err, n_inc) = (
            list.successful.len(),
            list.errored.len(),
            list.incomplete.len(),
        );
        if n_ok + n_err + n_inc == 0 {
            notes.push("this benchmark kept no requests: nothing measured".to_owned());
        }
        if n_inc > 0 {
            notes.push(format!(
                "{n_inc} incomplete requests (cut off at the end of the benchmark) are kept \
                 as failed"
            ));
        }
        let totals = b
            .at(&["metrics", "request_totals"])
            .or_else(|| b.get("request_totals"));
        if let Some(total) = totals
            .as_ref()
            .map(|t| t.opt_count(&["successful"], &cx))
            .transpose()?
            .flatten()
            && total > n_ok as u64
        {
            notes.push(format!(
                "the report samples its requests ({n_ok} of {total} successful kept): the \
                 statistics are of the sample"
            ));
        }
        let mut requests: Vec<RunRequest> = list
            .successful
            .iter()
            .map(|r| run_request(r, false))
            .chain(list.errored.iter().map(|r| run_request(r, true)))
            .chain(list.incomplete.iter().map(|r| run_request(r, true)))
            .collect();
        let origin = requests
            .iter()
            .map(|r| r.arrival_ms)
            .fold(f64::INFINITY, f64::min);
        for r in &mut requests {
            r.arrival_ms -= origin;
        }
        requests.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));
        let overall = summarize(&requests, TpotRule::SkipSingle, &path_shown, &b.path)?;
        workload.requests = requests;
        runs.push(MeasuredRun {
            name: format!("{stem}#{index} {label}").trim_end().to_owned(),
            source: path.to_path_buf(),
            layout: RunLayout::Guidellm,
            measured_at: MeasuredAt::Client,
            serving: RunServing {
                model: model.clone(),
                ..RunServing::default()
            },
            workload,
            measured: RunMeasurement {
                overall,
                stages: Vec::new(),
                definitions: MetricDefinitions {
                    itl: "not computed: GuideLLM's inter_token_latency_ms is \
                          (last token − first token)/(output − 1) per request, see tpot"
                        .to_owned(),
                    tpot: "(E2E − TTFT)/(output − 1) per request with output > 1, from the \
                           request's start, first-token and end times"
                        .to_owned(),
                },
            },
            notes,
        });
    }
    Ok(runs)
}

/// The offered load of a benchmark from its strategy: a stage for constant and poisson
/// rates, a concurrency for concurrent, synchronous (1) and throughput (its limit) runs.
fn load(
    kind: StrategyKind,
    label: &str,
    rate: Option<f64>,
    streams: Option<f64>,
    max_concurrency: Option<f64>,
    duration: Option<f64>,
) -> (RunWorkload, Vec<String>) {
    let mut notes = Vec::new();
    let mut workload = RunWorkload::default();
    match kind {
        StrategyKind::Constant | StrategyKind::Poisson => {
            match (rate.filter(|r| r.is_finite() && *r > 0.0), duration) {
                (Some(rate), Some(duration_s)) => {
                    workload.stages.push(LoadStage { rate, duration_s });
                }
                _ => notes.push(format!(
                    "{label}: the rate or duration is not in the report: no load stage"
                )),
            }
            if kind == StrategyKind::Poisson {
                notes.push("poisson strategy: exponential inter-arrival times".to_owned());
            }
        }
        StrategyKind::Concurrent => workload.concurrency = positive_u32(streams),
        StrategyKind::Synchronous => workload.concurrency = Some(1),
        StrategyKind::Throughput => {
            workload.concurrency = positive_u32(max_concurrency);
            notes.push(
                "throughput strategy: every request is sent at once (up to the \
                 concurrency limit)"
                    .to_owned(),
            );
        }
        StrategyKind::Unknown => {
            notes.push(format!("strategy `{label}` not recognised: load unknown"));
        }
    }
    (workload, notes)
}

/// A GuideLLM request record as a run request (arrival not yet rebased).
fn run_request(r: &RequestRecord, failed: bool) -> RunRequest {
    RunRequest {
        arrival_ms: r.arrival_ms(),
        input_tokens: r.input_tokens(),
        output_tokens: r.output_tokens(),
        prefix_group: None,
        ttft_ms: r.ttft_ms(),
        e2e_ms: r.e2e_ms(),
        failed,
    }
}

/// A positive whole count as `u32`.
fn positive_u32(x: Option<f64>) -> Option<u32> {
    let x = x.filter(|v| v.is_finite() && *v >= 1.0 && *v <= f64::from(u32::MAX))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(x.round() as u32)
}
