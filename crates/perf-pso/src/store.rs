//! The seed-compatible results CSV (specs/tuning.md §6): one
//! `<dir>/data_storage_<YYYYmmddHHMMSS>.csv` per run, one row per evaluation, written the way
//! the seed's `DataStorage.save` writes it (Python `csv.writer`: minimal quoting, `\r\n` line
//! ends, `str()` of each value), and a reader for such files (for warm starts, §7).
//!
//! Columns, in order:
//! ```text
//! generate_speed, time_to_first_token, time_per_output_token, success_rate, throughput,
//! <one per field, decoded values, constants included, in field order>,
//! error, backup, duration, real_evaluation, fitness[, is_predicted][, num_prompts]
//! ```
//! Seed units: output tok/s, **seconds** for TTFT and TPOT (our milliseconds ÷ 1000), 0…1,
//! req/s. Values print as Python prints them: `None` → empty, `True`/`False`, floats as
//! `repr` ([`py_repr`]: `inf`, `0.05`, `1e-05`).
//!
//! **Formula-injection guard.** A *text* cell starting with `=`, `+`, `-` or `@` gets a leading
//! `'` (the seed's `sanitize_csv_value`), so a spreadsheet shows it instead of evaluating it.
//! Numbers are never prefixed, negative ones included: they are written as numbers (the seed
//! guards Python `str`s only), a spreadsheet reads `-5` as the number −5, and a prefixed number
//! would no longer read back as one. We also prefix text that itself starts with `'`, so the
//! reader can strip exactly one `'` and every text round-trips; the seed does not, which only
//! matters for text beginning with `'`.
//!
//! **Header.** Written once, when the file is created. A row whose columns differ from the
//! file's header is never appended: the store starts `data_storage_<stamp>_<n>.csv` (which
//! the seed's loader, matching `data_storage*.csv`, also reads) and says so.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use perf_model_core::{PerformanceIndex, PerformanceIndexData};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, config_err, io_err};
use crate::space::{DecodedConfig, SearchSpace};
use crate::tuner::Record;

/// The performance columns, seed units.
pub const PERFORMANCE_COLUMNS: [&str; 5] = [
    "generate_speed",
    "time_to_first_token",
    "time_per_output_token",
    "success_rate",
    "throughput",
];
/// The bookkeeping columns after the fields.
pub const TAIL_COLUMNS: [&str; 5] = ["error", "backup", "duration", "real_evaluation", "fitness"];
/// The optional predicted-row flag (surrogate pre-filter).
pub const IS_PREDICTED: &str = "is_predicted";
/// The optional benchmark size column.
pub const NUM_PROMPTS: &str = "num_prompts";

/// The seed's `[data_storage]`: `pso_top_k` (default 3) and `store_dir` (README alias
/// `base_path`; default `<output>/store`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSettings {
    /// Rows taken into fine-tuning from each ranking (lowest cost, highest speed).
    pub pso_top_k: usize,
    /// Directory of the CSV files; `None` = `<output>/store`.
    pub store_dir: Option<PathBuf>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            pso_top_k: 3,
            store_dir: None,
        }
    }
}

/// One row of a results CSV.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreRow {
    /// Measured (or predicted) performance; `None` writes five empty cells.
    pub index: Option<PerformanceIndex>,
    /// Field values by name, in column order (constants included).
    pub fields: Vec<(String, Value)>,
    /// Error text of a failed evaluation.
    pub error: Option<String>,
    /// Backup folder of the evaluation.
    pub backup: Option<String>,
    /// Wall time, s.
    pub duration_s: Option<f64>,
    /// A real (not predicted) evaluation.
    pub real_evaluation: bool,
    /// Cost (+∞ for a failure; `None` = not computed, as in some seed rows).
    pub fitness: Option<f64>,
    /// The optional `is_predicted` column (`None` = no such column).
    pub is_predicted: Option<bool>,
    /// The optional `num_prompts` column (`None` = no such column).
    pub num_prompts: Option<u64>,
    /// Any other columns of a file read back, `(name, cell)`, after the standard ones.
    pub extra: Vec<(String, String)>,
}

