//! Inputs of the Inferno analyzer: model variant, service parameters, request shape, queue
//! configuration and arithmetic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::validate::{at_least_one, non_negative, out_of_range};

/// Largest accepted `max_batch_size` (2²⁴): every batch size is then exact in `f32`, and the
/// per-batch tables stay small.
pub const MAX_BATCH_SIZE_LIMIT: u32 = 1 << 24;

/// Largest accepted `max_queue_size` (2²⁴): a solve walks all `N + Q` chain states, so a
/// larger queue only costs time (2³² states would take ~20 s per solve) without changing
/// any result that matters.
pub const MAX_QUEUE_SIZE_LIMIT: u32 = 1 << 24;

/// Default token budget per engine iteration (`max_num_tokens`), as upstream.
pub const DEFAULT_MAX_NUM_TOKENS: u32 = 8192;

/// Which generation of the upstream `llm-inferno/queue-analysis` model to evaluate.
///
/// Published numbers were produced by different generations, so all three are kept:
///
/// | variant | upstream version | published numbers made with it |
/// |---|---|---|
/// | [`V3`](Self::V3) | v0.3.0 | model-trainer README headline fit; the REST examples `solution-solve.json` and `solution-target.json` |
/// | [`V6`](Self::V6) | v0.4.0 – v0.6.0 | paper Table 1 (MASCOTS 2026) and the committed `exp2` experiment results |
/// | [`V7`](Self::V7) | v0.7.0 / v0.8.0 | current upstream; `solution-optimize.json` and `golden_primitives.json` |
///
/// Parsing accepts `v3`/`V3`/`0.3`/`v0.3.0`, `v6`/`0.6` (also `0.4`, `0.5`), `v7`/`0.7`
/// (also `0.8`); [`Display`](fmt::Display) writes `v3`, `v6`, `v7`.
///
/// # Examples
/// ```
/// use perf_model_core::inferno::QueueModel;
/// assert_eq!("0.3".parse::<QueueModel>()?, QueueModel::V3);
/// assert_eq!("V7".parse::<QueueModel>()?.to_string(), "v7");
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum QueueModel {
    /// queue-analysis v0.3.0: decode memory term γ·(n + m/2); a rate above `0.999·μ(N)` is an
    /// error ([`Error::RateAboveCapacity`]).
    V3,
    /// queue-analysis v0.4.0 – v0.6.0: decode memory term γ·(n + (m+1)/2); no rate guard,
    /// overload shows as blocking (`p_K > 0`).
    V6,
    /// queue-analysis v0.7.0 / v0.8.0: chunked prefill `nc(B)` and no double count of the
    /// focal request's own work; no rate guard.
    #[default]
    V7,
}

/// Deserialisation accepts every spelling [`FromStr`] does.
impl TryFrom<String> for QueueModel {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl QueueModel {
    /// All variants, oldest first.
    pub const ALL: [Self; 3] = [Self::V3, Self::V6, Self::V7];

    /// Whether `solve` rejects rates above `0.999·μ(N)` (only [`QueueModel::V3`]).
    #[must_use]
    pub fn has_rate_guard(self) -> bool {
        self == Self::V3
    }
}

impl fmt::Display for QueueModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3 => "v3",
            Self::V6 => "v6",
            Self::V7 => "v7",
        })
    }
}

impl FromStr for QueueModel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix('v').unwrap_or(&t);
        match t {
            "3" | "0.3" | "0.3.0" => Ok(Self::V3),
            "4" | "5" | "6" | "0.4" | "0.4.0" | "0.5" | "0.5.0" | "0.6" | "0.6.0" => Ok(Self::V6),
            "7" | "8" | "0.7" | "0.7.0" | "0.8" | "0.8.0" => Ok(Self::V7),
            _ => Err(out_of_range(
                "model",
                s,
                "must be one of v3, v6, v7 (or 0.3, 0.6, 0.7)",
            )),
        }
    }
}

/// How the analyzer does its arithmetic.
///
/// The upstream Go analyzer keeps every service-time quantity in `float32` (the chain's
/// probabilities and sums are `float64`). In `f64` the results agree with it to about 1e-6
/// relative, except where `float32` cancellation dominates: the mean wait `W = R − S̄`
/// is the difference of two numbers of order `m·ITL` (10⁴ ms in the REST example), so Go's
/// `W` is quantised to one `float32` ulp of `R` (2⁻¹⁰ ms there) and differs from the exact
/// value by up to ~4e-5 relative; TTFT inherits it. Use [`Arithmetic::GoFloat32`] to
/// reproduce published Go outputs (REST examples) to 1e-5.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arithmetic {
    /// Plain `f64` everywhere (the default).
    #[default]
    F64,
    /// Parity with the Go reference: `float32` at the same rounding sites (inputs, service
    /// primitives, μ table, arrival rate, post-chain statistics, bisection midpoints),
    /// `float64` in the birth–death chain, no fused multiply-adds (amd64 Go).
    GoFloat32,
}

