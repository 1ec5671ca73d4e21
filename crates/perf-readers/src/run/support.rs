//! Helpers shared by the run readers: files, YAML/JSON loading, statistics over per-request
//! timings and the per-stage split.

use std::path::Path;

use perf_model_core::{LatencyStats, LatencyStatsData};
use serde_json::Value;

use super::{LoadStage, MetricSummary, RunRequest};
use crate::error::{Location, ReadError, Result};
use crate::json::{Cx, Node, parse_json_lenient};
use crate::text;

/// The text of the file at `path` and the path as shown in errors.
pub(super) fn read_text(path: &Path) -> Result<(String, String)> {
    let (bytes, shown) = text::read_file(path)?;
    let text = text::decode(&bytes, &shown)?.to_owned();
    Ok((text, shown))
}

/// `path` as shown in messages.
pub(super) fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// The error for a file a run needs but that is not there.
pub(super) fn missing(path: &Path, reason: &str) -> ReadError {
    ReadError::MissingFile {
        path: shown(path),
        reason: reason.to_owned(),
    }
}

/// Reads a YAML file (JSON is YAML too; a one-line JSON profile is parsed as JSON first).
pub(super) fn read_yaml(path: &Path) -> Result<(Value, String)> {
    let (text, shown) = read_text(path)?;
    let trimmed = text.trim_start();
    let value = if trimmed.starts_with('{') {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => v,
            Err(_) => crate::yaml::parse_yaml(&text, &shown)?,
        }
    } else {
        crate::yaml::parse_yaml(&text, &shown)?
    };
    Ok((value, shown))
}

/// Reads a JSON file leniently (`Infinity`, `NaN`).
pub(super) fn read_json(path: &Path) -> Result<(Value, String)> {
    let (text, shown) = read_text(path)?;
    let value = parse_json_lenient(&text, &shown)?;
    Ok((value, shown))
}

/// The last component of `path` (or the whole path when it has none).
pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| shown(path), |name| name.to_string_lossy().into_owned())
}

/// The stem of `path` (`a/b/run.json` → `run`).
pub(super) fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| shown(path), |name| name.to_string_lossy().into_owned())
}

/// A whole number in `0..=u32::MAX` at `node`.
pub(super) fn u32_at(node: &Node<'_>, cx: &Cx<'_>, what: &str) -> Result<u32> {
    let x = node.num(cx)?;
    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(x as u32)
    } else {
        Err(cx.field_err(&node.path, Some(node.v), &format!("expected {what}")))
    }
}

/// A required whole number in `0..=u32::MAX` at `keys` below `node`.
pub(super) fn req_u32(node: &Node<'_>, keys: &[&str], cx: &Cx<'_>, what: &str) -> Result<u32> {
    match node.at(keys) {
        Some(n) => u32_at(&n, cx, what),
        None => Err(cx.field_err(
            &format!("{}.{}", node.path, keys.join(".")),
            None,
            &format!("missing {what}"),
        )),
    }
}

/// A finite number `>= 0` at `node`.
pub(super) fn non_negative_at(node: &Node<'_>, cx: &Cx<'_>, what: &str) -> Result<f64> {
    let x = node.num(cx)?;
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(cx.field_err(&node.path, Some(node.v), &format!("expected {what}")))
    }
}

/// An optional boolean at `keys` below `node`.
pub(super) fn opt_bool(node: &Node<'_>, keys: &[&str], cx: &Cx<'_>) -> Result<Option<bool>> {
    match node.at(keys) {
        None => Ok(None),
        Some(n) => match n.v {
            Value::Bool(b) => Ok(Some(*b)),
            _ => Err(cx.field_err(&n.path, Some(n.v), "expected true or false")),
        },
    }
}

/// An optional string at `keys` below `node` (numbers are taken as their text).
pub(super) fn opt_string(node: &Node<'_>, keys: &[&str], cx: &Cx<'_>) -> Result<Option<String>> {
    match node.at(keys) {
        None => Ok(None),
        Some(n) => match n.v {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(x) => Ok(Some(x.to_string())),
            _ => Err(cx.field_err(&n.path, Some(n.v), "expected a string")),
        },
    }
}

/// Mean, median, p90, p95 and p99 of `values` (linear interpolation between order
/// statistics, as `numpy.percentile`); all `None` when empty.
pub(super) fn stats_of(values: &mut [f64]) -> LatencyStatsData {
    if values.is_empty() {
        return LatencyStatsData::default();
    }
    values.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    LatencyStatsData {
        mean: Some(mean),
        median: Some(percentile(values, 50.0)),
        p90: Some(percentile(values, 90.0)),
        p95: Some(percentile(values, 95.0)),
        p99: Some(percentile(values, 99.0)),
    }
}

