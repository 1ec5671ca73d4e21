//! Helpers that turn parsed benchmark output into a [`PerformanceIndex`].

use perf_model_core::{BenchmarkPoint, PerformanceIndex, PerformanceIndexData};
use serde_json::Value;

use crate::error::Result;

/// Builds the index from a point and the success counts.
///
/// G = output throughput, TTFT/TPOT = means (ms), throughput = achieved request rate,
/// S = success / total (total 0 ⇒ S and G missing), rate = the offered rate of the pass.
///
/// # Errors
/// [`crate::NpuError::Core`] when a figure is out of range.
pub fn index_from(
    point: &BenchmarkPoint,
    success: Option<f64>,
    total: Option<f64>,
    offered_rate: Option<f64>,
) -> Result<PerformanceIndex> {
    let finite = |x: Option<f64>| x.filter(|v| v.is_finite() && *v >= 0.0);
    let s = match (success, total) {
        (Some(s), Some(t)) if t > 0.0 && s.is_finite() => Some((s / t).clamp(0.0, 1.0)),
        _ => None,
    };
    let empty = matches!(total, Some(t) if t <= 0.0);
    Ok(PerformanceIndex::new(PerformanceIndexData {
        output_throughput: if empty {
            None
        } else {
            finite(point.output_throughput())
        },
        request_throughput: finite(point.request_rate()),
        request_rate: offered_rate.filter(|r| r.is_finite() && *r > 0.0),
        ttft_ms: finite(point.ttft().mean()),
        tpot_ms: finite(point.tpot().mean()),
        ttft_p99_ms: finite(point.ttft().p99()),
        success_rate: s,
    })?)
}

/// A number from a JSON value: a number, or a string with an optional unit suffix.
#[must_use]
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            let end = t
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
                .unwrap_or(t.len());
            t[..end].parse().ok()
        }
        _ => None,
    }
}

/// An AISBench common metric (`{metric: {stage: value}}`), key matched ignoring case and
/// spacing; stage `total`, else `stable`, else the first.
#[must_use]
pub fn aisbench_metric(root: &Value, names: &[&str]) -> Option<f64> {
    let norm = |k: &str| {
        k.split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let obj = root.as_object()?;
    for name in names {
        let want = norm(name);
        let Some((_, v)) = obj.iter().find(|(k, _)| norm(k) == want) else {
            continue;
        };
        let x = match v {
            Value::Object(stages) => stages
                .get("total")
                .or_else(|| stages.get("stable"))
                .or_else(|| stages.values().next())
                .and_then(number),
            other => number(other),
        };
        if x.is_some() {
            return x;
        }
    }
    None
}
