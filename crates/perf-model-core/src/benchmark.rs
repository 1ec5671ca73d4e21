//! Measured operating points and data sets of them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::latency::LatencyStats;
use crate::validate::{at_least_one, non_negative, optional, positive};

/// One measured operating point of a serving system: the load it ran under, the mean request
/// shape, the latencies it gave and the limits it ran with.
///
/// Build one from a [`BenchmarkPointData`] with [`BenchmarkPoint::new`]; deserialising
/// validates the same way.
///
/// # Examples
/// ```
/// use perf_model_core::{BenchmarkPoint, BenchmarkPointData, LatencyStats};
/// let p = BenchmarkPoint::new(BenchmarkPointData {
///     request_rate: Some(27.16),
///     input_tokens: 64.0,
///     output_tokens: 64.0,
///     ttft: LatencyStats::from_mean(18.05)?,
///     itl: LatencyStats::from_mean(7.50)?,
///     max_batch_size: Some(512),
///     ..Default::default()
/// })?;
/// assert_eq!(p.request_rate(), Some(27.16));
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BenchmarkPointData", into = "BenchmarkPointData")]
pub struct BenchmarkPoint(BenchmarkPointData);

/// The unvalidated fields of a [`BenchmarkPoint`].
///
/// Times are in ms, rates in req/s, throughput in output tokens/s.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkPointData {
    /// Label of the run as the benchmark tool named it (e.g. `constant@27.13`, `concurrent@16`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Request rate, req/s (achieved successful rate where the tool reports it). `> 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_rate: Option<f64>,
    /// Concurrency (concurrent requests, configured or measured mean). `> 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<f64>,
    /// Mean input (prompt) tokens per request. `>= 0`.
    pub input_tokens: f64,
    /// Mean output tokens per request. `>= 0`.
    pub output_tokens: f64,
    /// Time to first token.
    #[serde(default, skip_serializing_if = "LatencyStats::is_empty")]
    pub ttft: LatencyStats,
    /// Inter-token latency (gap between consecutive output tokens).
    #[serde(default, skip_serializing_if = "LatencyStats::is_empty")]
    pub itl: LatencyStats,
    /// Time per output token, `(e2e − ttft)/(output − 1)` per request.
    #[serde(default, skip_serializing_if = "LatencyStats::is_empty")]
    pub tpot: LatencyStats,
    /// End-to-end request latency.
    #[serde(default, skip_serializing_if = "LatencyStats::is_empty")]
    pub e2e: LatencyStats,
    /// Output token throughput, tokens/s. `>= 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_throughput: Option<f64>,
    /// Requests that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful: Option<u64>,
    /// Requests that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// Max batch size (running requests, e.g. vLLM `max_num_seqs`) the server ran with. `>= 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_size: Option<u32>,
    /// Max tokens per engine step (e.g. vLLM `max_num_batched_tokens`). `>= 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_num_tokens: Option<u32>,
}

impl BenchmarkPoint {
    /// Validates `data`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::OutOfRange`] naming the bad field (NaN, negative rate or
    /// token count, zero batch size); [`Error::Inconsistent`] when neither a request rate nor a
    /// concurrency is given.
    pub fn new(data: BenchmarkPointData) -> Result<Self> {
        optional("request_rate", data.request_rate, positive)?;
        optional("concurrency", data.concurrency, positive)?;
        if data.request_rate.is_none() && data.concurrency.is_none() {
            return Err(Error::Inconsistent(
                "a benchmark point needs a request_rate or a concurrency".into(),
            ));
        }
        non_negative("input_tokens", data.input_tokens)?;
        non_negative("output_tokens", data.output_tokens)?;
        optional("output_throughput", data.output_throughput, non_negative)?;
        if let Some(n) = data.max_batch_size {
            at_least_one("max_batch_size", u64::from(n))?;
        }
        if let Some(n) = data.max_num_tokens {
            at_least_one("max_num_tokens", u64::from(n))?;
        }
        Ok(Self(data))
    }