impl StoreRow {
    /// The row of a tuner [`Record`]: fields in the order of `space` (keys the space does not
    /// know follow, sorted), `is_predicted` always present, no `num_prompts`.
    #[must_use]
    pub fn from_record(record: &Record, space: &SearchSpace) -> Self {
        let mut fields: Vec<(String, Value)> = space
            .fields()
            .iter()
            .filter_map(|f| {
                record
                    .config
                    .get(&f.name)
                    .map(|v| (f.name.clone(), v.clone()))
            })
            .collect();
        for (k, v) in &record.config {
            if space.field(k).is_none() {
                fields.push((k.clone(), v.clone()));
            }
        }
        Self {
            index: record.index,
            fields,
            error: record.error.clone(),
            backup: None,
            duration_s: record.duration_s,
            real_evaluation: record.real,
            fitness: Some(record.fitness),
            is_predicted: Some(crate::tuner::is_predicted(record)),
            num_prompts: None,
            extra: Vec::new(),
        }
    }

    /// A row from its parts: a decoded configuration (entries in field order) and an outcome.
    #[must_use]
    pub fn from_parts(
        config: &DecodedConfig,
        index: Option<PerformanceIndex>,
        error: Option<String>,
        fitness: f64,
        duration_s: Option<f64>,
    ) -> Self {
        Self {
            index,
            fields: config
                .entries
                .iter()
                .map(|e| (e.name.clone(), e.value.clone()))
                .collect(),
            error,
            backup: None,
            duration_s,
            real_evaluation: true,
            fitness: Some(fitness),
            is_predicted: None,
            num_prompts: None,
            extra: Vec::new(),
        }
    }

    /// The column names of this row.
    #[must_use]
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = PERFORMANCE_COLUMNS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        c.extend(self.fields.iter().map(|(n, _)| n.clone()));
        c.extend(TAIL_COLUMNS.iter().map(|s| (*s).to_owned()));
        if self.is_predicted.is_some() {
            c.push(IS_PREDICTED.to_owned());
        }
        if self.num_prompts.is_some() {
            c.push(NUM_PROMPTS.to_owned());
        }
        c.extend(self.extra.iter().map(|(n, _)| n.clone()));
        c
    }

    /// The cells of this row, as text (before CSV quoting).
    #[must_use]
    pub fn cells(&self) -> Vec<String> {
        let d = self.index.map(|i| i.data()).unwrap_or_default();
        let opt = |v: Option<f64>| v.map_or_else(String::new, py_repr);
        let mut c = vec![
            opt(d.output_throughput),
            opt(d.ttft_ms.map(|ms| ms / 1000.0)),
            opt(d.tpot_ms.map(|ms| ms / 1000.0)),
            opt(d.success_rate),
            opt(d.request_throughput),
        ];
        c.extend(self.fields.iter().map(|(_, v)| value_cell(v)));
        c.push(self.error.as_deref().map_or_else(String::new, guard));
        c.push(self.backup.as_deref().map_or_else(String::new, guard));
        c.push(opt(self.duration_s));
        c.push(py_bool(self.real_evaluation));
        c.push(opt(self.fitness));
        if let Some(p) = self.is_predicted {
            c.push(py_bool(p));
        }
        if let Some(n) = self.num_prompts {
            c.push(n.to_string());
        }
        c.extend(self.extra.iter().map(|(_, v)| v.clone()));
        c
    }

    /// The field values as a name → value map.
    #[must_use]
    pub fn config_map(&self) -> serde_json::Map<String, Value> {
        self.fields.iter().cloned().collect()
    }
}

fn py_bool(b: bool) -> String {
    if b { "True" } else { "False" }.to_owned()
}

