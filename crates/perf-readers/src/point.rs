//! Helpers shared by the readers to build validated `perf-model-core` values.

use perf_model_core::{LatencyStats, LatencyStatsData};

use crate::error::Result;
use crate::json::{Cx, Node};

/// Raw statistics of one latency metric, in the file's unit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawStats {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// Builds [`LatencyStats`] in ms from `raw` in units of `to_ms` ms. A NaN statistic (Python's
/// statistics of an empty set) is taken as absent; an infinite or negative one is an error.
pub(crate) fn latency(cx: &Cx<'_>, at: &str, raw: RawStats, to_ms: f64) -> Result<LatencyStats> {
    let f = |x: Option<f64>| x.filter(|v| !v.is_nan()).map(|v| v * to_ms);
    LatencyStats::new(LatencyStatsData {
        mean: f(raw.mean),
        median: f(raw.median),
        p90: f(raw.p90),
        p95: f(raw.p95),
        p99: f(raw.p99),
    })
    .map_err(|e| cx.invalid(at, e))
}

/// A NaN is absent.
pub(crate) fn not_nan(x: Option<f64>) -> Option<f64> {
    x.filter(|v| !v.is_nan())
}

/// The stem of a path (`a/b/sweep-1.json` → `sweep-1`), for data set names.
pub(crate) fn stem(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .map_or_else(|| path.to_owned(), |s| s.to_string_lossy().into_owned())
}

/// A GuideLLM distribution (`{mean, median, percentiles{p90,p95,p99}}`) as raw statistics.
pub(crate) fn distribution(node: &Node<'_>, cx: &Cx<'_>) -> Result<RawStats> {
    Ok(RawStats {
        mean: node.opt_num(&["mean"], cx)?,
        median: node.opt_num(&["median"], cx)?,
        p90: node.opt_num(&["percentiles", "p90"], cx)?,
        p95: node.opt_num(&["percentiles", "p95"], cx)?,
        p99: node.opt_num(&["percentiles", "p99"], cx)?,
    })
}

/// A positive rate or `None` (zero, negative, NaN or infinite rates mean "not a rate").
pub(crate) fn positive_finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite() && *v > 0.0)
}

/// Converts an optional positive whole number to `u32`, `None` when it does not fit or is `<= 0`.
pub(crate) fn to_u32(x: Option<f64>) -> Option<u32> {
    let v = x?;
    if v.is_finite() && v >= 1.0 && v <= f64::from(u32::MAX) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(v.round() as u32)
    } else {
        None
    }
}

/// Mean, median and p90/p95/p99 of `values` (linear interpolation between order statistics,
/// numpy's default); all `None` for an empty slice. Non-finite values are ignored.
pub(crate) fn sample_stats(values: &[f64]) -> RawStats {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return RawStats::default();
    }
    v.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss)]
    let n = v.len() as f64;
    let q = |p: f64| {
        let h = (n - 1.0) * p;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(v.len() - 1);
        v[lo] + (h - h.floor()) * (v[hi] - v[lo])
    };
    RawStats {
        mean: Some(v.iter().sum::<f64>() / n),
        median: Some(q(0.5)),
        p90: Some(q(0.9)),
        p95: Some(q(0.95)),
        p99: Some(q(0.99)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = sample_stats(&[4.0, 1.0, 3.0, 2.0, f64::NAN]);
        assert_eq!(s.mean, Some(2.5));
        assert_eq!(s.median, Some(2.5));
        assert_eq!(s.p90, Some(3.7));
        assert!(sample_stats(&[]).mean.is_none());
    }
}
