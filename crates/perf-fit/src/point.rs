//! Training points: one measured operating point as the trainer sees it.

use perf_model_core::benchmark::DataWarning;
use perf_model_core::inferno::{DEFAULT_MAX_NUM_TOKENS, MAX_BATCH_SIZE_LIMIT};
use perf_model_core::{BenchmarkPoint, PerfDataset};
use serde::{Deserialize, Serialize};

use crate::error::{FitError, Result};

/// Default max batch size `N` of a training point (upstream `Fix()`).
pub const DEFAULT_MAX_BATCH_SIZE: u32 = 256;

/// One training point of the Inferno trainer (upstream `DataPoint` after `Fix()`).
///
/// Times are in ms, the rate in req/s. The analyzer is configured per point as the Go trainer
/// does (spec §3.1): max batch `N = max_batch_size`, max queue `Q = N` (so `K = 2N`), token
/// budget `M = max_num_tokens`.
///
/// The fields are public plain data; [`FitPoint::validate`] (called by every fit on every
/// point) checks them and names the point's index in its error.
///
/// # Examples
/// ```
/// use perf_fit::FitPoint;
/// let p = FitPoint::new(27.16, 64.0, 64.0, 18.05, 7.50).with_max_batch_size(512);
/// assert_eq!(p.max_batch_size, 512);
/// assert!(p.validate(0).is_ok());
/// assert!(FitPoint::new(f64::NAN, 64.0, 64.0, 18.05, 7.5).validate(3).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitPoint {
    /// Request rate, req/s (`> 0`).
    pub rate_rps: f64,
    /// Mean input tokens `n` (`>= 0`).
    pub input_tokens: f64,
    /// Mean output tokens `m` (`>= 1`).
    pub output_tokens: f64,
    /// Observed time to first token, ms (`> 0`).
    pub ttft_ms: f64,
    /// Observed inter-token latency, ms (`> 0`).
    pub itl_ms: f64,
    /// Max batch size `N` the server ran with (default [`DEFAULT_MAX_BATCH_SIZE`]).
    pub max_batch_size: u32,
    /// Max tokens per engine iteration `M` (default 8192; used by V7 only).
    pub max_num_tokens: u32,
}

impl FitPoint {
    /// A point with the default limits (`N` = 256, `M` = 8192). Not validated here; fits
    /// validate every point.
    #[must_use]
    pub fn new(
        rate_rps: f64,
        input_tokens: f64,
        output_tokens: f64,
        ttft_ms: f64,
        itl_ms: f64,
    ) -> Self {
        Self {
            rate_rps,
            input_tokens,
            output_tokens,
            ttft_ms,
            itl_ms,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            max_num_tokens: DEFAULT_MAX_NUM_TOKENS,
        }
    }

    /// Sets the max batch size `N`.
    #[must_use]
    pub fn with_max_batch_size(mut self, max_batch_size: u32) -> Self {
        self.max_batch_size = max_batch_size;
        self
    }

    /// Sets the token budget per iteration `M`.
    #[must_use]
    pub fn with_max_num_tokens(mut self, max_num_tokens: u32) -> Self {
        self.max_num_tokens = max_num_tokens;
        self
    }

