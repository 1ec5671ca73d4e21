//! Synthetic training data from known parameters (port of model-trainer `demos/random`).

use perf_model_core::inferno::{
    Analyzer, Arithmetic, QueueConfig, QueueModel, RequestShape, ServiceParams,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{FitError, Result};
use crate::point::FitPoint;

/// How to generate synthetic points.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyntheticSpec {
    /// Model generation that produces the "measurements".
    pub model: QueueModel,
    /// True α, β, γ.
    pub theta: [f64; 3],
    /// Number of points.
    pub points: usize,
    /// Input and output token counts are drawn as integers uniformly from this range.
    pub tokens: (u32, u32),
    /// Rates are drawn uniformly from this range, req/s.
    pub rate_rps: (f64, f64),
    /// Max batch size `N` (also the max queue size `Q`).
    pub max_batch_size: u32,
    /// Relative Gaussian noise σ on TTFT and ITL (0.02 = 2 %).
    pub noise: f64,
    /// RNG seed.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    /// The upstream demo: true (6, 0.02, 5e-5), n and m in [200, 1000], rate in [1, 6] req/s,
    /// N = Q = 256, 2 % noise; model V7, 20 points, seed 42.
    fn default() -> Self {
        Self {
            model: QueueModel::V7,
            theta: [6.0, 0.02, 5e-5],
            points: 20,
            tokens: (200, 1000),
            rate_rps: (1.0, 6.0),
            max_batch_size: 256,
            noise: 0.02,
            seed: 42,
        }
    }
}

/// Generates points from `spec`: for each point draws `n`, `m` and a rate, solves the analyzer
/// with the true parameters and multiplies TTFT and ITL by `1 + noise·Z`, `Z ~ N(0, 1)`
/// (seeded `Xoshiro256PlusPlus`; draws that would make a latency ≤ 0 are redrawn). Points
/// the model cannot serve (V3 above the maximum rate) are redrawn too.
///
/// # Errors
/// [`FitError::InvalidParam`] for a bad range or noise; analyzer errors for bad parameters.
///
/// # Examples
/// ```
/// use perf_fit::{synthetic_points, SyntheticSpec};
/// let pts = synthetic_points(&SyntheticSpec { points: 5, ..Default::default() })?;
/// assert_eq!(pts.len(), 5);
/// assert_eq!(pts, synthetic_points(&SyntheticSpec { points: 5, ..Default::default() })?);
/// # Ok::<(), perf_fit::FitError>(())
/// ```
pub fn synthetic_points(spec: &SyntheticSpec) -> Result<Vec<FitPoint>> {
    let bad = |name: &'static str, value: String, reason: &'static str| FitError::InvalidParam {
        name,
        value,
        reason,
    };
    if spec.tokens.0 > spec.tokens.1 || spec.tokens.1 == 0 {
        return Err(bad(
            "tokens",
            format!("{:?}", spec.tokens),
            "must be a non-empty range with max >= 1",
        ));
    }
    let (r0, r1) = spec.rate_rps;
    if !(r0.is_finite() && r1.is_finite() && r0 > 0.0 && r0 <= r1) {
        return Err(bad(
            "rate_rps",
            format!("{:?}", spec.rate_rps),
            "must be a range of positive rates",
        ));
    }
    let normal =
        Normal::new(0.0, 1.0).map_err(|_| bad("noise", spec.noise.to_string(), "invalid"))?;
    if !(spec.noise.is_finite() && spec.noise >= 0.0) {
        return Err(bad(
            "noise",
            spec.noise.to_string(),
            "must be finite and >= 0",
        ));
    }
    let params = ServiceParams::new(spec.theta[0], spec.theta[1], spec.theta[2])?;
    let config = QueueConfig::new(spec.max_batch_size, spec.max_batch_size)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let mut out = Vec::with_capacity(spec.points);
    let mut attempts = 0usize;
    while out.len() < spec.points {
        attempts += 1;
        if attempts > 100 * spec.points + 100 {
            return Err(FitError::Degenerate(
                "could not generate feasible synthetic points (rates above the model's maximum)"
                    .into(),
            ));
        }
        let n = f64::from(rng.random_range(spec.tokens.0..=spec.tokens.1));
        let m = f64::from(rng.random_range(spec.tokens.0.max(1)..=spec.tokens.1));
        let rate = if r1 > r0 {
            rng.random_range(r0..r1)
        } else {
            r0
        };
        let analyzer = Analyzer::new(spec.model, params, RequestShape::new(n, m)?, config)?
            .with_arithmetic(Arithmetic::F64)?;
        let Ok(a) = analyzer.solve(rate) else {
            continue;
        };
        let ttft = a.ttft_ms * (1.0 + spec.noise * normal.sample(&mut rng));
        let itl = a.itl_ms * (1.0 + spec.noise * normal.sample(&mut rng));
        if !(ttft > 0.0 && itl > 0.0) {
            continue;
        }
        out.push(FitPoint::new(rate, n, m, ttft, itl).with_max_batch_size(spec.max_batch_size));
    }
    Ok(out)
}
