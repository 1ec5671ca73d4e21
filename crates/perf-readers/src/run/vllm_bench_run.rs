//! `vllm bench serve --save-result [--save-detailed]` results (and `benchmark_serving.py`,
//! SGLang `bench_serving`): one run per result object.

use std::path::Path;

use perf_model_core::LatencyStatsData;
use serde_json::Value;

use super::support::{TpotRule, file_stem, shown, stats_of, summarize, validated};
use super::{
    LoadStage, MeasuredAt, MeasuredRun, MetricDefinitions, MetricSummary, RunLayout,
    RunMeasurement, RunRequest, RunServing, RunWorkload,
};
use crate::bench_serve::detailed_requests;
use crate::error::Result;
use crate::json::{Cx, Node};

/// Keys that mark a `vllm bench serve` result object.
pub(super) const MARKERS: &[&str] = &[
    "input_lens",
    "ttfts",
    "mean_ttft_ms",
    "median_ttft_ms",
    "request_throughput",
    "completed",
];

/// Whether `value` looks like a `vllm bench serve` result object.
pub(super) fn is_result(value: &Value) -> bool {
    value.is_object() && MARKERS.iter().any(|k| value.get(k).is_some())
}

/// Reads the result objects `records` (with their JSON-Lines line numbers) of `path`.
pub(super) fn read(path: &Path, records: &[(usize, Value)]) -> Result<Vec<MeasuredRun>> {
    let path_shown = shown(path);
    let stem = file_stem(path);
    let several = records.len() > 1;
    let mut runs = Vec::with_capacity(records.len());
    for (index, (line, value)) in records.iter().enumerate() {
        let cx = Cx {
            path: &path_shown,
            line: if several { *line } else { 0 },
        };
        let name = if several {
            format!("{stem}#{index}")
        } else {
            stem.clone()
        };
        runs.push(read_one(path, name, value, &cx)?);
    }
    Ok(runs)
}

fn read_one(path: &Path, name: String, value: &Value, cx: &Cx<'_>) -> Result<MeasuredRun> {
    let root = Node::root(value);
    if !value.is_object() {
        return Err(cx.field_err("$", Some(value), "expected a result object"));
    }
    let mut notes = Vec::new();
    let model = root
        .get("model_id")
        .or_else(|| root.get("model"))
        .and_then(|n| n.as_str().map(str::to_owned));
    let num = |key: &str| root.opt_num(&[key], cx);
    let rate = num("request_rate")?;
    let burstiness = num("burstiness")?;
    let max_concurrency = num("max_concurrency")?;
    let num_prompts = num("num_prompts")?;

    let mut workload = RunWorkload::default();
    match rate {
        Some(r) if r.is_finite() && r > 0.0 => {
            match num_prompts.filter(|n| n.is_finite() && *n > 0.0) {
                Some(n) => workload.stages.push(LoadStage {
                    rate: r,
                    duration_s: n / r,
                }),
                None => notes.push(format!(
                    "request_rate {r} without num_prompts: the stage duration is unknown"
                )),
            }
            if let Some(b) = burstiness.filter(|b| b.is_finite() && *b > 0.0) {
                workload.arrival_cv = Some(1.0 / b.sqrt());
                if (b - 1.0).abs() > 1e-12 {
                    notes.push(format!(
                        "burstiness {b}: gamma-distributed inter-arrival times with CV 1/√{b} \
                         (1.0 is Poisson)"
                    ));
                }
            }
        }
        Some(r) if r.is_infinite() => notes.push(
            "request_rate inf: every request is sent at once (up to max_concurrency)".to_owned(),
        ),
        _ => {}
    }
    if let Some(c) = max_concurrency.filter(|c| c.is_finite() && *c >= 1.0) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let c = c.min(f64::from(u32::MAX)).round() as u32;
        workload.concurrency = Some(c);
    }

    let detailed = root.get("input_lens").is_some();
    let overall = if detailed {
        let list = detailed_requests(&root, cx, 0)?;
        let starts = root.get("start_times").is_some();
        if !starts {
            notes.push(
                "no start_times in the result: arrivals are unknown (all 0); the stages \
                 describe the load"
                    .to_owned(),
            );
        }
        let mut requests: Vec<RunRequest> = list
            .iter()
            .map(|d| RunRequest {
                arrival_ms: d.record.arrival_ms(),
                input_tokens: d.record.input_tokens(),
                output_tokens: d.record.output_tokens(),
                prefix_group: None,
                ttft_ms: d.record.ttft_ms(),
                e2e_ms: d.record.e2e_ms(),
                failed: d.failed,
            })
            .collect();
        requests.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));
        let mut overall = summarize(&requests, TpotRule::SkipSingle, cx.path, "$")?;
        if !starts {
            // Lengths without arrivals: a replay would send everything at once.
            workload.pairs = requests
                .iter()
                .filter(|r| !r.failed)
                .map(|r| [r.input_tokens, r.output_tokens])
                .collect();
        }
        overall.itl = validated(pooled_itl(&root, &list, cx)?, cx.path, "$.itls")?;
        let finite = |x: Option<f64>| x.filter(|v| v.is_finite() && *v >= 0.0);
        if let Some(x) = finite(num("request_throughput")?) {
            overall.requests_per_s = Some(x);
        }
        if let Some(x) = finite(num("output_throughput")?) {
            overall.output_tokens_per_s = Some(x);
        }
        if starts {
            workload.requests = requests;
        }
        overall
    } else {
        notes.push(
            "saved without --save-detailed: summary metrics only, no per-request data".to_owned(),
        );
        summary_only(&root, cx)?
    };
    Ok(MeasuredRun {
        name,
        source: path.to_path_buf(),
        layout: RunLayout::VllmBench,
        measured_at: MeasuredAt::Client,
        serving: RunServing {
            model,
            ..RunServing::default()
        },
        workload,
        measured: RunMeasurement {
            overall,
            stages: Vec::new(),
            definitions: MetricDefinitions {
                itl: "vLLM itl: every gap between consecutive streamed output chunks, pooled \
                      over the requests"
                    .to_owned(),
                tpot: "vLLM tpot: (E2E − TTFT)/(output − 1) per request with output > 1, \
                       averaged over requests"
                    .to_owned(),
            },
        },
        notes,
    })
}

