//! Together-style benchmark CSV (the input of `ktenzer/together-benchmark-model`): one row per
//! traffic level.

use std::collections::HashMap;

use perf_model_core::{BenchmarkPointData, PerfDataset};

use crate::ReadOptions;
use crate::error::{Location, ReadError, Result, shorten};
use crate::json::parse_number_text;
use crate::point::{Notes, RawStats, latency, positive_finite};
use crate::select::{Candidate, SeedRule, StrategyKind, finish_file};
use crate::text;

/// Reads a Together benchmark CSV (header `provider_name, provider_model, traffic_mode,
/// traffic_level, input_avg_len, …, ttft_mean, …, e2e_p999, …, summary_actual_qps, …`).
///
/// Per row: `request_rate` ← `summary_actual_qps` (achieved); label ← `<traffic_mode>@<traffic_level>`
/// (`qps@0.1`); when `traffic_mode` is `concurrency`, `concurrency` ← `traffic_level`;
/// tokens ← `input_avg_len`, `output_avg_len`; TTFT and E2E (ms) ← `*_mean`, `*_p50` (median),
/// `*_p95`, `*_p99` (the file has no p90); `output_throughput` ← `summary_job_level_tps`;
/// `failed` ← `summary_num_failed_requests`, `successful` ← `summary_total_num_requests` −
/// failed. `user_tps_*` (tokens/s per user) has no exact ITL equivalent and is not mapped.
/// Empty cells are absent. The strategy is [`StrategyKind::Unknown`] for qps rows (the arrival
/// process is not recorded). Every row is kept under the seed-compatible selection.
///
/// # Errors
/// [`ReadError::Field`] with the row and column name of a non-numeric cell or a missing
/// column; CSV syntax errors with their line.
pub fn read_together_csv(bytes: &[u8], path: &str, opts: &ReadOptions) -> Result<PerfDataset> {
    let text = text::decode(bytes, path)?;
    let mut reader = text::csv_reader(text);
    let csv_err = |e: &csv::Error| text::csv_error(path, text, e);
    let headers = reader.headers().map_err(|e| csv_err(&e))?.clone();
    let index: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    for required in ["traffic_level", "summary_actual_qps", "input_avg_len"] {
        if !index.contains_key(required) {
            return Err(ReadError::Field {
                path: path.to_owned(),
                location: Location::Line { line: 1, column: 0 },
                value: shorten(&headers.iter().collect::<Vec<_>>().join(",")),
                message: format!("missing column `{required}` in the header"),
            });
        }
    }
    let mut candidates = Vec::new();
    let mut model = None;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_err(&e))?;
        let row = i + 1;
        let cell = |name: &str| index.get(name).and_then(|&c| record.get(c)).unwrap_or("");
        let num = |name: &str| -> Result<Option<f64>> {
            let s = cell(name);
            if s.is_empty() {
                return Ok(None);
            }
            parse_number_text(s)
                .map(Some)
                .ok_or_else(|| ReadError::Field {
                    path: path.to_owned(),
                    location: Location::Cell {
                        row,
                        column: name.to_owned(),
                    },
                    value: shorten(s),
                    message: "expected a number".to_owned(),
                })
        };
        let mut notes = Notes::new(Location::Cell {
            row,
            column: "*".to_owned(),
        });
        let stats = |m: &str| -> Result<RawStats> {
            Ok(RawStats {
                mean: num(&format!("{m}_mean"))?,
                median: num(&format!("{m}_p50"))?,
                p90: None,
                p95: num(&format!("{m}_p95"))?,
                p99: num(&format!("{m}_p99"))?,
            })
        };
        if model.is_none() && !cell("provider_model").is_empty() {
            model = Some(cell("provider_model").to_owned());
        }
        let mode = cell("traffic_mode");
        let level = num("traffic_level")?;
        let concurrency = if mode.eq_ignore_ascii_case("concurrency") {
            positive_finite(level)
        } else {
            None
        };
        let label = match (mode.is_empty(), cell("traffic_level")) {
            (false, l) if !l.is_empty() => Some(format!("{mode}@{l}")),
            _ => None,
        };
        let failed = count(num("summary_num_failed_requests")?);
        let total = count(num("summary_total_num_requests")?);
        let data = BenchmarkPointData {
            label,
            request_rate: notes.rate("request_rate", num("summary_actual_qps")?),
            concurrency,
            input_tokens: num("input_avg_len")?.unwrap_or(0.0),
            output_tokens: num("output_avg_len")?.unwrap_or(0.0),
            ttft: latency(&mut notes, "ttft", stats("ttft")?, 1.0),
            e2e: latency(&mut notes, "e2e", stats("e2e")?, 1.0),
            output_throughput: notes
                .non_negative("output_throughput", num("summary_job_level_tps")?),
            successful: total.map(|t| t.saturating_sub(failed.unwrap_or(0))),
            failed,
            ..BenchmarkPointData::default()
        };
        let kind = if concurrency.is_some() {
            StrategyKind::Concurrent
        } else {
            StrategyKind::Unknown
        };
        candidates.push(Candidate::new(kind, notes, data));
    }
    finish_file(path, model, candidates, &opts.select, SeedRule::All)
}

/// A whole, non-negative count.
fn count(x: Option<f64>) -> Option<u64> {
    let v = x?;
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9.0e15 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(v as u64)
    } else {
        None
    }
}