/// Python's `repr` of a float (what `csv.writer` writes): the shortest text that reads back to
/// the same number, ties broken to even as Python does; `inf`, `-inf`, `nan`; exponent form
/// (`1e-05`, `1e+16`) when the decimal exponent is below −4 or at least 16; `.0` on integers.
#[must_use]
pub fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let short = format!("{x:e}");
    let digits = short
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    // Rust's shortest form breaks a tie upwards; the exact formatting rounds half to even, as
    // Python's repr does
    let even = format!("{:.*e}", digits.saturating_sub(1), x);
    let chosen = if even
        .parse::<f64>()
        .is_ok_and(|y| y.to_bits() == x.to_bits())
    {
        even
    } else {
        short
    };
    let (mant, exp) = chosen.split_once('e').unwrap_or((chosen.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let ds: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let body = if exp >= 0 {
            let k = usize::try_from(exp).unwrap_or(0) + 1;
            let int: String = if ds.len() >= k {
                ds[..k].to_owned()
            } else {
                format!("{ds}{}", "0".repeat(k - ds.len()))
            };
            let frac = if ds.len() > k { &ds[k..] } else { "0" };
            format!("{int}.{frac}")
        } else {
            let zeros = usize::try_from(-exp - 1).unwrap_or(0);
            format!("0.{}{ds}", "0".repeat(zeros))
        };
        format!("{sign}{body}")
    } else {
        let rest = if ds.len() > 1 {
            format!(".{}", &ds[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{esign}{:02}", &ds[..1], exp.abs())
    }
}

/// Prefixes `'` to text starting with `=`, `+`, `-`, `@` (formula injection) or `'`.
#[must_use]
pub fn guard(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\'']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Undoes [`guard`]: strips one leading `'` before `=`, `+`, `-`, `@` or `'`.
#[must_use]
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\'']) => rest,
        _ => cell,
    }
}

/// The text of a field value: `None` → empty, booleans `True`/`False`, integers as they are,
/// floats as [`py_repr`], text guarded, lists and tables as JSON (guarded).
#[must_use]
pub fn value_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => py_bool(*b),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                n.as_f64().map_or_else(|| n.to_string(), py_repr)
            }
        }
        Value::String(s) => guard(s),
        other => guard(&other.to_string()),
    }
}

/// Reads a field cell back: empty → `null`, `True`/`False`, integers, finite floats; a guarded
/// cell, non-finite numbers and anything else stay text. (Text that looks like a number, e.g. a
/// string enum value `"8"`, reads back as a number: the file does not keep types.)
#[must_use]
pub fn cell_value(cell: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    let un = unguard(cell);
    if un.len() != cell.len() {
        return Value::String(un.to_owned());
    }
    match cell {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = cell.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = cell.parse::<u64>() {
        return Value::from(u);
    }
    match cell.parse::<f64>() {
        Ok(f) if f.is_finite() => serde_json::Number::from_f64(f)
            .map_or_else(|| Value::String(cell.into()), Value::Number),
        _ => Value::String(cell.to_owned()),
    }
}

/// Quotes a cell as Python's `csv.writer` does by default (`QUOTE_MINIMAL`): when it contains
/// a comma, a double quote, `\r` or `\n`; quotes inside are doubled.
#[must_use]
pub fn quote_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

fn csv_line(cells: &[String]) -> String {
    let mut line = cells
        .iter()
        .map(|c| quote_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Splits CSV text into records of cells, with the 1-based line each record starts on.
///
/// # Errors
/// [`PsoError::Config`](crate::PsoError::Config) naming `label` and the line of an unterminated quote.
pub fn parse_csv(text: &str, label: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut out = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => {
                in_quotes = true;
                any = true;
            }
            ',' => {
                record.push(std::mem::take(&mut cell));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if any || !cell.is_empty() {
                    record.push(std::mem::take(&mut cell));
                    out.push((start_line, std::mem::take(&mut record)));
                }
                any = false;
                line += 1;
                start_line = line;
            }
            _ => {
                cell.push(c);
                any = true;
            }
        }
    }
    if in_quotes {
        return Err(config_err(
            format!("{label}:{start_line}"),
            "unterminated quoted cell",
        ));
    }
    if any || !cell.is_empty() {
        record.push(cell);
        out.push((start_line, record));
    }
    Ok(out)
}

/// What [`ResultStore::append`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The file the row went to.
    pub path: PathBuf,
    /// Set when a new file was started because the row's columns differ from the previous
    /// file's header: why.
    pub new_file: Option<String>,
}