/// Raw, unvalidated form used by serde.
#[derive(Deserialize)]
struct RawServiceParams {
    alpha: f64,
    beta: f64,
    gamma: f64,
}

/// The three Inferno service parameters.
///
/// * `alpha`: ms per iteration (fixed cost of one engine step);
/// * `beta`: ms per token computed;
/// * `gamma`: ms per (token × context token), the memory-access slope.
///
/// # Examples
/// ```
/// use perf_model_core::inferno::ServiceParams;
/// let p = ServiceParams::new(12.0, 0.05, 5e-4)?;
/// assert_eq!(p.alpha(), 12.0);
/// assert!(ServiceParams::new(12.0, -0.05, 5e-4).is_err());
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawServiceParams")]
pub struct ServiceParams {
    alpha: f64,
    beta: f64,
    gamma: f64,
}

impl ServiceParams {
    /// Validated parameters.
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::OutOfRange`] naming `alpha`, `beta` or `gamma` when a
    /// value is NaN, infinite or negative.
    pub fn new(alpha: f64, beta: f64, gamma: f64) -> Result<Self> {
        Ok(Self {
            alpha: non_negative("alpha", alpha)?,
            beta: non_negative("beta", beta)?,
            gamma: non_negative("gamma", gamma)?,
        })
    }

    /// α, ms per iteration.
    #[must_use]
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// β, ms per token.
    #[must_use]
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// γ, ms per (token × context token).
    #[must_use]
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl TryFrom<RawServiceParams> for ServiceParams {
    type Error = Error;
    fn try_from(r: RawServiceParams) -> Result<Self> {
        Self::new(r.alpha, r.beta, r.gamma)
    }
}

#[derive(Deserialize)]
struct RawRequestShape {
    input_tokens: f64,
    output_tokens: f64,
}

/// Mean request size: `n` input (prompt) tokens and `m` output tokens.
///
/// Means need not be integers. Validity as upstream: `n ≥ 0`, `m ≥ 1`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRequestShape")]
pub struct RequestShape {
    input_tokens: f64,
    output_tokens: f64,
}

impl RequestShape {
    /// Validated request shape.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::OutOfRange`] naming `input_tokens` (NaN, ∞ or < 0) or
    /// `output_tokens` (NaN, ∞ or < 1).
    pub fn new(input_tokens: f64, output_tokens: f64) -> Result<Self> {
        let input_tokens = non_negative("input_tokens", input_tokens)?;
        if non_negative("output_tokens", output_tokens)? < 1.0 {
            return Err(out_of_range("output_tokens", output_tokens, "must be >= 1"));
        }
        Ok(Self {
            input_tokens,
            output_tokens,
        })
    }

    /// Mean input tokens `n`.
    #[must_use]
    pub fn input_tokens(&self) -> f64 {
        self.input_tokens
    }

    /// Mean output tokens `m`.
    #[must_use]
    pub fn output_tokens(&self) -> f64 {
        self.output_tokens
    }
}

impl TryFrom<RawRequestShape> for RequestShape {
    type Error = Error;
    fn try_from(r: RawRequestShape) -> Result<Self> {
        Self::new(r.input_tokens, r.output_tokens)
    }
}

fn default_max_num_tokens() -> u32 {
    DEFAULT_MAX_NUM_TOKENS
}

#[derive(Deserialize)]
struct RawQueueConfig {
    max_batch_size: u32,
    max_queue_size: u32,
    #[serde(default = "default_max_num_tokens")]
    max_num_tokens: u32,
}

/// Server limits: max batch size `N`, max queue size `Q` (so the chain has `K = N + Q`
/// states above 0) and max tokens per iteration `M` (V7 chunked prefill only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawQueueConfig")]
pub struct QueueConfig {
    max_batch_size: u32,
    max_queue_size: u32,
    max_num_tokens: u32,
}

impl QueueConfig {
    /// `N` = `max_batch_size`, `Q` = `max_queue_size`, `M` = [`DEFAULT_MAX_NUM_TOKENS`].
    ///
    /// # Errors
    /// [`Error::OutOfRange`] naming `max_batch_size` when it is 0 or above
    /// [`MAX_BATCH_SIZE_LIMIT`], or `max_queue_size` above [`MAX_QUEUE_SIZE_LIMIT`].
    pub fn new(max_batch_size: u32, max_queue_size: u32) -> Result<Self> {
        at_least_one("max_batch_size", u64::from(max_batch_size))?;
        if max_batch_size > MAX_BATCH_SIZE_LIMIT {
            return Err(out_of_range(
                "max_batch_size",
                max_batch_size,
                "must be <= 16777216",
            ));
        }
        if max_queue_size > MAX_QUEUE_SIZE_LIMIT {
            return Err(out_of_range(
                "max_queue_size",
                max_queue_size,
                "must be <= 16777216",
            ));
        }
        Ok(Self {
            max_batch_size,
            max_queue_size,
            max_num_tokens: DEFAULT_MAX_NUM_TOKENS,
        })
    }

