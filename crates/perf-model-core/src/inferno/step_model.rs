//! The Inferno step-time model for the simulator (spec `simulator.md` §4.4).

use serde::{Deserialize, Serialize};

use super::params::ServiceParams;
use crate::step::{BatchShape, StepTimeModel};

/// Cost of one engine step from the Inferno parameters.
///
/// # Formula
/// ```text
/// T_step = α + β·Σ_r n_r + γ·Σ_r (k_r + n_r)        (0 for an empty batch)
/// ```
/// with `Σ n` = [`BatchShape::total_tokens`] and `Σ (k + n)` = [`BatchShape::kv_tokens`]. A
/// lone prefill of `P` tokens costs `α + (β+γ)·P`; a decode at context `c` adds `β + γ·(c+1)`.
///
/// # Examples
/// ```
/// use perf_model_core::{BatchShape, StepTimeModel};
/// use perf_model_core::inferno::{InfernoStepModel, ServiceParams};
/// let model = InfernoStepModel::new(ServiceParams::new(6.0, 0.02, 5e-5)?);
/// let t = model.step_time(&BatchShape::decode(1, 1000));
/// assert!((t - (6.0 + 0.02 + 5e-5 * 1001.0)).abs() < 1e-12);
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InfernoStepModel {
    params: ServiceParams,
}

impl InfernoStepModel {
    /// A step model with parameters `params` (already validated: finite, non-negative).
    #[must_use]
    pub fn new(params: ServiceParams) -> Self {
        Self { params }
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> &ServiceParams {
        &self.params
    }
}

impl StepTimeModel for InfernoStepModel {
    #[allow(clippy::cast_precision_loss)]
    fn step_time(&self, batch: &BatchShape) -> f64 {
        if batch.is_empty() {
            return 0.0;
        }
        let p = &self.params;
        p.alpha() + p.beta() * batch.total_tokens() as f64 + p.gamma() * batch.kv_tokens() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn model() -> InfernoStepModel {
        InfernoStepModel::new(ServiceParams::new(12.0, 0.05, 5e-4).unwrap())
    }

    #[test]
    fn lone_prefill_cost() {
        let p = 777;
        assert_relative_eq!(
            model().step_time(&BatchShape::prefill(p)),
            12.0 + (0.05 + 5e-4) * f64::from(p),
            max_relative = 1e-14
        );
    }

    #[test]
    fn decode_cost() {
        let c = 1234;
        assert_relative_eq!(
            model().step_time(&BatchShape::decode(1, c)),
            12.0 + 0.05 + 5e-4 * (f64::from(c) + 1.0),
            max_relative = 1e-14
        );
    }

    #[test]
    fn empty_batch_is_free() {
        assert_eq!(
            model().step_time(&BatchShape::default()).to_bits(),
            0.0_f64.to_bits()
        );
    }
}
