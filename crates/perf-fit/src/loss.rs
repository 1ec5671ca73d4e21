//! Loss functions and the per-point model call (spec `inferno.md` §3.1, §3.2).

use perf_model_core::inferno::{
    Analysis, Analyzer, Arithmetic, QueueConfig, QueueModel, RequestShape, ServiceParams,
};
use serde::{Deserialize, Serialize};

use crate::error::{FitError, Result};
use crate::point::FitPoint;

/// The per-point loss of the trainer; the data-set loss is the mean over points.
///
/// `e_T = |TTFT_pred − TTFT_obs|`, `e_I = |ITL_pred − ITL_obs|` (ms).
///
/// # Examples
/// ```
/// use perf_fit::Loss;
/// // (0.5·2 + 1)/1.5
/// assert!((Loss::WeightedAbsolute.point_loss(10.0, 5.0, 12.0, 6.0) - 4.0 / 3.0).abs() < 1e-12);
/// // (2/10)² + (1/5)²
/// assert!((Loss::RelativeSquared.point_loss(10.0, 5.0, 12.0, 6.0) - 0.08).abs() < 1e-12);
/// assert_eq!("rel-sq".parse::<Loss>()?, Loss::RelativeSquared);
/// # Ok::<(), perf_fit::FitError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Headline era (model-trainer 77b3304 … 705f773): `w = (0.5·e_T + e_I)/1.5`, in ms.
    WeightedAbsolute,
    /// Current upstream (≥ 3893cfc) and the paper: `w = (e_T/TTFT_obs)² + (e_I/ITL_obs)²`;
    /// when an observation is `<= 0` it falls back to `e_T² + e_I²` (cannot happen for
    /// validated points).
    #[default]
    RelativeSquared,
}

impl Loss {
    /// The loss of one point.
    ///
    /// # Formula
    /// ```text
    /// WeightedAbsolute: (0.5·|pT − oT| + |pI − oI|) / 1.5
    /// RelativeSquared:  ((pT − oT)/oT)² + ((pI − oI)/oI)²     (oT, oI > 0)
    /// ```
    #[must_use]
    pub fn point_loss(self, obs_ttft: f64, obs_itl: f64, pred_ttft: f64, pred_itl: f64) -> f64 {
        let e_t = (pred_ttft - obs_ttft).abs();
        let e_i = (pred_itl - obs_itl).abs();
        match self {
            Self::WeightedAbsolute => (0.5 * e_t + e_i) / 1.5,
            Self::RelativeSquared => {
                if obs_ttft > 0.0 && obs_itl > 0.0 {
                    let r_t = e_t / obs_ttft;
                    let r_i = e_i / obs_itl;
                    r_t * r_t + r_i * r_i
                } else {
                    e_t * e_t + e_i * e_i
                }
            }
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::WeightedAbsolute => "weighted-abs",
            Self::RelativeSquared => "rel-sq",
        })
    }
}

impl std::str::FromStr for Loss {
    type Err = FitError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "weighted-abs" | "weighted-absolute" | "abs" => Ok(Self::WeightedAbsolute),
            "rel-sq" | "relative-squared" | "relsq" => Ok(Self::RelativeSquared),
            _ => Err(FitError::InvalidParam {
                name: "loss",
                value: s.to_owned(),
                reason: "must be weighted-abs or rel-sq",
            }),
        }
    }
}

/// One point with its analyzer inputs validated once.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub point: FitPoint,
    pub shape: RequestShape,
    pub config: QueueConfig,
}

/// The training data with everything the model call needs precomputed.
#[derive(Clone, Debug)]
pub(crate) struct Dataset {
    pub points: Vec<Prepared>,
    pub model: QueueModel,
    pub arithmetic: Arithmetic,
}

impl Dataset {
    /// Validates `points` (errors name the index) and builds the analyzer inputs.
    pub fn new(points: &[FitPoint], model: QueueModel, arithmetic: Arithmetic) -> Result<Self> {
        let mut prepared = Vec::with_capacity(points.len());
        for (i, p) in points.iter().enumerate() {
            p.validate(i)?;
            let shape = RequestShape::new(p.input_tokens, p.output_tokens)?;
            let config = QueueConfig::new(p.max_batch_size, p.max_batch_size)?
                .with_max_num_tokens(p.max_num_tokens)?;
            prepared.push(Prepared {
                point: *p,
                shape,
                config,
            });
        }
        Ok(Self {
            points: prepared,
            model,
            arithmetic,
        })
    }

    /// The analyzer for point `p` at parameters `params`.
    pub fn analyzer(&self, p: &Prepared, params: ServiceParams) -> Result<Analyzer> {
        Ok(Analyzer::new(self.model, params, p.shape, p.config)?
            .with_arithmetic(self.arithmetic)?)
    }

    /// The analysis of every point at `(α, β, γ)`.
    ///
    /// # Errors
    /// Negative parameters, an analyzer error (e.g. the V3 rate guard) or a non-finite
    /// prediction.
    pub fn analyze(&self, theta: [f64; 3]) -> Result<Vec<Analysis>> {
        let params = ServiceParams::new(theta[0], theta[1], theta[2])?;
        let mut out = Vec::with_capacity(self.points.len());
        for p in &self.points {
            let a = self.analyzer(p, params)?.solve(p.point.rate_rps)?;
            if !(a.ttft_ms.is_finite() && a.itl_ms.is_finite()) {
                return Err(FitError::Core(perf_model_core::Error::NonFinite {
                    field: "prediction".into(),
                    value: if a.ttft_ms.is_finite() {
                        a.itl_ms
                    } else {
                        a.ttft_ms
                    },
                }));
            }
            out.push(a);
        }
        Ok(out)
    }

