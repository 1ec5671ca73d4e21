//! `vllm bench serve` / `benchmark_serving.py` result JSON and SGLang `bench_serving` JSONL:
//! flat objects of configuration and summary metrics, one per run (JSON or JSON Lines).

use perf_model_core::{BenchmarkPointData, PerfDataset, RequestRecord, RequestRecordData};

use crate::ReadOptions;
use crate::error::{ReadError, Result};
use crate::json::{Cx, Node, parse_records};
use crate::point::{Notes, RawStats, latency, positive_finite};
use crate::select::{Candidate, SeedRule, StrategyKind, finish_file};
use crate::text;

/// Reads a `vllm bench serve` (or `benchmark_serving.py --save-result`) result: one JSON
/// object, or JSON Lines with one object per run (`--append-result`).
///
/// Per run: `request_rate` ← the achieved `request_throughput` (or `completed / duration`);
/// the configured `request_rate` (a number, the string `"inf"` or a bare `Infinity`) and
/// `max_concurrency` go into the label (`rate=3.6`, `rate=inf,max_concurrency=1`) and the
/// strategy (finite rate: poisson; unlimited with a concurrency cap: concurrent; unlimited:
/// throughput); `concurrency` ← `max_concurrency`; mean tokens ← `total_input_tokens` and
/// `total_output_tokens` over `completed`; TTFT, TPOT, ITL and E2E ← `{mean,median,p90,p95,
/// p99}_{ttft,tpot,itl,e2el}_ms`; `output_throughput`; `successful` ← `completed`; `failed`.
/// `request_goodput` and the misspelt `request_goodput:` are both tolerated; unknown keys are
/// ignored. Every run is kept under the seed-compatible selection.
///
/// # Errors
/// A [`ReadError`](crate::ReadError) naming the file, the JSON-Lines line and the key.
pub fn read_vllm_bench(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    read_bench_serve(bytes, path, opts)
}

/// Reads SGLang `bench_serving --output-file` JSON Lines (one object per run, appended).
///
/// The mapping is that of [`read_vllm_bench`], with SGLang's key names: E2E from
/// `*_e2e_latency_ms`, the bare `Infinity` rate, `concurrency` (measured mean in-flight
/// requests) when `max_concurrency` is null, and the old (2024) reduced key set where only
/// medians exist and the achieved rate is `completed / duration`.
///
/// # Errors
/// As [`read_vllm_bench`].
pub fn read_sglang_bench(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    read_bench_serve(bytes, path, opts)
}

fn read_bench_serve(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let records = parse_records(text, path)?;
    let mut candidates = Vec::with_capacity(records.len());
    let mut model = None;
    for (line, value) in &records {
        let cx = Cx { path, line: *line };
        let root = Node::root(value);
        if !value.is_object() {
            return Err(cx.field_err("$", Some(value), "expected a result object"));
        }
        if model.is_none() {
            model = root
                .get("model_id")
                .and_then(|n| n.as_str().map(str::to_owned));
        }
        candidates.push(run(&root, &cx)?);
    }
    if candidates.is_empty() {
        return Err(ReadError::NoPoints {
            path: path.to_owned(),
            detail: ": no result object".to_owned(),
        });
    }
    finish_file(path, model, candidates, &opts.select, SeedRule::All)
}

