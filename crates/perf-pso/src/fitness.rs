//! The seed's SLO-weighted fitness (minimised), specs/tuning.md §3.3.

use perf_model_core::PerformanceIndex;
use serde::{Deserialize, Serialize};

use crate::error::{PsoError, Result};

/// Weights, penalties, SLOs and speed target of the fitness.
///
/// # Formula
/// ```text
/// cost = w_g·(G*/G) + w_1·exp(k_1·(T1/T1_slo − 1)) + w_2·exp(k_2·(T2/T2_slo − 1))
///      + w_s·exp(k_s·(S_slo/S − 1))
/// ```
/// G output tok/s, T1 TTFT (ms), T2 TPOT (ms), S success rate. Rules in order: G missing or ≤ 0
/// → +∞; S missing or ≤ 0 → +∞; a missing T1 or T2 skips its term; `k = 0` keeps the term as
/// its constant weight; any non-finite result → +∞. In hard-constraint mode, TTFT or TPOT above
/// its SLO, or S below its SLO, is +∞.
///
/// # Examples
/// ```
/// use perf_model_core::{PerformanceIndex, PerformanceIndexData};
/// use perf_pso::Fitness;
/// let idx = PerformanceIndex::new(PerformanceIndexData {
///     output_throughput: Some(5300.0), ttft_ms: Some(500.0), tpot_ms: Some(50.0),
///     success_rate: Some(1.0), ..Default::default() })?;
/// assert!((Fitness::default().cost(&idx) - 1.0).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fitness {
    /// Weight of the speed term (0.4).
    pub w_speed: f64,
    /// Weight of the TTFT term (0.2).
    pub w_ttft: f64,
    /// Weight of the TPOT term (0.3).
    pub w_tpot: f64,
    /// Weight of the success-rate term (0.1).
    pub w_success: f64,
    /// `ttft_penalty` k₁ (3).
    pub ttft_penalty: f64,
    /// `tpot_penalty` k₂ (3).
    pub tpot_penalty: f64,
    /// `success_rate_penalty` k_s (5).
    pub success_rate_penalty: f64,
    /// TTFT SLO, ms (500).
    pub ttft_slo_ms: f64,
    /// TPOT SLO, ms (50).
    pub tpot_slo_ms: f64,
    /// Success-rate SLO (1.0).
    pub success_rate_slo: f64,
    /// G*, output tok/s (5300, the seed's class; its settings file says 5000).
    pub generate_speed_target: f64,
    /// Hard-constraint mode: any SLO violation costs +∞.
    pub hard_constraints: bool,
}

impl Default for Fitness {
    fn default() -> Self {
        Self {
            w_speed: 0.4,
            w_ttft: 0.2,
            w_tpot: 0.3,
            w_success: 0.1,
            ttft_penalty: 3.0,
            tpot_penalty: 3.0,
            success_rate_penalty: 5.0,
            ttft_slo_ms: 500.0,
            tpot_slo_ms: 50.0,
            success_rate_slo: 1.0,
            generate_speed_target: 5300.0,
            hard_constraints: false,
        }
    }
}

