//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a search space, running or resuming a tuner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PsoError {
    /// A TOML document failed to parse (syntax, duplicate key, wrong type).
    #[error("{file}:{line}: TOML error: {message}")]
    Toml {
        /// File name (or a label for in-memory text).
        file: String,
        /// 1-based line of the offending text (0 if unknown).
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A field (search-space entry) or configuration key is invalid.
    #[error("{path}: {reason}")]
    Config {
        /// Dotted path of the offending entry, e.g. `vllm.target_field[1] (MAX_NUM_SEQS).min`.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A parameter of the optimiser or the fitness is out of range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// Offending value.
        value: String,
        /// Why it is rejected.
        reason: String,
    },
    /// A position or configuration does not match the search space.
    #[error("position has {got} coordinates, the search space has {expected} dimensions")]
    Dimension {
        /// Number of dimensions of the space.
        expected: usize,
        /// Number of coordinates given.
        got: usize,
    },
    /// A configuration could not be encoded into a position.
    #[error("cannot encode field `{field}`: {reason}")]
    Encode {
        /// Field name.
        field: String,
        /// Why.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON document (checkpoint, results line) is malformed.
    #[error("{path}:{line}: JSON error: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 if unknown).
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A checkpoint does not belong to this run.
    #[error("checkpoint {path} refused: {reason}")]
    CheckpointMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// An evaluator broke its contract (wrong number of results).
    #[error("evaluator returned {got} evaluations for {expected} candidates")]
    EvaluatorContract {
        /// Candidates sent.
        expected: usize,
        /// Evaluations returned.
        got: usize,
    },
    /// An evaluator failed as a whole ([`crate::Evaluator::try_evaluate_streaming`]): nothing of
    /// the iteration was scored or checkpointed.
    #[error("iteration {iteration}: {source}")]
    Evaluator {
        /// The PSO iteration whose batch failed.
        iteration: usize,
        /// Why (a scheduler that cannot be reached, a results directory that cannot be written).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The simulator rejected a configuration.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Sim(#[from] perf_sim::SimError),
}

/// `Result` with [`PsoError`].
pub type Result<T, E = PsoError> = std::result::Result<T, E>;

/// 1-based line number of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Maps a TOML parse error to [`PsoError::Toml`] with its line.
pub(crate) fn toml_error(file: &str, text: &str, err: &toml::de::Error) -> PsoError {
    let mut message = err.message().trim().to_owned();
    if let Some(snippet) = err.span().and_then(|s| text.get(s)) {
        let snippet = snippet.trim();
        if !snippet.is_empty() && snippet.len() <= 60 && !snippet.contains('\n') {
            message = format!("{message} `{snippet}`");
        }
    }
    PsoError::Toml {
        file: file.to_owned(),
        line: err.span().map_or(0, |s| line_of(text, s.start)),
        message,
    }
}

pub(crate) fn config_err(path: impl Into<String>, reason: impl Into<String>) -> PsoError {
    PsoError::Config {
        path: path.into(),
        reason: reason.into(),
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PsoError {
    let path = path.into();
    move |source| PsoError::Io { path, source }
}