fn run(root: &Node<'_>, cx: &Cx<'_>) -> Result<Candidate> {
    let num = |key: &str| root.opt_num(&[key], cx);
    let configured = num("request_rate")?;
    let max_conc = positive_finite(num("max_concurrency")?);
    let completed = num("completed")?;
    let duration = num("duration")?;
    let achieved = match num("request_throughput")? {
        Some(x) => Some(x),
        None => match (completed, duration) {
            (Some(c), Some(d)) if d > 0.0 => Some(c / d),
            _ => None,
        },
    };
    let (kind, label) = match (configured, max_conc) {
        (Some(r), _) if r.is_finite() => (StrategyKind::Poisson, format!("rate={r}")),
        (_, Some(c)) => (
            StrategyKind::Concurrent,
            format!("rate=inf,max_concurrency={c}"),
        ),
        (Some(_), None) => (StrategyKind::Throughput, "rate=inf".to_owned()),
        (None, None) => (StrategyKind::Unknown, String::new()),
    };
    let per_request = |total: Option<f64>| match (total, completed) {
        (Some(t), Some(c)) if c > 0.0 => t / c,
        _ => 0.0,
    };
    let stats = |metric: &str| -> Result<RawStats> {
        Ok(RawStats {
            mean: num(&format!("mean_{metric}_ms"))?,
            median: num(&format!("median_{metric}_ms"))?,
            p90: num(&format!("p90_{metric}_ms"))?,
            p95: num(&format!("p95_{metric}_ms"))?,
            p99: num(&format!("p99_{metric}_ms"))?,
        })
    };
    let e2e = if root.get("mean_e2el_ms").is_some() || root.get("median_e2el_ms").is_some() {
        stats("e2el")?
    } else {
        stats("e2e_latency")?
    };
    let count = |key: &str| root.opt_count(&[key], cx);
    let mut notes = Notes::at(cx, &root.path);
    let concurrency = match max_conc {
        Some(c) => Some(c),
        None => notes.rate("concurrency", num("concurrency").ok().flatten()),
    };
    let data = BenchmarkPointData {
        label: (!label.is_empty()).then_some(label),
        request_rate: notes.rate("request_rate", achieved),
        concurrency,
        input_tokens: per_request(num("total_input_tokens")?),
        output_tokens: per_request(num("total_output_tokens")?),
        ttft: latency(&mut notes, "ttft", stats("ttft")?, 1.0),
        itl: latency(&mut notes, "itl", stats("itl")?, 1.0),
        tpot: latency(&mut notes, "tpot", stats("tpot")?, 1.0),
        e2e: latency(&mut notes, "e2e", e2e, 1.0),
        output_throughput: notes.non_negative("output_throughput", num("output_throughput")?),
        successful: count("completed")?,
        failed: count("failed")?,
        ..BenchmarkPointData::default()
    };
    Ok(Candidate::new(kind, notes, data))
}

/// Reads the per-request arrays of `vllm bench serve --save-detailed` (and of older
/// `benchmark_serving.py`, and SGLang `bench_serving --output-details`) as request records,
/// one per element, for every run of a JSON or JSON-Lines file.
///
/// Per request `i` (all times in the file are seconds): `input_tokens` ← `input_lens[i]`,
/// `output_tokens` ← `output_lens[i]`; `arrival_ms` ← `start_times[i]` minus the run's
/// earliest start (0 when the file has no `start_times`); `first_token_ms` ← arrival +
/// `ttfts[i]`; `completion_ms` ← arrival + `latencies[i]`, else first token + the sum of
/// `itls[i]`. A request with a non-empty `errors[i]` keeps its token counts but no times.
/// `id` counts requests across the file's runs.
///
/// # Examples
/// ```
/// let json = br#"{"request_rate": "inf", "input_lens": [100, 200], "output_lens": [3, 2],
///   "ttfts": [0.05, 0.08], "itls": [[0.01, 0.02], [0.015]], "errors": ["", ""]}"#;
/// let recs = perf_readers::read_vllm_requests(json, "r.json")?;
/// assert_eq!(recs[1].input_tokens(), 200);
/// assert_eq!(recs[1].first_token_ms(), Some(80.0));
/// assert_eq!(recs[1].completion_ms(), Some(95.0));
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] with the JSON path of a missing `input_lens`/`output_lens` array
/// (the run was saved without `--save-detailed`), arrays of different lengths, or a bad
/// element; [`ReadError::Invalid`] for times out of order.
pub fn read_vllm_requests(bytes: &[u8], path: &str) -> Result<Vec<RequestRecord>> {
    let text = text::decode(bytes, path)?;
    let records = parse_records(text, path)?;
    let mut out = Vec::new();
    for (line, value) in &records {
        let cx = Cx { path, line: *line };
        let first_id = out.len() as u64;
        out.extend(
            detailed_requests(&Node::root(value), &cx, first_id)?
                .into_iter()
                .map(|r| r.record),
        );
    }
    Ok(out)
}