/// Appends rows to `<dir>/data_storage_<stamp>.csv`, the header once.
#[derive(Debug)]
pub struct ResultStore {
    dir: PathBuf,
    stamp: String,
    path: PathBuf,
    part: usize,
    columns: Option<Vec<String>>,
}

impl ResultStore {
    /// A store in `dir` (created if missing) for the run started at `stamp`
    /// (`YYYYmmddHHMMSS`; `None` = now, UTC). If the file exists, rows are appended to it as
    /// long as their columns match its header.
    ///
    /// # Errors
    /// [`PsoError::Io`](crate::PsoError::Io) when `dir` cannot be created; [`PsoError::Config`](crate::PsoError::Config) for a stamp that is
    /// not 14 digits.
    pub fn create(dir: impl Into<PathBuf>, stamp: Option<&str>) -> Result<Self> {
        let dir = dir.into();
        let stamp = match stamp {
            Some(s) => s.to_owned(),
            None => utc_stamp(SystemTime::now()),
        };
        if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(config_err(
                "data_storage timestamp",
                format!("`{stamp}` is not YYYYmmddHHMMSS"),
            ));
        }
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(format!("data_storage_{stamp}.csv"));
        Ok(Self {
            dir,
            stamp,
            path,
            part: 1,
            columns: None,
        })
    }

    /// The current file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `row`; writes the header first into a new file. A row whose columns differ
    /// from the current file's header goes to a new file `data_storage_<stamp>_<n>.csv`,
    /// reported in [`Appended::new_file`] (and a warning).
    ///
    /// # Errors
    /// [`PsoError::Io`](crate::PsoError::Io) on a failed read or write.
    pub fn append(&mut self, row: &StoreRow) -> Result<Appended> {
        let cols = row.columns();
        if self.columns.is_none() && self.path.exists() {
            let text = std::fs::read_to_string(&self.path).map_err(io_err(&self.path))?;
            let label = self.path.display().to_string();
            self.columns = parse_csv(&text, &label)?.into_iter().next().map(|(_, h)| h);
        }
        let mut new_file = None;
        if let Some(existing) = &self.columns
            && *existing != cols
        {
            let old = self.path.clone();
            loop {
                self.part += 1;
                self.path = self
                    .dir
                    .join(format!("data_storage_{}_{}.csv", self.stamp, self.part));
                if !self.path.exists() {
                    break;
                }
            }
            let why = format!(
                "columns differ from the header of {} ({}); continuing in {}",
                old.display(),
                describe_difference(existing, &cols),
                self.path.display()
            );
            tracing::warn!("{why}");
            new_file = Some(why);
            self.columns = None;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        let mut text = String::new();
        if self.columns.is_none() {
            text.push_str(&csv_line(&cols));
            self.columns = Some(cols);
        }
        text.push_str(&csv_line(&row.cells()));
        f.write_all(text.as_bytes())
            .and_then(|()| f.flush())
            .map_err(io_err(&self.path))?;
        Ok(Appended {
            path: self.path.clone(),
            new_file,
        })
    }
}