/// Every gap of `itls` of the successful requests, ms, as statistics.
fn pooled_itl(
    root: &Node<'_>,
    list: &[crate::bench_serve::DetailedRequest],
    cx: &Cx<'_>,
) -> Result<LatencyStatsData> {
    let Some(rows) = root.get("itls").and_then(|n| n.items()) else {
        return Ok(LatencyStatsData::default());
    };
    let mut gaps = Vec::new();
    for (row, d) in rows.iter().zip(list) {
        if d.failed {
            continue;
        }
        let Some(items) = row.items() else {
            return Err(cx.field_err(&row.path, Some(row.v), "expected an array of gaps"));
        };
        for g in &items {
            let x = g.num(cx)?;
            if !(x.is_finite() && x >= 0.0) {
                return Err(cx.field_err(&g.path, Some(g.v), "expected a gap >= 0 (seconds)"));
            }
            gaps.push(x * 1000.0);
        }
    }
    Ok(stats_of(&mut gaps))
}

/// The summary fields of a result without per-request arrays (ms already).
fn summary_only(root: &Node<'_>, cx: &Cx<'_>) -> Result<MetricSummary> {
    let stat = |names: &[&str]| -> Result<Option<f64>> {
        for n in names {
            if let Some(x) = root.opt_num(&[n], cx)?.filter(|v| !v.is_nan()) {
                return Ok(Some(x));
            }
        }
        Ok(None)
    };
    let stats = |metric: &str, alt: Option<&str>| -> Result<LatencyStatsData> {
        let keys = |stat_name: &str| -> Vec<String> {
            std::iter::once(metric)
                .chain(alt)
                .map(|m| format!("{stat_name}_{m}_ms"))
                .collect()
        };
        let get = |stat_names: &[&str]| -> Result<Option<f64>> {
            let all: Vec<String> = stat_names.iter().flat_map(|s| keys(s)).collect();
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            stat(&refs)
        };
        Ok(LatencyStatsData {
            mean: get(&["mean"])?,
            median: get(&["median", "p50"])?,
            p90: get(&["p90"])?,
            p95: get(&["p95"])?,
            p99: get(&["p99"])?,
        })
    };
    let at = |m: &str| format!("$.*_{m}_ms");
    let completed = root.opt_count(&["completed"], cx)?;
    let per_request = |total: Option<f64>| -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        let n = completed.filter(|&c| c > 0)? as f64;
        total.filter(|t| t.is_finite()).map(|t| t / n)
    };
    let finite = |x: Option<f64>| x.filter(|v| v.is_finite() && *v >= 0.0);
    Ok(MetricSummary {
        ttft: validated(stats("ttft", None)?, cx.path, &at("ttft"))?,
        itl: validated(stats("itl", None)?, cx.path, &at("itl"))?,
        tpot: validated(stats("tpot", None)?, cx.path, &at("tpot"))?,
        e2e: validated(stats("e2el", Some("e2e_latency"))?, cx.path, &at("e2el"))?,
        input_tokens_mean: per_request(root.opt_num(&["total_input_tokens"], cx)?),
        output_tokens_mean: per_request(root.opt_num(&["total_output_tokens"], cx)?),
        requests_per_s: finite(root.opt_num(&["request_throughput"], cx)?),
        output_tokens_per_s: finite(root.opt_num(&["output_throughput"], cx)?),
        successes: completed.unwrap_or(0),
        failures: root.opt_count(&["failed"], cx)?.unwrap_or(0),
    })
}
