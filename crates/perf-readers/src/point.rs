//! Helpers shared by the readers to build validated `perf-model-core` values.
//!
//! A broken statistic (infinite, negative, a quantile out of order) or throughput does not
//! fail the file: [`Notes`] records it and the point is built without it. Which of the
//! recorded values matter is decided after the point selection (see `select::finish`) and by
//! whoever uses the points (a fit that needs a dropped statistic fails naming it).

use perf_model_core::{LatencyStats, LatencyStatsData};

use crate::error::{Location, Result};
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

/// One value left out of a point because it is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// `ttft.mean`, `output_throughput`, …
    pub field: String,
    /// The value as found in the file.
    pub value: String,
    /// Why it is broken.
    pub reason: String,
}

/// Where one point is in its file and the values left out of it.
#[derive(Clone, Debug)]
pub(crate) struct Notes {
    pub location: Location,
    pub dropped: Vec<Dropped>,
}

impl Notes {
    /// Notes for the point at `location`.
    pub(crate) fn new(location: Location) -> Self {
        Self {
            location,
            dropped: Vec::new(),
        }
    }

    /// Notes for the point at the JSON path `at` of the record `cx`.
    pub(crate) fn at(cx: &Cx<'_>, at: &str) -> Self {
        Self::new(cx.loc(at))
    }

    fn drop_value(&mut self, field: String, value: f64, reason: String) {
        self.dropped.push(Dropped {
            field,
            value: shown(value),
            reason,
        });
    }

    /// A throughput or measured rate `field` (`output_throughput`, …) that must be finite and
    /// `>= 0`: NaN is absent; an infinite or negative value is dropped and noted.
    pub(crate) fn non_negative(&mut self, field: &str, x: Option<f64>) -> Option<f64> {
        let v = x.filter(|v| !v.is_nan())?;
        match broken(v) {
            Some(reason) => {
                self.drop_value(field.to_owned(), v, reason.to_owned());
                None
            }
            None => Some(v),
        }
    }

    /// A measured rate `field` (`request_rate`, `concurrency`) that is used only when `> 0`:
    /// zero, NaN and ±∞ are "not a rate" (absent, as [`positive_finite`]); a negative value is
    /// broken, dropped and noted.
    pub(crate) fn rate(&mut self, field: &str, x: Option<f64>) -> Option<f64> {
        if let Some(v) = x
            && v.is_finite()
            && v < 0.0
        {
            self.drop_value(field.to_owned(), v, "must be > 0".to_owned());
        }
        positive_finite(x)
    }
}

