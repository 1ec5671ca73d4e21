//! GuideLLM reports: the JSON of the v0.2–0.3, v0.4–0.6 and v0.7+ generations, and the
//! "CSV-as-JSON" arrays Inferno reads (single-header and ` | `-joined three-row-header keys).

use std::collections::HashMap;

use perf_model_core::{BenchmarkPointData, PerfDataset, RequestRecord, RequestRecordData};
use serde_json::Value;

use crate::ReadOptions;
use crate::error::{ReadError, Result};
use crate::json::{Cx, Node, json_error, number, parse_json_lenient, parse_number_text};
use crate::point::{Notes, RawStats, distribution, latency, positive_finite};
use crate::select::{Candidate, SeedRule, StrategyKind, finish_file};
use crate::text;

/// Reads a GuideLLM JSON report (`{"benchmarks": […]}`, with or without `metadata`, `args` or
/// `config`): one point per benchmark.
///
/// Per benchmark, from `metrics.<name>.successful`: `request_rate` ← `requests_per_second.mean`;
/// `input_tokens`/`output_tokens` ← `prompt_token_count`/`output_token_count` `.mean`; TTFT,
/// ITL and TPOT ← `time_to_first_token_ms`, `inter_token_latency_ms`,
/// `time_per_output_token_ms` (mean, median, p90, p95, p99); E2E ← `request_latency` (seconds,
/// converted to ms); `output_throughput` ← `output_tokens_per_second.mean`; `concurrency` ←
/// the strategy's `streams` for concurrent runs, else `request_concurrency.mean`; counts ←
/// `request_totals` or `run_stats.requests_made`. The label is the strategy (`constant@2.00`,
/// `concurrent@4`, `synchronous`, `throughput`), from `config.strategy` (v0.4+) or
/// `args.strategy` (v0.2–0.3). Inferno's reader takes TTFT's median and ITL's mean; both are
/// kept. Seed-compatible selection keeps every benchmark.
///
/// # Errors
/// A [`ReadError`](crate::ReadError) with the file and JSON path of a missing `benchmarks`
/// array, a non-numeric metric, or a kept point that fails validation (a broken statistic is
/// dropped with a warning instead, see the crate docs).
pub fn read_guidellm_json(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    // Fast path: a typed parse that skips the (possibly 100 MB+) request lists without
    // building them; any failure falls back to the lenient full parse for exact errors.
    // v0.1 reports keep their data in the nested lists, so they take the full parse too.
    let value = match serde_json::from_str::<LightReport>(text) {
        Ok(light) if !light.is_v01() => light.into_value(),
        _ => parse_json_lenient(text, path)?,
    };
    guidellm_from_value(&value, path, opts)
}

