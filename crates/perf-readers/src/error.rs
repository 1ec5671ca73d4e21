//! The crate's error type: every failure names the file, the place in it and the bad value.

use std::fmt;

/// Where in a file a problem was found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The file as a whole.
    File,
    /// A 1-based line and column of the text.
    Line {
        /// Line, 1-based.
        line: usize,
        /// Column, 1-based (0 when unknown).
        column: usize,
    },
    /// A JSON path such as `benchmarks[2].metrics.time_to_first_token_ms.successful.median`,
    /// with the 1-based line of the JSON-Lines record it is in (0 for a single document).
    JsonPath {
        /// Line of the JSON-Lines record, 0 for a plain JSON document.
        line: usize,
        /// The path from the document root.
        path: String,
    },
    /// A cell of a table: 1-based row (record) and the column's name.
    Cell {
        /// Row, 1-based (data rows after the header).
        row: usize,
        /// Column name.
        column: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => f.write_str("file"),
            Self::Line { line, column: 0 } => write!(f, "line {line}"),
            Self::Line { line, column } => write!(f, "line {line} column {column}"),
            // Keys and column titles come from the file: kept on one line.
            Self::JsonPath { line: 0, path } => write!(f, "{}", one_line(path)),
            Self::JsonPath { line, path } => write!(f, "line {line}: {}", one_line(path)),
            Self::Cell { row, column } => write!(f, "row {row}, column `{}`", one_line(column)),
        }
    }
}

/// Everything that can go wrong while reading a benchmark file.
///
/// Each message is one line and starts with the file's path, so it can be shown as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("{path}: is a directory, not a file")]
    IsDirectory {
        /// The path.
        path: String,
    },
    /// The file has no content (or only white space).
    #[error("{path}: empty file")]
    Empty {
        /// The file.
        path: String,
    },
    /// The file is binary (it holds NUL or other control bytes).
    #[error("{path}: binary content (byte 0x{byte:02x} at offset {offset}), not a text report")]
    Binary {
        /// The file.
        path: String,
        /// Offset of the first offending byte.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The file is UTF-16 text; the readers accept UTF-8 only.
    #[error("{path}: UTF-16 ({endian}) text; convert it to UTF-8")]
    Utf16 {
        /// The file.
        path: String,
        /// `little-endian` or `big-endian`.
        endian: &'static str,
    },
    /// The file is not valid UTF-8.
    #[error("{path}: invalid UTF-8 at byte offset {offset}")]
    Utf8 {
        /// The file.
        path: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// [`detect`](crate::detect) did not recognise the content.
    #[error("{path}: unknown format: {reason}")]
    UnknownFormat {
        /// The file.
        path: String,
        /// What was seen.
        reason: String,
    },
    /// The file is a request trace, a profile table or a model document, not a benchmark
    /// report: read it with [`read_requests_any`](crate::read_requests_any),
    /// [`read_profile_any`](crate::read_profile_any) or
    /// [`read_document_any`](crate::read_document_any).
    #[error(
        "{path}: {format} is {}, not benchmark points; read it as {}",
        .format.kind(),
        if .format.is_profile() { "a profile" }
        else if .format.is_document() { "a model document" }
        else { "request records" }
    )]
    NotBenchmark {
        /// The file.
        path: String,
        /// The detected format.
        format: crate::Format,
    },
    /// The text is not JSON (even with the lenient `Infinity`/`NaN` tokens).
    #[error("{path}:{line}:{column}: JSON syntax error: {message}")]
    Json {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message without its position.
        message: String,
    },
    /// The text is not YAML (GuideLLM YAML reports).
    #[error("{path}:{line}:{column}: YAML error: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A value is missing or has the wrong type or form.
    #[error("{path}: {location}: {message} (found: {value})")]
    Field {
        /// The file.
        path: String,
        /// Where the value is.
        location: Location,
        /// The value found (JSON text, shortened), or `nothing`.
        value: String,
        /// What was expected.
        message: String,
    },
    /// A value was read but fails validation by `perf-model-core` (NaN, ∞, negative, …).
    #[error("{path}: {location}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// Where the record is.
        location: Location,
        /// The validation error, naming the field and value.
        #[source]
        source: Box<perf_model_core::Error>,
    },
    /// The file was understood but holds no benchmark point (after selection).
    #[error("{path}: no benchmark points{detail}")]
    NoPoints {
        /// The file.
        path: String,
        /// Extra explanation, starting with `: ` when present.
        detail: String,
    },
    /// A file that a run folder (or a run file's companion) needs is not there, e.g.
    /// `results/summary_lifecycle_metrics.json` of an inference-perf run folder.
    #[error("{path}: missing: {reason}")]
    MissingFile {
        /// The file that was expected.
        path: String,
        /// Who needs it, e.g. `an inference-perf run folder needs it`.
        reason: String,
    },
    /// [`read_run`](crate::read_run) was given a file holding several runs (a GuideLLM report
    /// with several benchmarks, a JSON-Lines `vllm bench serve` result, BLIS trainval
    /// summaries of several experiments).
    #[error("{path}: holds {count} runs, read_run reads exactly one: use read_runs")]
    SeveralRuns {
        /// The file.
        path: String,
        /// How many runs it holds.
        count: usize,
    },
}

impl ReadError {
    /// The path of the file the error is about.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Io { path, .. }
            | Self::IsDirectory { path }
            | Self::Empty { path }
            | Self::Binary { path, .. }
            | Self::Utf16 { path, .. }
            | Self::Utf8 { path, .. }
            | Self::UnknownFormat { path, .. }
            | Self::NotBenchmark { path, .. }
            | Self::Json { path, .. }
            | Self::Yaml { path, .. }
            | Self::Field { path, .. }
            | Self::Invalid { path, .. }
            | Self::NoPoints { path, .. }
            | Self::MissingFile { path, .. }
            | Self::SeveralRuns { path, .. } => path,
        }
    }
}

/// `Result` with [`ReadError`].
pub type Result<T, E = ReadError> = std::result::Result<T, E>;

/// Shortens a value for an error message (at most 80 characters, one line).
/// `text` with control characters (line breaks included) as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub(crate) fn shorten(text: &str) -> String {
    let one_line = one_line(text);
    if one_line.chars().count() <= 80 {
        one_line
    } else {
        let mut s: String = one_line.chars().take(77).collect();
        s.push_str("...");
        s
    }
}