    /// Run label, if any.
    #[must_use]
    pub fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// Request rate, req/s.
    #[must_use]
    pub fn request_rate(&self) -> Option<f64> {
        self.0.request_rate
    }
    /// Concurrency.
    #[must_use]
    pub fn concurrency(&self) -> Option<f64> {
        self.0.concurrency
    }
    /// Mean input tokens.
    #[must_use]
    pub fn input_tokens(&self) -> f64 {
        self.0.input_tokens
    }
    /// Mean output tokens.
    #[must_use]
    pub fn output_tokens(&self) -> f64 {
        self.0.output_tokens
    }
    /// Time to first token, ms.
    #[must_use]
    pub fn ttft(&self) -> &LatencyStats {
        &self.0.ttft
    }
    /// Inter-token latency, ms.
    #[must_use]
    pub fn itl(&self) -> &LatencyStats {
        &self.0.itl
    }
    /// Time per output token, ms.
    #[must_use]
    pub fn tpot(&self) -> &LatencyStats {
        &self.0.tpot
    }
    /// End-to-end latency, ms.
    #[must_use]
    pub fn e2e(&self) -> &LatencyStats {
        &self.0.e2e
    }
    /// Output tokens per second.
    #[must_use]
    pub fn output_throughput(&self) -> Option<f64> {
        self.0.output_throughput
    }
    /// Successful requests.
    #[must_use]
    pub fn successful(&self) -> Option<u64> {
        self.0.successful
    }
    /// Failed requests.
    #[must_use]
    pub fn failed(&self) -> Option<u64> {
        self.0.failed
    }
    /// Max batch size the server ran with.
    #[must_use]
    pub fn max_batch_size(&self) -> Option<u32> {
        self.0.max_batch_size
    }
    /// Max tokens per step the server ran with.
    #[must_use]
    pub fn max_num_tokens(&self) -> Option<u32> {
        self.0.max_num_tokens
    }
    /// Fraction of requests that succeeded, when both counts are known and not both zero.
    #[must_use]
    pub fn success_rate(&self) -> Option<f64> {
        let ok = self.0.successful?;
        let total = ok + self.0.failed?;
        (total > 0).then(|| ok as f64 / total as f64)
    }
    /// The raw fields.
    #[must_use]
    pub fn data(&self) -> &BenchmarkPointData {
        &self.0
    }
}

impl TryFrom<BenchmarkPointData> for BenchmarkPoint {
    type Error = Error;
    fn try_from(data: BenchmarkPointData) -> Result<Self> {
        Self::new(data)
    }
}

impl From<BenchmarkPoint> for BenchmarkPointData {
    fn from(point: BenchmarkPoint) -> Self {
        point.0
    }
}

/// Where a data set came from and what it measured. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetMeta {
    /// Model served, as named by the source (e.g. `meta-llama/Llama-3.1-8B`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Accelerator, as named by the source (e.g. `H100`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// Serving engine and version (e.g. `vllm 0.8.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// File or URL the data was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A value a reader found broken in its file (NaN-free but infinite, negative, or a quantile out
/// of order; or a whole point that fails validation) and left out of the data set instead of
/// rejecting the file.
///
/// Readers keep every statistic of a point that validates and drop only the broken ones, so a
/// clock glitch in one statistic (a TTFT mean of −2.2e8 ms beside a sane median) does not make
/// the file unreadable. Whether a dropped value matters is decided where values are used: a
/// fit that needs a dropped statistic fails naming it (see `perf_fit::points_from_datasets`).
///
/// # Examples
/// ```
/// use perf_model_core::benchmark::DataWarning;
/// let w = DataWarning {
///     file: "sweep.json".into(),
///     location: "$[1]".into(),
///     label: Some("throughput".into()),
///     point: None,
///     field: "ttft.mean".into(),
///     value: Some("-222574949".into()),
///     reason: "must be >= 0".into(),
/// };
/// assert_eq!(
///     w.to_string(),
///     "sweep.json: $[1] (throughput), point dropped by the selection: \
///      ttft.mean = -222574949: must be >= 0; dropped"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataWarning {
    /// The file the value was read from.
    pub file: String,
    /// Where the point is in the file: a JSON path (`$[1]`, `$.benchmarks[3]`), a JSON-Lines
    /// line, or a CSV row.
    pub location: String,
    /// The point's label (`constant@27.13`, `throughput`), when the file names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Index of the point in [`PerfDataset::points`]; `None` when the point selection dropped
    /// the point (the warning is then about a point nobody uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<usize>,
    /// The field: a statistic such as `ttft.mean`, `itl.p99`, `e2e.median`, a rate such as
    /// `request_rate` or `output_throughput`, or a point field such as `input_tokens`.
    pub field: String,
    /// The value as found in the file (before any unit conversion), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Why it is broken, e.g. `must be >= 0`, `above p90 = 14.4 (…)`.
    pub reason: String,
}

