//! Calibrated corrections to a roofline's physical knobs ([`RooflineCalibration`]).

use serde::{Deserialize, Serialize};

use super::{AllReduce, ComputeEfficiency, Overheads, RooflineModel};
use crate::error::Result;
use crate::validate::{non_negative, out_of_range, positive, unit_interval};

/// The few physical knobs a roofline leaves uncertain, as fitted to measured runs (`llm-perf
/// calibrate`). Every field is optional: an absent one keeps the roofline's default (module
/// docs of [`crate::roofline`]).
///
/// * `memory_efficiency` — η_m, achieved fraction of peak memory bandwidth, in (0, 1].
/// * `compute_scale` — multiplies every point of the GEMM efficiency curve η_c (results
///   capped at 1), in (0, 10].
/// * `attention_efficiency` — η_attn, in (0, 1].
/// * `layer_us`, `seq_us`, `step_us` — τ_layer, τ_seq, τ_step, µs, ≥ 0.
/// * `all_reduce_latency_us` (≥ 0) and `all_reduce_bus_gbs` (> 0) — the all-reduce α and
///   bus bandwidth.
///
/// # Examples
/// ```
/// use perf_model_core::catalog::{Accelerator, ModelSpec};
/// use perf_model_core::roofline::{RooflineCalibration, RooflineModel};
/// use perf_model_core::{BatchShape, Dtype, StepTimeModel};
///
/// let base = RooflineModel::new(ModelSpec::lookup("Llama-2-7B")?,
///     Accelerator::lookup("H100")?, Dtype::Fp16, 1)?;
/// let cal = RooflineCalibration { memory_efficiency: Some(0.9), step_us: Some(500.0),
///     ..Default::default() };
/// let tuned = base.clone().with_calibration(&cal)?;
/// assert_eq!(tuned.memory_efficiency(), 0.9);
/// assert_eq!(tuned.overheads().step_us, 500.0);
/// // Unset knobs keep their defaults.
/// assert_eq!(tuned.overheads().layer_us, base.overheads().layer_us);
/// assert!(RooflineCalibration { memory_efficiency: Some(1.5), ..Default::default() }
///     .validate().is_err());
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RooflineCalibration {
    /// η_m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_efficiency: Option<f64>,
    /// Factor on the GEMM efficiency curve η_c.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_scale: Option<f64>,
    /// η_attn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_efficiency: Option<f64>,
    /// τ_layer, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_us: Option<f64>,
    /// τ_seq, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_us: Option<f64>,
    /// τ_step, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_us: Option<f64>,
    /// All-reduce α, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_reduce_latency_us: Option<f64>,
    /// All-reduce bus bandwidth, GB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_reduce_bus_gbs: Option<f64>,
}

impl RooflineCalibration {
    /// Checks every set knob against its range.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] or [`crate::Error::NonFinite`] naming the field
    /// (`calibration.<knob>`).
    pub fn validate(&self) -> Result<()> {
        if let Some(x) = self.memory_efficiency {
            unit_interval("calibration.memory_efficiency", x)?;
        }
        if let Some(x) = self.compute_scale {
            positive("calibration.compute_scale", x)?;
            if x > 10.0 {
                return Err(out_of_range(
                    "calibration.compute_scale",
                    x,
                    "must be within (0, 10]",
                ));
            }
        }
        if let Some(x) = self.attention_efficiency {
            unit_interval("calibration.attention_efficiency", x)?;
        }
        for (name, v) in [
            ("calibration.layer_us", self.layer_us),
            ("calibration.seq_us", self.seq_us),
            ("calibration.step_us", self.step_us),
            (
                "calibration.all_reduce_latency_us",
                self.all_reduce_latency_us,
            ),
        ] {
            if let Some(x) = v {
                non_negative(name, x)?;
            }
        }
        if let Some(x) = self.all_reduce_bus_gbs {
            positive("calibration.all_reduce_bus_gbs", x)?;
        }
        Ok(())
    }

    /// True when no knob is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl ComputeEfficiency {
    /// The curve with every efficiency multiplied by `factor`, capped at 1.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] for a factor ≤ 0 or not finite.
    pub fn scaled(&self, factor: f64) -> Result<Self> {
        positive("compute_scale", factor)?;
        let points: Vec<(f64, f64)> = self
            .points()
            .iter()
            .map(|&(n, eta)| (n, (eta * factor).min(1.0)))
            .collect();
        Self::new(&points)
    }
}

impl RooflineModel {
    /// Applies the knobs `calibration` sets; the others keep their current values.
    ///
    /// # Errors
    /// What [`RooflineCalibration::validate`] reports.
    pub fn with_calibration(self, calibration: &RooflineCalibration) -> Result<Self> {
        calibration.validate()?;
        let c = calibration;
        let mut m = self;
        if let Some(eta) = c.memory_efficiency {
            m = m.with_memory_efficiency(eta)?;
        }
        if let Some(k) = c.compute_scale {
            let curve = m.compute_efficiency().scaled(k)?;
            m = m.with_compute_efficiency(curve);
        }
        if let Some(eta) = c.attention_efficiency {
            m = m.with_attention_efficiency(eta)?;
        }
        let o = m.overheads();
        m = m.with_overheads(Overheads {
            layer_us: c.layer_us.unwrap_or(o.layer_us),
            seq_us: c.seq_us.unwrap_or(o.seq_us),
            step_us: c.step_us.unwrap_or(o.step_us),
        })?;
        let a = m.all_reduce();
        m.with_all_reduce(AllReduce {
            latency_us: c.all_reduce_latency_us.unwrap_or(a.latency_us),
            bus_gbs: c.all_reduce_bus_gbs.unwrap_or(a.bus_gbs),
        })
    }
}
