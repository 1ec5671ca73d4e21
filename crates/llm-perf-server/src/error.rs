//! The crate's error type, and how each error becomes an HTTP answer.

use axum::http::StatusCode;

/// Any error of the server or its store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database failed (I/O, constraint, corruption). Never the user's fault.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The schema could not be brought to the current version.
    #[error("cannot migrate the database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A file or directory could not be read or created.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An uploaded file that cannot be stored: unreadable, unknown format, no model name.
    /// Nothing was stored. The message names the file.
    #[error("{message}")]
    Upload {
        /// The file name as given by the client.
        file: String,
        /// What is wrong, in one line, starting with the file name.
        message: String,
    },
    /// The same bytes are stored already (same SHA-256); nothing new was stored.
    #[error(
        "{}: the same file (sha256 {}) is already stored as upload {} ({}, {})",
        .0.file, .0.sha256, .0.upload_id, .0.stored_as, .0.uploaded_at
    )]
    Duplicate(Box<Duplicate>),
    /// Something addressed by id or name does not exist.
    #[error("no {what} {id}")]
    NotFound {
        /// What was looked for (`benchmark`, `model`, `derived model`).
        what: &'static str,
        /// The id or name asked for.
        id: String,
    },
    /// A request field with a value that cannot be used.
    #[error("field `{field}` = {value}: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// The value given (shortened).
        value: String,
        /// Why it cannot be used.
        message: String,
    },
    /// The stored data cannot answer the question (too few points, missing statistics).
    #[error("{0}")]
    Unprocessable(String),
    /// From the facade: readers, fits, predictors, the analyzer.
    #[error(transparent)]
    LlmPerf(Box<llm_perf::Error>),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    /// The HTTP status this error answers with: 4xx for the client's input, 5xx for ours.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        use llm_perf::Error as E;
        match self {
            Self::Upload { .. } | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Duplicate(_) => StatusCode::CONFLICT,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::LlmPerf(e) => match **e {
                E::Read(_) | E::Fit(_) | E::Predict(_) | E::Model(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::BAD_REQUEST,
            },
            Self::Sqlite(_) | Self::Migration(_) | Self::Io { .. } | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// A convenience for [`ServerError::Invalid`].
    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        let mut value = value.to_string();
        if value.len() > 80 {
            let cut = (0..=80)
                .rev()
                .find(|&i| value.is_char_boundary(i))
                .unwrap_or(0);
            value.truncate(cut);
            value.push('…');
        }
        Self::Invalid {
            field: field.into(),
            value,
            message: message.into(),
        }
    }
}

macro_rules! from_crate_error {
    ($($t:ty),*) => {$(
        impl From<$t> for ServerError {
            fn from(e: $t) -> Self {
                Self::LlmPerf(Box::new(e.into()))
            }
        }
    )*};
}
from_crate_error!(
    llm_perf::readers::ReadError,
    llm_perf::fit::FitError,
    llm_perf::predict::PredictError,
    llm_perf::model::Error
);

impl From<llm_perf::Error> for ServerError {
    fn from(e: llm_perf::Error) -> Self {
        Self::LlmPerf(Box::new(e))
    }
}

/// An upload whose bytes are stored already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The file name of this upload.
    pub file: String,
    /// Content hash.
    pub sha256: String,
    /// The upload that holds these bytes.
    pub upload_id: i64,
    /// Its file name.
    pub stored_as: String,
    /// When it was stored.
    pub uploaded_at: String,
    /// Its benchmarks.
    pub benchmark_ids: Vec<i64>,
}

/// `Result` with [`ServerError`].
pub type Result<T, E = ServerError> = std::result::Result<T, E>;