impl std::fmt::Display for DataWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.location)?;
        if let Some(label) = &self.label {
            write!(f, " ({label})")?;
        }
        match self.point {
            Some(k) => write!(f, ", point {k}")?,
            None => f.write_str(", point dropped by the selection")?,
        }
        write!(f, ": {}", self.field)?;
        if let Some(value) = &self.value {
            write!(f, " = {value}")?;
        }
        write!(f, ": {}; dropped", self.reason)
    }
}

/// A named, ordered set of [`BenchmarkPoint`]s (a sweep) with its metadata.
///
/// The order is the order of measurement; every point is already validated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfDataset {
    /// Name of the data set (e.g. `sweep-i1024-o256`).
    pub name: String,
    /// Provenance.
    #[serde(default)]
    pub meta: DatasetMeta,
    /// The points, in measurement order.
    pub points: Vec<BenchmarkPoint>,
    /// Values the reader found broken and left out, in file order (see [`DataWarning`]).
    /// A warning's [`point`](DataWarning::point) indexes [`points`](Self::points) as read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<DataWarning>,
}

impl PerfDataset {
    /// An empty data set called `name`.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Number of points.
    #[must_use]
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when there are no points.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BenchmarkPointData {
        BenchmarkPointData {
            request_rate: Some(2.0),
            input_tokens: 128.0,
            output_tokens: 512.0,
            ..Default::default()
        }
    }

    #[test]
    fn valid_point() {
        let p = BenchmarkPoint::new(base()).unwrap();
        assert_eq!(p.input_tokens().to_bits(), 128f64.to_bits());
    }

    #[test]
    fn nan_rate_is_error() {
        let err = BenchmarkPoint::new(BenchmarkPointData {
            request_rate: Some(f64::NAN),
            ..base()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("request_rate"), "{err}");
    }

    #[test]
    fn negative_tokens_is_error() {
        let err = BenchmarkPoint::new(BenchmarkPointData {
            output_tokens: -4.0,
            ..base()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("output_tokens"), "{err}");
    }

    #[test]
    fn zero_batch_is_error() {
        let err = BenchmarkPoint::new(BenchmarkPointData {
            max_batch_size: Some(0),
            ..base()
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("max_batch_size"), "{err}");
    }

    #[test]
    fn load_is_required() {
        let err = BenchmarkPoint::new(BenchmarkPointData {
            request_rate: None,
            ..base()
        })
        .unwrap_err();
        assert!(matches!(err, Error::Inconsistent(_)));
    }

    #[test]
    fn success_rate() {
        let p = BenchmarkPoint::new(BenchmarkPointData {
            successful: Some(99),
            failed: Some(1),
            ..base()
        })
        .unwrap();
        assert_eq!(p.success_rate(), Some(0.99));
    }

    #[test]
    fn dataset_round_trips_through_json() {
        let mut ds = PerfDataset::new("sweep");
        ds.points.push(BenchmarkPoint::new(base()).unwrap());
        let text = serde_json::to_string(&ds).unwrap();
        let back: PerfDataset = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ds);
        let bad = text.replace("128.0", "-1.0");
        assert!(serde_json::from_str::<PerfDataset>(&bad).is_err());
        assert!(!text.contains("warnings"), "{text}");
    }

    #[test]
    fn warnings_round_trip_and_name_file_point_and_field() {
        let mut ds = PerfDataset::new("sweep");
        ds.points.push(BenchmarkPoint::new(base()).unwrap());
        ds.warnings.push(DataWarning {
            file: "s.json".into(),
            location: "$[3]".into(),
            label: None,
            point: Some(0),
            field: "itl.p99".into(),
            value: Some("inf".into()),
            reason: "must be a finite number".into(),
        });
        let text = serde_json::to_string(&ds).unwrap();
        let back: PerfDataset = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ds);
        assert_eq!(
            ds.warnings[0].to_string(),
            "s.json: $[3], point 0: itl.p99 = inf: must be a finite number; dropped"
        );
    }
}