    /// Sets `M`, the token budget per iteration.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] naming `max_num_tokens` when it is 0.
    pub fn with_max_num_tokens(mut self, max_num_tokens: u32) -> Result<Self> {
        at_least_one("max_num_tokens", u64::from(max_num_tokens))?;
        self.max_num_tokens = max_num_tokens;
        Ok(self)
    }

    /// Max batch size `N`.
    #[must_use]
    pub fn max_batch_size(&self) -> u32 {
        self.max_batch_size
    }

    /// Max queue size `Q`.
    #[must_use]
    pub fn max_queue_size(&self) -> u32 {
        self.max_queue_size
    }

    /// Max tokens per iteration `M`.
    #[must_use]
    pub fn max_num_tokens(&self) -> u32 {
        self.max_num_tokens
    }

    /// State cap `K = N + Q`.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        u64::from(self.max_batch_size) + u64::from(self.max_queue_size)
    }
}

impl TryFrom<RawQueueConfig> for QueueConfig {
    type Error = Error;
    fn try_from(r: RawQueueConfig) -> Result<Self> {
        Self::new(r.max_batch_size, r.max_queue_size)?.with_max_num_tokens(r.max_num_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_parse() {
        for (s, m) in [
            ("v3", QueueModel::V3),
            ("V3", QueueModel::V3),
            ("0.3", QueueModel::V3),
            ("v0.3.0", QueueModel::V3),
            ("0.6", QueueModel::V6),
            ("v0.4", QueueModel::V6),
            ("V7", QueueModel::V7),
            ("0.8.0", QueueModel::V7),
        ] {
            assert_eq!(s.parse::<QueueModel>().unwrap(), m, "{s}");
        }
        let err = "v9".parse::<QueueModel>().unwrap_err();
        assert!(err.to_string().contains("model"), "{err}");
        for m in QueueModel::ALL {
            assert_eq!(m.to_string().parse::<QueueModel>().unwrap(), m);
        }
    }

    #[test]
    fn model_serde() {
        assert_eq!(serde_json::to_string(&QueueModel::V6).unwrap(), "\"v6\"");
        let m: QueueModel = serde_json::from_str("\"0.3\"").unwrap();
        assert_eq!(m, QueueModel::V3);
    }

    #[test]
    fn nan_alpha_is_error() {
        let err = ServiceParams::new(f64::NAN, 0.0, 0.0).unwrap_err();
        assert!(err.to_string().contains("alpha"), "{err}");
    }

    #[test]
    fn negative_beta_is_error() {
        let err = ServiceParams::new(1.0, -0.1, 0.0).unwrap_err();
        assert!(err.to_string().contains("beta"), "{err}");
    }

    #[test]
    fn infinite_gamma_is_error() {
        let err = ServiceParams::new(1.0, 0.1, f64::INFINITY).unwrap_err();
        assert!(err.to_string().contains("gamma"), "{err}");
    }

    #[test]
    fn serde_validates_params() {
        let err = serde_json::from_str::<ServiceParams>(r#"{"alpha":1,"beta":-1,"gamma":0}"#)
            .unwrap_err();
        assert!(err.to_string().contains("beta"), "{err}");
        let p: ServiceParams = serde_json::from_str(r#"{"alpha":1,"beta":0.5,"gamma":0}"#).unwrap();
        assert_eq!(p, ServiceParams::new(1.0, 0.5, 0.0).unwrap());
    }

    #[test]
    fn zero_output_tokens_is_error() {
        let err = RequestShape::new(128.0, 0.0).unwrap_err();
        assert!(err.to_string().contains("output_tokens"), "{err}");
        assert!(RequestShape::new(128.0, 0.5).is_err());
    }

    #[test]
    fn negative_input_tokens_is_error() {
        let err = RequestShape::new(-1.0, 10.0).unwrap_err();
        assert!(err.to_string().contains("input_tokens"), "{err}");
    }

    #[test]
    fn zero_batch_is_error() {
        let err = QueueConfig::new(0, 10).unwrap_err();
        assert!(err.to_string().contains("max_batch_size"), "{err}");
        let err = QueueConfig::new(4, 10)
            .unwrap()
            .with_max_num_tokens(0)
            .unwrap_err();
        assert!(err.to_string().contains("max_num_tokens"), "{err}");
    }

    #[test]
    fn queue_config_serde_default_tokens() {
        let c: QueueConfig =
            serde_json::from_str(r#"{"max_batch_size":48,"max_queue_size":128}"#).unwrap();
        assert_eq!(c.max_num_tokens(), 8192);
        assert_eq!(c.capacity(), 176);
        assert!(
            serde_json::from_str::<QueueConfig>(r#"{"max_batch_size":0,"max_queue_size":1}"#)
                .is_err()
        );
    }
}
