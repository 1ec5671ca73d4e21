//! AISBench performance results (`outputs/…/performances/<model>/<dataset>.json` and `.csv`),
//! as used by msserviceprofiler and MindIE.

use std::collections::HashMap;

use perf_model_core::{BenchmarkPointData, LatencyStatsData, PerfDataset};
use serde_json::Value;

use crate::ReadOptions;
use crate::error::{Location, ReadError, Result, shorten};
use crate::json::{Cx, parse_json_lenient, parse_number_text};
use crate::point::{Notes, RawStats, latency};
use crate::select::{Candidate, SeedRule, StrategyKind, finish_file};
use crate::text;

/// Lower-cases and collapses white space, for case-insensitive key matching.
fn norm(key: &str) -> String {
    key.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A time in ms from `"2006.0 ms"`, `"2.0 s"`, `"500 us"` or a bare number (taken as ms).
fn time_ms(text: &str) -> Option<f64> {
    let t = text.trim();
    let x = parse_number_text(t)?;
    let unit = t
        .trim_start_matches(|c: char| {
            c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')
        })
        .trim()
        .to_ascii_lowercase();
    match unit.as_str() {
        "" | "ms" => Some(x),
        "s" | "sec" => Some(x * 1000.0),
        "us" | "µs" => Some(x / 1000.0),
        _ => None,
    }
}

/// The common metrics of an AISBench `<dataset>.json` for one stage.
#[derive(Debug, Default)]
struct Common {
    rate: Option<f64>,
    concurrency: Option<f64>,
    success: Option<f64>,
    failed: Option<f64>,
    input_total: Option<f64>,
    output_total: Option<f64>,
    output_throughput: Option<f64>,
}

fn common_metrics(value: &Value, cx: &Cx<'_>) -> Result<Common> {
    let Some(obj) = value.as_object() else {
        return Err(cx.field_err("$", Some(value), "expected {metric: {stage: value}}"));
    };
    let metrics: HashMap<String, (&String, &Value)> =
        obj.iter().map(|(k, v)| (norm(k), (k, v))).collect();
    let get = |names: &[&str]| -> Result<Option<f64>> {
        for name in names {
            let Some((key, v)) = metrics.get(*name) else {
                continue;
            };
            let (at, cell): (String, &Value) = match *v {
                Value::Object(stages) => {
                    let stage = stages
                        .iter()
                        .find(|(s, _)| s.eq_ignore_ascii_case("total"))
                        .or_else(|| stages.iter().next());
                    match stage {
                        Some((s, c)) => (format!("$.\"{key}\".{s}"), c),
                        None => continue,
                    }
                }
                other => (format!("$.\"{key}\""), other),
            };
            return match cell {
                Value::Null => Ok(None),
                Value::Number(n) => Ok(n.as_f64()),
                Value::String(s) => parse_number_text(s)
                    .map(Some)
                    .ok_or_else(|| cx.field_err(&at, Some(cell), "expected a number")),
                _ => Err(cx.field_err(&at, Some(cell), "expected a number")),
            };
        }
        Ok(None)
    };
    Ok(Common {
        rate: get(&["request throughput"])?,
        concurrency: get(&["max concurrency"])?.or(get(&["concurrency"])?),
        success: get(&["success requests"])?,
        failed: get(&["failed requests"])?,
        input_total: get(&["total input tokens"])?,
        output_total: get(&["total generated tokens", "total output tokens"])?,
        output_throughput: get(&["output token throughput"])?,
    })
}

/// Per-metric statistics from an AISBench `<dataset>.csv`, stage `total` (or the first).
#[derive(Debug, Default)]
struct CsvStats {
    rows: HashMap<String, LatencyStatsData>,
}

fn csv_stats(text: &str, path: &str) -> Result<CsvStats> {
    let mut reader = text::csv_reader(text);
    let csv_err = |e: &csv::Error| text::csv_error(path, text, e);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_err(&e))?
        .iter()
        .map(norm)
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_name), c_stage) = (col("performance parameters"), col("stage")) else {
        return Err(ReadError::Field {
            path: path.to_owned(),
            location: Location::Line { line: 1, column: 0 },
            value: shorten(&headers.join(",")),
            message: "missing column `Performance Parameters`".to_owned(),
        });
    };
    let stat_cols: Vec<(usize, &str)> = [
        ("average", "mean"),
        ("median", "median"),
        ("p90", "p90"),
        ("p95", "p95"),
        ("p99", "p99"),
    ]
    .iter()
    .filter_map(|(h, s)| col(h).map(|c| (c, *s)))
    .collect();
    let mut out = CsvStats::default();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_err(&e))?;
        let row = i + 1;
        let name = norm(record.get(c_name).unwrap_or(""));
        let stage = c_stage.and_then(|c| record.get(c)).unwrap_or("total");
        if out.rows.contains_key(&name) && !stage.eq_ignore_ascii_case("total") {
            continue;
        }
        let mut stats = LatencyStatsData::default();
        for &(c, stat) in &stat_cols {
            let cell = record.get(c).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            let value = time_ms(cell)
                .or_else(|| parse_number_text(cell))
                .ok_or_else(|| ReadError::Field {
                    path: path.to_owned(),
                    location: Location::Cell {
                        row,
                        column: headers.get(c).cloned().unwrap_or_default(),
                    },
                    value: shorten(cell),
                    message: "expected a number with an optional unit (ms, s, us, token/s)"
                        .to_owned(),
                })?;
            let slot = match stat {
                "mean" => &mut stats.mean,
                "median" => &mut stats.median,
                "p90" => &mut stats.p90,
                "p95" => &mut stats.p95,
                _ => &mut stats.p99,
            };
            *slot = Some(value);
        }
        out.rows.insert(name, stats);
    }
    Ok(out)
}