/// A value for a message: as written (`-222574949`, `0.5`, `inf`), in exponent form when
/// very large or very small (`1e306`).
fn shown(v: f64) -> String {
    let a = v.abs();
    if a.is_finite() && a != 0.0 && !(1e-6..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// Why a statistic is broken (`None` when it is fine): not finite, or negative.
fn broken(v: f64) -> Option<&'static str> {
    if !v.is_finite() {
        Some("must be a finite number")
    } else if v < 0.0 {
        Some("must be >= 0")
    } else {
        None
    }
}

/// Names of the quantiles, in the order they must be in.
const QUANTILES: [&str; 4] = ["median", "p90", "p95", "p99"];

/// Builds [`LatencyStats`] of `metric` (`ttft`, `itl`, `tpot`, `e2e`) in ms from `raw` in units
/// of `to_ms` ms. A NaN statistic (Python's statistics of an empty set) is taken as absent. A
/// broken one is dropped and noted in `notes` as `<metric>.<stat>`: infinite or negative
/// (after conversion to ms), or a quantile out of order (median ≤ p90 ≤ p95 ≤ p99). For the
/// order, the largest ordered set of quantiles is kept; when several sets are equally large
/// (two quantiles contradict each other and nothing says which is right), only the quantiles
/// common to all of them are kept.
pub(crate) fn latency(notes: &mut Notes, metric: &str, raw: RawStats, to_ms: f64) -> LatencyStats {
    let names = ["mean", "median", "p90", "p95", "p99"];
    // The valid values, as found in the file.
    let mut kept: [Option<f64>; 5] = [None; 5];
    for (slot, x) in [raw.mean, raw.median, raw.p90, raw.p95, raw.p99]
        .into_iter()
        .enumerate()
    {
        let Some(v) = x.filter(|v| !v.is_nan()) else {
            continue;
        };
        match broken(v * to_ms) {
            Some(reason) => {
                notes.drop_value(format!("{metric}.{}", names[slot]), v, reason.to_owned());
            }
            None => kept[slot] = Some(v),
        }
    }
    // The order does not depend on the (positive) unit: check the values as found.
    let quantiles = &kept[1..];
    let out_of_order = disordered(quantiles);
    for &i in &out_of_order {
        let v = quantiles[i].unwrap_or_default();
        let conflict = (0..quantiles.len())
            .filter_map(|o| quantiles[o].map(|w| (o, w)))
            .find(|&(o, w)| (o < i && w > v) || (o > i && w < v));
        let reason = match conflict {
            Some((o, w)) => format!(
                "{} {} = {} (quantiles must be ordered median <= p90 <= p95 <= p99)",
                if o < i { "below" } else { "above" },
                QUANTILES[o],
                shown(w),
            ),
            None => "out of order (median <= p90 <= p95 <= p99)".to_owned(),
        };
        notes.drop_value(format!("{metric}.{}", QUANTILES[i]), v, reason);
    }
    for i in out_of_order {
        kept[i + 1] = None;
    }
    let ms = kept.map(|x| x.map(|v| v * to_ms));
    let data = LatencyStatsData {
        mean: ms[0],
        median: ms[1],
        p90: ms[2],
        p95: ms[3],
        p99: ms[4],
    };
    LatencyStats::new(data).unwrap_or_else(|e| {
        // Unreachable while the checks above mirror `LatencyStats::new`; should a new rule
        // appear there, the metric is dropped as a whole rather than failing the file.
        notes.dropped.push(Dropped {
            field: metric.to_owned(),
            value: format!("{data:?}"),
            reason: e.to_string(),
        });
        LatencyStats::default()
    })
}

/// Indices (0 = median … 3 = p99) of the present quantiles to drop so that the rest is
/// ordered: those outside the largest ordered subsets (all of them, when several tie).
fn disordered(q: &[Option<f64>]) -> Vec<usize> {
    let present: Vec<usize> = (0..q.len()).filter(|&i| q[i].is_some()).collect();
    let ordered = |mask: usize| {
        let mut prev = f64::NEG_INFINITY;
        for (bit, &i) in present.iter().enumerate() {
            if mask & (1 << bit) != 0 {
                let v = q[i].unwrap_or_default();
                if v < prev {
                    return false;
                }
                prev = v;
            }
        }
        true
    };
    let all = (1usize << present.len()) - 1;
    if ordered(all) {
        return Vec::new();
    }
    let mut best = 0u32;
    let mut keep = 0usize;
    for mask in 0..=all {
        if !ordered(mask) {
            continue;
        }
        let size = mask.count_ones();
        if size > best {
            (best, keep) = (size, mask);
        } else if size == best {
            keep &= mask;
        }
    }
    present
        .iter()
        .enumerate()
        .filter(|&(bit, _)| keep & (1 << bit) == 0)
        .map(|(_, &i)| i)
        .collect()
}

/// Builds [`LatencyStats`] in ms from `raw` in units of `to_ms` ms, strictly: a NaN statistic
/// is absent, an infinite, negative or out-of-order one is an error (for the run readers,
/// whose measurements have no place for warnings).
pub(crate) fn latency_strict(
    cx: &Cx<'_>,
    at: &str,
    raw: RawStats,
    to_ms: f64,
) -> Result<LatencyStats> {
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

    fn stats(values: [Option<f64>; 5], to_ms: f64) -> (LatencyStats, Vec<String>) {
        let mut notes = Notes::new(Location::File);
        let [mean, median, p90, p95, p99] = values;
        let raw = RawStats {
            mean,
            median,
            p90,
            p95,
            p99,
        };
        let s = latency(&mut notes, "e2e", raw, to_ms);
        let dropped = notes
            .dropped
            .iter()
            .map(|d| format!("{} = {}: {}", d.field, d.value, d.reason))
            .collect();
        (s, dropped)
    }

    #[test]
    fn broken_statistics_are_dropped_and_noted() {
        // NaN is absent without a note; ∞ and negative values are noted, in the file's unit.
        let (s, notes) = stats(
            [
                Some(-2.0),
                Some(f64::NAN),
                Some(0.5),
                Some(f64::INFINITY),
                Some(0.9),
            ],
            1000.0,
        );
        assert_eq!(s.data().mean, None);
        assert_eq!(
            (s.p90(), s.p95(), s.p99()),
            (Some(500.0), None, Some(900.0))
        );
        assert_eq!(
            notes,
            [
                "e2e.mean = -2: must be >= 0",
                "e2e.p95 = inf: must be a finite number",
            ]
        );
        // A finite value that overflows in ms is not finite either.
        let (s, notes) = stats([Some(1e306), None, None, None, None], 1000.0);
        assert_eq!(s.mean(), None);
        assert_eq!(notes, ["e2e.mean = 1e306: must be a finite number"]);
    }

    #[test]
    fn quantiles_out_of_order_keep_the_largest_ordered_set() {
        // One wild median against three ordered percentiles: the median goes.
        let (s, notes) = stats(
            [Some(5.0), Some(9e9), Some(10.0), Some(20.0), Some(30.0)],
            1.0,
        );
        assert_eq!(
            (s.mean(), s.median(), s.p90(), s.p99()),
            (Some(5.0), None, Some(10.0), Some(30.0))
        );
        assert_eq!(
            notes,
            [
                "e2e.median = 9000000000: above p90 = 10 (quantiles must be ordered median <= \
              p90 <= p95 <= p99)"
            ]
        );
        // Two contradicting quantiles with nothing to tell which is right: both go.
        let (s, notes) = stats([None, Some(20.0), Some(10.0), Some(30.0), Some(40.0)], 1.0);
        assert_eq!(
            (s.median(), s.p90(), s.p95(), s.p99()),
            (None, None, Some(30.0), Some(40.0))
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with("e2e.median = 20: above p90 = 10"),
            "{notes:?}"
        );
        assert!(
            notes[1].starts_with("e2e.p90 = 10: below median = 20"),
            "{notes:?}"
        );
        // Ordered quantiles (ties included) are kept.
        let (_, notes) = stats([None, Some(1.0), Some(1.0), Some(2.0), Some(3.0)], 1.0);
        assert!(notes.is_empty());
    }

    #[test]
    fn quantiles_interpolate() {
        let s = sample_stats(&[4.0, 1.0, 3.0, 2.0, f64::NAN]);
        assert_eq!(s.mean, Some(2.5));
        assert_eq!(s.median, Some(2.5));
        assert_eq!(s.p90, Some(3.7));
        assert!(sample_stats(&[]).mean.is_none());
    }
}
