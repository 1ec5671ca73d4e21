//! The aggregate summary llm-profiler (`vikranth22446/llm_execution_time_predictor`) writes
//! beside a sweep: mean prefill and decode latencies per batch size and per input length.

use crate::error::Result;
use crate::json::{Cx, Node, parse_json_lenient};
use crate::text;

/// The measurements of one batch size (or one input length) of a sweep summary.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SummaryGroup {
    /// The batch size (in [`ProfilerSummary::by_batch_size`]) or the input length (in
    /// [`ProfilerSummary::by_input_length`]): the JSON key.
    pub key: u64,
    /// `num_experiments`: sweep points in the group.
    pub num_experiments: Option<u64>,
    /// `avg_prefill_latency`, converted from seconds to ms.
    pub avg_prefill_ms: f64,
    /// `avg_decode_latency` (one decode step), converted from seconds to ms.
    pub avg_decode_ms: f64,
    /// `prefill_throughput_range` `[min, max]`, tokens/s.
    pub prefill_tokens_per_s: Option<[f64; 2]>,
    /// `decode_throughput_range` `[min, max]`, tokens/s.
    pub decode_tokens_per_s: Option<[f64; 2]>,
}

/// An llm-profiler sweep summary (`benchmark_data_<model>.json` with `batch_size_analysis`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ProfilerSummary {
    /// `total_experiments`.
    pub total_experiments: Option<u64>,
    /// `batch_size_analysis`, by increasing batch size.
    pub by_batch_size: Vec<SummaryGroup>,
    /// `input_length_analysis`, by increasing input length (empty when absent).
    pub by_input_length: Vec<SummaryGroup>,
    /// `overall_stats.prefill_latency` `[min, mean, max]`, ms.
    pub prefill_ms: Option<[f64; 3]>,
    /// `overall_stats.decode_latency` `[min, mean, max]`, ms.
    pub decode_ms: Option<[f64; 3]>,
}

/// Reads an llm-profiler sweep summary: `{"total_experiments", "batch_size_analysis": {"1":
/// {"num_experiments", "avg_prefill_latency", "avg_decode_latency", "prefill_throughput_range":
/// {"min", "max"}, "decode_throughput_range": {…}}, …}, "input_length_analysis": {…},
/// "overall_stats": {"prefill_latency": {"min", "max", "mean"}, "decode_latency": {…}}}`.
/// Latencies are seconds in the file and milliseconds here.
///
/// # Examples
/// ```
/// let json = br#"{"total_experiments": 2, "batch_size_analysis": {"2": {"num_experiments": 2,
///   "avg_prefill_latency": 0.25, "avg_decode_latency": 0.008}}}"#;
/// let s = perf_readers::read_profiler_summary(json, "summary.json")?;
/// assert_eq!(s.by_batch_size[0].key, 2);
/// assert_eq!(s.by_batch_size[0].avg_prefill_ms, 250.0);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`](crate::ReadError::Field) with the JSON path of a missing
/// `batch_size_analysis`, a key that is not a whole number, or a bad number.
pub fn read_profiler_summary(bytes: &[u8], path: &str) -> Result<ProfilerSummary> {
    let text = text::decode(bytes, path)?;
    let value = parse_json_lenient(text, path)?;
    let cx = Cx { path, line: 0 };
    let root = Node::root(&value);
    let Some(by_batch) = root.get("batch_size_analysis") else {
        return Err(cx.field_err(
            "$.batch_size_analysis",
            None,
            "missing the per-batch-size summary",
        ));
    };
    let range3 = |name: &str| -> Result<Option<[f64; 3]>> {
        let Some(n) = root.at(&["overall_stats", name]) else {
            return Ok(None);
        };
        let [min, mean, max] = [
            n.req_num(&["min"], &cx)?,
            n.req_num(&["mean"], &cx)?,
            n.req_num(&["max"], &cx)?,
        ];
        Ok(Some([min * 1000.0, mean * 1000.0, max * 1000.0]))
    };
    Ok(ProfilerSummary {
        total_experiments: root.opt_count(&["total_experiments"], &cx)?,
        by_batch_size: groups(&by_batch, &cx)?,
        by_input_length: match root.get("input_length_analysis") {
            Some(n) => groups(&n, &cx)?,
            None => Vec::new(),
        },
        prefill_ms: range3("prefill_latency")?,
        decode_ms: range3("decode_latency")?,
    })
}

fn groups(node: &Node<'_>, cx: &Cx<'_>) -> Result<Vec<SummaryGroup>> {
    let Some(map) = node.v.as_object() else {
        return Err(cx.field_err(
            &node.path,
            Some(node.v),
            "expected an object keyed by number",
        ));
    };
    let mut out = Vec::with_capacity(map.len());
    for key in map.keys() {
        let Some(g) = node.get(key) else { continue };
        let Ok(k) = key.trim().parse::<u64>() else {
            return Err(cx.field_err(&g.path, Some(g.v), "expected a whole-number key"));
        };
        let range = |name: &str| -> Result<Option<[f64; 2]>> {
            match g.get(name) {
                Some(r) => Ok(Some([r.req_num(&["min"], cx)?, r.req_num(&["max"], cx)?])),
                None => Ok(None),
            }
        };
        out.push(SummaryGroup {
            key: k,
            num_experiments: g.opt_count(&["num_experiments"], cx)?,
            avg_prefill_ms: g.req_num(&["avg_prefill_latency"], cx)? * 1000.0,
            avg_decode_ms: g.req_num(&["avg_decode_latency"], cx)? * 1000.0,
            prefill_tokens_per_s: range("prefill_throughput_range")?,
            decode_tokens_per_s: range("decode_throughput_range")?,
        });
    }
    out.sort_by_key(|g| g.key);
    Ok(out)
}
