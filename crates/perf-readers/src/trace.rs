//! Request arrival traces → [`RequestRecord`]s: Azure LLM inference (2023/2024) CSV and
//! Mooncake JSONL.

use perf_model_core::{RequestRecord, RequestRecordData};

use crate::error::{Location, ReadError, Result, shorten};
use crate::json::{Cx, Node, parse_records};
use crate::text;

/// Reads an Azure LLM inference trace CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`, as in
/// `Azure/AzurePublicDataset` `AzureLLMInferenceTrace_{code,conv}.csv`).
///
/// Each row becomes a record with `id` = row index (0-based), `arrival_ms` = time since the
/// first row's timestamp (`YYYY-MM-DD HH:MM:SS[.fraction]`, no time zone; fractions of any
/// length, the files have 7 digits), `input_tokens` = `ContextTokens`, `output_tokens` =
/// `GeneratedTokens`; no first-token or completion time (the trace has none).
///
/// # Examples
/// ```
/// let csv = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n\
///            2023-11-16 18:17:03.9799600,4808,10\r\n2023-11-16 18:17:04.0319600,3180,8";
/// let trace = perf_readers::read_azure_trace(csv.as_bytes(), "code.csv")?;
/// assert_eq!(trace[1].arrival_ms(), 52.0);
/// assert_eq!(trace[1].input_tokens(), 3180);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] naming the row and column of a bad timestamp or token count, or a
/// missing column; CSV syntax errors with their line.
pub fn read_azure_trace(bytes: &[u8], path: &str) -> Result<Vec<RequestRecord>> {
    let text = text::decode(bytes, path)?;
    let mut reader = text::csv_reader(text);
    let csv_err = |e: &csv::Error| text::csv_error(path, text, e);
    let headers = reader.headers().map_err(|e| csv_err(&e))?.clone();
    let col = |name: &str| -> Result<usize> {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| ReadError::Field {
                path: path.to_owned(),
                location: Location::Line { line: 1, column: 0 },
                value: shorten(&headers.iter().collect::<Vec<_>>().join(",")),
                message: format!("missing column `{name}` in the header"),
            })
    };
    let (c_time, c_in, c_out) = (
        col("TIMESTAMP")?,
        col("ContextTokens")?,
        col("GeneratedTokens")?,
    );
    let mut out = Vec::new();
    let mut t0 = None;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_err(&e))?;
        let row = i + 1;
        let bad = |column: &str, value: &str, message: &str| ReadError::Field {
            path: path.to_owned(),
            location: Location::Cell {
                row,
                column: column.to_owned(),
            },
            value: shorten(value),
            message: message.to_owned(),
        };
        let cell = |c: usize| record.get(c).unwrap_or("");
        let stamp = cell(c_time);
        let t = parse_timestamp_ns(stamp).ok_or_else(|| {
            bad(
                "TIMESTAMP",
                stamp,
                "expected a timestamp YYYY-MM-DD HH:MM:SS[.fraction]",
            )
        })?;
        let start = *t0.get_or_insert(t);
        let tokens = |c: usize, name: &str| -> Result<u32> {
            cell(c)
                .parse::<u32>()
                .map_err(|_| bad(name, cell(c), "expected a token count (0..=4294967295)"))
        };
        let data = RequestRecordData {
            id: i as u64,
            // At most ~1e13 ms for years 0..=9999: exact enough in f64.
            #[allow(clippy::cast_precision_loss)]
            arrival_ms: (t - start) as f64 / 1e6,
            first_token_ms: None,
            completion_ms: None,
            input_tokens: tokens(c_in, "ContextTokens")?,
            output_tokens: tokens(c_out, "GeneratedTokens")?,
        };
        out.push(RequestRecord::new(data).map_err(|e| ReadError::Invalid {
            path: path.to_owned(),
            location: Location::Cell {
                row,
                column: "TIMESTAMP".to_owned(),
            },
            source: Box::new(e),
        })?);
    }
    Ok(out)
}

/// Nanoseconds since 1970-01-01 of `YYYY-MM-DD HH:MM:SS[.fraction]` (proleptic Gregorian,
/// no time zone; digits beyond the 9th are ignored), or `None` when malformed. Integer
/// arithmetic, so differences are exact.
fn parse_timestamp_ns(s: &str) -> Option<i128> {
    let (date, time) = s.trim().split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let m: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..=60).contains(&sec)
        || !(0..=9999).contains(&year)
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut nanos: i128 = 0;
    for i in 0..9 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| b - b'0');
        nanos = nanos * 10 + i128::from(digit);
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads a Mooncake trace (JSON Lines `{"timestamp": ms, "input_length", "output_length",
/// "hash_ids": […]}`, as in `kvcache-ai/Mooncake` `FAST25-release/traces/*.jsonl`).
///
/// Each line becomes a record with `id` = record index (0-based), `arrival_ms` = `timestamp`,
/// `input_tokens` = `input_length`, `output_tokens` = `output_length`. Lines that carry
/// `input_text` instead of `input_length` (AisBench's variant) get `input_tokens` 0: the text
/// is not tokenised here. `hash_ids` (shared-prefix blocks) are not kept.
///
/// # Errors
/// JSON errors with their line; [`ReadError::Field`] with the line and key of a missing or
/// non-integer field.
pub fn read_mooncake_trace(bytes: &[u8], path: &str) -> Result<Vec<RequestRecord>> {
    let text = text::decode(bytes, path)?;
    let records = parse_records(text, path)?;
    let mut out = Vec::with_capacity(records.len());
    for (i, (line, value)) in records.iter().enumerate() {
        let cx = Cx { path, line: *line };
        let node = Node::root(value);
        let arrival = node.req_num(&["timestamp"], &cx)?;
        let tokens = |key: &str, required: bool| -> Result<u32> {
            match node.at(&[key]) {
                None if !required => Ok(0),
                None => Err(cx.field_err(&format!("$.{key}"), None, "missing token count")),
                Some(n) => {
                    let x = n.num(&cx)?;
                    if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        Ok(x as u32)
                    } else {
                        Err(cx.field_err(&n.path, Some(n.v), "expected a token count"))
                    }
                }
            }
        };
        let has_text = node.get("input_text").is_some();
        let data = RequestRecordData {
            id: i as u64,
            arrival_ms: arrival,
            first_token_ms: None,
            completion_ms: None,
            input_tokens: tokens("input_length", !has_text)?,
            output_tokens: tokens("output_length", true)?,
        };
        out.push(RequestRecord::new(data).map_err(|e| cx.invalid("$", e))?);
    }
    Ok(out)
}

