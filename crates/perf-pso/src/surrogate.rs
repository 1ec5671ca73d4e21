//! The surrogate pre-filter (the seed's `[cbo]`, specs/tuning.md §2.3): after `initial_points`
//! real evaluations, Gaussian processes of the measured figures predict each new particle, and
//! particles predicted to miss the SLOs are not run. They are recorded as *predicted*
//! (`real = false`, the predicted figures in `index`), and the swarm is told +∞ for them, so a
//! prediction never becomes a personal or global best: only measurements steer the swarm.
//!
//! Models, as in the seed (botorch `SingleTaskGP` per output on normalised inputs and
//! standardised outputs): 1 / output throughput, TTFT and TPOT, each a [`GaussianProcess`] over
//! the particle positions; plus, once a run has failed, the success indicator (1 measured, 0
//! failed), because a configuration that crashes the engine is the costliest to try again.
//!
//! Feasibility (botorch `LogProbabilityOfFeasibility`): log P = Σ_c ln Φ((slo_c − μ_c)/σ_c)
//! over the constraints (TTFT and TPOT SLOs whose penalty is non-zero or that are hard
//! constraints) and, with failures seen, ln Φ((μ_s − ½)/σ_s). Strategies:
//! * `conservative` (seed default): skip a particle when log P ≤ `feasibility_threshold` (seed
//!   −1.2, i.e. P ≤ 0.30). When that would skip every particle, run the 60 % with the highest
//!   log P instead (the seed's fallback).
//! * `aggressive` (the seed names it but never acts on it; ours): also skip a particle when
//!   even an optimistic cost, exp(μ − 2σ) of a GP on ln(cost), is no better than the
//!   particle's personal best: measuring it could not move the swarm's memory.

use perf_model_core::{PerformanceIndex, PerformanceIndexData};
use serde::{Deserialize, Serialize};

use crate::error::{PsoError, Result};
use crate::fitness::Fitness;
use crate::gaussian_process::GaussianProcess;

/// How eagerly particles are skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurrogateStrategy {
    /// Skip only particles predicted infeasible (the seed's default).
    #[default]
    Conservative,
    /// Also skip particles predicted not to improve on their personal best.
    Aggressive,
}

impl SurrogateStrategy {
    /// Parses `conservative` / `aggressive` (the seed's `[cbo] strategy`).
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] naming the value and the accepted ones.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "conservative" => Ok(Self::Conservative),
            "aggressive" => Ok(Self::Aggressive),
            other => Err(PsoError::InvalidParam {
                name: "surrogate strategy",
                value: format!("{other:?}"),
                reason: "expected \"conservative\" or \"aggressive\"".into(),
            }),
        }
    }
}

/// Settings of the surrogate pre-filter (the seed's `[cbo]` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurrogateSettings {
    /// Real, successful evaluations before the surrogate screens anything (seed 5).
    pub initial_points: usize,
    /// Skip rule.
    pub strategy: SurrogateStrategy,
    /// Log-probability of feasibility at or below which a particle is skipped (seed −1.2).
    pub feasibility_threshold: f64,
}

impl Default for SurrogateSettings {
    fn default() -> Self {
        Self {
            initial_points: 5,
            strategy: SurrogateStrategy::Conservative,
            feasibility_threshold: -1.2,
        }
    }
}