    /// Builds a point from a validated [`BenchmarkPoint`].
    ///
    /// * rate: `request_rate` (a concurrency-only point is rejected);
    /// * observed TTFT: the **median** when present, else the **mean** — as upstream: its
    ///   GuideLLM readers (JSON, CSV, HTML) take the median because of TTFT's long tail, and
    ///   the native DataSet has only a mean (`avgTTFTTime`, or wait + prefill);
    /// * observed ITL: the mean, else the median;
    /// * `N` and `M`: the point's values, else 256 and 8192.
    ///
    /// `index` is only used in error messages.
    ///
    /// # Errors
    /// [`FitError::InvalidPoint`] naming the field when the rate, TTFT or ITL is missing or
    /// when [`FitPoint::validate`] fails.
    pub fn from_benchmark(point: &BenchmarkPoint, index: usize) -> Result<Self> {
        let missing = |field: &'static str| FitError::InvalidPoint {
            index,
            field,
            value: f64::NAN,
            reason: "is missing",
        };
        let rate = point.request_rate().ok_or_else(|| missing("rate_rps"))?;
        let ttft = point
            .ttft()
            .median()
            .or_else(|| point.ttft().mean())
            .ok_or_else(|| missing("ttft_ms"))?;
        let itl = point
            .itl()
            .mean()
            .or_else(|| point.itl().median())
            .ok_or_else(|| missing("itl_ms"))?;
        let p = Self {
            rate_rps: rate,
            input_tokens: point.input_tokens(),
            output_tokens: point.output_tokens(),
            ttft_ms: ttft,
            itl_ms: itl,
            max_batch_size: point.max_batch_size().unwrap_or(DEFAULT_MAX_BATCH_SIZE),
            max_num_tokens: point.max_num_tokens().unwrap_or(DEFAULT_MAX_NUM_TOKENS),
        };
        p.validate(index)?;
        Ok(p)
    }

    /// Checks the point; `index` is reported in the error.
    ///
    /// # Errors
    /// [`FitError::InvalidPoint`] when a value is NaN or ±∞, the rate, TTFT or ITL is not
    /// `> 0`, the input tokens are negative, the output tokens are below 1, or a limit is 0
    /// (or `N` is above 2²⁴).
    pub fn validate(&self, index: usize) -> Result<()> {
        let bad = |field: &'static str, value: f64, reason: &'static str| FitError::InvalidPoint {
            index,
            field,
            value,
            reason,
        };
        let values = [
            ("rate_rps", self.rate_rps),
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("ttft_ms", self.ttft_ms),
            ("itl_ms", self.itl_ms),
        ];
        for (field, value) in values {
            if !value.is_finite() {
                return Err(bad(field, value, "must be a finite number"));
            }
        }
        if self.rate_rps <= 0.0 {
            return Err(bad("rate_rps", self.rate_rps, "must be > 0"));
        }
        if self.input_tokens < 0.0 {
            return Err(bad("input_tokens", self.input_tokens, "must be >= 0"));
        }
        if self.output_tokens < 1.0 {
            return Err(bad("output_tokens", self.output_tokens, "must be >= 1"));
        }
        if self.ttft_ms <= 0.0 {
            return Err(bad("ttft_ms", self.ttft_ms, "must be > 0"));
        }
        if self.itl_ms <= 0.0 {
            return Err(bad("itl_ms", self.itl_ms, "must be > 0"));
        }
        if self.max_batch_size == 0 || self.max_batch_size > MAX_BATCH_SIZE_LIMIT {
            return Err(bad(
                "max_batch_size",
                f64::from(self.max_batch_size),
                "must be within [1, 16777216]",
            ));
        }
        if self.max_num_tokens == 0 {
            return Err(bad("max_num_tokens", 0.0, "must be >= 1"));
        }
        Ok(())
    }
}

/// Converts every point of every data set into [`FitPoint`]s, concatenated in order (the input
/// of a joint fit). Error indices count across the data sets.
///
/// A statistic the reader dropped as broken (see
/// [`DataWarning`](perf_model_core::benchmark::DataWarning) in [`PerfDataset::warnings`]) is
/// an error only when the fit uses it: the rate, the TTFT statistic [`FitPoint::from_benchmark`]
/// takes (the median; the mean when the file had no median) and the ITL one (the mean; the
/// median when the file had no mean). A dropped statistic is never replaced by another one.
/// Warnings about points the selection dropped, and about statistics the fit does not use,
/// are ignored here.
///
/// # Errors
/// [`FitError::Core`] with [`perf_model_core::Error::OutOfRange`] naming the file, the place
/// in it, the point (index in its data set and label), the field and the value as found, for
/// a used statistic that was dropped as broken; otherwise as [`FitPoint::from_benchmark`].
pub fn points_from_datasets(datasets: &[PerfDataset]) -> Result<Vec<FitPoint>> {
    let mut out = Vec::with_capacity(datasets.iter().map(PerfDataset::len).sum());
    for ds in datasets {
        for (k, p) in ds.points.iter().enumerate() {
            if let Some((w, use_)) = dropped_input(ds, k, p) {
                return Err(dropped_error(ds, w, use_));
            }
            out.push(FitPoint::from_benchmark(p, out.len())?);
        }
    }
    Ok(out)
}

