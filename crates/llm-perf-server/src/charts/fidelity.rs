//! Charts of a validation: simulated against measured, one parity chart per metric.

use llm_perf::validate::ValidationReport;

use super::{Axis, Chart, Series, Style, xy_chart};

/// The metrics charted and their titles.
const CHARTED: [(&str, &str); 3] = [
    ("ttft_mean", "TTFT mean"),
    ("itl", "ITL"),
    ("e2e_mean", "E2E mean"),
];

/// One parity chart per metric (x measured, y simulated, the diagonal y = x): runs that were
/// not overloaded and overloaded ones as two series.
#[must_use]
pub fn parity_charts(report: &ValidationReport) -> Vec<Chart> {
    CHARTED
        .iter()
        .filter_map(|(key, title)| {
            let pts = |overloaded: bool| -> Vec<[f64; 2]> {
                report
                    .runs
                    .iter()
                    .filter(|r| r.overloaded == overloaded)
                    .filter_map(|r| r.metrics.get(*key).map(|c| [c.real, c.sim]))
                    .collect()
            };
            let (ok, bad) = (pts(false), pts(true));
            let all: Vec<f64> = ok.iter().chain(&bad).flat_map(|p| [p[0], p[1]]).collect();
            if all.is_empty() {
                return None;
            }
            let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = all.iter().copied().fold(0.0_f64, f64::max);
            let mut series = vec![
                Series::new("y = x", Style::Curve, vec![[lo, lo], [hi, hi]]),
                Series::new("runs", Style::Scatter, ok),
            ];
            if !bad.is_empty() {
                series.push(Series::new("overloaded runs", Style::Marker, bad));
            }
            Some(xy_chart(
                &format!("parity-{key}"),
                &format!("{title}: simulated vs measured"),
                &Axis::new(format!("measured {title}"), "ms"),
                &Axis::new(format!("simulated {title}"), "ms"),
                series,
                &[],
            ))
        })
        .collect()
}
