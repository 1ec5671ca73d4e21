//! msserviceprofiler per-batch model-execute profiles: a CSV whose header and cells are Python
//! tuple literals (`"('prefill', 1.0, 19, 1015, 1015, 68713.25)"`), one row per executed batch.

use crate::error::{Location, ReadError, Result, shorten};
use crate::profile::Stage;
use crate::text;

/// One request of a batch: `(input_length, need_blocks, output_length)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchRequest {
    /// Prompt tokens of the request.
    pub input_length: u64,
    /// KV-cache blocks the request needs.
    pub need_blocks: u64,
    /// Tokens generated so far (0 in its prefill batch).
    pub output_length: u64,
}

/// One executed batch of an msserviceprofiler model-execute profile (the training data of
/// the serving tuner's latency model, `ms_serviceparam_optimizer` `train/pretrain_data`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BatchExecuteRow {
    /// `batch_stage`: `prefill` or `decode`.
    pub stage: Stage,
    /// `batch_size`: requests in the batch.
    pub batch_size: u32,
    /// `total_need_blocks`: KV-cache blocks of the batch.
    pub total_need_blocks: u64,
    /// `total_prefill_token`: prompt tokens of the batch's requests.
    pub total_prefill_tokens: u64,
    /// `max_seq_len`: the longest sequence of the batch.
    pub max_seq_len: u64,
    /// `model_execute_time` as written; the file gives no unit (the values look like µs).
    pub model_execute_time: f64,
    /// The requests of the batch (the second column).
    pub requests: Vec<BatchRequest>,
}

/// Whether `text` starts like an msserviceprofiler batch profile: a quoted tuple header that
/// names `batch_stage`.
pub(crate) fn looks_like(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    first.starts_with("\"(") && first.contains("'batch_stage'")
}

/// The columns of the first header tuple, in the order the reader expects them.
const COLUMNS: [&str; 6] = [
    "batch_stage",
    "batch_size",
    "total_need_blocks",
    "total_prefill_token",
    "max_seq_len",
    "model_execute_time",
];