/// The `p`-th percentile of ascending `sorted` (non-empty), linear interpolation.
pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let Some(&last) = sorted.last() else {
        return f64::NAN;
    };
    #[allow(clippy::cast_precision_loss)]
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = rank.floor() as usize;
    let Some(&a) = sorted.get(lo) else {
        return last;
    };
    let b = sorted.get(lo + 1).copied().unwrap_or(a);
    // Kept within [a, b] so that rounding cannot put p90 above the p95 of the next segment.
    (a + (b - a) * (rank - rank.floor())).max(a).min(b)
}

/// How a per-request TPOT is computed from E2E and TTFT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TpotRule {
    /// `(e2e − ttft)/(output − 1)` for `output > 1`; requests with one token are left out.
    SkipSingle,
    /// `(e2e − ttft)/max(1, output − 1)` for every request (LLMServingSim's validate.py).
    ClampDenominator,
}

/// Per-request TPOT under `rule`, ms.
pub(super) fn request_tpot(r: &RunRequest, rule: TpotRule) -> Option<f64> {
    let decode = r.e2e_ms? - r.ttft_ms?;
    match rule {
        TpotRule::SkipSingle => {
            let gaps = r.output_tokens.checked_sub(1).filter(|&g| g > 0)?;
            Some(decode / f64::from(gaps))
        }
        TpotRule::ClampDenominator => {
            Some(decode / f64::from(r.output_tokens.saturating_sub(1).max(1)))
        }
    }
}

/// Builds validated statistics, naming `path` and `at` when they fail validation.
pub(super) fn validated(data: LatencyStatsData, path: &str, at: &str) -> Result<LatencyStats> {
    LatencyStats::new(data).map_err(|source| ReadError::Invalid {
        path: path.to_owned(),
        location: Location::JsonPath {
            line: 0,
            path: at.to_owned(),
        },
        source: Box::new(source),
    })
}

/// Aggregates per-request timings into a [`MetricSummary`]: TTFT, E2E and TPOT (by `rule`)
/// over the successful requests, ITL left empty; means of the successful requests' lengths;
/// throughput over the span from the first arrival to the last completion. `path` and `at`
/// name the data in errors.
pub(super) fn summarize(
    requests: &[RunRequest],
    rule: TpotRule,
    path: &str,
    at: &str,
) -> Result<MetricSummary> {
    let ok: Vec<&RunRequest> = requests.iter().filter(|r| !r.failed).collect();
    let mut ttft: Vec<f64> = ok.iter().filter_map(|r| r.ttft_ms).collect();
    let mut e2e: Vec<f64> = ok.iter().filter_map(|r| r.e2e_ms).collect();
    let mut tpot: Vec<f64> = ok.iter().filter_map(|r| request_tpot(r, rule)).collect();
    let n_ok = ok.len();
    #[allow(clippy::cast_precision_loss)]
    let mean_of = |f: &dyn Fn(&RunRequest) -> u32| -> Option<f64> {
        (n_ok > 0).then(|| ok.iter().map(|r| f64::from(f(r))).sum::<f64>() / n_ok as f64)
    };
    let first_arrival = requests
        .iter()
        .map(|r| r.arrival_ms)
        .fold(f64::INFINITY, f64::min);
    let last_done = ok
        .iter()
        .filter_map(|r| Some(r.arrival_ms + r.e2e_ms?))
        .fold(f64::NEG_INFINITY, f64::max);
    let span_s = (last_done - first_arrival) / 1000.0;
    let (requests_per_s, output_tokens_per_s) = if span_s.is_finite() && span_s > 0.0 {
        let out: f64 = ok.iter().map(|r| f64::from(r.output_tokens)).sum();
        #[allow(clippy::cast_precision_loss)]
        let rps = n_ok as f64 / span_s;
        (Some(rps), Some(out / span_s))
    } else {
        (None, None)
    };
    Ok(MetricSummary {
        ttft: validated(stats_of(&mut ttft), path, &format!("{at} (TTFT)"))?,
        itl: LatencyStats::default(),
        tpot: validated(stats_of(&mut tpot), path, &format!("{at} (TPOT)"))?,
        e2e: validated(stats_of(&mut e2e), path, &format!("{at} (E2E)"))?,
        input_tokens_mean: mean_of(&|r| r.input_tokens),
        output_tokens_mean: mean_of(&|r| r.output_tokens),
        requests_per_s,
        output_tokens_per_s,
        successes: n_ok as u64,
        failures: (requests.len() - n_ok) as u64,
    })
}

