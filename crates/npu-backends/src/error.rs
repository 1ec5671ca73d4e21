//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while preparing, launching, health-checking or benchmarking.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpuError {
    /// A dotted `config_position` cannot be written into the engine's config file.
    #[error("config path `{path}` not found: {reason}")]
    ConfigPathNotFound {
        /// The dotted path as given.
        path: String,
        /// Why it cannot be reached (missing list index, too deep, …).
        reason: String,
    },
    /// The new value does not have the JSON type of the value it replaces.
    #[error("type mismatch at `{path}`: the config holds {expected}, the candidate gives {found}")]
    TypeMismatch {
        /// The dotted path.
        path: String,
        /// JSON type of the existing value.
        expected: &'static str,
        /// JSON type (or description) of the new value.
        found: String,
    },
    /// A configuration (engine section, candidate, command template) is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A child process could not be spawned.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program (argv\[0\]).
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A child process exited when it should not have (or with a failure status).
    #[error("`{program}` exited ({status}); last log lines:\n{log_tail}")]
    Exited {
        /// The program (argv\[0\]).
        program: String,
        /// Exit status, as text.
        status: String,
        /// The last lines of its captured output.
        log_tail: String,
    },
    /// The engine did not become healthy in time.
    #[error("`{program}` not healthy after {timeout_s} s; last log lines:\n{log_tail}")]
    HealthTimeout {
        /// The program (argv\[0\]).
        program: String,
        /// The start timeout, seconds.
        timeout_s: f64,
        /// The last lines of its captured output.
        log_tail: String,
    },
    /// A benchmark (or another bounded step) ran out of time.
    #[error("{what} timed out after {timeout_s} s")]
    Timeout {
        /// What timed out.
        what: String,
        /// The limit, seconds.
        timeout_s: f64,
    },
    /// The engine's port is already taken before it was started.
    #[error("port {port} on {host} is already in use")]
    PortInUse {
        /// The address.
        host: String,
        /// The port.
        port: u16,
    },
    /// The engine died while the benchmark was running.
    #[error(
        "engine `{program}` crashed during the benchmark ({status}); last log lines:\n{log_tail}"
    )]
    EngineCrashed {
        /// The engine program.
        program: String,
        /// Exit status, as text.
        status: String,
        /// The last lines of its captured output.
        log_tail: String,
    },
    /// Benchmark output is missing, ambiguous or unusable.
    #[error("benchmark output: {0}")]
    Output(String),
    /// A benchmark output file could not be parsed.
    #[error(transparent)]
    Parse(#[from] perf_readers::ReadError),
    /// A parsed figure failed validation.
    #[error(transparent)]
    Core(#[from] perf_model_core::Error),
    /// A failure whose logs matched a `[health_check]` pattern.
    #[error("{source} [{class} {name}: {snippet}]")]
    Classified {
        /// `fatal` or `retryable`.
        class: &'static str,
        /// The pattern table entry.
        name: String,
        /// Log context around the match.
        snippet: String,
        /// The underlying failure.
        source: Box<NpuError>,
    },
    /// Registry misuse: duplicate or unknown name.
    #[error("registry: {0}")]
    Registry(String),
    /// A health probe could not be performed (bad address, non-loopback host, …).
    #[error("health probe: {0}")]
    Probe(String),
}

impl NpuError {
    /// Wraps an I/O error with the file it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether retrying the same candidate might succeed (process, timeout and output
    /// failures); configuration errors are permanent.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        if let Self::Classified { class, .. } = self {
            return *class == "retryable";
        }
        matches!(
            self,
            Self::Spawn { .. }
                | Self::Exited { .. }
                | Self::HealthTimeout { .. }
                | Self::Timeout { .. }
                | Self::EngineCrashed { .. }
                | Self::Output(_)
                | Self::Parse(_)
                | Self::Io { .. }
        )
    }
}

impl NpuError {
    /// Whether the candidate itself is wrong (bad path, type, config, port taken): such
    /// failures are neither retried nor reclassified by log patterns.
    #[must_use]
    pub fn is_config_error(&self) -> bool {
        matches!(
            self,
            Self::ConfigPathNotFound { .. }
                | Self::TypeMismatch { .. }
                | Self::InvalidConfig(_)
                | Self::PortInUse { .. }
                | Self::Registry(_)
        )
    }
}

/// The crate's result type.
pub type Result<T, E = NpuError> = std::result::Result<T, E>;