/// Reads a BurstGPT trace CSV (`HPMLL/BurstGPT` `BurstGPT_*.csv`: `Timestamp,Model,Request
/// tokens,Response tokens,Total tokens,Log Type`, and in v3 also `Session ID,Elapsed time`).
///
/// Each row becomes a record with `id` = row index (0-based), `arrival_ms` = `Timestamp` (seconds
/// since the trace start) × 1000, `input_tokens` = `Request tokens`, `output_tokens` = `Response
/// tokens` (0 for failed requests, kept; filter them if needed). Model and log type are not kept.
///
/// # Examples
/// ```
/// let csv = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
///            5,ChatGPT,472,18,490,Conversation log\n45,GPT-4,1087,0,1087,API log\n";
/// let trace = perf_readers::read_burstgpt_trace(csv.as_bytes(), "b.csv")?;
/// assert_eq!(trace[1].arrival_ms(), 45_000.0);
/// assert_eq!(trace[0].output_tokens(), 18);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] naming the row and column of a bad number or a missing column.
pub fn read_burstgpt_trace(bytes: &[u8], path: &str) -> Result<Vec<RequestRecord>> {
    let table = crate::table::Table::read(bytes, path)?;
    let (c_t, c_in, c_out) = (
        table.req_col("Timestamp")?,
        table.req_col("Request tokens")?,
        table.req_col("Response tokens")?,
    );
    table
        .rows()
        .map(|row| {
            let t = row.num(c_t)?;
            let data = RequestRecordData {
                id: (row.row - 1) as u64,
                arrival_ms: t * 1000.0,
                first_token_ms: None,
                completion_ms: None,
                input_tokens: row.count(c_in)?,
                output_tokens: row.count(c_out)?,
            };
            RequestRecord::new(data).map_err(|e| row.invalid(c_t, e))
        })
        .collect()
}

/// Reads a Vidur processed trace CSV (`microsoft/vidur` `data/processed_traces/*.csv`):
/// `arrived_at` (seconds), `num_prefill_tokens`, `num_decode_tokens`; the length-only traces
/// (`num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio`) have no `arrived_at` and
/// get arrival 0 (Vidur draws their arrivals from a separate interval generator).
///
/// Each row becomes a record with `id` = row index, `arrival_ms` = `arrived_at` × 1000,
/// `input_tokens` = `num_prefill_tokens`, `output_tokens` = `num_decode_tokens`.
///
/// # Examples
/// ```
/// let csv = "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,1024,128\n0.25,2048,7\n";
/// let trace = perf_readers::read_vidur_trace(csv.as_bytes(), "t.csv")?;
/// assert_eq!(trace[1].arrival_ms(), 250.0);
/// assert_eq!(trace[1].input_tokens(), 2048);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] naming the row and column of a bad number or a missing column.
pub fn read_vidur_trace(bytes: &[u8], path: &str) -> Result<Vec<RequestRecord>> {
    let table = crate::table::Table::read(bytes, path)?;
    let c_t = table.col("arrived_at");
    let (c_in, c_out) = (
        table.req_col("num_prefill_tokens")?,
        table.req_col("num_decode_tokens")?,
    );
    table
        .rows()
        .map(|row| {
            let arrival_s = match c_t {
                Some(c) => row.num(c)?,
                None => 0.0,
            };
            let data = RequestRecordData {
                id: (row.row - 1) as u64,
                arrival_ms: arrival_s * 1000.0,
                first_token_ms: None,
                completion_ms: None,
                input_tokens: row.count(c_in)?,
                output_tokens: row.count(c_out)?,
            };
            RequestRecord::new(data).map_err(|e| row.invalid(c_t.unwrap_or(c_in), e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp_ns("1970-01-01 00:00:01.5"),
            Some(1_500_000_000)
        );
        let a = parse_timestamp_ns("2023-11-16 23:59:59.9").unwrap();
        let b = parse_timestamp_ns("2023-11-17 00:00:00.1").unwrap();
        assert_eq!(b - a, 200_000_000);
        assert_eq!(parse_timestamp_ns("2023-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp_ns("yesterday"), None);
        assert_eq!(parse_timestamp_ns("2023-11-16 18:17:03.-5"), None);
        assert_eq!(
            parse_timestamp_ns("2023-11-16 18:17:03.97996001234"),
            parse_timestamp_ns("2023-11-16 18:17:03.979960012")
        );
    }
}
