//! The default fit: Levenberg–Marquardt on the relative-squared Inferno loss from a
//! closed-form start, checked against cheap probes (documented on
//! [`FitMethod`](crate::FitMethod#levenbergmarquardt-the-default)).

use perf_model_core::inferno::Arithmetic;

use crate::FitMethod;
use crate::error::{FitError, Result};
use crate::lm::{LmRun, LmSettings, Residuals, minimize};
use crate::loss::{Dataset, Loss};
use crate::nelder_mead::NmStop;
use crate::start::linearised;
use crate::trainer::{InfernoTrainerValidParams, Outcome};

/// The data set's residuals as the solver sees them.
struct DataResiduals<'a> {
    data: &'a Dataset,
    loss: Loss,
}

impl Residuals for DataResiduals<'_> {
    fn len(&self) -> usize {
        2 * self.data.points.len()
    }
    fn eval(&mut self, theta: [f64; 3], r: &mut [f64]) -> Option<f64> {
        self.data.residuals(self.loss, theta, r)
    }
}

/// Iteration limit of one Levenberg–Marquardt run (the reference data need 3–11).
const MAX_ITERATIONS: u32 = 100;
/// Relative reduction tolerance (`ftol`).
const FTOL: f64 = 1e-12;
/// Relative step tolerance (`xtol`).
const XTOL: f64 = 1e-10;
/// Scaled gradient tolerance (`gtol`).
const GTOL: f64 = 1e-10;
/// Probes better than the optimum that are followed by another run, at most.
const MAX_RESTARTS: usize = 3;

impl InfernoTrainerValidParams {
    /// True when [`levenberg_marquardt`](Self::levenberg_marquardt) fits with
    /// Levenberg–Marquardt alone (a least-squares loss in `f64`).
    pub(crate) fn lm_applies(&self) -> bool {
        self.settings().fit_method() == FitMethod::LevenbergMarquardt
            && self.settings_loss() == Loss::RelativeSquared
            && self.settings_arithmetic() == Arithmetic::F64
    }

    /// One Levenberg–Marquardt run from `start` (a local refit, as for a bootstrap resample):
    /// the parameters if it converged.
    pub(crate) fn lm_refit(&self, data: &Dataset, start: [f64; 3]) -> Option<[f64; 3]> {
        let lin = linearised(data);
        let mut f = DataResiduals {
            data,
            loss: self.settings_loss(),
        };
        minimize(&mut f, start, lin.floor, self.lm_settings())
            .filter(|run| run.stop.converged())
            .map(|run| run.theta)
    }

    fn lm_settings(&self) -> LmSettings {
        LmSettings {
            max_iterations: MAX_ITERATIONS,
            ftol: FTOL,
            xtol: XTOL,
            gtol: GTOL,
            // ≈ √(relative rounding noise of the f64 loss).
            fd_step: 1e-7,
        }
    }

    /// [`FitMethod::LevenbergMarquardt`].
    pub(crate) fn levenberg_marquardt(&self, data: &Dataset) -> Result<Outcome> {
        if !self.lm_applies() {
            // Not a smooth sum of squares (absolute errors, or float32 steps that differences
            // cannot resolve): Levenberg–Marquardt does not apply.
            return self.nm_multistart(data);
        }
        let loss = self.settings_loss();
        let lin = linearised(data);
        let settings = self.lm_settings();
        let init = self.settings().init_values();
        let mut f = DataResiduals { data, loss };
        let mut evaluations = 0u64;
        let mut runs = 0u64;
        let mut starts = 0usize;
        let mut best: Option<LmRun> = None;
        let mut run_from = |start: [f64; 3],
                            best: &mut Option<LmRun>,
                            evaluations: &mut u64,
                            runs: &mut u64,
                            starts: &mut usize| {
            *starts += 1;
            match minimize(&mut f, start, lin.floor, settings) {
                Some(run) => {
                    tracing::debug!(?start, ?run, "inferno levenberg-marquardt run");
                    *evaluations += run.evaluations;
                    *runs += 1;
                    if best.is_none_or(|b| run.value < b.value) {
                        *best = Some(run);
                    }
                }
                None => *evaluations += 1,
            }
        };
        // 0. The probes of the check: the loss at `init` and at the multistart design points
        //    (no optimisation). When every one is infinite the fit fails as multistart would:
        //    the data are beyond what the model can evaluate near any usual start.
        let (mut probes, probe_evals) = self.design_probes(data);
        evaluations += probe_evals + 1;
        probes.push((init, data.loss(loss, init)));
        probes.sort_by(|a, b| a.1.total_cmp(&b.1));
        if !probes.first().is_some_and(|(_, v)| v.is_finite()) {
            return Err(FitError::InfeasibleStart {
                alpha: init[0],
                beta: init[1],
                gamma: init[2],
            });
        }
        // 1. One run from the closed-form start.
        if let Some(start) = lin.start {
            run_from(start, &mut best, &mut evaluations, &mut runs, &mut starts);
        }
        // 2. The check: a probe below the optimum lies in a better basin; run from it (the
        //    best first). Without a first run (no usable closed-form start), from the best.
        let mut from_init = false;
        for (start, value) in probes.iter().take(MAX_RESTARTS) {
            if best.is_some_and(|b| *value >= b.value) || !value.is_finite() {
                break;
            }
            from_init |= start.map(f64::to_bits) == init.map(f64::to_bits);
            run_from(*start, &mut best, &mut evaluations, &mut runs, &mut starts);
        }
        // 3. A second opinion from `init` when the best run did not converge.
        if !from_init && best.is_none_or(|b| !b.stop.converged()) {
            run_from(init, &mut best, &mut evaluations, &mut runs, &mut starts);
        }
        let lm = best.map(|b| Outcome {
            theta: b.theta,
            loss: b.value,
            iterations: u64::from(b.iterations),
            evaluations,
            runs,
            starts,
            termination: if b.stop.converged() {
                NmStop::FunctionConvergence
            } else {
                NmStop::IterationLimit
            },
            method: FitMethod::LevenbergMarquardt,
            lm_stop: Some(b.stop),
        });
        match lm {
            Some(lm) if lm.lm_stop.is_some_and(|s| s.converged()) => Ok(lm),
            // 4. Levenberg–Marquardt failed: Nelder–Mead multistart, keeping the better.
            lm => {
                tracing::debug!(
                    ?lm,
                    "levenberg-marquardt did not converge; falling back to nelder-mead"
                );
                let nm = match self.nm_multistart(data) {
                    Ok(nm) => nm,
                    Err(e) => return lm.ok_or(e),
                };
                let mut out = match lm {
                    Some(lm) if lm.loss <= nm.loss => lm,
                    _ => nm,
                };
                out.evaluations = evaluations + nm.evaluations;
                out.runs = runs + nm.runs;
                out.starts = starts + nm.starts;
                Ok(out)
            }
        }
    }
}
