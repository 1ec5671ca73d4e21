//! GuideLLM v0.1 ("GuidanceReport") JSON: `{"benchmarks": [{"benchmarks": [TextGenerationBenchmark],
//! "args": {…}}]}`, where each benchmark carries its raw per-request `results` and no
//! precomputed metrics.

use perf_model_core::{BenchmarkPointData, PerfDataset};

use crate::ReadOptions;
use crate::error::Result;
use crate::json::{Cx, Node};
use crate::point::{Notes, latency, positive_finite, sample_stats};
use crate::select::{Candidate, SeedRule, StrategyKind, finish_file};

/// Reads the reports of a v0.1 file (the elements of the top-level `benchmarks`).
///
/// Per `TextGenerationBenchmark`: the strategy from `mode` (`synchronous`, `throughput`,
/// `asynchronous`/`constant`/`poisson` with `rate`); from each of its `results` (epoch
/// seconds): TTFT = `first_token_time − start_time`, E2E = `end_time − start_time`, ITL =
/// `(end_time − first_token_time) / (output_token_count − 1)` for two or more output tokens;
/// the statistics are the mean, median and p90/p95/p99 over the results. The achieved rate is
/// the number of results over the span from the first start to the last end, the output
/// throughput the output tokens over that span; `successful` = results, `failed` = `errors`.
pub(crate) fn read_v01(
    reports: &[Node<'_>],
    cx: &Cx<'_>,
    opts: &ReadOptions,
) -> Result<PerfDataset> {
    let mut candidates = Vec::new();
    let mut model = None;
    for report in reports {
        if model.is_none() {
            model = report
                .at(&["args", "model"])
                .and_then(|n| n.as_str().map(str::to_owned));
        }
        let Some(benchmarks) = report.get("benchmarks").and_then(|b| b.items()) else {
            return Err(cx.field_err(
                &format!("{}.benchmarks", report.path),
                report.get("benchmarks").map(|n| n.v),
                "expected an array of GuideLLM v0.1 benchmarks",
            ));
        };
        for b in &benchmarks {
            candidates.push(benchmark(b, cx)?);
        }
    }
    finish_file(cx.path, model, candidates, &opts.select, SeedRule::All)
}

fn benchmark(b: &Node<'_>, cx: &Cx<'_>) -> Result<Candidate> {
    let mode = b.get("mode").and_then(|n| n.as_str()).unwrap_or("");
    let rate = b.opt_num(&["rate"], cx)?.filter(|r| r.is_finite());
    let kind = match mode.to_ascii_lowercase().as_str() {
        "asynchronous" | "constant" => StrategyKind::Constant,
        other => StrategyKind::from_label(other),
    };
    let label = match (kind, rate) {
        (StrategyKind::Constant | StrategyKind::Poisson, Some(r)) => format!("{mode}@{r:.2}"),
        _ => mode.to_owned(),
    };
    let results = b.get("results").and_then(|n| n.items()).unwrap_or_default();
    let failed = b
        .get("errors")
        .and_then(|n| n.items())
        .map(|e| e.len() as u64);
    let (mut ttft, mut itl, mut e2e, mut input, mut output) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut first_start, mut last_end) = (f64::INFINITY, f64::NEG_INFINITY);
    for r in &results {
        let start = r.opt_num(&["start_time"], cx)?;
        let first = r.opt_num(&["first_token_time"], cx)?;
        let end = r.opt_num(&["end_time"], cx)?;
        let n_in = r.opt_num(&["prompt_token_count"], cx)?.unwrap_or(0.0);
        let n_out = r.opt_num(&["output_token_count"], cx)?.unwrap_or(0.0);
        for (key, x) in [("prompt_token_count", n_in), ("output_token_count", n_out)] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(cx.field_err(
                    &format!("{}.{key}", r.path),
                    r.v.get(key),
                    "expected a token count",
                ));
            }
        }
        input.push(n_in);
        output.push(n_out);
        let ordered = |a: f64, z: f64, what: &str| -> Result<f64> {
            let d = (z - a) * 1000.0;
            if d.is_finite() && d >= 0.0 {
                Ok(d)
            } else {
                Err(cx.field_err(&r.path, None, what))
            }
        };
        if let Some(s) = start {
            first_start = first_start.min(s);
        }
        if let Some(e) = end {
            last_end = last_end.max(e);
        }
        if let (Some(s), Some(f)) = (start, first) {
            ttft.push(ordered(s, f, "first_token_time before start_time")?);
        }
        if let (Some(s), Some(e)) = (start, end) {
            e2e.push(ordered(s, e, "end_time before start_time")?);
        }
        if let (Some(f), Some(e)) = (first, end) {
            let decode = ordered(f, e, "end_time before first_token_time")?;
            if n_out >= 2.0 {
                itl.push(decode / (n_out - 1.0));
            }
        }
    }
    let span = last_end - first_start;
    #[allow(clippy::cast_precision_loss)]
    let count = results.len() as f64;
    let mean = |v: &[f64]| {
        #[allow(clippy::cast_precision_loss)]
        let n = v.len() as f64;
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / n
        }
    };
    let per_s = |x: f64| positive_finite((span > 0.0).then(|| x / span));
    let mut notes = Notes::at(cx, &b.path);
    let data = BenchmarkPointData {
        label: (!label.is_empty()).then_some(label),
        request_rate: per_s(count),
        concurrency: None,
        input_tokens: mean(&input),
        output_tokens: mean(&output),
        ttft: latency(&mut notes, "ttft", sample_stats(&ttft), 1.0),
        itl: latency(&mut notes, "itl", sample_stats(&itl), 1.0),
        tpot: latency(&mut notes, "tpot", sample_stats(&itl), 1.0),
        e2e: latency(&mut notes, "e2e", sample_stats(&e2e), 1.0),
        output_throughput: per_s(output.iter().sum()),
        successful: Some(results.len() as u64),
        failed,
        ..BenchmarkPointData::default()
    };
    Ok(Candidate::new(kind, notes, data))
}