/// One request of a `--save-detailed` result: its record and whether `errors[i]` was set.
pub(crate) struct DetailedRequest {
    pub record: RequestRecord,
    pub failed: bool,
}

/// The per-request arrays of one result object (see [`read_vllm_requests`]); ids start at
/// `first_id`.
pub(crate) fn detailed_requests(
    root: &Node<'_>,
    cx: &Cx<'_>,
    first_id: u64,
) -> Result<Vec<DetailedRequest>> {
    let cx = *cx;
    let mut out = Vec::new();
    let list = |key: &str, required: bool| -> Result<Option<Vec<Node<'_>>>> {
        match root.get(key) {
            Some(n) => match n.items() {
                Some(items) => Ok(Some(items)),
                None => Err(cx.field_err(&n.path, Some(n.v), "expected an array")),
            },
            None if required => Err(cx.field_err(
                &format!("$.{key}"),
                None,
                "missing per-request array (saved without --save-detailed?)",
            )),
            None => Ok(None),
        }
    };
    let inputs = list("input_lens", true)?.unwrap_or_default();
    let outputs = list("output_lens", true)?.unwrap_or_default();
    let ttfts = list("ttfts", false)?;
    let itls = list("itls", false)?;
    let latencies = list("latencies", false)?;
    let starts = list("start_times", false)?;
    let errors = list("errors", false)?;
    let n = inputs.len();
    for (key, l) in [
        ("output_lens", Some(&outputs)),
        ("ttfts", ttfts.as_ref()),
        ("itls", itls.as_ref()),
        ("latencies", latencies.as_ref()),
        ("start_times", starts.as_ref()),
        ("errors", errors.as_ref()),
    ] {
        if let Some(l) = l
            && l.len() != n
        {
            return Err(cx.field_err(
                &format!("$.{key}"),
                None,
                &format!("has {} elements, input_lens has {n}", l.len()),
            ));
        }
    }
    let start_values = match &starts {
        Some(s) => s.iter().map(|x| x.num(&cx)).collect::<Result<Vec<f64>>>()?,
        None => Vec::new(),
    };
    let origin = start_values.iter().copied().fold(f64::INFINITY, f64::min);
    let tokens = |node: &Node<'_>| -> Result<u32> {
        let x = node.num(&cx)?;
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(x as u32)
        } else {
            Err(cx.field_err(&node.path, Some(node.v), "expected a token count"))
        }
    };
    let nth_num = |l: &Option<Vec<Node<'_>>>, i: usize| -> Result<Option<f64>> {
        match l.as_ref().and_then(|l| l.get(i)) {
            Some(node) if !node.v.is_null() => node.num(&cx).map(Some),
            _ => Ok(None),
        }
    };
    for i in 0..n {
        let failed = errors
            .as_ref()
            .and_then(|e| e.get(i))
            .and_then(|e| e.as_str())
            .is_some_and(|s| !s.is_empty());
        let arrival = start_values.get(i).map_or(0.0, |s| (s - origin) * 1000.0);
        let first = if failed {
            None
        } else {
            nth_num(&ttfts, i)?.map(|t| arrival + t * 1000.0)
        };
        let completion = match (first, nth_num(&latencies, i)?) {
            (None, _) => None,
            (Some(_), Some(l)) => Some(arrival + l * 1000.0),
            (Some(f), None) => match itls.as_ref().and_then(|l| l.get(i)) {
                Some(gaps) => {
                    let items = gaps.items().ok_or_else(|| {
                        cx.field_err(&gaps.path, Some(gaps.v), "expected an array of gaps")
                    })?;
                    let mut sum = 0.0;
                    for g in &items {
                        sum += g.num(&cx)?;
                    }
                    Some(f + sum * 1000.0)
                }
                None => None,
            },
        };
        let data = RequestRecordData {
            id: first_id + out.len() as u64,
            arrival_ms: arrival,
            first_token_ms: first,
            completion_ms: completion,
            input_tokens: tokens(&inputs[i])?,
            output_tokens: tokens(&outputs[i])?,
        };
        let record =
            RequestRecord::new(data).map_err(|e| cx.invalid(&format!("$.input_lens[{i}]"), e))?;
        out.push(DetailedRequest { record, failed });
    }
    Ok(out)
}