/// Reads a GuideLLM JSON report (v0.2 and later) from `reader` without holding its text:
/// the report is parsed as it streams in (through a 64 KiB buffer), the request lists are
/// skipped without being built, and only the metrics are kept, so memory stays small for the
/// 100 MB+ reports `guidellm benchmark` writes. The mapping is that of [`read_guidellm_json`].
///
/// [`read_any`](crate::read_any) uses it for GuideLLM JSON files larger than 16 MiB.
///
/// # Examples
/// ```
/// let report = br#"{"benchmarks": [{"args": {"strategy": {"type_": "synchronous"}},
///   "metrics": {"requests_per_second": {"successful": {"mean": 0.8}},
///               "prompt_token_count": {"successful": {"mean": 256.0}},
///               "output_token_count": {"successful": {"mean": 128.0}},
///               "time_to_first_token_ms": {"successful": {"mean": 42.0, "median": 40.5}}},
///   "requests": {"successful": [{"prompt_tokens": 256}]}}]}"#;
/// let ds = perf_readers::read_guidellm_json_reader(&report[..], "r.json", &Default::default())?;
/// assert_eq!(ds.points[0].ttft().median(), Some(40.5));
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Json`] with the line and column of a syntax error or an I/O failure (the bare
/// `Infinity`/`NaN` tokens are not accepted here: use [`read_guidellm_json`] on such files);
/// a [`ReadError::Field`] for a v0.1 report (its data is in the request lists: use
/// [`read_guidellm_json`]); then the errors of [`read_guidellm_json`].
pub fn read_guidellm_json_reader<R: std::io::Read>(
    reader: R,
    path: &str,
    opts: &ReadOptions,
) -> Result<PerfDataset> {
    let light: LightReport =
        serde_json::from_reader(std::io::BufReader::with_capacity(64 * 1024, reader))
            .map_err(|e| json_error(path, &e))?;
    if light.is_v01() {
        return Err(Cx { path, line: 0 }.field_err(
            "$.benchmarks[0]",
            None,
            "a GuideLLM v0.1 report cannot be streamed; read it with read_guidellm_json",
        ));
    }
    guidellm_from_value(&light.into_value(), path, opts)
}

/// Reads a GuideLLM report already parsed into a JSON value (from JSON or YAML).
pub(crate) fn guidellm_from_value(
    value: &Value,
    path: &str,
    opts: &ReadOptions,
) -> Result<PerfDataset> {
    let cx = Cx { path, line: 0 };
    let root = Node::root(value);
    let Some(benchmarks) = root.get("benchmarks").and_then(|b| b.items()) else {
        return Err(cx.field_err(
            "$.benchmarks",
            root.get("benchmarks").map(|n| n.v),
            "expected an array of GuideLLM benchmarks",
        ));
    };
    if benchmarks
        .first()
        .is_some_and(|b| b.get("benchmarks").is_some() && b.get("metrics").is_none())
    {
        return crate::guidellm_v01::read_v01(&benchmarks, &cx, opts);
    }
    let mut candidates = Vec::with_capacity(benchmarks.len());
    for b in &benchmarks {
        candidates.push(json_benchmark(b, &cx)?);
    }
    let model = report_model(&root, &benchmarks);
    finish_file(path, model, candidates, &opts.select, SeedRule::All)
}

/// A GuideLLM report without its request lists (and other bulky parts we do not read).
#[derive(serde::Deserialize)]
struct LightReport {
    benchmarks: Vec<LightBenchmark>,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    config: Option<Value>,
}

/// One benchmark, keeping only what [`json_benchmark`] and the metadata lookup read.
#[derive(serde::Deserialize)]
struct LightBenchmark {
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    metrics: Option<Value>,
    #[serde(default)]
    request_totals: Option<Value>,
    #[serde(default)]
    run_stats: Option<Value>,
    #[serde(default)]
    worker: Option<Value>,
    /// Present in GuideLLM v0.1 reports (nested benchmarks).
    #[serde(default)]
    benchmarks: Option<serde::de::IgnoredAny>,
}

impl LightReport {
    /// A v0.1 (GuidanceReport) file: nested `benchmarks` and no `metrics`.
    fn is_v01(&self) -> bool {
        self.benchmarks
            .first()
            .is_some_and(|b| b.benchmarks.is_some() && b.metrics.is_none())
    }

    fn into_value(self) -> Value {
        let mut root = serde_json::Map::new();
        let benchmarks = self
            .benchmarks
            .into_iter()
            .map(|b| {
                let mut m = serde_json::Map::new();
                for (k, v) in [
                    ("config", b.config),
                    ("args", b.args),
                    ("metrics", b.metrics),
                    ("request_totals", b.request_totals),
                    ("run_stats", b.run_stats),
                    ("worker", b.worker),
                ] {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), v);
                    }
                }
                if b.benchmarks.is_some() {
                    m.insert("benchmarks".to_owned(), Value::Bool(true));
                }
                Value::Object(m)
            })
            .collect();
        root.insert("benchmarks".to_owned(), Value::Array(benchmarks));
        for (k, v) in [("args", self.args), ("config", self.config)] {
            if let Some(v) = v {
                root.insert(k.to_owned(), v);
            }
        }
        Value::Object(root)
    }
}

/// The strategy kind and label (`constant@2.00`, `concurrent@4`, `synchronous`) of a benchmark.
pub(crate) fn strategy_label(
    b: &Node<'_>,
    cx: &Cx<'_>,
) -> Result<(StrategyKind, String, Option<f64>)> {
    let strategy = b
        .at(&["config", "strategy"])
        .or_else(|| b.at(&["args", "strategy"]));
    let kind_name = strategy
        .as_ref()
        .and_then(|s| s.get("type_").or_else(|| s.get("kind")))
        .and_then(|n| n.as_str())
        .unwrap_or("");
    let kind = StrategyKind::from_label(kind_name);
    let rate = match &strategy {
        Some(s) => s.opt_num(&["rate"], cx)?,
        None => None,
    };
    let streams = match &strategy {
        Some(s) => s.opt_num(&["streams"], cx)?,
        None => None,
    };
    let label = match (kind, rate, streams) {
        (StrategyKind::Constant | StrategyKind::Poisson, Some(r), _) => {
            format!("{kind_name}@{r:.2}")
        }
        (StrategyKind::Concurrent, _, Some(n)) => format!("{kind_name}@{n}"),
        _ => kind_name.to_owned(),
    };
    Ok((kind, label, streams))
}

/// The model a GuideLLM report was run against: the report's backend spec (v0.4+) or args,
/// else its first benchmark's worker or backend.
pub(crate) fn report_model(root: &Node<'_>, benchmarks: &[Node<'_>]) -> Option<String> {
    root.at(&["config", "spec", "backend", "model"])
        .or_else(|| root.at(&["args", "model"]))
        .or_else(|| {
            benchmarks.first().and_then(|b| {
                b.at(&["worker", "backend_model"])
                    .or_else(|| b.at(&["config", "backend", "model"]))
            })
        })
        .and_then(|n| n.as_str().map(str::to_owned))
}

fn json_benchmark(b: &Node<'_>, cx: &Cx<'_>) -> Result<Candidate> {
    let (kind, label, streams) = strategy_label(b, cx)?;
    let Some(metrics) = b.get("metrics") else {
        return Err(cx.field_err(
            &format!("{}.metrics", b.path),
            None,
            "missing metrics block",
        ));
    };
    let succ = |name: &str| metrics.at(&[name, "successful"]);
    let stats = |name: &str| -> Result<RawStats> {
        succ(name).map_or(Ok(RawStats::default()), |n| distribution(&n, cx))
    };
    let mean = |name: &str| -> Result<Option<f64>> {
        succ(name).map_or(Ok(None), |n| n.opt_num(&["mean"], cx))
    };
    let tokens = |name: &str| -> Result<f64> {
        metrics
            .req_num(&[name, "successful", "mean"], cx)
            .map(|x| if x.is_nan() { 0.0 } else { x })
    };
    let mut notes = Notes::at(cx, &b.path);
    let concurrency = if kind == StrategyKind::Concurrent {
        positive_finite(streams)
    } else {
        notes.rate("concurrency", mean("request_concurrency")?)
    };
    let totals = metrics
        .get("request_totals")
        .or_else(|| b.get("request_totals"))
        .or_else(|| b.at(&["run_stats", "requests_made"]));
    let (successful, failed) = match &totals {
        Some(t) => (
            t.opt_count(&["successful"], cx)?,
            t.opt_count(&["errored"], cx)?,
        ),
        None => (None, None),
    };
    let data = BenchmarkPointData {
        label: (!label.is_empty()).then_some(label),
        request_rate: notes.rate("request_rate", mean("requests_per_second")?),
        concurrency,
        input_tokens: tokens("prompt_token_count")?,
        output_tokens: tokens("output_token_count")?,
        ttft: latency(&mut notes, "ttft", stats("time_to_first_token_ms")?, 1.0),
        itl: latency(&mut notes, "itl", stats("inter_token_latency_ms")?, 1.0),
        tpot: latency(&mut notes, "tpot", stats("time_per_output_token_ms")?, 1.0),
        e2e: latency(&mut notes, "e2e", stats("request_latency")?, 1000.0),
        output_throughput: notes
            .non_negative("output_throughput", mean("output_tokens_per_second")?),
        successful,
        failed,
        ..BenchmarkPointData::default()
    };
    Ok(Candidate::new(kind, notes, data))
}

/// The per-request records of one GuideLLM benchmark.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchmarkRequests {
    /// The benchmark's strategy label (`synchronous`, `constant@1.09`, …), empty if unknown.
    pub label: String,
    /// Requests that completed.
    pub successful: Vec<RequestRecord>,
    /// Requests that failed.
    pub errored: Vec<RequestRecord>,
    /// Requests cut off at the end of the benchmark.
    pub incomplete: Vec<RequestRecord>,
}

/// Reads the per-request records of a GuideLLM JSON report (`benchmarks[].requests`), one
/// [`BenchmarkRequests`] per benchmark. Request lists may be sampled or empty.
///
/// Times are ms since the earliest request start in the file. Per request: arrival ←
/// `start_time` (v0.2–0.3) or `request_start_time` / `info.timings.request_start` (v0.4+),
/// epoch seconds; first token ← `first_token_time` / `info.timings.first_token_iteration`, else
/// arrival + `time_to_first_token_ms`; completion ← `end_time` / `request_end_time` /
/// `info.timings.request_end` (dropped when there is no first token); tokens ←
/// `prompt_tokens`, `output_tokens` (0 when absent); `id` = position in the file.
///
/// # Errors
/// As [`read_guidellm_json`]; a request whose times are out of order is
/// [`ReadError::Invalid`](crate::ReadError::Invalid) with its JSON path.
pub fn read_guidellm_requests(bytes: &[u8], path: &str) -> Result<Vec<BenchmarkRequests>> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    guidellm_requests_from_value(&value, path)
}

/// [`read_guidellm_requests`] on a report already parsed.
pub(crate) fn guidellm_requests_from_value(
    value: &Value,
    path: &str,
) -> Result<Vec<BenchmarkRequests>> {
    let cx = Cx { path, line: 0 };
    let root = Node::root(value);
    let Some(benchmarks) = root.get("benchmarks").and_then(|b| b.items()) else {
        return Err(cx.field_err(
            "$.benchmarks",
            root.get("benchmarks").map(|n| n.v),
            "expected an array of GuideLLM benchmarks",
        ));
    };
    // First pass: raw times (epoch s) of every request, to find the common origin.
    let mut raw: Vec<(String, [Vec<RawRequest>; 3])> = Vec::with_capacity(benchmarks.len());
    let mut origin = f64::INFINITY;
    for b in &benchmarks {
        let (_, label, _) = strategy_label(b, &cx)?;
        let mut lists: [Vec<RawRequest>; 3] = Default::default();
        for (slot, status) in lists
            .iter_mut()
            .zip(["successful", "errored", "incomplete"])
        {
            let Some(items) = b.at(&["requests", status]).and_then(|n| n.items()) else {
                continue;
            };
            for item in &items {
                let r = raw_request(item, &cx)?;
                if let Some(a) = r.arrival_s {
                    origin = origin.min(a);
                }
                slot.push(r);
            }
        }
        raw.push((label, lists));
    }
    let mut next_id = 0u64;
    let mut out = Vec::with_capacity(raw.len());
    for (label, lists) in raw {
        let [successful, errored, incomplete] = lists.map(|list| {
            list.into_iter()
                .map(|r| {
                    let id = next_id;
                    next_id += 1;
                    r.record(id, origin, &cx)
                })
                .collect::<Result<Vec<_>>>()
        });
        out.push(BenchmarkRequests {
            label,
            successful: successful?,
            errored: errored?,
            incomplete: incomplete?,
        });
    }
    Ok(out)
}

/// Times of one request as found (epoch seconds).
struct RawRequest {
    path: String,
    arrival_s: Option<f64>,
    first_s: Option<f64>,
    ttft_ms: Option<f64>,
    end_s: Option<f64>,
    input: u32,
    output: u32,
}

fn raw_request(item: &Node<'_>, cx: &Cx<'_>) -> Result<RawRequest> {
    let first_num = |paths: &[&[&str]]| -> Result<Option<f64>> {
        for p in paths {
            if let Some(x) = item.opt_num(p, cx)? {
                return Ok(Some(x));
            }
        }
        Ok(None)
    };
    let tokens = |key: &str| -> Result<u32> {
        match item.opt_num(&[key], cx)? {
            None => Ok(0),
            Some(x) if x.is_finite() && x >= 0.0 && x <= f64::from(u32::MAX) =>
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(x.round() as u32)
            }
            Some(_) => Err(cx.field_err(
                &format!("{}.{key}", item.path),
                item.v.get(key),
                "expected a token count",
            )),
        }
    };
    Ok(RawRequest {
        path: item.path.clone(),
        arrival_s: first_num(&[
            &["start_time"],
            &["request_start_time"],
            &["info", "timings", "request_start"],
        ])?,
        first_s: first_num(&[
            &["first_token_time"],
            &["info", "timings", "first_token_iteration"],
        ])?,
        ttft_ms: item.opt_num(&["time_to_first_token_ms"], cx)?,
        end_s: first_num(&[
            &["end_time"],
            &["request_end_time"],
            &["info", "timings", "request_end"],
        ])?,
        input: tokens("prompt_tokens")?,
        output: tokens("output_tokens")?,
    })
}

impl RawRequest {
    fn record(self, id: u64, origin_s: f64, cx: &Cx<'_>) -> Result<RequestRecord> {
        let Some(arrival_s) = self.arrival_s else {
            return Err(cx.field_err(&self.path, None, "request without a start time"));
        };
        let rel = |t: f64| (t - origin_s) * 1000.0;
        let arrival = rel(arrival_s);
        let first = self
            .first_s
            .map(rel)
            .or_else(|| self.ttft_ms.filter(|t| t.is_finite()).map(|t| arrival + t));
        let completion = first.and(self.end_s.map(rel));
        RequestRecord::new(RequestRecordData {
            id,
            arrival_ms: arrival,
            first_token_ms: first,
            completion_ms: completion,
            input_tokens: self.input,
            output_tokens: self.output,
        })
        .map_err(|e| cx.invalid(&self.path, e))
    }
}

/// Column names of one CSV-as-JSON key style.
struct CsvKeys {
    label: &'static str,
    rate: &'static str,
    concurrency: &'static str,
    input: &'static str,
    output: &'static str,
    /// Prefix of TTFT, ITL, TPOT and E2E columns; the stat name follows.
    ttft: &'static str,
    itl: &'static str,
    tpot: &'static str,
    e2e: &'static str,
    mean: &'static str,
    median: &'static str,
    percentiles: &'static str,
    throughput: &'static str,
    successful: &'static str,
    errored: &'static str,
}

const V1_KEYS: CsvKeys = CsvKeys {
    label: "Name",
    rate: "Successful Requests per second mean",
    concurrency: "Successful Request concurrency mean",
    input: "Successful Prompt token count mean",
    output: "Successful Output token count mean",
    ttft: "Successful Time to first token ms",
    itl: "Successful Inter token latency ms",
    tpot: "Successful Time per output token ms",
    e2e: "Successful Request latency",
    mean: " mean",
    median: " median",
    percentiles: " [min, 0.1, 1, 5, 10, 25, 75, 90, 95, 99, max]",
    throughput: "Successful Output tokens per second mean",
    successful: "Successful Requests",
    errored: "Errored Requests",
};

const V2_KEYS: CsvKeys = CsvKeys {
    label: "Benchmark | Strategy",
    rate: "Server Throughput | Successful Requests/Sec | Mean",
    concurrency: "Server Throughput | Successful Concurrency | Mean",
    input: "Token Metrics | Successful Input Tokens | Mean",
    output: "Token Metrics | Successful Output Tokens | Mean",
    ttft: "Time to First Token | Successful ms",
    itl: "Inter Token Latency | Successful ms",
    tpot: "Time per Output Token | Successful ms",
    e2e: "Request Latency | Successful Sec",
    mean: " | Mean",
    median: " | Median",
    percentiles: " | Percentiles",
    throughput: "Token Throughput | Successful Output Tokens/Sec | Mean",
    successful: "Request Counts | Successful",
    errored: "Request Counts | Errored",
};

/// Normalises a ` | `-joined key: trims the parts and drops empty ones
/// (`"Benchmark | Strategy | "` → `"Benchmark | Strategy"`).
fn normalise_key(key: &str) -> String {
    if !key.contains('|') {
        return key.trim().to_owned();
    }
    key.split('|')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Reads GuideLLM "CSV-as-JSON": a JSON array of objects keyed by the CSV column titles, either
/// the v0.2–0.3 single-header titles (`"Successful Requests per second mean"`, `"Name"`, …) or
/// the v0.4+ three header rows joined by ` | ` (`"Server Throughput | Successful Requests/Sec |
/// Mean"`, `"Benchmark | Strategy"`, …; empty parts are ignored). Cells may be numbers or
/// strings; a percentile cell is the list `[min, 0.1, 1, 5, 10, 25, 75, 90, 95, 99, max]`.
///
/// Mapping as for [`read_guidellm_json`] (request latency in seconds → ms). Seed-compatible
/// selection (Inferno `NewGuideLLMCSVData`/`NewGuideLLMCSV2Data`): rows whose strategy is
/// `throughput` are dropped and the first 7 of the rest are kept.
///
/// # Errors
/// A [`ReadError`](crate::ReadError) with the file and JSON path (`$[row]."column"`) of a
/// non-numeric cell, a missing rate column, or a kept point that fails validation.
pub fn read_guidellm_csv_json(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let Some(rows) = value.as_array() else {
        return Err(cx.field_err("$", Some(&value), "expected an array of row objects"));
    };
    let mut candidates = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let Some(obj) = row.as_object() else {
            return Err(cx.field_err(&format!("$[{i}]"), Some(row), "expected a row object"));
        };
        let cells: HashMap<String, &Value> =
            obj.iter().map(|(k, v)| (normalise_key(k), v)).collect();
        let keys = if cells.contains_key(V2_KEYS.rate) || cells.contains_key(V2_KEYS.label) {
            &V2_KEYS
        } else {
            &V1_KEYS
        };
        candidates.push(csv_row(&cells, keys, i, &cx)?);
    }
    finish_file(
        path,
        None,
        candidates,
        &opts.select,
        SeedRule::DropThroughputFirst7,
    )
}

