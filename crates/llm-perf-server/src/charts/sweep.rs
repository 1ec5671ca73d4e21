//! Benchmark sweeps: TTFT, ITL / TPOT, E2E and throughput against the load (request rate,
//! else concurrency), one series per sweep and statistic.

use llm_perf::model::PerfDataset;

use super::{Axis, Chart, Series, Style, xy_chart};
use crate::store::ParsedPoint;

/// One sweep to draw: its name and points.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Legend name.
    pub name: String,
    /// The points.
    pub points: Vec<ParsedPoint>,
}

impl Sweep {
    /// The sweeps of read data sets (as `llm-perf read` gives them).
    #[must_use]
    pub fn from_datasets(datasets: &[PerfDataset]) -> Vec<Self> {
        datasets
            .iter()
            .map(|ds| Self {
                name: if ds.name.is_empty() {
                    ds.meta.source.clone().unwrap_or_else(|| "sweep".to_owned())
                } else {
                    ds.name.clone()
                },
                points: ds
                    .points
                    .iter()
                    .map(crate::store::upload::parsed_point)
                    .collect(),
            })
            .collect()
    }
}

/// The load axis of a set of sweeps: request rate when every point has one, else
/// concurrency when every point has that, else the point's position.
/// The load of a point (given its position in the sweep).
type LoadOf = fn(&ParsedPoint, usize) -> Option<f64>;

fn load_of(sweeps: &[Sweep]) -> (Axis, LoadOf) {
    let all = |f: fn(&ParsedPoint) -> Option<f64>| {
        sweeps
            .iter()
            .flat_map(|s| &s.points)
            .all(|p| f(p).is_some())
    };
    if all(|p| p.request_rate) {
        (Axis::new("request rate", "req/s"), |p, _| p.request_rate)
    } else if all(|p| p.concurrency) {
        (Axis::new("concurrency", "requests"), |p, _| p.concurrency)
    } else {
        (Axis::new("point", "").linear(), |_, i| Some(i as f64 + 1.0))
    }
}

/// The charts of `sweeps` (TTFT, ITL / TPOT, E2E, throughput; one the files have no
/// statistic for is left out); `prefix` makes the element ids unique on a page.
#[must_use]
pub fn sweep_charts(prefix: &str, sweeps: &[Sweep]) -> Vec<Chart> {
    let (x_axis, load) = load_of(sweeps);
    let series = |stats: &[(&str, &str, Style)]| -> Vec<Series> {
        let mut out = Vec::new();
        for s in sweeps {
            for (stat, label, style) in stats {
                let mut pts: Vec<[f64; 2]> = s
                    .points
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| Some([load(p, i)?, *p.stats.get(*stat)?]))
                    .collect();
                // Lines join points in load order (files list them in run order); a sweep
                // with several shapes at one load (Together CSVs) is drawn as points.
                pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
                let repeats = pts.windows(2).any(|w| w[0][0].total_cmp(&w[1][0]).is_eq());
                let style = if repeats { Style::Scatter } else { *style };
                if !pts.is_empty() {
                    out.push(Series::new(format!("{} {label}", s.name), style, pts));
                }
            }
        }
        out
    };
    let ms = |name: &str| Axis::new(name, "ms");
    let charts = vec![
        xy_chart(
            &format!("{prefix}-ttft"),
            "Time to first token",
            &x_axis,
            &ms("TTFT"),
            series(&[
                ("ttft_mean", "mean", Style::Line),
                ("ttft_p99", "p99", Style::Line),
            ]),
            &[],
        ),
        xy_chart(
            &format!("{prefix}-itl"),
            "Inter-token latency / time per output token",
            &x_axis,
            &ms("ITL / TPOT"),
            series(&[
                ("itl_mean", "ITL mean", Style::Line),
                ("tpot_mean", "TPOT mean", Style::Line),
            ]),
            &[],
        ),
        xy_chart(
            &format!("{prefix}-e2e"),
            "End-to-end latency",
            &x_axis,
            &ms("E2E"),
            series(&[
                ("e2e_mean", "mean", Style::Line),
                ("e2e_p99", "p99", Style::Line),
            ]),
            &[],
        ),
        xy_chart(
            &format!("{prefix}-throughput"),
            "Output throughput",
            &x_axis,
            &Axis::new("throughput", "output tok/s"),
            series(&[("throughput", "", Style::Line)]),
            &[],
        ),
    ];
    charts.into_iter().filter(|c| c.points > 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rate: f64, ttft: f64) -> ParsedPoint {
        let mut p = ParsedPoint {
            request_rate: Some(rate),
            input_tokens: 100.0,
            output_tokens: 50.0,
            ..ParsedPoint::default()
        };
        p.stats.insert("ttft_mean".into(), ttft);
        p.stats.insert("throughput".into(), 10.0 * rate);
        p
    }

    #[test]
    fn one_series_per_sweep_and_statistic_present() {
        let sweeps = vec![
            Sweep {
                name: "a".into(),
                points: vec![point(1.0, 20.0), point(2.0, 25.0), point(3.0, 40.0)],
            },
            Sweep {
                name: "b".into(),
                points: vec![point(1.5, 22.0)],
            },
        ];
        let charts = sweep_charts("m", &sweeps);
        // No ITL / TPOT statistic: that chart is left out.
        let ids: Vec<&str> = charts.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["m-ttft", "m-throughput"]);
        assert_eq!(charts[0].points, 4);
        assert_eq!(charts[0].option["series"].as_array().unwrap().len(), 2);
        assert_eq!(charts[0].option["xAxis"]["name"], "request rate (req/s)");
        assert_eq!(
            charts[0].option["series"][0]["data"][2],
            serde_json::json!([3.0, 40.0])
        );
        assert_eq!(charts[0].option["series"][0]["type"], "line");
        assert_eq!(charts[1].points, 4);
    }
}
