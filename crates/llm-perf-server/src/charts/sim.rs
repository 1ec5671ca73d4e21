//! A simulation's output: latency CDFs from `requests.csv`, and batch size, waiting requests
//! and KV-cache blocks in use over time from `steps.csv` (`perf-sim`'s CSV layouts).

use std::collections::BTreeMap;

use super::{Axis, CDF_POINTS, Chart, Series, Style, cdf, xy_chart};

/// Replicas drawn one by one in the over-time charts; the steps of the others share one series.
const MAX_REPLICA_SERIES: usize = 8;

/// The columns of `requests.csv` the charts read, per completed request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestLatencies {
    /// TTFT, ms.
    pub ttft_ms: Vec<f64>,
    /// Mean time per output token of each request, ms.
    pub tpot_ms: Vec<f64>,
    /// Longest gap between two tokens of each request, ms.
    pub itl_max_ms: Vec<f64>,
    /// End-to-end latency, ms.
    pub e2e_ms: Vec<f64>,
}

/// One step row of `steps.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepRow {
    /// Replica.
    pub replica: u32,
    /// Step start, s.
    pub start_s: f64,
    /// Requests running in the step (the batch).
    pub running: f64,
    /// Requests waiting.
    pub waiting: f64,
    /// KV-cache blocks in use.
    pub kv_blocks: f64,
}

/// A CSV reader over `bytes` and the positions of the `names` columns (in that order).
fn open_csv<'b, const N: usize>(
    bytes: &'b [u8],
    file: &str,
    names: [&str; N],
) -> Result<(csv::Reader<&'b [u8]>, [usize; N]), String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("{file}: {e}"))?
        .clone();
    let mut cols = [0; N];
    for (slot, name) in cols.iter_mut().zip(names) {
        *slot = headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{file}: no `{name}` column"))?;
    }
    Ok((reader, cols))
}

/// Reads the completed requests' latencies of a `requests.csv`.
///
/// # Errors
/// A message naming the file, line and column of a malformed row.
pub fn read_requests_csv(bytes: &[u8], file: &str) -> Result<RequestLatencies, String> {
    let (mut reader, [status, ttft, tpot, itl, e2e]) = open_csv(
        bytes,
        file,
        [
            "status",
            "ttft_ms",
            "tpot_ms",
            "itl_max_ms",
            "e2e_latency_ms",
        ],
    )?;
    let mut out = RequestLatencies::default();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{file}: {e}"))?;
        if record.get(status) != Some("completed") {
            continue;
        }
        let num = |c: usize, name: &str| -> Result<Option<f64>, String> {
            let cell = record.get(c).unwrap_or("");
            if cell.is_empty() {
                return Ok(None);
            }
            cell.parse::<f64>().map(Some).map_err(|_| {
                format!(
                    "{file}: line {}: column `{name}`: `{cell}` is not a number",
                    i + 2
                )
            })
        };
        let push = |v: Option<f64>, to: &mut Vec<f64>| {
            if let Some(v) = v {
                to.push(v);
            }
        };
        push(num(ttft, "ttft_ms")?, &mut out.ttft_ms);
        push(num(tpot, "tpot_ms")?, &mut out.tpot_ms);
        push(num(itl, "itl_max_ms")?, &mut out.itl_max_ms);
        push(num(e2e, "e2e_latency_ms")?, &mut out.e2e_ms);
    }
    Ok(out)
}

/// Reads the rows of a `steps.csv`.
///
/// # Errors
/// A message naming the file, line and column of a malformed row.
pub fn read_steps_csv(bytes: &[u8], file: &str) -> Result<Vec<StepRow>, String> {
    let (mut reader, [replica, start, running, waiting, kv]) = open_csv(
        bytes,
        file,
        [
            "replica_id",
            "start",
            "running",
            "waiting",
            "kv_blocks_used",
        ],
    )?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{file}: {e}"))?;
        let num = |c: usize, name: &str| -> Result<f64, String> {
            let cell = record.get(c).unwrap_or("");
            cell.parse::<f64>().map_err(|_| {
                format!(
                    "{file}: line {}: column `{name}`: `{cell}` is not a number",
                    i + 2
                )
            })
        };
        out.push(StepRow {
            replica: num(replica, "replica_id")? as u32,
            start_s: num(start, "start")?,
            running: num(running, "running")?,
            waiting: num(waiting, "waiting")?,
            kv_blocks: num(kv, "kv_blocks_used")?,
        });
    }
    Ok(out)
}