/// Reads AISBench results: the common metrics of `<dataset>.json` and, when given, the
/// per-request statistics of the `<dataset>.csv` written beside it. One point.
///
/// JSON (`{metric: {stage: value}}`, stage `total` preferred, keys matched ignoring case and
/// spacing, values bare or with a unit suffix): `request_rate` ← `Request Throughput`;
/// `concurrency` ← `Max Concurrency`, else `Concurrency`; tokens ← `Total Input Tokens` and
/// `Total Generated Tokens` (or `Total Output Tokens`) over `Success Requests`;
/// `output_throughput` ← `Output Token Throughput`; counts ← `Success Requests`,
/// `Failed Requests`. CSV (`Performance Parameters, Stage, Average, …, Median, P90, [P95,] P99`,
/// times with `ms`/`s`/`us` suffixes converted to ms): TTFT, TPOT, ITL, E2EL rows → latency
/// statistics; `InputTokens`/`OutputTokens` Average → token means (they take precedence over
/// the JSON totals).
///
/// # Errors
/// [`ReadError::Field`] with the JSON path or CSV row and column of a bad value; a CSV without
/// its JSON fails with a message asking for it (the CSV has no request rate).
pub fn read_aisbench(
    json: Option<(&[u8], &str)>,
    csv: Option<(&[u8], &str)>,
    opts: &ReadOptions,
) -> Result<PerfDataset> {
    let common = match json {
        Some((bytes, path)) => {
            let text = text::decode(bytes, path)?;
            let value = parse_json_lenient(text, path)?;
            Some(common_metrics(&value, &Cx { path, line: 0 })?)
        }
        None => None,
    };
    let stats = match csv {
        Some((bytes, path)) => Some(csv_stats(text::decode(bytes, path)?, path)?),
        None => None,
    };
    let path = json.or(csv).map_or("aisbench", |(_, p)| p);
    let Some(common) = common else {
        return Err(ReadError::Field {
            path: path.to_owned(),
            location: Location::File,
            value: "nothing".to_owned(),
            message: "an AISBench CSV has no request rate: read it together with the \
                      <dataset>.json written beside it"
                .to_owned(),
        });
    };
    let mut notes = Notes::new(Location::File);
    let row = |name: &str| {
        stats
            .as_ref()
            .and_then(|s| s.rows.get(name).copied())
            .unwrap_or_default()
    };
    let raw = |name: &str| {
        let s = row(name);
        RawStats {
            mean: s.mean,
            median: s.median,
            p90: s.p90,
            p95: s.p95,
            p99: s.p99,
        }
    };
    let per_request = |total: Option<f64>| match (total, common.success) {
        (Some(t), Some(n)) if n > 0.0 => t / n,
        _ => 0.0,
    };
    let count = |x: Option<f64>| {
        x.filter(|v| v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && *v <= 9.0e15)
            .map(|v| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = v as u64;
                n
            })
    };
    let data = BenchmarkPointData {
        request_rate: notes.rate("request_rate", common.rate),
        concurrency: notes.rate("concurrency", common.concurrency),
        input_tokens: row("inputtokens")
            .mean
            .unwrap_or_else(|| per_request(common.input_total)),
        output_tokens: row("outputtokens")
            .mean
            .unwrap_or_else(|| per_request(common.output_total)),
        ttft: latency(&mut notes, "ttft", raw("ttft"), 1.0),
        tpot: latency(&mut notes, "tpot", raw("tpot"), 1.0),
        itl: latency(&mut notes, "itl", raw("itl"), 1.0),
        e2e: latency(&mut notes, "e2e", raw("e2el"), 1.0),
        output_throughput: notes.non_negative("output_throughput", common.output_throughput),
        successful: count(common.success),
        failed: count(common.failed),
        ..BenchmarkPointData::default()
    };
    finish_file(
        path,
        None,
        vec![Candidate::new(StrategyKind::Unknown, notes, data)],
        &opts.select,
        SeedRule::All,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_units() {
        assert_eq!(time_ms("2006.0 ms"), Some(2006.0));
        assert_eq!(time_ms("2.5 s"), Some(2500.0));
        assert_eq!(time_ms("500 us"), Some(0.5));
        assert_eq!(time_ms("12"), Some(12.0));
        assert_eq!(time_ms("41.6 token/s"), None);
    }
}
