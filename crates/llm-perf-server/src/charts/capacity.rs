//! Capacity: how well a fitted Inferno model reproduces the measured sweep, and TTFT / ITL
//! against the arrival rate per replica with the SLO lines.

use llm_perf::fit::FitReport;
use llm_perf::model::inferno::Analyzer;

use super::{Axis, Chart, RefLine, Series, Style, xy_chart};

/// Rates per curve.
const CURVE_POINTS: usize = 60;

/// Measured against predicted TTFT and ITL over the fitted points' rates.
#[must_use]
pub fn fit_charts(report: &FitReport) -> Vec<Chart> {
    let rate = Axis::new("request rate", "req/s");
    let pick = |f: fn(&llm_perf::fit::PointReport) -> f64| -> Vec<[f64; 2]> {
        let mut v: Vec<[f64; 2]> = report.points.iter().map(|p| [p.rate_rps, f(p)]).collect();
        v.sort_by(|a, b| a[0].total_cmp(&b[0]));
        v
    };
    vec![
        xy_chart(
            "fit-ttft",
            "TTFT: measured and fitted model",
            &rate,
            &Axis::new("TTFT", "ms"),
            vec![
                Series::new("measured", Style::Scatter, pick(|p| p.obs_ttft_ms)),
                Series::new("model", Style::Line, pick(|p| p.pred_ttft_ms)),
            ],
            &[],
        ),
        xy_chart(
            "fit-itl",
            "ITL: measured and fitted model",
            &rate,
            &Axis::new("ITL", "ms"),
            vec![
                Series::new("measured", Style::Scatter, pick(|p| p.obs_itl_ms)),
                Series::new("model", Style::Line, pick(|p| p.pred_itl_ms)),
            ],
            &[],
        ),
    ]
}

/// TTFT and ITL of one replica against its arrival rate, up to just below its capacity, with
/// the targets as horizontal lines and the sized rate as a vertical one.
///
/// # Errors
/// The analyzer's error when even a small rate cannot be solved.
pub fn rate_curves(
    analyzer: &Analyzer,
    target_ttft: Option<f64>,
    target_itl: Option<f64>,
    sized_rate: Option<f64>,
) -> Result<Vec<Chart>, llm_perf::model::Error> {
    let probe = analyzer.solve(1e-6)?;
    let max = probe.max_rate_rps;
    let mut ttft = Vec::with_capacity(CURVE_POINTS);
    let mut itl = Vec::with_capacity(CURVE_POINTS);
    for i in 1..=CURVE_POINTS {
        let rate = max * 0.98 * i as f64 / CURVE_POINTS as f64;
        if let Ok(a) = analyzer.solve(rate) {
            ttft.push([rate, a.ttft_ms]);
            itl.push([rate, a.itl_ms]);
        }
    }
    let rate_axis = Axis::new("request rate per replica", "req/s").linear();
    let refs = |target: Option<f64>| {
        let mut v = Vec::new();
        if let Some(t) = target {
            v.push(RefLine {
                name: "SLO".to_owned(),
                vertical: false,
                value: t,
            });
        }
        if let Some(r) = sized_rate {
            v.push(RefLine {
                name: "max rate under SLO".to_owned(),
                vertical: true,
                value: r,
            });
        }
        v
    };
    Ok(vec![
        xy_chart(
            "capacity-ttft",
            "TTFT against rate (one replica)",
            &rate_axis,
            &Axis::new("TTFT", "ms"),
            vec![Series::new("model", Style::Curve, ttft)],
            &refs(target_ttft),
        ),
        xy_chart(
            "capacity-itl",
            "ITL against rate (one replica)",
            &rate_axis,
            &Axis::new("ITL", "ms"),
            vec![Series::new("model", Style::Curve, itl)],
            &refs(target_itl),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use llm_perf::model::inferno::{QueueConfig, QueueModel, RequestShape, ServiceParams};

    #[test]
    fn curves_rise_towards_capacity_with_the_slo_drawn() {
        let analyzer = Analyzer::new(
            QueueModel::V7,
            ServiceParams::new(12.0, 0.05, 5e-4).unwrap(),
            RequestShape::new(128.0, 512.0).unwrap(),
            QueueConfig::new(48, 48).unwrap(),
        )
        .unwrap();
        let charts = rate_curves(&analyzer, Some(200.0), Some(25.0), Some(2.5)).unwrap();
        let itl = charts[1].option["series"][0]["data"].as_array().unwrap();
        assert!(itl.len() > CURVE_POINTS / 2);
        let first = itl[0][1].as_f64().unwrap();
        let last = itl[itl.len() - 1][1].as_f64().unwrap();
        assert!(last > first, "{first} {last}");
        let lines = charts[1].option["series"][0]["markLine"]["data"]
            .as_array()
            .unwrap();
        assert_eq!(lines[0]["yAxis"], 25.0);
        assert_eq!(lines[1]["xAxis"], 2.5);
    }
}
