//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading data, fitting or loading a predictor.
///
/// Every variant carries enough context (row index, field, path) to be shown to a user as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PredictError {
    /// A feature or target value was NaN or infinite.
    #[error("row {row}: {field} = {value} is not a finite number")]
    NonFinite {
        /// Index of the offending row (0-based) in the data given to the fit.
        row: usize,
        /// Which value: a feature name or `target`.
        field: String,
        /// The value found.
        value: f64,
    },
    /// Fewer rows than the fit needs.
    #[error("need at least {needed} rows, got {got}")]
    TooFewRows {
        /// Rows required.
        needed: usize,
        /// Rows given.
        got: usize,
    },
    /// A row has the wrong number of features.
    #[error("row {row}: expected {expected} features, got {got}")]
    FeatureCount {
        /// Index of the offending row (0-based).
        row: usize,
        /// Features the model was built for.
        expected: usize,
        /// Features given.
        got: usize,
    },
    /// Feature rows and targets have different lengths.
    #[error("{rows} feature rows but {targets} targets")]
    LengthMismatch {
        /// Number of feature rows.
        rows: usize,
        /// Number of targets.
        targets: usize,
    },
    /// No configuration (or model) of that name.
    #[error("unknown {kind} `{name}`; known: {}", known.join(", "))]
    UnknownName {
        /// What was looked up: `config`, `stage` or `model`.
        kind: &'static str,
        /// The name as given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// The data cannot determine a model (e.g. every row has the same features).
    #[error("degenerate data: {0}")]
    Degenerate(String),
    /// An argument is out of its allowed range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// A JSON document does not have the expected shape.
    #[error("{path}: {message}")]
    Format {
        /// File (or `<memory>`) the document came from.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A JSON document could not be parsed or written.
    #[error("{path}: JSON error: {source}")]
    Json {
        /// File (or `<memory>`) the document came from.
        path: PathBuf,
        /// The underlying error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A CSV file could not be parsed.
    #[error("{path}:{line}: CSV error: {source}")]
    Csv {
        /// File (or `<memory>`) the table came from.
        path: PathBuf,
        /// 1-based line of the error (0 if unknown).
        line: u64,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// A tree library rejected the data or failed (its message).
    #[error("{kind} model: {message}")]
    Model {
        /// `gbdt` or `forest`.
        kind: &'static str,
        /// What the library reported.
        message: String,
    },
    /// A model file uses a feature this crate does not implement (an XGBoost objective other
    /// than identity-link regression, categorical splits, multi-output trees, a DART or linear
    /// booster, …).
    #[error("{path}: not supported: {what}")]
    Unsupported {
        /// File (or `<memory>`) the model came from.
        path: PathBuf,
        /// What is not supported, with where it was found.
        what: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`PredictError`].
pub type Result<T, E = PredictError> = std::result::Result<T, E>;

/// Returns the first non-finite value of `values` as a [`PredictError::NonFinite`].
pub(crate) fn ensure_finite_row(row: usize, names: &[&str], values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(PredictError::NonFinite {
            row,
            field: names
                .get(i)
                .map_or_else(|| format!("feature[{i}]"), |n| (*n).to_owned()),
            value: values[i],
        }),
    }
}
