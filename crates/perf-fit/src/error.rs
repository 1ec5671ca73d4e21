//! The crate's error type.

/// Everything that can go wrong while preparing data for, or running, an Inferno fit.
///
/// Every variant names the offending field (and point index where there is one) so that the
/// message can be shown to a user as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    /// A trainer setting is invalid (e.g. a negative initial parameter).
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParam {
        /// Name of the setting, e.g. `init.beta`.
        name: &'static str,
        /// The value that was given, formatted.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A training point has a bad value (NaN, ±∞, non-positive rate, zero output tokens, …).
    #[error("point {index}: {field} = {value}: {reason}")]
    InvalidPoint {
        /// Position of the point in the training data (after concatenation for joint fits).
        index: usize,
        /// Name of the field, e.g. `rate_rps`.
        field: &'static str,
        /// The value that was found.
        value: f64,
        /// What was expected.
        reason: &'static str,
    },
    /// Too few training points.
    #[error("need at least {needed} training points, got {got}")]
    NotEnoughPoints {
        /// Minimum number of points.
        needed: usize,
        /// Number of points given.
        got: usize,
    },
    /// The data cannot determine the model (e.g. every point is the same operating point).
    #[error("degenerate training data: {0}")]
    Degenerate(String),
    /// The loss at the initial parameters is not finite, so Nelder–Mead cannot start (the Go
    /// trainer fails the same way).
    #[error(
        "the loss at the initial parameters (alpha {alpha}, beta {beta}, gamma {gamma}) is not \
         finite: the model cannot serve the data there (e.g. a rate above the V3 maximum rate)"
    )]
    InfeasibleStart {
        /// Initial α.
        alpha: f64,
        /// Initial β.
        beta: f64,
        /// Initial γ.
        gamma: f64,
    },
    /// An error from the Inferno analyzer or a validation helper of `perf-model-core`.
    #[error(transparent)]
    Core(#[from] perf_model_core::Error),
    /// The optimizer framework (argmin) failed.
    #[error("Nelder–Mead failed: {0}")]
    Optimizer(#[from] argmin::core::Error),
}

/// `Result` with this crate's [`FitError`].
pub type Result<T, E = FitError> = std::result::Result<T, E>;