/// The first statistic point `k` of `ds` would be fitted with that the reader dropped as
/// broken, with what the fit uses it for.
fn dropped_input<'a>(
    ds: &'a PerfDataset,
    k: usize,
    p: &BenchmarkPoint,
) -> Option<(&'a DataWarning, &'static str)> {
    let dropped = |field: &str| {
        ds.warnings.iter().find(|w| {
            w.point == Some(k)
                && w.field == field
                && (w.label.is_none() || w.label.as_deref() == p.label())
        })
    };
    // The statistic used is `primary` when the file had it (valid or dropped), else `fallback`.
    let used = |primary: (&str, Option<f64>), fallback: (&str, Option<f64>)| {
        if primary.1.is_some() {
            return None;
        }
        dropped(primary.0).or_else(|| fallback.1.is_none().then(|| dropped(fallback.0)).flatten())
    };
    let rate = p
        .request_rate()
        .is_none()
        .then(|| dropped("request_rate"))
        .flatten();
    // As `from_benchmark`: TTFT median, else mean; ITL mean, else median.
    let (ttft, itl) = (p.ttft(), p.itl());
    let ttft = used(("ttft.median", ttft.median()), ("ttft.mean", ttft.mean()));
    let itl = used(("itl.mean", itl.mean()), ("itl.median", itl.median()));
    [
        (rate, "the request rate"),
        (ttft, "the observed TTFT"),
        (itl, "the observed ITL"),
    ]
    .into_iter()
    .find_map(|(w, use_)| w.map(|w| (w, use_)))
}