fn describe_difference(old: &[String], new: &[String]) -> String {
    let missing: Vec<&String> = old.iter().filter(|c| !new.contains(c)).collect();
    let added: Vec<&String> = new.iter().filter(|c| !old.contains(c)).collect();
    match (missing.is_empty(), added.is_empty()) {
        (true, true) => "same columns in another order".into(),
        _ => format!("missing {missing:?}, new {added:?}"),
    }
}

/// A results CSV read back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreFile {
    /// The file.
    pub path: PathBuf,
    /// Its header.
    pub columns: Vec<String>,
    /// Its rows.
    pub rows: Vec<StoreRow>,
}

/// Reads a results CSV (ours or the seed's).
///
/// # Errors
/// [`PsoError::Io`](crate::PsoError::Io); [`PsoError::Config`](crate::PsoError::Config) naming file, line and column for a missing
/// standard column, a row of the wrong width, or a cell that does not parse.
pub fn read_store(path: &Path) -> Result<StoreFile> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut file = parse_store(&text, &path.display().to_string())?;
    file.path = path.to_owned();
    Ok(file)
}

/// Reads every `data_storage*.csv` of `dir`, oldest first (by name: the timestamps sort).
///
/// # Errors
/// As [`read_store`]; [`PsoError::Io`](crate::PsoError::Io) when `dir` cannot be listed.
pub fn read_store_dir(dir: &Path) -> Result<Vec<StoreFile>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| e == "csv")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("data_storage"))
        })
        .collect();
    paths.sort();
    paths.iter().map(|p| read_store(p)).collect()
}

/// Parses the text of a results CSV; `label` names it in errors.
///
/// # Errors
/// As [`read_store`].
#[allow(clippy::too_many_lines)]
pub fn parse_store(text: &str, label: &str) -> Result<StoreFile> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = parse_csv(text, label)?.into_iter();
    let Some((_, columns)) = records.next() else {
        return Err(config_err(label, "empty file: no header"));
    };
    let pos = |name: &str| columns.iter().position(|c| c == name);
    let need = |name: &str| {
        pos(name).ok_or_else(|| {
            config_err(
                label,
                format!("not a data_storage CSV: column `{name}` is missing"),
            )
        })
    };
    let perf: Vec<usize> = PERFORMANCE_COLUMNS
        .iter()
        .map(|c| need(c))
        .collect::<Result<_>>()?;
    let tail: Vec<usize> = TAIL_COLUMNS
        .iter()
        .map(|c| need(c))
        .collect::<Result<_>>()?;
    let (first_field, end_fields) = (perf[4] + 1, tail[0]);
    if end_fields < first_field {
        return Err(config_err(
            label,
            "column `error` comes before `throughput`: not a data_storage CSV",
        ));
    }
    let predicted = pos(IS_PREDICTED);
    let prompts = pos(NUM_PROMPTS);
    let known: Vec<usize> = perf
        .iter()
        .chain(&tail)
        .copied()
        .chain(predicted)
        .chain(prompts)
        .chain(first_field..end_fields)
        .collect();
    let mut rows = Vec::new();
    for (line, cells) in records {
        if cells.len() != columns.len() {
            return Err(config_err(
                format!("{label}:{line}"),
                format!("{} cells, the header has {}", cells.len(), columns.len()),
            ));
        }
        let at = |k: usize| format!("{label}:{line}: column `{}`", columns[k]);
        let float = |k: usize| -> Result<Option<f64>> {
            let c = cells[k].trim();
            if c.is_empty() || c.eq_ignore_ascii_case("nan") || c.eq_ignore_ascii_case("none") {
                return Ok(None);
            }
            c.parse::<f64>()
                .map(Some)
                .map_err(|_| config_err(at(k), format!("`{c}` is not a number")))
        };
        let boolean = |k: usize| -> Result<bool> {
            match cells[k].trim() {
                "True" | "true" | "TRUE" | "1" | "1.0" => Ok(true),
                "False" | "false" | "FALSE" | "0" | "0.0" => Ok(false),
                c => Err(config_err(at(k), format!("`{c}` is not True or False"))),
            }
        };
        let text = |k: usize| -> Option<String> {
            let c = &cells[k];
            (!c.is_empty()).then(|| unguard(c).to_owned())
        };
        let g = float(perf[0])?;
        let ttft_s = float(perf[1])?;
        let tpot_s = float(perf[2])?;
        let s = float(perf[3])?;
        let thr = float(perf[4])?;
        let index = if [g, ttft_s, tpot_s, s, thr].iter().all(Option::is_none) {
            None
        } else {
            let data = PerformanceIndexData {
                output_throughput: g,
                request_throughput: thr,
                ttft_ms: ttft_s.map(|v| v * 1000.0),
                tpot_ms: tpot_s.map(|v| v * 1000.0),
                success_rate: s,
                ..PerformanceIndexData::default()
            };
            Some(PerformanceIndex::new(data).map_err(|e| {
                config_err(
                    format!("{label}:{line}"),
                    format!("performance columns: {e}"),
                )
            })?)
        };
        let num_prompts = match prompts {
            None => None,
            Some(k) => match float(k)? {
                None => None,
                Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 9.0e15 =>
                {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Some(n as u64)
                }
                Some(n) => {
                    return Err(config_err(at(k), format!("{n} is not a prompt count")));
                }
            },
        };
        rows.push(StoreRow {
            index,
            fields: (first_field..end_fields)
                .map(|k| (columns[k].clone(), cell_value(&cells[k])))
                .collect(),
            error: text(tail[0]),
            backup: text(tail[1]),
            duration_s: float(tail[2])?,
            real_evaluation: boolean(tail[3])?,
            fitness: float(tail[4])?,
            is_predicted: match predicted {
                Some(k) if !cells[k].trim().is_empty() => Some(boolean(k)?),
                _ => None,
            },
            num_prompts,
            extra: (0..columns.len())
                .filter(|k| !known.contains(k))
                .map(|k| (columns[k].clone(), cells[k].clone()))
                .collect(),
        });
    }
    Ok(StoreFile {
        path: PathBuf::from(label),
        columns,
        rows,
    })
}