impl SurrogateSettings {
    /// Checks the values.
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`] naming the key: `initial_points` 0, a threshold that is NaN or
    /// positive (a log-probability is ≤ 0).
    pub fn check(&self) -> Result<()> {
        if self.initial_points == 0 {
            return Err(PsoError::InvalidParam {
                name: "surrogate initial_points",
                value: "0".into(),
                reason: "the surrogate needs at least one real evaluation".into(),
            });
        }
        if self.feasibility_threshold.is_nan() || self.feasibility_threshold > 0.0 {
            return Err(PsoError::InvalidParam {
                name: "surrogate feasibility_threshold",
                value: self.feasibility_threshold.to_string(),
                reason: "a log-probability, must be <= 0".into(),
            });
        }
        Ok(())
    }
}

/// One particle offered to a [`Prefilter`].
#[derive(Clone, Copy, Debug)]
pub struct ScreenInput<'a> {
    /// Position in the unit cube.
    pub position: &'a [f64],
    /// The particle's personal-best cost so far (+∞ when none).
    pub personal_best_cost: f64,
}

/// A pre-filter's decision for one particle.
#[derive(Clone, Debug, PartialEq)]
pub enum Screening {
    /// Run it.
    Evaluate,
    /// Do not run it; record the prediction.
    Skip {
        /// The predicted figures, when they form a valid index.
        predicted: Option<PerformanceIndex>,
        /// Why it was skipped, for the record.
        reason: String,
    },
}

/// Decides before each batch which particles are worth a real evaluation.
///
/// The tuner calls [`Prefilter::reset`] at the start of a run, [`Prefilter::observe`] for every
/// real evaluation (resumed ones included), [`Prefilter::update`] after each iteration, and
/// [`Prefilter::screen`] before each batch. It must be deterministic: a resumed run replays the
/// same observations and must make the same decisions.
pub trait Prefilter: Send {
    /// A short description of the settings (part of the checkpoint fingerprint).
    fn describe(&self) -> String;
    /// Forgets every observation.
    fn reset(&mut self);
    /// Records a real evaluation: its position and measured index (`None` when it failed).
    fn observe(&mut self, position: &[f64], index: Option<&PerformanceIndex>);
    /// Refits after an iteration's observations.
    fn update(&mut self);
    /// One decision per particle, in order.
    fn screen(&self, batch: &[ScreenInput<'_>]) -> Vec<Screening>;
}

/// The Gaussian-process pre-filter; see the module documentation.
#[derive(Clone, Debug)]
pub struct SurrogateFilter {
    settings: SurrogateSettings,
    ttft_slo: Option<f64>,
    tpot_slo: Option<f64>,
    fitness: Fitness,
    positions: Vec<Vec<f64>>,
    indices: Vec<Option<PerformanceIndex>>,
    models: Option<Models>,
}

#[derive(Clone, Debug)]
struct Models {
    inv_speed: Option<GaussianProcess>,
    ttft: Option<GaussianProcess>,
    tpot: Option<GaussianProcess>,
    success: Option<GaussianProcess>,
    ln_cost: Option<GaussianProcess>,
}

impl SurrogateFilter {
    /// A filter with `settings`, judging feasibility by the SLOs of `fitness`.
    ///
    /// # Errors
    /// As [`SurrogateSettings::check`].
    pub fn new(settings: SurrogateSettings, fitness: &Fitness) -> Result<Self> {
        settings.check()?;
        let constrained = |penalty: f64, slo: f64| {
            ((penalty != 0.0 || fitness.hard_constraints) && slo.is_finite() && slo > 0.0)
                .then_some(slo)
        };
        Ok(Self {
            ttft_slo: constrained(fitness.ttft_penalty, fitness.ttft_slo_ms),
            tpot_slo: constrained(fitness.tpot_penalty, fitness.tpot_slo_ms),
            fitness: fitness.clone(),
            settings,
            positions: Vec::new(),
            indices: Vec::new(),
            models: None,
        })
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &SurrogateSettings {
        &self.settings
    }

    fn fit_on(&self, value: impl Fn(&PerformanceIndex) -> Option<f64>) -> Option<GaussianProcess> {
        let (x, y): (Vec<Vec<f64>>, Vec<f64>) = self
            .positions
            .iter()
            .zip(&self.indices)
            .filter_map(|(p, i)| {
                i.as_ref()
                    .and_then(&value)
                    .filter(|v| v.is_finite())
                    .map(|v| (p.clone(), v))
            })
            .unzip();
        GaussianProcess::fit(&x, &y)
    }

    /// log P(feasible) and the predicted index at `position`.
    fn judge(&self, m: &Models, position: &[f64]) -> (f64, Option<PerformanceIndex>) {
        let mut log_p = 0.0;
        let mut constraint = |gp: &Option<GaussianProcess>, slo: Option<f64>| -> Option<f64> {
            let gp = gp.as_ref()?;
            let (mu, sd) = gp.predict(position);
            if let Some(slo) = slo {
                log_p += ln_norm_cdf((slo - mu) / sd);
            }
            Some(mu.max(0.0))
        };
        let ttft = constraint(&m.ttft, self.ttft_slo);
        let tpot = constraint(&m.tpot, self.tpot_slo);
        if let Some(gp) = &m.success {
            let (mu, sd) = gp.predict(position);
            log_p += ln_norm_cdf((mu - 0.5) / sd);
        }
        let speed = m
            .inv_speed
            .as_ref()
            .map(|gp| gp.predict(position).0)
            .filter(|v| *v > 0.0)
            .map(|v| 1.0 / v);
        let predicted = PerformanceIndex::new(PerformanceIndexData {
            output_throughput: speed,
            ttft_ms: ttft,
            tpot_ms: tpot,
            success_rate: Some(1.0),
            ..PerformanceIndexData::default()
        })
        .ok();
        (log_p, predicted)
    }
}

impl Prefilter for SurrogateFilter {
    fn describe(&self) -> String {
        format!(
            "surrogate(initial_points={}, strategy={:?}, feasibility_threshold={})",
            self.settings.initial_points,
            self.settings.strategy,
            self.settings.feasibility_threshold
        )
    }

    fn reset(&mut self) {
        self.positions.clear();
        self.indices.clear();
        self.models = None;
    }

    fn observe(&mut self, position: &[f64], index: Option<&PerformanceIndex>) {
        self.positions.push(position.to_vec());
        self.indices.push(index.copied());
    }

    fn update(&mut self) {
        let successes = self.indices.iter().filter(|i| i.is_some()).count();
        if successes < self.settings.initial_points {
            self.models = None;
            return;
        }
        let failures = self.indices.len() - successes;
        let success = (failures > 0)
            .then(|| {
                let y: Vec<f64> = self
                    .indices
                    .iter()
                    .map(|i| if i.is_some() { 1.0 } else { 0.0 })
                    .collect();
                GaussianProcess::fit(&self.positions, &y)
            })
            .flatten();
        self.models = Some(Models {
            inv_speed: self.fit_on(|i| i.output_throughput().filter(|g| *g > 0.0).map(|g| 1.0 / g)),
            ttft: self.fit_on(PerformanceIndex::ttft_ms),
            tpot: self.fit_on(PerformanceIndex::tpot_ms),
            success,
            ln_cost: self.fit_on(|i| {
                let c = self.fitness.cost(i);
                (c.is_finite() && c > 0.0).then(|| c.ln())
            }),
        });
    }

    fn screen(&self, batch: &[ScreenInput<'_>]) -> Vec<Screening> {
        let Some(m) = &self.models else {
            return vec![Screening::Evaluate; batch.len()];
        };
        let judged: Vec<(f64, Option<PerformanceIndex>)> =
            batch.iter().map(|c| self.judge(m, c.position)).collect();
        let threshold = self.settings.feasibility_threshold;
        let mut out: Vec<Screening> = judged
            .iter()
            .map(|(log_p, predicted)| {
                if *log_p <= threshold {
                    Screening::Skip {
                        predicted: *predicted,
                        reason: format!(
                            "predicted infeasible: log P(feasible) = {log_p:.3} <= {threshold}"
                        ),
                    }
                } else {
                    Screening::Evaluate
                }
            })
            .collect();
        if !batch.is_empty() && out.iter().all(|s| *s != Screening::Evaluate) {
            // the seed's fallback: run the 60 % most likely to be feasible
            let keep = ((0.6 * batch.len() as f64) as usize).max(1);
            let mut order: Vec<usize> = (0..batch.len()).collect();
            order.sort_by(|&a, &b| judged[b].0.total_cmp(&judged[a].0).then(a.cmp(&b)));
            for &i in order.iter().take(keep) {
                out[i] = Screening::Evaluate;
            }
        }
        if self.settings.strategy == SurrogateStrategy::Aggressive
            && let Some(gp) = &m.ln_cost
        {
            for (k, c) in batch.iter().enumerate() {
                if out[k] != Screening::Evaluate || !c.personal_best_cost.is_finite() {
                    continue;
                }
                let (mu, sd) = gp.predict(c.position);
                let optimistic = (mu - 2.0 * sd).exp();
                if optimistic >= c.personal_best_cost {
                    out[k] = Screening::Skip {
                        predicted: judged[k].1,
                        reason: format!(
                            "predicted no improvement: optimistic cost {optimistic:.4} >= \
                             personal best {:.4}",
                            c.personal_best_cost
                        ),
                    };
                }
            }
        }
        out
    }
}

/// ln Φ(z) for the standard normal CDF, accurate in both tails (erfc from `libm`).
#[must_use]
pub fn ln_norm_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NEG_INFINITY;
    }
    if z > -30.0 {
        (0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)).ln()
    } else {
        // asymptotic: Φ(z) ≈ φ(z)/|z| · (1 − 1/z²)
        -0.5 * z * z - (-z).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + (1.0 - 1.0 / (z * z)).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(g: f64, ttft: f64, tpot: f64) -> PerformanceIndex {
        PerformanceIndex::new(PerformanceIndexData {
            output_throughput: Some(g),
            ttft_ms: Some(ttft),
            tpot_ms: Some(tpot),
            success_rate: Some(1.0),
            ..PerformanceIndexData::default()
        })
        .unwrap()
    }

    #[test]
    fn ln_norm_cdf_matches_known_values() {
        assert!((ln_norm_cdf(0.0) - 0.5f64.ln()).abs() < 1e-15);
        // Φ(−1.2) = 0.11506967022170822
        assert!((ln_norm_cdf(-1.2) - 0.115_069_670_221_708_22_f64.ln()).abs() < 1e-12);
        // Φ(1.96) = 0.9750021048517795
        assert!((ln_norm_cdf(1.96) - 0.975_002_104_851_779_5_f64.ln()).abs() < 1e-12);
        // deep tail: ln Φ(−40) ≈ −804.608 (continuous across the switch at −30)
        assert!((ln_norm_cdf(-40.0) + 804.608_442_013_754).abs() < 1e-3);
        let (a, b) = (ln_norm_cdf(-29.999_999), ln_norm_cdf(-30.000_001));
        assert!((a - b).abs() < 1e-3, "{a} {b}");
    }

    #[test]
    fn skips_where_the_slo_is_surely_missed_and_keeps_the_rest() {
        // TTFT grows with x: 100 ms at x = 0 to 1100 ms at x = 1; the SLO is 500 ms
        let fitness = Fitness {
            ttft_slo_ms: 500.0,
            ..Fitness::default()
        };
        let mut f = SurrogateFilter::new(SurrogateSettings::default(), &fitness).unwrap();
        let before = f.screen(&[ScreenInput {
            position: &[0.9],
            personal_best_cost: f64::INFINITY,
        }]);
        assert_eq!(before, vec![Screening::Evaluate], "no model yet");
        for k in 0..=10 {
            let x = f64::from(k) / 10.0;
            f.observe(&[x], Some(&index(1000.0, 100.0 + 1000.0 * x, 20.0)));
        }
        f.update();
        let ask = |x: f64| ScreenInput {
            position: std::slice::from_ref(Box::leak(Box::new(x))),
            personal_best_cost: f64::INFINITY,
        };
        let out = f.screen(&[ask(0.15), ask(0.85), ask(0.38)]);
        assert_eq!(out[0], Screening::Evaluate);
        assert_eq!(
            out[2],
            Screening::Evaluate,
            "TTFT 480 ms: probably feasible"
        );
        let Screening::Skip { predicted, reason } = &out[1] else {
            panic!("{out:?}")
        };
        assert!(reason.starts_with("predicted infeasible"), "{reason}");
        let ttft = predicted.unwrap().ttft_ms().unwrap();
        assert!((ttft - 950.0).abs() < 5.0, "predicted TTFT {ttft}");
        // all infeasible: the best 60 % (of 5 → 3) still run, most feasible first
        let xs = [0.95, 0.7, 0.9, 0.8, 1.0];
        let out = f.screen(&xs.map(ask));
        let run: Vec<usize> = (0..5).filter(|&k| out[k] == Screening::Evaluate).collect();
        let models = f.models.as_ref().unwrap();
        let log_p: Vec<f64> = xs.iter().map(|x| f.judge(models, &[*x]).0).collect();
        let mut order: Vec<usize> = (0..5).collect();
        order.sort_by(|&a, &b| log_p[b].total_cmp(&log_p[a]));
        order.truncate(3);
        order.sort_unstable();
        assert_eq!(run, order, "log P {log_p:?}");
        assert!(
            run.contains(&1),
            "x = 0.7 is the least infeasible: {log_p:?}"
        );
        // reset forgets
        f.reset();
        f.update();
        assert_eq!(f.screen(&[ask(0.9)]), vec![Screening::Evaluate]);
    }

    #[test]
    fn aggressive_also_skips_what_cannot_beat_the_personal_best() {
        let fitness = Fitness::default();
        let settings = SurrogateSettings {
            strategy: SurrogateStrategy::Aggressive,
            ..SurrogateSettings::default()
        };
        let mut f = SurrogateFilter::new(settings, &fitness).unwrap();
        // throughput falls with x; latencies are well inside the default SLOs
        for k in 0..=10 {
            let x = f64::from(k) / 10.0;
            f.observe(&[x], Some(&index(5000.0 - 4000.0 * x, 100.0, 20.0)));
        }
        f.update();
        let best = fitness.cost(&index(4900.0, 100.0, 20.0));
        let out = f.screen(&[
            ScreenInput {
                position: &[0.9],
                personal_best_cost: best,
            },
            ScreenInput {
                position: &[0.05],
                personal_best_cost: fitness.cost(&index(3000.0, 100.0, 20.0)),
            },
        ]);
        assert!(
            matches!(&out[0], Screening::Skip { reason, .. } if reason.contains("no improvement")),
            "{out:?}"
        );
        assert_eq!(out[1], Screening::Evaluate);
    }

    #[test]
    fn failures_make_their_neighbourhood_infeasible() {
        let fitness = Fitness::default();
        let mut f = SurrogateFilter::new(SurrogateSettings::default(), &fitness).unwrap();
        for k in 0..=10 {
            let x = f64::from(k) / 10.0;
            // the engine fails to start above x = 0.6
            let idx = (x <= 0.6).then(|| index(3000.0, 100.0, 20.0));
            f.observe(&[x], idx.as_ref());
        }
        f.update();
        let out = f.screen(&[
            ScreenInput {
                position: &[0.95],
                personal_best_cost: f64::INFINITY,
            },
            ScreenInput {
                position: &[0.2],
                personal_best_cost: f64::INFINITY,
            },
        ]);
        assert!(matches!(out[0], Screening::Skip { .. }), "{out:?}");
        assert_eq!(out[1], Screening::Evaluate);
    }

    #[test]
    fn settings_are_checked() {
        assert!(SurrogateStrategy::parse("bold").is_err());
        assert_eq!(
            SurrogateStrategy::parse("aggressive").unwrap(),
            SurrogateStrategy::Aggressive
        );
        let bad = SurrogateSettings {
            feasibility_threshold: 0.5,
            ..SurrogateSettings::default()
        };
        assert!(SurrogateFilter::new(bad, &Fitness::default()).is_err());
        let bad = SurrogateSettings {
            initial_points: 0,
            ..SurrogateSettings::default()
        };
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .contains("initial_points")
        );
    }
}
