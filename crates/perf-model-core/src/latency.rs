//! Summary statistics of one latency metric.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validate::{non_negative, optional};

/// Summary of one latency metric (TTFT, ITL, TPOT or E2E), in milliseconds.
///
/// Every statistic is optional because reports differ in what they keep (the Inferno data set
/// has only means, GuideLLM has all of them). Present values are finite and `>= 0`, and the
/// quantiles present are ordered: median ≤ p90 ≤ p95 ≤ p99.
///
/// # Examples
/// ```
/// use perf_model_core::{LatencyStats, LatencyStatsData};
/// let ttft = LatencyStats::new(LatencyStatsData { mean: Some(18.1), median: Some(17.9),
///     p99: Some(40.6), ..Default::default() })?;
/// assert_eq!(ttft.median(), Some(17.9));
/// assert!(LatencyStats::from_mean(f64::NAN).is_err());
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LatencyStatsData", into = "LatencyStatsData")]
pub struct LatencyStats(LatencyStatsData);

/// The unvalidated fields of a [`LatencyStats`] (ms); build one with [`LatencyStats::new`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyStatsData {
    /// Arithmetic mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// Median (p50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    /// 90th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    /// 95th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    /// 99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
}

impl LatencyStats {
    /// Validates `data`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfRange`] for a NaN, infinite or negative value;
    /// [`Error::Inconsistent`] when quantiles are out of order.
    pub fn new(data: LatencyStatsData) -> Result<Self> {
        let LatencyStatsData {
            mean,
            median,
            p90,
            p95,
            p99,
        } = data;
        optional("mean", mean, non_negative)?;
        let quantiles = [("median", median), ("p90", p90), ("p95", p95), ("p99", p99)];
        let mut previous: Option<(&str, f64)> = None;
        for (name, value) in quantiles {
            let Some(v) = optional(name, value, non_negative)? else {
                continue;
            };
            if let Some((prev_name, prev)) = previous
                && v < prev
            {
                return Err(Error::Inconsistent(format!(
                    "latency {name} = {v} is below {prev_name} = {prev}"
                )));
            }
            previous = Some((name, v));
        }
        Ok(Self(data))
    }

    /// Statistics with only a mean.
    ///
    /// # Errors
    /// As [`LatencyStats::new`].
    pub fn from_mean(mean: f64) -> Result<Self> {
        Self::new(LatencyStatsData {
            mean: Some(mean),
            ..LatencyStatsData::default()
        })
    }

    /// Mean, ms.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        self.0.mean
    }
    /// Median, ms.
    #[must_use]
    pub fn median(&self) -> Option<f64> {
        self.0.median
    }
    /// 90th percentile, ms.
    #[must_use]
    pub fn p90(&self) -> Option<f64> {
        self.0.p90
    }
    /// 95th percentile, ms.
    #[must_use]
    pub fn p95(&self) -> Option<f64> {
        self.0.p95
    }
    /// 99th percentile, ms.
    #[must_use]
    pub fn p99(&self) -> Option<f64> {
        self.0.p99
    }
    /// True when no statistic is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0 == LatencyStatsData::default()
    }
    /// The raw fields.
    #[must_use]
    pub fn data(&self) -> LatencyStatsData {
        self.0
    }
}

impl TryFrom<LatencyStatsData> for LatencyStats {
    type Error = Error;
    fn try_from(data: LatencyStatsData) -> Result<Self> {
        Self::new(data)
    }
}

impl From<LatencyStats> for LatencyStatsData {
    fn from(stats: LatencyStats) -> Self {
        stats.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_is_error() {
        let err = LatencyStats::from_mean(-1.0).unwrap_err();
        assert!(err.to_string().contains("mean"), "{err}");
    }

    #[test]
    fn unordered_quantiles_are_inconsistent() {
        let err = LatencyStats::new(LatencyStatsData {
            median: Some(20.0),
            p99: Some(10.0),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, Error::Inconsistent(_)), "{err}");
    }

    #[test]
    fn serde_validates() {
        let ok: LatencyStats = serde_json::from_str(r#"{"mean": 3.5, "p99": 9}"#).unwrap();
        assert_eq!(ok.p99(), Some(9.0));
        assert!(serde_json::from_str::<LatencyStats>(r#"{"mean": -3}"#).is_err());
        let back = serde_json::to_string(&ok).unwrap();
        assert_eq!(back, r#"{"mean":3.5,"p99":9.0}"#);
    }

    #[test]
    fn empty_stats() {
        assert!(LatencyStats::default().is_empty());
    }
}