/// Reads an msserviceprofiler batch profile (`pretrain_data.json`, which is CSV despite its
/// name): header `"('batch_stage', 'batch_size', 'total_need_blocks', 'total_prefill_token',
/// 'max_seq_len', 'model_execute_time')","('input_length', 'need_blocks', 'output_length')"`,
/// then per batch a tuple of those values and a tuple of per-request triples.
///
/// # Examples
/// ```
/// let csv = concat!(
///     "\"('batch_stage', 'batch_size', 'total_need_blocks', 'total_prefill_token', 'max_seq_len', 'model_execute_time')\",\"('input_length', 'need_blocks', 'output_length')\"\n",
///     "\"('prefill', 1.0, 19, 1015, 1015, 68713.25)\",\"((1015, 19, 0),)\"\n",
/// );
/// let rows = perf_readers::read_ms_batches(csv.as_bytes(), "pretrain_data.json")?;
/// assert_eq!(rows[0].batch_size, 1);
/// assert_eq!(rows[0].model_execute_time, 68713.25);
/// assert_eq!(rows[0].requests[0].input_length, 1015);
/// # Ok::<(), perf_readers::ReadError>(())
/// ```
///
/// # Errors
/// [`ReadError::Field`] naming the row and column (`Location::Cell`) of a cell that is not a
/// tuple of the expected shape, or of a header that does not name the expected columns; CSV
/// syntax errors with their line.
pub fn read_ms_batches(bytes: &[u8], path: &str) -> Result<Vec<BatchExecuteRow>> {
    let text = text::decode(bytes, path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let bad = |row: usize, column: &str, value: &str, message: &str| ReadError::Field {
        path: path.to_owned(),
        location: Location::Cell {
            row,
            column: column.to_owned(),
        },
        value: shorten(value),
        message: message.to_owned(),
    };
    let header = match records.next() {
        Some(r) => r.map_err(|e| text::csv_error(path, text, &e))?,
        None => {
            return Err(ReadError::Empty {
                path: path.to_owned(),
            });
        }
    };
    let names: Vec<String> = parse_tuple(header.get(0).unwrap_or(""))
        .map(|items| {
            items
                .into_iter()
                .filter_map(|i| match i {
                    Item::Str(s) => Some(s),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names != COLUMNS {
        return Err(ReadError::Field {
            path: path.to_owned(),
            location: Location::Line { line: 1, column: 1 },
            value: shorten(header.get(0).unwrap_or("")),
            message: format!("expected the header tuple ({})", COLUMNS.join(", ")),
        });
    }
    let batch_column = header.get(0).unwrap_or("").to_owned();
    let request_column = header.get(1).unwrap_or("").to_owned();
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let row = i + 1;
        let record = record.map_err(|e| text::csv_error(path, text, &e))?;
        let cell = record.get(0).unwrap_or("");
        let err = |message: &str| bad(row, &batch_column, cell, message);
        let items = parse_tuple(cell).ok_or_else(|| err("expected a tuple of 6 values"))?;
        let [stage, batch, blocks, prefill, max_len, time] = items.as_slice() else {
            return Err(err("expected a tuple of 6 values"));
        };
        let stage = match stage {
            Item::Str(s) if s == "prefill" => Stage::Prefill,
            Item::Str(s) if s == "decode" => Stage::Decode,
            _ => return Err(err("expected the stage 'prefill' or 'decode' first")),
        };
        let whole = |item: &Item, what: &str| -> Result<u64> {
            item.whole()
                .ok_or_else(|| err(&format!("expected a whole number for {what}")))
        };
        let batch_size = u32::try_from(whole(batch, "batch_size")?)
            .map_err(|_| err("batch_size is too large"))?;
        let model_execute_time = match time {
            Item::Num(x) if x.is_finite() && *x >= 0.0 => *x,
            _ => return Err(err("expected a finite model_execute_time >= 0")),
        };
        let req_cell = record.get(1).unwrap_or("");
        let req_err = || {
            bad(
                row,
                &request_column,
                req_cell,
                "expected a tuple of (input_length, need_blocks, output_length) triples",
            )
        };
        let mut requests = Vec::new();
        for r in parse_tuple(req_cell).ok_or_else(req_err)? {
            let Item::Tuple(t) = r else {
                return Err(req_err());
            };
            let [a, b, c] = t.as_slice() else {
                return Err(req_err());
            };
            let (Some(input_length), Some(need_blocks), Some(output_length)) =
                (a.whole(), b.whole(), c.whole())
            else {
                return Err(req_err());
            };
            requests.push(BatchRequest {
                input_length,
                need_blocks,
                output_length,
            });
        }
        rows.push(BatchExecuteRow {
            stage,
            batch_size,
            total_need_blocks: whole(blocks, "total_need_blocks")?,
            total_prefill_tokens: whole(prefill, "total_prefill_token")?,
            max_seq_len: whole(max_len, "max_seq_len")?,
            model_execute_time,
            requests,
        });
    }
    Ok(rows)
}

/// One element of a Python tuple literal.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
enum Item {
    Str(String),
    Num(f64),
    Tuple(Vec<Item>),
}

impl Item {
    /// A whole number `0..=2^53` (`19` or `1.0`).
    fn whole(&self) -> Option<u64> {
        match self {
            Self::Num(x) if *x >= 0.0 && x.fract() == 0.0 && *x <= 9_007_199_254_740_992.0 =>
            {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Some(*x as u64)
            }
            _ => None,
        }
    }
}

/// Parses a Python tuple literal of strings (single-quoted), numbers and nested tuples.
fn parse_tuple(text: &str) -> Option<Vec<Item>> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut at = 0;
    let Item::Tuple(items) = parse_item(&chars, &mut at, 0)? else {
        return None;
    };
    (at == chars.len()).then_some(items)
}

fn skip_spaces(chars: &[char], at: &mut usize) {
    while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

fn parse_item(chars: &[char], at: &mut usize, depth: usize) -> Option<Item> {
    if depth > 8 {
        return None;
    }
    skip_spaces(chars, at);
    match chars.get(*at)? {
        '(' => {
            *at += 1;
            let mut items = Vec::new();
            loop {
                skip_spaces(chars, at);
                if chars.get(*at) == Some(&')') {
                    *at += 1;
                    return Some(Item::Tuple(items));
                }
                items.push(parse_item(chars, at, depth + 1)?);
                skip_spaces(chars, at);
                match chars.get(*at)? {
                    ',' => *at += 1,
                    ')' => {
                        *at += 1;
                        return Some(Item::Tuple(items));
                    }
                    _ => return None,
                }
            }
        }
        '\'' => {
            *at += 1;
            let start = *at;
            while chars.get(*at).is_some_and(|&c| c != '\'') {
                *at += 1;
            }
            let s: String = chars.get(start..*at)?.iter().collect();
            *at += 1;
            Some(Item::Str(s))
        }
        _ => {
            let start = *at;
            while chars
                .get(*at)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
            {
                *at += 1;
            }
            let s: String = chars.get(start..*at)?.iter().collect();
            s.parse::<f64>().ok().map(Item::Num)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_parse() {
        assert_eq!(
            parse_tuple("('a', 1.0, (2, 3),)"),
            Some(vec![
                Item::Str("a".into()),
                Item::Num(1.0),
                Item::Tuple(vec![Item::Num(2.0), Item::Num(3.0)])
            ])
        );
        assert_eq!(parse_tuple("((1, 2, 3),)").map(|t| t.len()), Some(1));
        assert!(parse_tuple("('a'").is_none());
        assert!(parse_tuple("(1, 2) x").is_none());
        assert!(parse_tuple("'a'").is_none());
    }
}
