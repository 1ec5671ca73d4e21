//! Bootstrap confidence intervals for α, β, γ (resampling points, seeded).

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::error::{FitError, Result};
use crate::objective::run_nm;
use crate::point::FitPoint;
use crate::trainer::{FittedInferno, InfernoTrainerValidParams, draw_index, parallel_map};

/// A percentile interval of one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound (the `(1 − level)/2` quantile).
    pub lower: f64,
    /// Median of the bootstrap estimates.
    pub median: f64,
    /// Upper bound (the `(1 + level)/2` quantile).
    pub upper: f64,
}

/// Percentile bootstrap intervals of α, β, γ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapCi {
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// Resamples requested.
    pub resamples: usize,
    /// Resamples that gave a fit (degenerate resamples are skipped).
    pub used: usize,
    /// Seed of the resampling.
    pub seed: u64,
    /// Interval of α.
    pub alpha: Interval,
    /// Interval of β.
    pub beta: Interval,
    /// Interval of γ.
    pub gamma: Interval,
}

impl InfernoTrainerValidParams {
    /// Percentile bootstrap: draws `resamples` data sets of `points.len()` points with
    /// replacement (seeded `Xoshiro256PlusPlus`), refits each with one local run started at
    /// `fitted`'s parameters, and returns the `level` intervals. The run is
    /// Levenberg–Marquardt when the settings' method is
    /// [`FitMethod::LevenbergMarquardt`](crate::FitMethod::LevenbergMarquardt) with the
    /// relative-squared loss in `f64` (tens of evaluations per resample; a resample where it
    /// does not converge falls back to Nelder–Mead), else one scaled Nelder–Mead run.
    ///
    /// Deterministic for a given seed (the index sets are drawn before the refits, which run
    /// in parallel).
    ///
    /// # Errors
    /// As [`InfernoTrainerValidParams::fit`] for the data; [`FitError::InvalidParam`] for
    /// `resamples` = 0 or `level` outside (0, 1); [`FitError::Degenerate`] when no resample
    /// could be fitted.
    pub fn bootstrap(
        &self,
        points: &[FitPoint],
        fitted: &FittedInferno,
        resamples: usize,
        level: f64,
        seed: u64,
    ) -> Result<BootstrapCi> {
        if resamples == 0 {
            return Err(FitError::InvalidParam {
                name: "resamples",
                value: "0".into(),
                reason: "must be >= 1",
            });
        }
        if !(level > 0.0 && level < 1.0) {
            return Err(FitError::InvalidParam {
                name: "level",
                value: level.to_string(),
                reason: "must be within (0, 1)",
            });
        }
        self.prepare(points)?;
        let n = points.len();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let sets: Vec<Vec<FitPoint>> = (0..resamples)
            .map(|_| (0..n).map(|_| points[draw_index(&mut rng, n)]).collect())
            .collect();
        let start = [fitted.alpha(), fitted.beta(), fitted.gamma()];
        let scale: [f64; 3] = std::array::from_fn(|i| if start[i] > 0.0 { start[i] } else { 1e-6 });
        let loss = self.settings_loss();
        let nm = self.nm_settings();
        let lm = self.lm_applies();
        let estimates = parallel_map(&sets, |set| {
            let data = self.prepare(set).ok()?;
            if lm && let Some(theta) = self.lm_refit(&data, start) {
                return Some(theta);
            }
            run_nm(&data, loss, start, scale, nm).ok().map(|r| r.theta)
        });
        let ok: Vec<[f64; 3]> = estimates.into_iter().flatten().collect();
        if ok.is_empty() {
            return Err(FitError::Degenerate(
                "no bootstrap resample could be fitted".into(),
            ));
        }
        let interval = |j: usize| {
            let mut v: Vec<f64> = ok.iter().map(|t| t[j]).collect();
            v.sort_by(f64::total_cmp);
            Interval {
                lower: quantile(&v, (1.0 - level) / 2.0),
                median: quantile(&v, 0.5),
                upper: quantile(&v, (1.0 + level) / 2.0),
            }
        };
        Ok(BootstrapCi {
            level,
            resamples,
            used: ok.len(),
            seed,
            alpha: interval(0),
            beta: interval(1),
            gamma: interval(2),
        })
    }
}

/// Linear-interpolation quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let pos = q * (sorted.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    let frac = pos - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}