/// Splits `n` requests (in arrival order) into load stages at the cumulative counts
/// `round(rate × duration)`; the last stage takes whatever is left. Returns the index ranges
/// and, when the counts do not add up to `n`, a note saying so.
pub(super) fn stage_ranges(
    n: usize,
    stages: &[LoadStage],
) -> (Vec<std::ops::Range<usize>>, Option<String>) {
    let mut ranges = Vec::with_capacity(stages.len());
    let mut start = 0usize;
    let mut offered = 0usize;
    for (k, s) in stages.iter().enumerate() {
        let count = s.rate * s.duration_s;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = if count.is_finite() && count > 0.0 {
            count.round() as usize
        } else {
            0
        };
        offered = offered.saturating_add(count);
        let end = if k + 1 == stages.len() {
            n
        } else {
            start.saturating_add(count).min(n)
        };
        ranges.push(start..end.max(start));
        start = end.max(start);
    }
    let note = (offered != n && !stages.is_empty()).then(|| {
        format!(
            "the file has {n} requests but the stages offer {offered} (Σ rate × duration): \
             requests were split at the cumulative stage counts and the last stage took the rest"
        )
    });
    (ranges, note)
}

/// A one-line description of stage `k` for notes and error locations.
pub(super) fn stage_at(k: usize) -> String {
    format!("stage {k}")
}

/// The sim-to-real pipeline's measured ITL of `overall`: `(E2E mean − TTFT mean)/(output
/// mean − 1)`, when all three are known and the output mean exceeds one token.
pub(super) fn derived_itl(overall: &MetricSummary) -> Option<f64> {
    let (e2e, ttft, out) = (
        overall.e2e.mean()?,
        overall.ttft.mean()?,
        overall.output_tokens_mean?,
    );
    (out > 1.0).then(|| (e2e - ttft) / (out - 1.0))
}

#[cfg(test)]
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn req(arrival: f64, ttft: f64, e2e: f64, out: u32) -> RunRequest {
        RunRequest {
            arrival_ms: arrival,
            input_tokens: 10,
            output_tokens: out,
            prefix_group: None,
            ttft_ms: Some(ttft),
            e2e_ms: Some(e2e),
            failed: false,
        }
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        let s = stats_of(&mut v);
        assert_eq!(s.mean, Some(2.5));
        assert_eq!(s.median, Some(2.5));
        // numpy.percentile([1,2,3,4], 90) = 3.7
        assert!((s.p90.unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(stats_of(&mut []), LatencyStatsData::default());
    }

    #[test]
    fn tpot_rules() {
        let one = req(0.0, 10.0, 10.0, 1);
        assert_eq!(request_tpot(&one, TpotRule::SkipSingle), None);
        assert_eq!(request_tpot(&one, TpotRule::ClampDenominator), Some(0.0));
        let five = req(0.0, 10.0, 50.0, 5);
        assert_eq!(request_tpot(&five, TpotRule::SkipSingle), Some(10.0));
    }

    #[test]
    fn stages_split_at_counts() {
        let stages = [
            LoadStage {
                rate: 1.0,
                duration_s: 2.0,
            },
            LoadStage {
                rate: 2.0,
                duration_s: 2.0,
            },
        ];
        let (r, note) = stage_ranges(6, &stages);
        assert_eq!(r, vec![0..2, 2..6]);
        assert!(note.is_none());
        let (r, note) = stage_ranges(5, &stages);
        assert_eq!(r, vec![0..2, 2..5]);
        assert!(note.unwrap().contains("5 requests"));
        let (r, _) = stage_ranges(1, &stages);
        assert_eq!(r, vec![0..1, 1..1]);
        let huge = [
            LoadStage {
                rate: 1e200,
                duration_s: 1.0,
            },
            LoadStage {
                rate: 1e200,
                duration_s: 1.0,
            },
        ];
        let (r, note) = stage_ranges(3, &huge);
        assert_eq!(r, vec![0..3, 3..3]);
        assert!(note.is_some());
    }

    #[test]
    fn summary_counts_and_throughput() {
        let mut failed = req(500.0, 0.0, 0.0, 0);
        failed.failed = true;
        failed.ttft_ms = None;
        failed.e2e_ms = None;
        let rs = vec![
            req(0.0, 10.0, 1000.0, 11),
            req(1000.0, 20.0, 1000.0, 21),
            failed,
        ];
        let s = summarize(&rs, TpotRule::SkipSingle, "x", "$").unwrap();
        assert_eq!((s.successes, s.failures), (2, 1));
        assert_eq!(s.ttft.mean(), Some(15.0));
        assert_eq!(s.requests_per_s, Some(1.0));
        assert_eq!(s.output_tokens_per_s, Some(16.0));
        assert_eq!(s.output_tokens_mean, Some(16.0));
    }
}