impl Fitness {
    /// Checks that weights are finite and ≥ 0, penalties finite, SLOs and target > 0.
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] naming the parameter.
    pub fn check(&self) -> Result<()> {
        let bad = |name: &'static str, value: f64, reason: &str| {
            Err(PsoError::InvalidParam {
                name,
                value: value.to_string(),
                reason: reason.to_owned(),
            })
        };
        for (name, v) in [
            ("w_speed", self.w_speed),
            ("w_ttft", self.w_ttft),
            ("w_tpot", self.w_tpot),
            ("w_success", self.w_success),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(name, v, "weights must be finite and >= 0");
            }
        }
        for (name, v) in [
            ("ttft_penalty", self.ttft_penalty),
            ("tpot_penalty", self.tpot_penalty),
            ("success_rate_penalty", self.success_rate_penalty),
        ] {
            if !v.is_finite() {
                return bad(name, v, "must be finite");
            }
        }
        for (name, v) in [
            ("ttft_slo_ms", self.ttft_slo_ms),
            ("tpot_slo_ms", self.tpot_slo_ms),
            ("success_rate_slo", self.success_rate_slo),
            ("generate_speed_target", self.generate_speed_target),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, v, "must be finite and > 0");
            }
        }
        Ok(())
    }

    /// The cost of `index` (lower is better; +∞ when infeasible).
    #[must_use]
    pub fn cost(&self, index: &PerformanceIndex) -> f64 {
        let g = match index.output_throughput() {
            Some(g) if g > 0.0 => g,
            _ => return f64::INFINITY,
        };
        let s = match index.success_rate() {
            Some(s) if s > 0.0 => s,
            _ => return f64::INFINITY,
        };
        if self.hard_constraints {
            let over = |v: Option<f64>, slo: f64| v.is_some_and(|v| v > slo);
            if over(index.ttft_ms(), self.ttft_slo_ms)
                || over(index.tpot_ms(), self.tpot_slo_ms)
                || s < self.success_rate_slo
            {
                return f64::INFINITY;
            }
        }
        let mut cost = self.w_speed * (self.generate_speed_target / g);
        if let Some(t1) = index.ttft_ms() {
            cost += self.w_ttft * (self.ttft_penalty * (t1 / self.ttft_slo_ms - 1.0)).exp();
        }
        if let Some(t2) = index.tpot_ms() {
            cost += self.w_tpot * (self.tpot_penalty * (t2 / self.tpot_slo_ms - 1.0)).exp();
        }
        cost +=
            self.w_success * (self.success_rate_penalty * (self.success_rate_slo / s - 1.0)).exp();
        if cost.is_finite() {
            cost
        } else {
            f64::INFINITY
        }
    }

    /// The seed's rule for MindIE engines: G* := 10 × the default run's output tok/s (when
    /// known and positive); vLLM keeps the configured target.
    #[must_use]
    pub fn with_default_run_speed(mut self, default_run_output_tps: Option<f64>) -> Self {
        if let Some(g) = default_run_output_tps.filter(|g| g.is_finite() && *g > 0.0) {
            self.generate_speed_target = 10.0 * g;
        }
        self
    }

    /// The cost of an evaluation outcome: +∞ for a failure.
    #[must_use]
    pub fn cost_of(&self, index: Option<&PerformanceIndex>) -> f64 {
        index.map_or(f64::INFINITY, |i| self.cost(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_model_core::PerformanceIndexData;

    fn idx(g: f64, t1: Option<f64>, t2: Option<f64>, s: f64) -> PerformanceIndex {
        PerformanceIndex::new(PerformanceIndexData {
            output_throughput: Some(g),
            ttft_ms: t1.map(|v| v * 1000.0),
            tpot_ms: t2.map(|v| v * 1000.0),
            success_rate: Some(s),
            ..Default::default()
        })
        .unwrap()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }

    #[test]
    fn worked_examples_of_the_spec() {
        let f = Fitness::default();
        close(
            f.cost(&idx(5300.0, Some(0.5), Some(0.05), 1.0)),
            1.000_000_000_000_000_2,
        );
        close(
            f.cost(&idx(2650.0, Some(0.25), Some(0.04), 0.98)),
            1.120_012_390_055_469_7,
        );
        close(
            f.cost(&idx(6000.0, Some(1.0), Some(0.075), 0.9)),
            5.889_238_338_935_631,
        );
        close(
            f.cost(&idx(5300.0, None, Some(0.05), 1.0)),
            0.799_999_999_999_999_9,
        );
        assert!(
            f.cost(&idx(5300.0, Some(0.5), Some(0.05), 0.0))
                .is_infinite()
        );
        assert!(f.cost(&idx(0.0, Some(0.5), Some(0.05), 1.0)).is_infinite());
        assert!(f.cost_of(None).is_infinite());
    }

    #[test]
    fn shipped_settings_example() {
        let f = Fitness {
            ttft_penalty: 1.0,
            tpot_penalty: 0.0,
            success_rate_penalty: 5.0,
            ttft_slo_ms: 1000.0,
            tpot_slo_ms: 50.0,
            generate_speed_target: 5000.0,
            ..Fitness::default()
        };
        close(
            f.cost(&idx(4000.0, Some(1.5), Some(0.08), 1.0)),
            1.229_744_254_140_025_9,
        );
    }

    #[test]
    fn missing_speed_or_success_is_infinite() {
        let f = Fitness::default();
        let i = PerformanceIndex::new(PerformanceIndexData {
            success_rate: Some(1.0),
            ..Default::default()
        })
        .unwrap();
        assert!(f.cost(&i).is_infinite());
        let i = PerformanceIndex::new(PerformanceIndexData {
            output_throughput: Some(1.0),
            ..Default::default()
        })
        .unwrap();
        assert!(f.cost(&i).is_infinite());
    }

    #[test]
    fn hard_constraints_and_weights() {
        let mut f = Fitness {
            hard_constraints: true,
            ..Fitness::default()
        };
        assert!(
            f.cost(&idx(6000.0, Some(1.0), Some(0.04), 1.0))
                .is_infinite()
        );
        assert!(f.cost(&idx(6000.0, Some(0.4), Some(0.04), 1.0)).is_finite());
        f.hard_constraints = false;
        f.w_speed = 1.0;
        f.w_ttft = 0.0;
        f.w_tpot = 0.0;
        f.w_success = 0.0;
        close(f.cost(&idx(2650.0, Some(9.0), Some(9.0), 0.5)), 2.0);
        f.w_tpot = -1.0;
        assert!(f.check().is_err());
    }
}