/// The error for a dropped statistic the fit needs.
fn dropped_error(ds: &PerfDataset, w: &DataWarning, use_: &str) -> FitError {
    let file = if w.file.is_empty() {
        ds.meta.source.as_deref().unwrap_or(&ds.name)
    } else {
        &w.file
    };
    let point = match (&w.label, w.point) {
        (Some(label), Some(k)) => format!("point {k} ({label})"),
        (None, Some(k)) => format!("point {k}"),
        (Some(label), None) => format!("point {label}"),
        (None, None) => "point".to_owned(),
    };
    FitError::Core(perf_model_core::Error::OutOfRange {
        field: format!("{file}: {}, {point}: {}", w.location, w.field),
        value: w.value.clone().unwrap_or_else(|| "?".to_owned()),
        expected: format!(
            "{}; the reader dropped this statistic as broken and the fit uses it as {use_}",
            w.reason
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_model_core::{BenchmarkPointData, LatencyStats, LatencyStatsData};

    #[test]
    fn nan_rate_names_index() {
        let err = FitPoint::new(f64::NAN, 1.0, 1.0, 1.0, 1.0)
            .validate(4)
            .unwrap_err();
        assert!(
            matches!(
                err,
                FitError::InvalidPoint {
                    index: 4,
                    field: "rate_rps",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn zero_output_is_error() {
        let err = FitPoint::new(1.0, 1.0, 0.0, 1.0, 1.0)
            .validate(0)
            .unwrap_err();
        assert!(err.to_string().contains("output_tokens"), "{err}");
    }

    #[test]
    fn from_benchmark_prefers_mean_then_median() {
        let bp = BenchmarkPoint::new(BenchmarkPointData {
            request_rate: Some(2.0),
            input_tokens: 100.0,
            output_tokens: 50.0,
            ttft: LatencyStats::new(LatencyStatsData {
                median: Some(30.0),
                ..Default::default()
            })
            .unwrap(),
            itl: LatencyStats::from_mean(8.0).unwrap(),
            max_batch_size: Some(64),
            ..Default::default()
        })
        .unwrap();
        let p = FitPoint::from_benchmark(&bp, 0).unwrap();
        assert_eq!(p.ttft_ms.to_bits(), 30f64.to_bits());
        assert_eq!(p.itl_ms.to_bits(), 8f64.to_bits());
        assert_eq!(p.max_batch_size, 64);
        assert_eq!(p.max_num_tokens, 8192);
    }

    #[test]
    fn missing_itl_is_error() {
        let bp = BenchmarkPoint::new(BenchmarkPointData {
            request_rate: Some(2.0),
            input_tokens: 100.0,
            output_tokens: 50.0,
            ttft: LatencyStats::from_mean(30.0).unwrap(),
            ..Default::default()
        })
        .unwrap();
        let err = FitPoint::from_benchmark(&bp, 2).unwrap_err();
        assert!(
            matches!(
                err,
                FitError::InvalidPoint {
                    index: 2,
                    field: "itl_ms",
                    ..
                }
            ),
            "{err}"
        );
    }

    fn glitch_dataset() -> PerfDataset {
        let point = |label: &str, ttft: LatencyStatsData, itl: LatencyStatsData| {
            BenchmarkPoint::new(BenchmarkPointData {
                label: Some(label.into()),
                request_rate: Some(2.0),
                input_tokens: 100.0,
                output_tokens: 50.0,
                ttft: LatencyStats::new(ttft).unwrap(),
                itl: LatencyStats::new(itl).unwrap(),
                ..Default::default()
            })
            .unwrap()
        };
        let both = |x: f64| LatencyStatsData {
            mean: Some(x),
            median: Some(x),
            ..Default::default()
        };
        let median_only = |x: f64| LatencyStatsData {
            mean: None,
            ..both(x)
        };
        let mean_only = |x: f64| LatencyStatsData {
            median: None,
            ..both(x)
        };
        let mut ds = PerfDataset::new("g");
        ds.meta.source = Some("g.json".into());
        ds.points = vec![
            point("constant@1", median_only(20.0), both(8.0)),
            point("constant@2", both(21.0), mean_only(8.5)),
        ];
        ds
    }

    fn warning(point: Option<usize>, label: &str, field: &str, value: &str) -> DataWarning {
        DataWarning {
            file: "g.json".into(),
            location: format!("$[{}]", point.map_or(9, |k| k + 2)),
            label: Some(label.into()),
            point,
            field: field.into(),
            value: Some(value.into()),
            reason: "must be >= 0".into(),
        }
    }

    #[test]
    fn unused_dropped_statistics_do_not_matter() {
        let mut ds = glitch_dataset();
        ds.warnings = vec![
            // The throughput run the selection dropped, and a mean beside a valid median.
            warning(None, "throughput", "ttft.median", "-222574949"),
            warning(Some(0), "constant@1", "ttft.mean", "-222574949"),
            warning(Some(1), "constant@2", "itl.p99", "inf"),
        ];
        let points = points_from_datasets(&[ds]).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].ttft_ms.to_bits(), 20f64.to_bits());
    }

    #[test]
    fn a_used_dropped_statistic_is_an_error_naming_file_point_field_and_value() {
        let mut ds = glitch_dataset();
        // Point 0 has no TTFT median left: the median was broken, and the mean is not used
        // in its place.
        ds.points[0] = BenchmarkPoint::new(BenchmarkPointData {
            ttft: LatencyStats::from_mean(20.0).unwrap(),
            ..ds.points[0].data().clone()
        })
        .unwrap();
        ds.warnings = vec![warning(Some(0), "constant@1", "ttft.median", "-5")];
        let err = points_from_datasets(&[ds.clone()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.json: $[2], point 0 (constant@1): ttft.median = -5: must be >= 0; the reader \
             dropped this statistic as broken and the fit uses it as the observed TTFT"
        );
        // Point 1 has no ITL mean left: its median does not stand in for it.
        ds.warnings = vec![warning(Some(1), "constant@2", "itl.mean", "-1")];
        ds.points[0] = glitch_dataset().points[0].clone();
        ds.points[1] = BenchmarkPoint::new(BenchmarkPointData {
            itl: LatencyStats::new(LatencyStatsData {
                median: Some(8.4),
                ..Default::default()
            })
            .unwrap(),
            ..ds.points[1].data().clone()
        })
        .unwrap();
        let err = points_from_datasets(&[ds]).unwrap_err().to_string();
        assert!(
            err.starts_with("g.json: $[3], point 1 (constant@2): itl.mean = -1: must be >= 0"),
            "{err}"
        );
        assert!(err.ends_with("as the observed ITL"), "{err}");
    }
}
