//! A tuning run (`results.jsonl` of `llm-perf tune`): the cost per iteration with the best
//! so far, and the Pareto front of output throughput against p99 TTFT, coloured by TPOT.

use llm_perf::pso::{Record, pareto_front};
use serde_json::json;

use super::{Axis, Chart, Series, Style, xy_chart};

/// Colours of the TPOT bands, low to high (ColorBrewer RdYlBu, reversed).
const TPOT_COLOURS: [&str; 4] = ["#2c7bb6", "#74add1", "#fdae61", "#d7191c"];

/// `TPOT lo–hi ms` with as many digits as tell the ends apart (3 to 8 significant).
fn band_label(lo: f64, hi: f64) -> String {
    let (mut a, mut b) = (short(lo, 3), short(hi, 3));
    for digits in 4..=8 {
        if a != b || lo.total_cmp(&hi).is_eq() {
            break;
        }
        (a, b) = (short(lo, digits), short(hi, digits));
    }
    format!("TPOT {a}–{b} ms")
}

/// `digits` significant digits, no trailing zeros.
fn short(v: f64, digits: i32) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let decimals =
        usize::try_from((digits - 1 - v.abs().log10().floor() as i32).max(0)).unwrap_or(0);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

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

/// The measured record with the lowest cost (ties: the first); a surrogate's prediction is
/// never the best.
#[must_use]
pub fn best(records: &[Record]) -> Option<&Record> {
    records
        .iter()
        .filter(|r| r.fitness.is_finite() && !llm_perf::pso::is_predicted(r))
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
            if r.fitness.is_finite() && !llm_perf::pso::is_predicted(r) {
                running = running.min(r.fitness);
            }
        }
        if running.is_finite() {
            best_so_far.push([it as f64, running]);
        }
    }
    let each: Vec<[f64; 2]> = records
        .iter()
        .filter(|r| r.fitness.is_finite() && !r.cached && !llm_perf::pso::is_predicted(r))
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
    // Colour by TPOT: the evaluated points in four TPOT bands (quartiles), each a series with
    // its colour and range in the legend (the common ECharts build has no visual map).
    let mut tpots: Vec<f64> = evaluated
        .iter()
        .map(|p| p[2])
        .filter(|t| t.is_finite())
        .collect();
    tpots.sort_by(f64::total_cmp);
    let quantile = |q: f64| -> f64 {
        tpots
            .get(((tpots.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let edges = [
        quantile(0.0),
        quantile(0.25),
        quantile(0.5),
        quantile(0.75),
        quantile(1.0),
    ];
    let mut series = Vec::new();
    let mut colours = Vec::new();
    for band in 0..4 {
        let (lo, hi) = (edges[band], edges[band + 1]);
        if band > 0 && lo.total_cmp(&edges[band - 1]).is_eq() && hi.total_cmp(&lo).is_eq() {
            continue;
        }
        let pts: Vec<[f64; 2]> = evaluated
            .iter()
            .filter(|p| {
                let in_band = if band == 0 { p[2] >= lo } else { p[2] > lo };
                in_band && p[2] <= hi
            })
            .map(|p| [p[0], p[1]])
            .collect();
        if pts.is_empty() {
            continue;
        }
        series.push(Series::new(band_label(lo, hi), Style::Scatter, pts));
        colours.push(TPOT_COLOURS[band]);
    }
    series.push(Series::new(
        "Pareto front",
        Style::Marker,
        front.iter().map(|p| [p[0], p[1]]).collect(),
    ));
    let mut pareto = xy_chart(
        "tune-pareto",
        "Pareto front: throughput against p99 TTFT, coloured by TPOT",
        &Axis::new("output throughput", "tok/s"),
        &Axis::new("p99 TTFT", "ms"),
        series,
        &[],
    );
    if let Some(list) = pareto.option["series"].as_array_mut() {
        for (s, colour) in list.iter_mut().zip(&colours) {
            s["itemStyle"] = json!({ "color": colour });
        }
        if let Some(front) = list.last_mut() {
            front["itemStyle"] =
                json!({"color": "rgba(0,0,0,0)", "borderColor": "#d7191c", "borderWidth": 2});
        }
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
        let series = charts[1].option["series"].as_array().unwrap();
        assert_eq!(series.last().unwrap()["data"], json!([[250.0, 40.0]]));
        // Four evaluations in TPOT bands: 9, 10, 11, 12 ms.
        let banded: usize = series[..series.len() - 1]
            .iter()
            .map(|s| s["data"].as_array().unwrap().len())
            .sum();
        assert_eq!(banded, 4);
        assert_eq!(series[0]["name"], "TPOT 9–10 ms");
        assert_eq!(short(10.3791, 3), "10.4");
        assert_eq!(short(0.012345, 3), "0.0123");
        assert_eq!(band_label(10.391, 10.422), "TPOT 10.39–10.42 ms");
        assert_eq!(charts[1].points, 5);
        let err = read_results_jsonl("{\"iteration\": 0}\n", "r.jsonl").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