fn csv_row(
    cells: &HashMap<String, &Value>,
    keys: &CsvKeys,
    row: usize,
    cx: &Cx<'_>,
) -> Result<Candidate> {
    let at = |key: &str| format!("$[{row}].\"{key}\"");
    // A number cell: absent, null or "" → None; otherwise it must be a number.
    let num = |key: &str| -> Result<Option<f64>> {
        match cells.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => number(v)
                .map(Some)
                .ok_or_else(|| cx.field_err(&at(key), Some(v), "expected a number")),
        }
    };
    let stats = |prefix: &str| -> Result<RawStats> {
        let mut raw = RawStats {
            mean: num(&format!("{prefix}{}", keys.mean))?,
            median: num(&format!("{prefix}{}", keys.median))?,
            ..RawStats::default()
        };
        let pkey = format!("{prefix}{}", keys.percentiles);
        if let Some(v) = cells.get(&pkey) {
            if let Some(list) = percentile_list(v) {
                raw.p90 = Some(list[7]);
                raw.p95 = Some(list[8]);
                raw.p99 = Some(list[9]);
            } else if !matches!(v, Value::Null) && v.as_str().is_none_or(|s| !s.trim().is_empty()) {
                return Err(cx.field_err(
                    &at(&pkey),
                    Some(v),
                    "expected a list of 11 percentiles [min, 0.1, 1, 5, 10, 25, 75, 90, 95, 99, max]",
                ));
            }
        }
        Ok(raw)
    };
    let label = cells
        .get(keys.label)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let kind = label
        .as_deref()
        .map_or(StrategyKind::Unknown, StrategyKind::from_label);
    if !cells.contains_key(keys.rate) {
        return Err(cx.field_err(&at(keys.rate), None, "missing the request-rate column"));
    }
    let count = |key: &str| -> Result<Option<u64>> {
        match num(key)? {
            None => Ok(None),
            Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9.0e15 =>
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(Some(x as u64))
            }
            Some(_) => Err(cx.field_err(&at(key), cells.get(key).copied(), "expected a count")),
        }
    };
    let mut notes = Notes::at(cx, &format!("$[{row}]"));
    let data = BenchmarkPointData {
        label,
        request_rate: notes.rate("request_rate", num(keys.rate)?),
        concurrency: notes.rate("concurrency", num(keys.concurrency)?),
        input_tokens: num(keys.input)?.unwrap_or(0.0),
        output_tokens: num(keys.output)?.unwrap_or(0.0),
        ttft: latency(&mut notes, "ttft", stats(keys.ttft)?, 1.0),
        itl: latency(&mut notes, "itl", stats(keys.itl)?, 1.0),
        tpot: latency(&mut notes, "tpot", stats(keys.tpot)?, 1.0),
        e2e: latency(&mut notes, "e2e", stats(keys.e2e)?, 1000.0),
        output_throughput: notes.non_negative("output_throughput", num(keys.throughput)?),
        successful: count(keys.successful)?,
        failed: count(keys.errored)?,
        ..BenchmarkPointData::default()
    };
    Ok(Candidate::new(kind, notes, data))
}

