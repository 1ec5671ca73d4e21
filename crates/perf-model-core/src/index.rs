//! What a tuner optimises.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validate::{in_range, non_negative, optional, positive};

/// The performance of one configuration under one load, as a tuner scores it.
///
/// Every figure is optional (a failed or partial benchmark leaves some unknown); present
/// figures are finite and non-negative, and the success rate lies in [0, 1].
///
/// # Examples
/// ```
/// use perf_model_core::{PerformanceIndex, PerformanceIndexData};
/// let idx = PerformanceIndex::new(PerformanceIndexData {
///     output_throughput: Some(5200.0), ttft_ms: Some(180.0), tpot_ms: Some(22.0),
///     success_rate: Some(1.0), ..Default::default() })?;
/// assert_eq!(idx.success_rate(), Some(1.0));
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PerformanceIndexData", into = "PerformanceIndexData")]
pub struct PerformanceIndex(PerformanceIndexData);

/// The unvalidated fields of a [`PerformanceIndex`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerformanceIndexData {
    /// Output tokens per second ("generate speed").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_throughput: Option<f64>,
    /// Completed requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_throughput: Option<f64>,
    /// Offered request rate the run was driven at, req/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<f64>,
    /// Time to first token (the configured statistic, mean by default), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Time per output token, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    /// 99th-percentile time to first token, ms (the tail the Pareto front of a tuning run
    /// trades against throughput; absent when the evaluator does not measure it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_p99_ms: Option<f64>,
    /// Completed / sent requests, in [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
}

impl PerformanceIndex {
    /// Validates `data`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfRange`] naming the field.
    pub fn new(data: PerformanceIndexData) -> Result<Self> {
        optional("output_throughput", data.output_throughput, non_negative)?;
        optional("request_throughput", data.request_throughput, non_negative)?;
        optional("request_rate", data.request_rate, positive)?;
        optional("ttft_ms", data.ttft_ms, non_negative)?;
        optional("tpot_ms", data.tpot_ms, non_negative)?;
        optional("ttft_p99_ms", data.ttft_p99_ms, non_negative)?;
        if let Some(s) = data.success_rate {
            in_range("success_rate", s, 0.0, 1.0)?;
        }
        Ok(Self(data))
    }

    /// Output tokens per second.
    #[must_use]
    pub fn output_throughput(&self) -> Option<f64> {
        self.0.output_throughput
    }
    /// Completed requests per second.
    #[must_use]
    pub fn request_throughput(&self) -> Option<f64> {
        self.0.request_throughput
    }
    /// Offered request rate, req/s.
    #[must_use]
    pub fn request_rate(&self) -> Option<f64> {
        self.0.request_rate
    }
    /// Time to first token, ms.
    #[must_use]
    pub fn ttft_ms(&self) -> Option<f64> {
        self.0.ttft_ms
    }
    /// Time per output token, ms.
    #[must_use]
    pub fn tpot_ms(&self) -> Option<f64> {
        self.0.tpot_ms
    }
    /// 99th-percentile time to first token, ms.
    #[must_use]
    pub fn ttft_p99_ms(&self) -> Option<f64> {
        self.0.ttft_p99_ms
    }
    /// Success rate in [0, 1].
    #[must_use]
    pub fn success_rate(&self) -> Option<f64> {
        self.0.success_rate
    }
    /// The raw fields.
    #[must_use]
    pub fn data(&self) -> PerformanceIndexData {
        self.0
    }
}

impl TryFrom<PerformanceIndexData> for PerformanceIndex {
    type Error = Error;
    fn try_from(data: PerformanceIndexData) -> Result<Self> {
        Self::new(data)
    }
}

impl From<PerformanceIndex> for PerformanceIndexData {
    fn from(index: PerformanceIndex) -> Self {
        index.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_rate_above_one_is_error() {
        let err = PerformanceIndex::new(PerformanceIndexData {
            success_rate: Some(1.2),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("success_rate"), "{err}");
    }

    #[test]
    fn negative_ttft_is_error() {
        assert!(
            PerformanceIndex::new(PerformanceIndexData {
                ttft_ms: Some(-1.0),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn json_round_trip() {
        let idx = PerformanceIndex::new(PerformanceIndexData {
            output_throughput: Some(1234.5),
            success_rate: Some(0.5),
            ..Default::default()
        })
        .unwrap();
        let text = serde_json::to_string(&idx).unwrap();
        assert_eq!(
            serde_json::from_str::<PerformanceIndex>(&text).unwrap(),
            idx
        );
    }
}