/// Latency CDFs: TTFT, TPOT and the longest inter-token gap, E2E.
#[must_use]
pub fn latency_cdfs(lat: &RequestLatencies) -> Vec<Chart> {
    let fraction = Axis::new("fraction of requests ≤ x", "").linear();
    let one = |id: &str, title: &str, axis: &str, series: Vec<(&str, &Vec<f64>)>| {
        xy_chart(
            id,
            title,
            &Axis::new(axis, "ms"),
            &fraction,
            series
                .into_iter()
                .map(|(name, v)| Series::new(name, Style::Step, cdf(v, CDF_POINTS)))
                .collect(),
            &[],
        )
    };
    vec![
        one(
            "sim-ttft-cdf",
            "TTFT distribution",
            "TTFT",
            vec![("TTFT", &lat.ttft_ms)],
        ),
        one(
            "sim-itl-cdf",
            "Inter-token latency distribution (per request)",
            "ITL",
            vec![
                ("mean ITL (TPOT)", &lat.tpot_ms),
                ("longest gap", &lat.itl_max_ms),
            ],
        ),
        one(
            "sim-e2e-cdf",
            "End-to-end latency distribution",
            "E2E",
            vec![("E2E", &lat.e2e_ms)],
        ),
    ]
}

/// Batch size, waiting requests and KV blocks in use over time, per replica (the first
/// eight; the steps of the others share one series).
#[must_use]
pub fn step_charts(steps: &[StepRow]) -> Vec<Chart> {
    let mut by_replica: BTreeMap<u32, Vec<&StepRow>> = BTreeMap::new();
    for s in steps {
        by_replica.entry(s.replica).or_default().push(s);
    }
    let many = by_replica.len() > MAX_REPLICA_SERIES;
    let series = |f: fn(&StepRow) -> f64| -> Vec<Series> {
        let mut out: Vec<Series> = by_replica
            .iter()
            .take(MAX_REPLICA_SERIES)
            .map(|(r, rows)| {
                Series::new(
                    format!("replica {r}"),
                    Style::Curve,
                    rows.iter().map(|s| [s.start_s, f(s)]).collect(),
                )
            })
            .collect();
        if many {
            let rest: Vec<[f64; 2]> = by_replica
                .iter()
                .skip(MAX_REPLICA_SERIES)
                .flat_map(|(_, rows)| rows.iter().map(|s| [s.start_s, f(s)]))
                .collect();
            out.push(Series::new(
                format!("replicas {}+ (each step)", MAX_REPLICA_SERIES),
                Style::Scatter,
                rest,
            ));
        }
        out
    };
    let time = Axis::new("simulated time", "s").linear();
    vec![
        xy_chart(
            "sim-batch",
            "Batch size over time",
            &time,
            &Axis::new("running requests", "requests").linear(),
            series(|s| s.running),
            &[],
        ),
        xy_chart(
            "sim-kv",
            "KV cache in use over time",
            &time,
            &Axis::new("KV blocks in use", "blocks").linear(),
            series(|s| s.kv_blocks),
            &[],
        ),
        xy_chart(
            "sim-waiting",
            "Waiting requests over time",
            &time,
            &Axis::new("waiting requests", "requests").linear(),
            series(|s| s.waiting),
            &[],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_perf_sim_layouts_and_skips_unfinished() {
        let requests = "request_id,status,ttft_ms,tpot_ms,e2e_latency_ms,itl_max_ms\n\
                        1,completed,10.5,8.0,500.0,20.0\n2,rejected,,,,\n3,completed,12.0,8.5,650.0,22.5\n";
        let lat = read_requests_csv(requests.as_bytes(), "requests.csv").unwrap();
        assert_eq!(lat.ttft_ms, vec![10.5, 12.0]);
        assert_eq!(lat.e2e_ms, vec![500.0, 650.0]);
        let charts = latency_cdfs(&lat);
        assert_eq!(charts.len(), 3);
        assert_eq!(charts[0].points, 2);
        assert_eq!(charts[1].points, 4);
        let bad = "status,ttft_ms,tpot_ms,e2e_latency_ms,itl_max_ms\ncompleted,x,1,1,1\n";
        let err = read_requests_csv(bad.as_bytes(), "r.csv").unwrap_err();
        assert!(err.contains("line 2") && err.contains("ttft_ms"), "{err}");

        let steps = "replica_id,step,start,end,prefill_seqs,prefill_tokens,decode_seqs,decode_context_sum,kv_blocks_used,waiting,running,preempted\n\
                     0,0,0.05,0.06,1,636,0,0,40,0,1,0\n1,0,0.05,0.07,1,100,0,0,7,2,1,0\n0,1,0.06,0.07,0,0,1,636,40,0,1,0\n";
        let rows = read_steps_csv(steps.as_bytes(), "steps.csv").unwrap();
        assert_eq!(rows.len(), 3);
        let charts = step_charts(&rows);
        assert_eq!(charts[1].points, 3);
        assert_eq!(charts[1].option["series"].as_array().unwrap().len(), 2);
        assert_eq!(
            charts[1].option["series"][1]["data"][0],
            serde_json::json!([0.05, 7.0])
        );
    }
}
