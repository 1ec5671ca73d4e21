//! The crate's error type.

/// Everything that can go wrong in `perf-model-core`: invalid values, inconsistent inputs,
/// unknown catalogue names and infeasible queueing problems.
///
/// Every variant names the field (or catalogue kind) and the offending value, so a message can
/// be shown to a user as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value that must be a finite number was NaN or infinite.
    #[error("{field} = {value}: must be a finite number")]
    NonFinite {
        /// Name (or path) of the field, e.g. `ttft.p99` or `points[3].request_rate`.
        field: String,
        /// The value that was found.
        value: f64,
    },
    /// A value lies outside its allowed range.
    #[error("{field} = {value}: {expected}")]
    OutOfRange {
        /// Name (or path) of the field.
        field: String,
        /// The value that was found, formatted.
        value: String,
        /// What was expected, e.g. `must be > 0`.
        expected: String,
    },
    /// Several values that are each valid do not fit together.
    #[error("inconsistent values: {0}")]
    Inconsistent(String),
    /// A catalogue lookup found no entry with that name or alias.
    #[error("unknown {kind} `{name}`; nearest known names: {}", nearest.join(", "))]
    UnknownName {
        /// What was looked up: `model` or `accelerator`.
        kind: &'static str,
        /// The name as given.
        name: String,
        /// The closest known names, best first.
        nearest: Vec<String>,
    },
    /// The offered load exceeds what the queueing model can serve.
    #[error("request rate {rate} req/s is above the maximum rate {max_rate} req/s")]
    RateAboveCapacity {
        /// Offered rate, req/s.
        rate: f64,
        /// Largest rate the model accepts, req/s.
        max_rate: f64,
    },
    /// A latency target is below what the model gives even at the lowest rate.
    #[error(
        "target {metric} = {target} ms cannot be met: at the lowest rate ({min_rate} req/s) the model gives {achieved} ms"
    )]
    TargetUnreachable {
        /// Which target: `TTFT` or `ITL`.
        metric: &'static str,
        /// The target, ms.
        target: f64,
        /// The value at the lowest rate, ms.
        achieved: f64,
        /// The lowest rate searched, req/s.
        min_rate: f64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