/// Reads a GuideLLM CSV export: the v0.2–0.3 single header row (`Name`, `Successful Requests
/// per second mean`, …) or the v0.4+ three header rows (group / field / statistic, joined as
/// `Time to First Token | Successful ms | Median`).
///
/// The mapping is that of [`read_guidellm_csv_json`]. GuideLLM v0.4+ writes the header of the
/// first benchmark only, and a later benchmark with incomplete or errored requests carries one
/// more block of four cells (mean, median, std dev, percentiles) per metric and status, so its
/// cells do not sit under the header (all 16 raw CSVs of Inferno's exp2 are like this from row
/// 2). Such a row is placed from its values: the fixed columns by position, then the blocks
/// split so that total tokens = input + output tokens holds exactly and the latency,
/// throughput and Little's-law identities best (see the `guidellm_csv_layout` module). On
/// exp2 this reproduces the request rate, TTFT and ITL of the HTML reports of the same runs.
/// No upstream reader exists, so the seed-compatible selection keeps every row.
///
/// # Errors
/// [`ReadError::Field`] for a row that cannot be placed (line, cell count and why) or a bad cell
/// (`$[row]."column"` with the 0-based data row), CSV syntax errors with their line, and
/// validation errors of kept points.
pub fn read_guidellm_csv(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| text::csv_error(path, text, &e))?;
        records.push(record);
    }
    let three_rows = records
        .first()
        .and_then(|r| r.get(0))
        .is_some_and(|c| c.trim() == "Run Info")
        && records.len() >= 3;
    let (keys, data_start): (Vec<String>, usize) = if three_rows {
        let width = records[0].len();
        let keys = (0..width)
            .map(|i| {
                normalise_key(
                    &(0..3)
                        .map(|r| records[r].get(i).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(" | "),
                )
            })
            .collect();
        (keys, 3)
    } else {
        match records.first() {
            Some(h) => (h.iter().map(|k| k.trim().to_owned()).collect(), 1),
            None => (Vec::new(), 0),
        }
    };
    let cx = Cx { path, line: 0 };
    let mut candidates = Vec::new();
    for (i, record) in records.iter().enumerate().skip(data_start) {
        let misaligned = |reason: &str| ReadError::Field {
            path: path.to_owned(),
            location: crate::Location::Line {
                line: text::csv_line(text, record.position()),
                column: 0,
            },
            value: format!("{} cells", record.len()),
            message: format!(
                "the header has {} columns and GuideLLM wrote this row with other columns; \
                 its cells cannot be placed: {reason}",
                keys.len()
            ),
        };
        let values: Vec<(String, Value)> = if record.len() == keys.len() {
            keys.iter()
                .cloned()
                .zip(record.iter().map(|c| Value::String(c.to_owned())))
                .collect()
        } else if three_rows {
            // Later benchmarks carry extra status blocks: place them from their values.
            crate::guidellm_csv_layout::place_row(&keys, record)
                .map_err(|reason| misaligned(&reason))?
                .into_iter()
                .map(|(k, c)| (k, Value::String(c.to_owned())))
                .collect()
        } else {
            return Err(misaligned(
                "a single-header export has one layout for all rows",
            ));
        };
        let cells: HashMap<String, &Value> = values.iter().map(|(k, v)| (k.clone(), v)).collect();
        let style = if three_rows { &V2_KEYS } else { &V1_KEYS };
        candidates.push(csv_row(&cells, style, i - data_start, &cx)?);
    }
    finish_file(path, None, candidates, &opts.select, SeedRule::All)
}

/// Parses `"[a, b, …]"` (or a JSON array) of exactly 11 numbers.
fn percentile_list(v: &Value) -> Option<[f64; 11]> {
    let mut out = [0.0; 11];
    match v {
        Value::String(s) => {
            let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
            let mut n = 0;
            for part in inner.split(',') {
                *out.get_mut(n)? = parse_number_text(part)?;
                n += 1;
            }
            (n == 11).then_some(out)
        }
        Value::Array(items) if items.len() == 11 => {
            for (o, item) in out.iter_mut().zip(items) {
                *o = number(item)?;
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalise() {
        assert_eq!(
            normalise_key("Benchmark | Strategy | "),
            "Benchmark | Strategy"
        );
        assert_eq!(normalise_key(" Name "), "Name");
    }

    #[test]
    fn percentile_lists() {
        let v = Value::String("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]".into());
        assert_eq!(percentile_list(&v).map(|l| l[9]), Some(9.0));
        assert!(percentile_list(&Value::String("[1, 2]".into())).is_none());
        assert!(percentile_list(&Value::String("[0,1,2,3,4,5,6,7,8,9,10,11]".into())).is_none());
    }
}