    /// The loss at `(α, β, γ)` exactly as [`Dataset::loss`] computes it (same bits), plus the
    /// signed least-squares residuals of [`Loss::RelativeSquared`] in `out` (two per point:
    /// `(pred − obs)/obs` of TTFT then ITL, divided by `√points`, so that `Σ out² ≈ loss`).
    /// `None` where [`Dataset::loss`] is `+∞`. For [`Loss::WeightedAbsolute`] the residuals
    /// are `(pred − obs)·w/points` with `w` = 0.5/1.5 for TTFT and 1/1.5 for ITL (their
    /// absolute values, not squares, sum to the loss).
    pub fn residuals(&self, loss: Loss, theta: [f64; 3], out: &mut [f64]) -> Option<f64> {
        if theta.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return None;
        }
        let params = ServiceParams::new(theta[0], theta[1], theta[2]).ok()?;
        #[allow(clippy::cast_precision_loss)]
        let scale = (self.points.len() as f64).sqrt().recip();
        let mut sum = 0.0;
        for (p, r) in self.points.iter().zip(out.chunks_exact_mut(2)) {
            let a = self
                .analyzer(p, params)
                .ok()?
                .solve(p.point.rate_rps)
                .ok()?;
            let (ot, oi) = (p.point.ttft_ms, p.point.itl_ms);
            sum += loss.point_loss(ot, oi, a.ttft_ms, a.itl_ms);
            match loss {
                Loss::RelativeSquared if ot > 0.0 && oi > 0.0 => {
                    r[0] = (a.ttft_ms - ot) / ot * scale;
                    r[1] = (a.itl_ms - oi) / oi * scale;
                }
                Loss::RelativeSquared => {
                    r[0] = (a.ttft_ms - ot) * scale;
                    r[1] = (a.itl_ms - oi) * scale;
                }
                Loss::WeightedAbsolute => {
                    r[0] = (a.ttft_ms - ot) * (0.5 / 1.5) * scale * scale;
                    r[1] = (a.itl_ms - oi) / 1.5 * scale * scale;
                }
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = sum / self.points.len() as f64;
        if mean.is_nan() || mean.is_infinite() {
            None
        } else {
            Some(mean)
        }
    }

    /// Mean loss at `(α, β, γ)`; `+∞` on any error or negative parameter (as the Go trainer).
    pub fn loss(&self, loss: Loss, theta: [f64; 3]) -> f64 {
        if theta.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return f64::INFINITY;
        }
        let Ok(params) = ServiceParams::new(theta[0], theta[1], theta[2]) else {
            return f64::INFINITY;
        };
        let mut sum = 0.0;
        for p in &self.points {
            let Ok(analyzer) = self.analyzer(p, params) else {
                return f64::INFINITY;
            };
            let Ok(a) = analyzer.solve(p.point.rate_rps) else {
                return f64::INFINITY;
            };
            sum += loss.point_loss(p.point.ttft_ms, p.point.itl_ms, a.ttft_ms, a.itl_ms);
        }
        #[allow(clippy::cast_precision_loss)]
        let mean = sum / self.points.len() as f64;
        if mean.is_nan() { f64::INFINITY } else { mean }
    }
}

/// The data-set loss of `points` at `(α, β, γ)` for `model` with `loss`, as the trainer
/// minimises it: the mean point loss, or `+∞` when any parameter is negative or the analyzer
/// fails on any point (e.g. the V3 rate guard).
///
/// # Errors
/// [`FitError::InvalidPoint`] (naming the index) when a point is invalid; an empty slice gives
/// [`FitError::NotEnoughPoints`].
///
/// # Examples
/// ```
/// use perf_fit::{dataset_loss, FitPoint, Loss};
/// use perf_model_core::inferno::{Arithmetic, QueueModel};
/// let pts = [FitPoint::new(27.16, 64.0, 64.0, 18.05, 7.50).with_max_batch_size(512)];
/// let l = dataset_loss(&pts, QueueModel::V3, Loss::WeightedAbsolute, Arithmetic::F64, [6.76, 0.0254, 0.0])?;
/// assert!(l.is_finite());
/// let inf = dataset_loss(&pts, QueueModel::V3, Loss::WeightedAbsolute, Arithmetic::F64, [6.76, -1.0, 0.0])?;
/// assert!(inf.is_infinite());
/// # Ok::<(), perf_fit::FitError>(())
/// ```
pub fn dataset_loss(
    points: &[FitPoint],
    model: QueueModel,
    loss: Loss,
    arithmetic: Arithmetic,
    theta: [f64; 3],
) -> Result<f64> {
    if points.is_empty() {
        return Err(FitError::NotEnoughPoints { needed: 1, got: 0 });
    }
    Ok(Dataset::new(points, model, arithmetic)?.loss(loss, theta))
}
