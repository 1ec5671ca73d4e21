//! The crate's error type.

/// Everything that can go wrong when configuring or running a simulation.
///
/// Configuration errors name the offending field by its path in [`crate::SimConfig`]
/// (e.g. `workload.clients[0].arrival.rate`), so a message can be shown to a user as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A configuration value is invalid.
    #[error("{field} = {value}: {reason}")]
    InvalidConfig {
        /// Path of the field in the configuration, e.g. `cluster.replicas`.
        field: String,
        /// The offending value, formatted.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A cost model returned a step time that is negative, NaN or infinite.
    #[error("cost model returned an invalid step time {value} ms for a batch of {seqs} requests")]
    InvalidStepTime {
        /// The value returned, ms.
        value: f64,
        /// Requests in the batch.
        seqs: u32,
    },
    /// An error from `perf-model-core` (catalogue lookup, parameter validation).
    #[error(transparent)]
    Core(#[from] perf_model_core::Error),
    /// Writing the per-request CSV failed.
    #[error("writing requests CSV: {0}")]
    Csv(#[from] csv::Error),
    /// An I/O error while writing outputs.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Reading or writing JSON failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// A configuration text (YAML or JSON) does not match the schema: an unknown key, a
    /// missing field, a value of the wrong type, bad syntax.
    #[error("{origin}: {}{message}", path_prefix(.path.as_deref()))]
    Parse {
        /// Where the text came from: a file name, or `<yaml>` / `<json>` for a string.
        origin: String,
        /// Path of the offending key in the configuration, e.g. `workload.clients[0].arrival.rat`,
        /// when known.
        path: Option<String>,
        /// The parser's message (with line and column when the parser gives them).
        message: String,
    },
    /// An engine broke its contract ([`crate::engine`]): KV above capacity, blocks not
    /// covering tokens, a limit exceeded, a stall with work, a request lost.
    #[error("engine {engine} of replica {replica}: {reason}")]
    Engine {
        /// The engine's name.
        engine: String,
        /// The replica, from 0.
        replica: usize,
        /// What it did.
        reason: String,
    },
    /// A configuration file could not be read, or its extension is not `.yaml`, `.yml` or
    /// `.json`.
    #[error("{file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// What went wrong.
        reason: String,
    },
}

fn path_prefix(path: Option<&str>) -> String {
    path.map(|p| format!("{p}: ")).unwrap_or_default()
}

/// `Result` with this crate's [`SimError`].
pub type Result<T, E = SimError> = std::result::Result<T, E>;

/// Builds a [`SimError::InvalidConfig`].
pub(crate) fn invalid(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> SimError {
    let mut value = value.to_string();
    // `Display` of a huge f64 spells out every digit (1e300 → 301 characters).
    if value.len() > 24
        && let Ok(v) = value.parse::<f64>()
    {
        value = format!("{v:e}");
    }
    SimError::InvalidConfig {
        field: field.into(),
        value,
        reason: reason.into(),
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(field: impl Into<String>, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(invalid(field, value, "must be a finite number > 0"))
    }
}

/// Checks that `value` is finite and non-negative.
pub(crate) fn non_negative(field: impl Into<String>, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(field, value, "must be a finite number >= 0"))
    }
}
