//! A tuning run (`results.jsonl` of `llm-perf tune`): the cost per iteration with the best
//! so far, and the Pareto front of output throughput against p99 TTFT, coloured by TPOT.

use llm_perf::pso::{Record, pareto_front};
use serde_json::json;

use super::{Axis, Chart, Series, Style, xy_chart};

/// Reads `results.jsonl`: one record per line (blank lines skipped).
///
/// # Errors
/// A message naming the file and line of a record that does not parse.
pub fn read_results_jsonl(text: &str, file: &str) -> Result<Vec<Record>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Record>(l)
                .map_err(|e| format!("{file}: line {}: not a tuning record: {e}", i + 1))
        })
        .collect()
}

/// The record with the lowest cost (ties: the first).
#[must_use]
pub fn best(records: &[Record]) -> Option<&Record> {
    records
        .iter()
        .filter(|r| r.fitness.is_finite())
        .min_by(|a, b| a.fitness.total_cmp(&b.fitness))
}

/// The convergence and Pareto charts.
#[must_use]
pub fn tune_charts(records: &[Record]) -> Vec<Chart> {
    let mut best_so_far = Vec::new();
    let mut running = f64::INFINITY;
    let last = records.iter().map(|r| r.iteration).max().unwrap_or(0);
    for it in 0..=last {
        for r in records.iter().filter(|r| r.iteration == it) {
            if r.fitness.is_finite() {
                running = running.min(r.fitness);
            }
        }
        if running.is_finite() {
            best_so_far.push([it as f64, running]);
        }
    }
    let each: Vec<[f64; 2]> = records
        .iter()
        .filter(|r| r.fitness.is_finite() && !r.cached)
        .map(|r| [r.iteration as f64, r.fitness])
        .collect();
    let convergence = xy_chart(
        "tune-convergence",
        "Cost per iteration",
        &Axis::new("iteration", "").linear(),
        &Axis::new("cost", "lower is better"),
        vec![
            Series::new("best so far", Style::Line, best_so_far),
            Series::new("each evaluation", Style::Scatter, each),
        ],
        &[],
    );
    let point = |r: &Record| -> Option<[f64; 3]> {
        let i = r.index.as_ref()?;
        Some([
            i.output_throughput()?,
            i.ttft_p99_ms().or_else(|| i.ttft_ms())?,
            i.tpot_ms()?,
        ])
    };
    let evaluated: Vec<[f64; 3]> = records
        .iter()
        .filter(|r| !r.cached)
        .filter_map(point)
        .collect();
    let front: Vec<[f64; 3]> = pareto_front(records)
        .into_iter()
        .filter_map(|i| point(&records[i]))
        .collect();
    let xy = |v: &[[f64; 3]]| v.iter().map(|p| [p[0], p[1]]).collect::<Vec<_>>();
    let mut pareto = xy_chart(
        "tune-pareto",
        "Pareto front: throughput against p99 TTFT (colour: TPOT)",
        &Axis::new("output throughput", "tok/s"),
        &Axis::new("p99 TTFT", "ms"),
        vec![
            Series::new("evaluated", Style::Scatter, xy(&evaluated)),
            Series::new("Pareto front", Style::Marker, xy(&front)),
        ],
        &[],
    );
    // Colour by TPOT: a third value per point and a visual map over it. The series were
    // filtered for the axes; rebuild their data from the same points in the same order.
    let (lo, hi) = evaluated
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[2]), hi.max(p[2]))
        });
    if lo.is_finite() {
        let log = |axis: &str| pareto.option[axis]["type"] == "log";
        let (x_log, y_log) = (log("xAxis"), log("yAxis"));
        // What `xy_chart` kept: finite values, and positive ones on a log axis.
        let with_tpot = |v: &[[f64; 3]]| -> Vec<serde_json::Value> {
            v.iter()
                .filter(|p| p.iter().all(|x| x.is_finite()))
                .filter(|p| (!x_log || p[0] > 0.0) && (!y_log || p[1] > 0.0))
                .map(|p| json!([p[0], p[1], p[2]]))
                .collect()
        };
        let (evaluated, front) = (with_tpot(&evaluated), with_tpot(&front));
        pareto.option["series"][0]["data"] = json!(evaluated);
        pareto.option["series"][1]["data"] = json!(front);
        pareto.option["visualMap"] = json!({
            "type": "continuous",
            "dimension": 2,
            "min": lo,
            "max": if hi > lo { hi } else { lo + 1e-9 },
            "calculable": true,
            "precision": 3,
            "text": ["TPOT ms (high)", "low"],
            "right": 0,
            "top": "middle",
            "seriesIndex": [0, 1],
            "inRange": {"color": ["#2c7bb6", "#abd9e9", "#fdae61", "#d7191c"]},
        });
        pareto.option["grid"]["right"] = json!(110);
    }
    vec![convergence, pareto]
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values in, exact values out
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_draws_the_front() {
        let line = |it: usize, p: usize, g: f64, ttft: f64, tpot: f64, cost: f64| {
            format!(
                r#"{{"iteration":{it},"particle":{p},"position":[0.5],"config":{{"MAX_NUM_SEQS":{p}}},"index":{{"output_throughput":{g},"request_throughput":1.0,"ttft_ms":{ttft},"tpot_ms":{tpot},"ttft_p99_ms":{ttft},"success_rate":1.0}},"error":null,"fitness":{cost},"duration_s":null,"real":true,"cached":false}}"#
            )
        };
        let text = [
            line(0, 0, 100.0, 50.0, 10.0, 3.0),
            line(0, 1, 200.0, 80.0, 12.0, 2.0),
            line(1, 0, 150.0, 90.0, 11.0, 2.5), // dominated by particle 1 of iteration 0
            String::new(),
            line(1, 1, 250.0, 40.0, 9.0, 1.0),
        ]
        .join("\n");
        let records = read_results_jsonl(&text, "results.jsonl").unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(best(&records).unwrap().fitness, 1.0);
        let charts = tune_charts(&records);
        assert_eq!(
            charts[0].option["series"][0]["data"],
            json!([[0.0, 2.0], [1.0, 1.0]])
        );
        // The last record dominates every other one: it alone is on the front.
        assert_eq!(
            charts[1].option["series"][1]["data"],
            json!([[250.0, 40.0, 9.0]])
        );
        assert_eq!(
            charts[1].option["series"][0]["data"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(charts[1].option["visualMap"]["min"], 9.0);
        let err = read_results_jsonl("{\"iteration\": 0}\n", "r.jsonl").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
