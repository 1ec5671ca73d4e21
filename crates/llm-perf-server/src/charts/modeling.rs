//! The Benchmark Modeling Tool's view: a metric of the fitted surface against input tokens at
//! the chosen output length, and against output tokens at the chosen input length, with the
//! measured points and the query.

use llm_perf::predict::together::{BenchmarkRow, BenchmarkStore, EstimateQuery};

use super::{Axis, Chart, RefLine, Series, Style, xy_chart};

/// Points of each fitted curve.
const CURVE_POINTS: usize = 41;

/// Charts of TTFT, E2E and throughput for `model` around `query`: two per metric (against
/// input tokens, against output tokens). Metrics the rows lack are left out.
///
/// # Errors
/// The estimate's error when the query cannot be answered from the rows.
pub fn modeling_charts(
    rows: &[BenchmarkRow],
    model: &str,
    query: &EstimateQuery,
) -> Result<Vec<Chart>, llm_perf::predict::PredictError> {
    let mut store = BenchmarkStore::new();
    store.add_rows(rows.iter().cloned());
    let at_query = store.estimate(model, query)?;
    let range = |f: fn(&BenchmarkRow) -> f64, q: f64| {
        let (lo, hi) = rows
            .iter()
            .map(f)
            .fold((q, q), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let lo = (lo * 0.9).max(1.0);
        let hi = hi * 1.1;
        (0..CURVE_POINTS)
            .map(|i| lo + (hi - lo) * i as f64 / (CURVE_POINTS - 1) as f64)
            .collect::<Vec<f64>>()
    };
    let inputs = range(|r| r.input_avg_len, query.input_tokens);
    let outputs = range(|r| r.output_avg_len, query.output_tokens);
    let curve = |vary_input: bool, metric: &str| -> Vec<[f64; 2]> {
        let xs = if vary_input { &inputs } else { &outputs };
        xs.iter()
            .filter_map(|&x| {
                let q = EstimateQuery {
                    input_tokens: if vary_input { x } else { query.input_tokens },
                    output_tokens: if vary_input { query.output_tokens } else { x },
                    ..*query
                };
                let e = store.estimate(model, &q).ok()?;
                Some([x, *e.predictions.get(metric)?])
            })
            .collect()
    };
    let mut charts = Vec::new();
    for (metric, title, axis) in [
        ("ttft_mean", "TTFT (mean)", Axis::new("TTFT", "ms")),
        ("e2e_mean", "E2E latency (mean)", Axis::new("E2E", "ms")),
        ("throughput", "Throughput", Axis::new("throughput", "tok/s")),
    ] {
        let Some(&predicted) = at_query.predictions.get(metric) else {
            continue;
        };
        for vary_input in [true, false] {
            let (x_axis, fixed) = if vary_input {
                (
                    Axis::new("input tokens", "tokens"),
                    format!("at {} output tokens", query.output_tokens),
                )
            } else {
                (
                    Axis::new("output tokens", "tokens"),
                    format!("at {} input tokens", query.input_tokens),
                )
            };
            let measured: Vec<[f64; 2]> = rows
                .iter()
                .filter_map(|r| {
                    let x = if vary_input {
                        r.input_avg_len
                    } else {
                        r.output_avg_len
                    };
                    Some([x, *r.metrics.get(metric)?])
                })
                .collect();
            let q_x = if vary_input {
                query.input_tokens
            } else {
                query.output_tokens
            };
            let id = format!(
                "modeling-{metric}-{}",
                if vary_input { "input" } else { "output" }
            );
            charts.push(xy_chart(
                &id,
                &format!("{title} {fixed}"),
                &x_axis.linear(),
                &axis.clone().linear(),
                vec![
                    Series::new("fitted", Style::Curve, curve(vary_input, metric)),
                    Series::new("measured (every shape)", Style::Scatter, measured),
                    Series::new("prediction", Style::Marker, vec![[q_x, predicted]]),
                ],
                &[RefLine {
                    name: "query".to_owned(),
                    vertical: true,
                    value: q_x,
                }],
            ));
        }
    }
    Ok(charts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(input: f64, output: f64, ttft: f64) -> BenchmarkRow {
        BenchmarkRow {
            benchmark_id: "b".into(),
            model: "m".into(),
            traffic_level: None,
            input_avg_len: input,
            output_avg_len: output,
            metrics: BTreeMap::from([
                ("ttft_mean".to_owned(), ttft),
                ("user_tps_mean".to_owned(), 50.0),
            ]),
        }
    }

    #[test]
    fn fitted_curve_passes_through_the_prediction() {
        // TTFT = 100 + 0.1·in exactly: the linear fit recovers it.
        let rows = vec![
            row(500.0, 100.0, 150.0),
            row(1000.0, 200.0, 200.0),
            row(2000.0, 100.0, 300.0),
            row(1500.0, 400.0, 250.0),
        ];
        let q = EstimateQuery::new(1200.0, 150.0);
        let charts = modeling_charts(&rows, "m", &q).unwrap();
        // TTFT and E2E (mechanistic from TTFT and user tok/s); no throughput column.
        assert_eq!(charts.len(), 4);
        let c = &charts[0];
        assert_eq!(c.id, "modeling-ttft_mean-input");
        let fitted = c.option["series"][0]["data"].as_array().unwrap();
        assert_eq!(fitted.len(), CURVE_POINTS);
        for p in fitted {
            let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
            assert!((y - (100.0 + 0.1 * x)).abs() < 1e-6, "{x} {y}");
        }
        let marker = &c.option["series"][2]["data"][0];
        assert!((marker[1].as_f64().unwrap() - 220.0).abs() < 1e-6);
        assert_eq!(c.points, CURVE_POINTS + 4 + 1);
    }
}