/// `YYYYmmddHHMMSS` of `t` in UTC (the seed's `RUN_TIME` format; the seed uses local time).
#[must_use]
pub fn utc_stamp(t: SystemTime) -> String {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(
            e.duration()
                .as_secs()
                .saturating_add(u64::from(e.duration().subsec_nanos() > 0)),
        )
        .unwrap_or(i64::MAX),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `(year, month, day)` of `z` days after 1970-01-01
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`).
#[must_use]
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = if m <= 2 { y + 1 } else { y };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (y, m as u32, d as u32)
}

/// Reads back a file written by [`ResultStore`] into `(config map, index, fitness)` triples
/// for a warm start; rows with an error or without a finite fitness are skipped, as the seed's
/// loader does.
#[must_use]
pub fn warm_start_rows(
    file: &StoreFile,
) -> Vec<(
    serde_json::Map<String, Value>,
    Option<PerformanceIndex>,
    f64,
)> {
    file.rows
        .iter()
        .filter(|r| r.error.is_none() && r.real_evaluation)
        .filter_map(|r| {
            r.fitness
                .filter(|f| f.is_finite())
                .map(|f| (r.config_map(), r.index, f))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values: integers, SLO bounds, parsed literals
mod tests {
    use super::*;
    use crate::space::{FieldSpec, SeedCompat};
    use serde_json::json;

    #[test]
    fn py_repr_matches_python() {
        for (x, want) in [
            (14.019_546_508_789_062, "14.019546508789062"),
            (0.05, "0.05"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123.0, "123.0"),
            (-2.5, "-2.5"),
            (1.5e-7, "1.5e-07"),
            (1.234_567_890_123_456_8e17, "1.2345678901234568e+17"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(py_repr(x), want, "{x:e}");
        }
        assert_eq!(py_repr(f64::NAN), "nan");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_709_251_199); // 2024-02-29 23:59:59
        assert_eq!(utc_stamp(t), "20240229235959");
        let before = UNIX_EPOCH - std::time::Duration::from_secs(1);
        assert_eq!(utc_stamp(before), "19691231235959");
    }

    #[test]
    fn guard_and_quote() {
        assert_eq!(guard("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(guard("-cmd"), "'-cmd");
        assert_eq!(guard("plain"), "plain");
        assert_eq!(unguard(&guard("'quoted")), "'quoted");
        assert_eq!(unguard("'plain"), "'plain");
        assert_eq!(value_cell(&json!(-5)), "-5");
        assert_eq!(value_cell(&json!(-0.5)), "-0.5");
        assert_eq!(value_cell(&json!("-5")), "'-5");
        assert_eq!(value_cell(&json!(true)), "True");
        assert_eq!(value_cell(&Value::Null), "");
        assert_eq!(quote_cell("a,b"), "\"a,b\"");
        assert_eq!(quote_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell_value("'-5"), json!("-5"));
        assert_eq!(cell_value("-5"), json!(-5));
        assert_eq!(cell_value("1e-05"), json!(1e-5));
        assert_eq!(cell_value("inf"), json!("inf"));
    }

    fn index(g: f64, ttft_ms: f64, tpot_ms: f64) -> PerformanceIndex {
        PerformanceIndex::new(PerformanceIndexData {
            output_throughput: Some(g),
            request_throughput: Some(3.25),
            ttft_ms: Some(ttft_ms),
            tpot_ms: Some(tpot_ms),
            success_rate: Some(1.0),
            ..PerformanceIndexData::default()
        })
        .unwrap()
    }

    fn space() -> SearchSpace {
        SearchSpace::new(
            &[
                FieldSpec::int("max_batch_size", "S.maxBatchSize", 10, 1000),
                FieldSpec::choice(
                    "policy",
                    "S.policy",
                    vec![json!("=1+2"), json!("fcfs, sjf")],
                ),
                FieldSpec::float("REQUESTRATE", "env", 0.0, 0.0).with_constant(Value::Null),
                FieldSpec::int("CONCURRENCY", "env", 1000, 1000),
            ],
            SeedCompat::Fixed,
        )
        .unwrap()
    }

    fn record(cfg: &DecodedConfig, idx: Option<PerformanceIndex>, err: Option<&str>) -> Record {
        Record {
            iteration: 0,
            particle: 1,
            position: vec![0.5, 0.5],
            config: cfg.to_map(),
            index: idx,
            error: err.map(str::to_owned),
            fitness: if idx.is_some() { 1.25 } else { f64::INFINITY },
            duration_s: Some(12.5),
            real: true,
            cached: false,
        }
    }

    #[test]
    fn writes_the_seed_layout_and_reads_it_back() {
        let dir = std::env::temp_dir().join(format!("perf-pso-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = space();
        let c0 = s.decode(&[0.0, 0.0]).unwrap();
        let c1 = s.decode(&[1.0, 1.0]).unwrap();
        let mut store = ResultStore::create(&dir, Some("20250102030405")).unwrap();
        let r0 = StoreRow::from_record(&record(&c0, Some(index(4000.0, 250.0, 40.0)), None), &s);
        let mut r1 =
            StoreRow::from_record(&record(&c1, None, Some("-boom, \"quoted\"\nline 2")), &s);
        r1.backup = Some("/bak/2".into());
        let a = store.append(&r0).unwrap();
        assert_eq!(a.path, dir.join("data_storage_20250102030405.csv"));
        assert!(a.new_file.is_none());
        store.append(&r1).unwrap();
        let text = std::fs::read_to_string(&a.path).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(
            lines.next().unwrap(),
            "generate_speed,time_to_first_token,time_per_output_token,success_rate,throughput,\
             max_batch_size,policy,REQUESTRATE,CONCURRENCY,error,backup,duration,\
             real_evaluation,fitness,is_predicted"
        );
        assert_eq!(
            lines.next().unwrap(),
            "4000.0,0.25,0.04,1.0,3.25,10,'=1+2,,1000,,,12.5,True,1.25,False"
        );
        assert_eq!(
            lines.next().unwrap(),
            ",,,,,1000,\"fcfs, sjf\",,1000,\"'-boom, \"\"quoted\"\"\nline 2\",/bak/2,12.5,True,inf,False"
        );
        let back = read_store(&a.path).unwrap();
        assert_eq!(back.rows.len(), 2);
        assert_eq!(back.rows[0], r0);
        assert_eq!(back.rows[1], r1);
        assert_eq!(
            back.rows[1].error.as_deref(),
            Some("-boom, \"quoted\"\nline 2")
        );
        let warm = warm_start_rows(&back);
        assert_eq!(warm.len(), 1);
        assert_eq!(warm[0].0.get("policy"), Some(&json!("=1+2")));
        // a row with other columns starts a new file, and says so
        let mut r2 = r0.clone();
        r2.num_prompts = Some(1000);
        let a2 = store.append(&r2).unwrap();
        assert_eq!(a2.path, dir.join("data_storage_20250102030405_2.csv"));
        assert!(
            a2.new_file
                .as_deref()
                .unwrap()
                .contains("new [\"num_prompts\"]")
        );
        let files = read_store_dir(&dir).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].rows[0].num_prompts, Some(1000));
        // a fresh store on an existing file appends under its header
        let mut again = ResultStore::create(&dir, Some("20250102030405")).unwrap();
        assert!(again.append(&r1).unwrap().new_file.is_none());
        assert_eq!(read_store(&a.path).unwrap().rows.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_a_seed_file_and_names_bad_cells() {
        let seed = "generate_speed,time_to_first_token,time_per_output_token,success_rate,throughput,\
                    MAX_NUM_SEQS,error,backup,duration,real_evaluation,fitness,num_prompts\r\n\
                    812.5,1.5,0.08,1.0,2.5,64,,,301.2,True,1.2297442541400259,1000\r\n\
                    ,,,,,128,Failed in run_target_server,,30.0,True,inf,1000\r\n";
        let f = parse_store(seed, "seed.csv").unwrap();
        assert_eq!(f.rows.len(), 2);
        let i = f.rows[0].index.unwrap();
        assert_eq!(i.ttft_ms(), Some(1500.0));
        assert!((i.tpot_ms().unwrap() - 80.0).abs() < 1e-12);
        assert_eq!(
            f.rows[0].fields,
            vec![("MAX_NUM_SEQS".to_owned(), json!(64))]
        );
        assert_eq!(f.rows[1].fitness, Some(f64::INFINITY));
        assert_eq!(f.rows[1].num_prompts, Some(1000));
        let bad = seed.replace("812.5", "fast");
        let e = parse_store(&bad, "seed.csv").unwrap_err().to_string();
        assert!(
            e.contains("seed.csv:2: column `generate_speed`") && e.contains("`fast`"),
            "{e}"
        );
        let short = seed.replace(",1000\r\n,,", "\r\n,,");
        let e = parse_store(&short, "seed.csv").unwrap_err().to_string();
        assert!(e.contains("seed.csv:2") && e.contains("11 cells"), "{e}");
        let e = parse_store("a,b\r\n1,2\r\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column `generate_speed` is missing"), "{e}");
        assert!(
            parse_csv("\"open", "q.csv")
                .unwrap_err()
                .to_string()
                .contains("q.csv:1")
        );
        assert!(ResultStore::create(std::env::temp_dir(), Some("2025")).is_err());
    }
}
