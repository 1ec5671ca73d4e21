//! The Inferno trainer: params → validated params → fitted model (CONVENTIONS §2).

use perf_model_core::PerfDataset;
use perf_model_core::inferno::{
    Analyzer, Arithmetic, QueueConfig, QueueModel, RequestShape, ServiceParams,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{FitError, Result};
use crate::identify::Identifiability;
use crate::lm::LmStop;
use crate::loss::{Dataset, Loss};
use crate::nelder_mead::NmStop;
use crate::objective::{NmSettings, Run, run_nm};
use crate::point::{FitPoint, points_from_datasets};
use crate::report::{FitReport, SeedAnalysis, SeedParams, SeedResponse};

/// Entry point of the trainer; see [`InfernoTrainer::params`].
#[derive(Clone, Copy, Debug, Default)]
pub struct InfernoTrainer;

impl InfernoTrainer {
    /// Default settings: model [`QueueModel::V7`], loss [`Loss::RelativeSquared`], init
    /// (1, 0.01, 1e-4), scaled variables, [`FitMethod::LevenbergMarquardt`] (checked against
    /// 8 seeded design points, seed 0), [`Arithmetic::F64`] — the current upstream demo
    /// settings with a faster and more thorough optimizer.
    #[must_use]
    pub fn params() -> InfernoTrainerParams {
        InfernoTrainerParams::default()
    }
}

/// The optimizer of an Inferno fit.
///
/// | method | evaluations on the reference data | result |
/// |---|---|---|
/// | [`LevenbergMarquardt`](Self::LevenbergMarquardt) (default) | 22–57 | the multistart optimum, to rounding |
/// | [`NelderMeadMultistart`](Self::NelderMeadMultistart) | ≈ 8 000–14 000 | never worse than one start |
/// | [`SeedCompatible`](Self::SeedCompatible) | ≈ 1 000 | the Go trainer's fit, bit for bit in its arithmetic |
///
/// # Levenberg–Marquardt (the default)
/// The relative-squared loss is a sum of squares,
/// `loss(θ) = Σ_k r_k(θ)²` with `r = ((TTFT_pred − TTFT_obs)/TTFT_obs,
/// (ITL_pred − ITL_obs)/ITL_obs)/√points` (two per point), so a Gauss–Newton method
/// (Levenberg 1944, Marquardt 1963) needs few evaluations where Nelder–Mead needs a thousand
/// per start. The fit of `θ = (α, β, γ) ≥ 0`:
/// 1. **Closed-form start** (no analyzer solve): at a fixed batch size the service-time
///    primitives are linear in θ. At the batch `B̂ = λ·(TTFT_obs + (m − 1)·ITL_obs) + 1`
///    each point's own measurements imply (Little's law, queueing wait neglected), it fits
///    `TTFT ≈ Prefill(B̂) + Decode(B̂)` and `ITL ≈ Decode(B̂)` with the same relative weights
///    by non-negative linear least squares (exact for three unknowns: the best of the seven
///    subsets of free parameters). Without a usable start, `init` is used.
/// 2. **Levenberg–Marquardt** with a forward-difference Jacobian (relative step `1e-7`, three
///    evaluations), Moré's (1978) scale-invariant metric `D_j = max ‖∂r/∂θ_j‖` over the
///    iterations, the damped step `(JᵀJ + μD²)δ = −Jᵀr` solved by Cholesky on the free
///    parameters, projection onto `θ ≥ 0` (a parameter at 0 whose gradient points below 0
///    stays at 0: γ on single-shape data), and Nielsen's (1999) damping update. A step is
///    accepted only if it decreases the loss (`+∞` where the model cannot serve the data,
///    e.g. the V3 rate guard, so such steps are refused).
/// 3. **Stopping rule** (MINPACK's tests, Moré 1978): after an accepted step, actual and
///    predicted relative decrease both `≤ 1e-12`; or scaled step `‖Dδ‖ ≤ 1e-10·‖Dθ‖`; or
///    every free parameter's scaled gradient (the cosine between `r` and its Jacobian column)
///    `≤ 1e-10`; else the damping exceeds `1e20` or 100 iterations pass (both count as not
///    converged). See [`LmStop`].
/// 4. **Cheap check**: the loss at `init` and at the
///    [`multistart`](InfernoTrainerParams::multistart) seeded design points (9 evaluations by
///    default, no optimisation; computed first: when it is infinite at all of them the fit
///    fails with [`FitError::InfeasibleStart`], exactly when multistart cannot start). A probe
///    below the optimum lies in a better basin: the run is repeated from it (the best probe
///    first, up to 3; from the best probe when there is no usable closed-form start). If the
///    best run did not converge, one more runs from `init`; if that fails too,
///    [`NelderMeadMultistart`](Self::NelderMeadMultistart) runs and the better result is kept.
///
/// Levenberg–Marquardt needs a smooth sum of squares. [`Loss::WeightedAbsolute`] is a sum of
/// absolute values, and with [`Arithmetic::GoFloat32`] the loss is a staircase of float32
/// steps (≈1e-7 relative) that differences cannot resolve (a run stops within ±1e-6 of
/// multistart's loss, sometimes above it). For either, this method runs
/// [`NelderMeadMultistart`](Self::NelderMeadMultistart), and [`FittedInferno::method`] says
/// so.
///
/// ## Why it finds the same optimum as multistart
/// * Each accepted step decreases the loss, and the damping makes a small enough step a
///   descent step, so a run stops only at a point where no direction of the feasible set
///   decreases the loss to the Jacobian's accuracy: a first-order stationary point of the
///   bound-constrained problem (Moré 1978, §§2–4). Multistart also ends at such a point.
/// * On all 24 reference data sets (`examples/inferno_compare.rs`, default configuration),
///   runs from each of the ten multistart starting points (`init`, the 8 design points, the
///   closed-form start) reached one and the same optimum (losses within 1e-9 relative): the
///   loss has one minimum there, which both methods find. The final losses agree with
///   multistart's within 4e-14 relative in the default, V6, V3 and `/train`-start
///   configurations (rounding: Nelder–Mead keeps e.g. γ = 1e-18 where the bound gives
///   exactly 0). The closed-form start lies near the optimum, so 3–11 iterations suffice.
/// * The check (step 4) guards the assumption of one basin on other data at the cost of a
///   few evaluations.
///
/// References: K. Levenberg, *A method for the solution of certain non-linear problems in
/// least squares*, Quart. Appl. Math. 2 (1944) 164–168; D. W. Marquardt, *An algorithm for
/// least-squares estimation of nonlinear parameters*, J. SIAM 11 (1963) 431–441;
/// J. J. Moré, *The Levenberg–Marquardt algorithm: implementation and theory*, Numerical
/// Analysis, Lecture Notes in Mathematics 630, Springer (1978) 105–116; H. B. Nielsen,
/// *Damping parameter in Marquardt's method*, IMM-REP-1999-05, DTU (1999).
///
/// # Examples
/// ```
/// use perf_fit::{FitMethod, InfernoTrainer};
/// assert_eq!(FitMethod::default(), FitMethod::LevenbergMarquardt);
/// let p = InfernoTrainer::params().seed_compatible(true);
/// assert_eq!(p.fit_method(), FitMethod::SeedCompatible);
/// assert_eq!(p.seed_compatible(false).fit_method(), FitMethod::LevenbergMarquardt);
/// assert_eq!("nm-multistart".parse::<FitMethod>()?, FitMethod::NelderMeadMultistart);
/// # Ok::<(), perf_fit::FitError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FitMethod {
    /// The default: bound-constrained Levenberg–Marquardt from a closed-form start, checked
    /// against the design points, with Nelder–Mead as a fallback (see
    /// [above](FitMethod#levenbergmarquardt-the-default)).
    #[default]
    LevenbergMarquardt,
    /// Gonum Nelder–Mead from `init` plus [`multistart`](InfernoTrainerParams::multistart)
    /// seeded Latin-hypercube starts and restarts from the best point (the default before
    /// Levenberg–Marquardt; about 100 times slower, never better on the reference data).
    NelderMeadMultistart,
    /// One gonum Nelder–Mead run from `init`, exactly as the Go trainer.
    SeedCompatible,
}

impl std::fmt::Display for FitMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LevenbergMarquardt => "lm",
            Self::NelderMeadMultistart => "nm-multistart",
            Self::SeedCompatible => "seed-compatible",
        })
    }
}

impl std::str::FromStr for FitMethod {
    type Err = FitError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "lm" | "levenberg-marquardt" => Ok(Self::LevenbergMarquardt),
            "nm-multistart" | "multistart" | "nelder-mead-multistart" => {
                Ok(Self::NelderMeadMultistart)
            }
            "seed-compatible" | "seed" => Ok(Self::SeedCompatible),
            _ => Err(FitError::InvalidParam {
                name: "method",
                value: s.to_owned(),
                reason: "must be lm, nm-multistart or seed-compatible",
            }),
        }
    }
}

/// Settings of an Inferno fit (consuming builder; [`InfernoTrainerParams::check`] validates).
///
/// Three methods ([`method`](Self::method)):
/// * **Levenberg–Marquardt** (default, [`FitMethod::LevenbergMarquardt`]): a closed-form
///   start, Levenberg–Marquardt on `θ ≥ 0`, and a check against `init` and the seeded design
///   points; tens of loss evaluations. `init` and `scaled` only matter as a probe and a
///   fallback. Deterministic.
/// * **seed-compatible** ([`seed_compatible(true)`](Self::seed_compatible),
///   [`FitMethod::SeedCompatible`]): one gonum Nelder–Mead run from `init`, exactly as the Go
///   trainer (absolute initial step 0.05 on the possibly scaled variables, 1000 major
///   iterations, stop after 100 iterations without a decrease > 1e-10). The initial loss must
///   be finite.
/// * **Nelder–Mead multistart** ([`FitMethod::NelderMeadMultistart`], the default until
///   issue 18): the same run from `init` (skipped if infeasible) plus
///   [`multistart`](Self::multistart) runs from a seeded Latin hypercube in log-parameter space
///   (each start scaled by its own values, infeasible starts halved until feasible), then
///   restarts from the best point until they stop improving. Parameters stay ≥ 0 because
///   negative values have infinite loss. The result is never worse than the seed-compatible
///   run from the same `init`, and is deterministic for a given seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InfernoTrainerParams {
    model: QueueModel,
    loss: Loss,
    init: [f64; 3],
    scaled: bool,
    #[serde(default)]
    method: FitMethod,
    multistart: usize,
    seed: u64,
    arithmetic: Arithmetic,
    max_iterations: u64,
    stall_iterations: u64,
    tolerance: f64,
    simplex_size: f64,
}

impl Default for InfernoTrainerParams {
    fn default() -> Self {
        Self {
            model: QueueModel::V7,
            loss: Loss::RelativeSquared,
            init: [1.0, 0.01, 1e-4],
            scaled: true,
            method: FitMethod::default(),
            multistart: 8,
            seed: 0,
            arithmetic: Arithmetic::F64,
            max_iterations: 1000,
            stall_iterations: 100,
            tolerance: 1e-10,
            simplex_size: 0.05,
        }
    }
}

/// Settings that passed [`InfernoTrainerParams::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct InfernoTrainerValidParams(InfernoTrainerParams);

impl InfernoTrainerParams {
    /// Queue model generation (default [`QueueModel::V7`]).
    #[must_use]
    pub fn model(mut self, model: QueueModel) -> Self {
        self.model = model;
        self
    }
    /// Loss function (default [`Loss::RelativeSquared`]).
    #[must_use]
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Initial α (ms), β (ms/token), γ (ms/token²); default (1, 0.01, 1e-4). Must be finite and
    /// ≥ 0 (checked by [`check`](Self::check)).
    #[must_use]
    pub fn init(mut self, alpha: f64, beta: f64, gamma: f64) -> Self {
        self.init = [alpha, beta, gamma];
        self
    }
    /// Scale the Nelder–Mead variables by the initial values (a zero initial value keeps scale
    /// 1), as upstream ≥ 575109c (default `true`). The headline fit is unscaled.
    #[must_use]
    pub fn scaled(mut self, scaled: bool) -> Self {
        self.scaled = scaled;
        self
    }
    /// `true`: [`FitMethod::SeedCompatible`] (one start with the exact reference behaviour).
    /// `false`: leaves any other method as it is and turns [`FitMethod::SeedCompatible`] into
    /// the default ([`FitMethod::LevenbergMarquardt`]).
    #[must_use]
    pub fn seed_compatible(mut self, yes: bool) -> Self {
        if yes {
            self.method = FitMethod::SeedCompatible;
        } else if self.method == FitMethod::SeedCompatible {
            self.method = FitMethod::default();
        }
        self
    }
    /// The optimizer (default [`FitMethod::LevenbergMarquardt`]).
    #[must_use]
    pub fn method(mut self, method: FitMethod) -> Self {
        self.method = method;
        self
    }
    /// The initial `(α, β, γ)` (see [`init`](Self::init)).
    #[must_use]
    pub fn init_values(&self) -> [f64; 3] {
        self.init
    }
    /// The optimizer chosen (see [`method`](Self::method)).
    #[must_use]
    pub fn fit_method(&self) -> FitMethod {
        self.method
    }
    /// Number of Latin-hypercube design points (default 8): the extra starts of
    /// [`FitMethod::NelderMeadMultistart`] (0 keeps only `init` plus the restarts from the
    /// best point), and the probes of [`FitMethod::LevenbergMarquardt`]'s check.
    #[must_use]
    pub fn multistart(mut self, starts: usize) -> Self {
        self.multistart = starts;
        self
    }
    /// Seed of the design points (default 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Analyzer arithmetic (default [`Arithmetic::F64`]; [`Arithmetic::GoFloat32`] mirrors Go's
    /// `float32` service quantities).
    #[must_use]
    pub fn arithmetic(mut self, arithmetic: Arithmetic) -> Self {
        self.arithmetic = arithmetic;
        self
    }
    /// Major-iteration limit per Nelder–Mead run (default 1000, as upstream; ≥ 3; not used by
    /// Levenberg–Marquardt, which stops by its own rule).
    #[must_use]
    pub fn max_iterations(mut self, n: u64) -> Self {
        self.max_iterations = n;
        self
    }
    /// Nelder–Mead convergence rule: stop after `iterations` major iterations without a
    /// decrease of the best loss by more than `tolerance` (defaults 100 and 1e-10, gonum's).
    #[must_use]
    pub fn convergence(mut self, tolerance: f64, iterations: u64) -> Self {
        self.tolerance = tolerance;
        self.stall_iterations = iterations;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    /// [`FitError::InvalidParam`] naming `init.alpha`, `init.beta` or `init.gamma` when an
    /// initial value is NaN, infinite or negative, or naming `max_iterations` / `tolerance`.
    pub fn check(self) -> Result<InfernoTrainerValidParams> {
        const NAMES: [&str; 3] = ["init.alpha", "init.beta", "init.gamma"];
        for (name, v) in NAMES.into_iter().zip(self.init) {
            if !v.is_finite() {
                return Err(FitError::InvalidParam {
                    name,
                    value: v.to_string(),
                    reason: "must be a finite number",
                });
            }
            if v < 0.0 {
                return Err(FitError::InvalidParam {
                    name,
                    value: v.to_string(),
                    reason: "must be >= 0",
                });
            }
        }
        if self.max_iterations < 3 {
            return Err(FitError::InvalidParam {
                name: "max_iterations",
                value: self.max_iterations.to_string(),
                reason: "must be >= 3",
            });
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(FitError::InvalidParam {
                name: "tolerance",
                value: self.tolerance.to_string(),
                reason: "must be finite and >= 0",
            });
        }
        Ok(InfernoTrainerValidParams(self))
    }

    /// [`check`](Self::check), then [`InfernoTrainerValidParams::fit`].
    ///
    /// # Errors
    /// As both.
    pub fn fit(self, points: &[FitPoint]) -> Result<FittedInferno> {
        self.check()?.fit(points)
    }

    /// Joint fit of several data sets (their points concatenated, see
    /// [`points_from_datasets`]).
    ///
    /// # Errors
    /// As [`FitPoint::from_benchmark`] and [`InfernoTrainerValidParams::fit`].
    pub fn fit_datasets(self, datasets: &[PerfDataset]) -> Result<FittedInferno> {
        self.check()?.fit(&points_from_datasets(datasets)?)
    }

    /// Joint fit of several point slices (concatenated in order).
    ///
    /// # Errors
    /// As [`InfernoTrainerValidParams::fit`].
    pub fn fit_joint(self, sets: &[&[FitPoint]]) -> Result<FittedInferno> {
        let all: Vec<FitPoint> = sets.iter().flat_map(|s| s.iter().copied()).collect();
        self.check()?.fit(&all)
    }
}

/// Lower and upper bounds of the log-uniform start design, per parameter.
const DESIGN_LOW: [f64; 3] = [1e-2, 1e-5, 1e-9];
const DESIGN_HIGH: [f64; 3] = [1.0, 1.0, 1e-3];
/// Scales used for a coordinate that is 0 when restarting from the best point.
const RESTART_FLOOR: [f64; 3] = [1e-3, 1e-6, 1e-9];

/// The optimum a method found and what it cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Outcome {
    pub theta: [f64; 3],
    pub loss: f64,
    /// Iterations of the run that produced the optimum.
    pub iterations: u64,
    pub evaluations: u64,
    pub runs: u64,
    pub starts: usize,
    pub termination: NmStop,
    /// The method that produced the optimum.
    pub method: FitMethod,
    /// `Some` when the optimum came from a Levenberg–Marquardt run.
    pub lm_stop: Option<LmStop>,
}

impl Outcome {
    pub(crate) fn nelder_mead(
        method: FitMethod,
        best: Run,
        runs: u64,
        evaluations: u64,
        starts: usize,
    ) -> Self {
        Self {
            method,
            theta: best.theta,
            loss: best.loss,
            iterations: best.major_iterations,
            evaluations,
            runs,
            starts,
            termination: best.stop,
            lm_stop: None,
        }
    }
}

impl InfernoTrainerValidParams {
    /// The validated settings.
    #[must_use]
    pub fn settings(&self) -> &InfernoTrainerParams {
        &self.0
    }

    pub(crate) fn settings_loss(&self) -> Loss {
        self.0.loss
    }

    pub(crate) fn settings_arithmetic(&self) -> Arithmetic {
        self.0.arithmetic
    }

    pub(crate) fn nm_settings(&self) -> NmSettings {
        NmSettings {
            simplex_size: self.0.simplex_size,
            max_major_iterations: self.0.max_iterations,
            tolerance: self.0.tolerance,
            stall_iterations: self.0.stall_iterations,
        }
    }

    fn init_scale(&self) -> [f64; 3] {
        if self.0.scaled {
            self.0.init.map(|v| if v == 0.0 { 1.0 } else { v })
        } else {
            [1.0; 3]
        }
    }

    pub(crate) fn prepare(&self, points: &[FitPoint]) -> Result<Dataset> {
        if points.is_empty() {
            return Err(FitError::NotEnoughPoints { needed: 1, got: 0 });
        }
        let data = Dataset::new(points, self.0.model, self.0.arithmetic)?;
        let first = &points[0];
        let same = points.iter().all(|p| {
            p.rate_rps.to_bits() == first.rate_rps.to_bits()
                && p.input_tokens.to_bits() == first.input_tokens.to_bits()
                && p.output_tokens.to_bits() == first.output_tokens.to_bits()
        });
        if same {
            return Err(FitError::Degenerate(format!(
                "all {} points are the same operating point (rate {} req/s, {} in, {} out \
                 tokens): one operating point cannot determine alpha, beta and gamma",
                points.len(),
                first.rate_rps,
                first.input_tokens,
                first.output_tokens
            )));
        }
        Ok(data)
    }

    /// Fits α, β, γ to `points` with the [`FitMethod`] of the settings.
    ///
    /// # Errors
    /// * [`FitError::NotEnoughPoints`] for an empty slice;
    /// * [`FitError::InvalidPoint`] naming the index and field of a bad point;
    /// * [`FitError::Degenerate`] when every point has the same rate and request shape;
    /// * [`FitError::InfeasibleStart`] in seed-compatible mode when the loss at `init` is
    ///   infinite; with the other methods when it is infinite at `init` and at every design
    ///   point (after halving), i.e. for data the model cannot evaluate near any usual start;
    /// * [`FitError::Optimizer`] if argmin fails (Nelder–Mead runs).
    pub fn fit(&self, points: &[FitPoint]) -> Result<FittedInferno> {
        let data = self.prepare(points)?;
        let _span = tracing::debug_span!(
            "inferno_fit",
            points = points.len(),
            model = %self.0.model,
            loss = %self.0.loss
        )
        .entered();
        let outcome = match self.0.method {
            FitMethod::SeedCompatible => {
                let run = run_nm(
                    &data,
                    self.0.loss,
                    self.0.init,
                    self.init_scale(),
                    self.nm_settings(),
                )?;
                Outcome::nelder_mead(FitMethod::SeedCompatible, run, 1, run.evaluations, 1)
            }
            FitMethod::NelderMeadMultistart => self.nm_multistart(&data)?,
            FitMethod::LevenbergMarquardt => self.levenberg_marquardt(&data)?,
        };
        self.finish(&data, points, &outcome)
    }

    /// [`FitMethod::NelderMeadMultistart`]: the Nelder–Mead run from `init` plus the design.
    pub(crate) fn nm_multistart(&self, data: &Dataset) -> Result<Outcome> {
        let seed_run = run_nm(
            data,
            self.0.loss,
            self.0.init,
            self.init_scale(),
            self.nm_settings(),
        );
        let (best, runs, evaluations, starts) = self.multistart(data, seed_run)?;
        Ok(Outcome::nelder_mead(
            FitMethod::NelderMeadMultistart,
            best,
            runs,
            evaluations,
            starts,
        ))
    }

    fn multistart(&self, data: &Dataset, seed_run: Result<Run>) -> Result<(Run, u64, u64, usize)> {
        let nm = self.nm_settings();
        let loss = self.0.loss;
        let mut best: Option<Run> = None;
        let mut evaluations = 0u64;
        let mut runs = 0u64;
        let consider = |run: Run, best: &mut Option<Run>| {
            if best.is_none_or(|b| run.loss < b.loss) {
                *best = Some(run);
            }
        };
        match seed_run {
            Ok(run) => {
                evaluations += run.evaluations;
                runs += 1;
                consider(run, &mut best);
            }
            Err(FitError::InfeasibleStart { .. }) => {
                tracing::debug!("initial parameters infeasible; relying on the multistart design");
            }
            Err(e) => return Err(e),
        }
        let starts = self.design(data);
        let n_starts = starts.len() + 1;
        let results = parallel_map(&starts, |start| {
            run_nm(
                data,
                loss,
                *start,
                start.map(|v| if v > 0.0 { v } else { 1.0 }),
                nm,
            )
        });
        for r in results {
            match r {
                Ok(run) => {
                    evaluations += run.evaluations;
                    runs += 1;
                    consider(run, &mut best);
                }
                Err(FitError::InfeasibleStart { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let Some(best) = best else {
            let [alpha, beta, gamma] = self.0.init;
            return Err(FitError::InfeasibleStart { alpha, beta, gamma });
        };
        let (best, more_runs, more_evaluations) = self.restarts(data, best)?;
        Ok((
            best,
            runs + more_runs,
            evaluations + more_evaluations,
            n_starts,
        ))
    }

    /// Nelder–Mead restarts from the best point (scaled by itself) until one stops improving
    /// it; returns the best run, the runs and the evaluations made.
    pub(crate) fn restarts(&self, data: &Dataset, mut best: Run) -> Result<(Run, u64, u64)> {
        let nm = self.nm_settings();
        let loss = self.0.loss;
        let mut evaluations = 0u64;
        let mut runs = 0u64;
        for _ in 0..8 {
            let scale: [f64; 3] = std::array::from_fn(|i| {
                if best.theta[i] > 0.0 {
                    best.theta[i]
                } else {
                    RESTART_FLOOR[i]
                }
            });
            let run = run_nm(data, loss, best.theta, scale, nm)?;
            evaluations += run.evaluations;
            runs += 1;
            let improved = run.loss < best.loss - 1e-12 * best.loss.abs().max(1e-300);
            if run.loss < best.loss {
                best = run;
            }
            if !improved {
                break;
            }
        }
        Ok((best, runs, evaluations))
    }

    /// The seeded Latin-hypercube design in log-parameter space, made feasible by halving.
    fn design(&self, data: &Dataset) -> Vec<[f64; 3]> {
        self.design_probes(data)
            .0
            .into_iter()
            .map(|(theta, _)| theta)
            .collect()
    }

    /// [`design`](Self::design) with the loss at each point (`+∞` when halving never made it
    /// feasible) and the number of loss evaluations made.
    pub(crate) fn design_probes(&self, data: &Dataset) -> (Vec<([f64; 3], f64)>, u64) {
        let k = self.0.multistart;
        let mut evaluations = 0u64;
        if k == 0 {
            return (Vec::new(), evaluations);
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.0.seed);
        // α is scaled by the smallest observed ITL (α < ITL always holds in the model).
        let min_itl = data
            .points
            .iter()
            .map(|p| p.point.itl_ms)
            .fold(f64::INFINITY, f64::min);
        let low = [DESIGN_LOW[0] * min_itl, DESIGN_LOW[1], DESIGN_LOW[2]];
        let high = [DESIGN_HIGH[0] * min_itl, DESIGN_HIGH[1], DESIGN_HIGH[2]];
        let mut strata: [Vec<usize>; 3] = std::array::from_fn(|_| (0..k).collect());
        for s in &mut strata {
            for i in (1..s.len()).rev() {
                let j = rng.random_range(0..=i);
                s.swap(i, j);
            }
        }
        let mut out = Vec::with_capacity(k);
        for row in 0..k {
            let mut theta = [0.0; 3];
            for (d, stratum) in strata.iter().enumerate() {
                let u: f64 = rng.random();
                #[allow(clippy::cast_precision_loss)]
                let t = (stratum[row] as f64 + u) / k as f64;
                let (lo, hi) = (low[d].ln(), high[d].ln());
                theta[d] = (lo + t * (hi - lo)).exp();
            }
            let mut value = f64::INFINITY;
            for _ in 0..60 {
                evaluations += 1;
                let v = data.loss(self.0.loss, theta);
                if v.is_finite() {
                    value = v;
                    break;
                }
                theta = theta.map(|v| v * 0.5);
            }
            out.push((theta, value));
        }
        (out, evaluations)
    }

    fn finish(&self, data: &Dataset, points: &[FitPoint], best: &Outcome) -> Result<FittedInferno> {
        let analyses = data.analyze(best.theta)?;
        let report = FitReport::new(points, &analyses, self.0.loss);
        let identifiability = Identifiability::assess(data, best.theta);
        for w in &identifiability.warnings {
            tracing::warn!("{w}");
        }
        let [alpha, beta, gamma] = best.theta;
        Ok(FittedInferno {
            alpha,
            beta,
            gamma,
            model: self.0.model,
            loss_kind: self.0.loss,
            arithmetic: self.0.arithmetic,
            loss: best.loss,
            iterations: best.iterations,
            evaluations: best.evaluations,
            runs: best.runs,
            starts: best.starts,
            termination: best.termination,
            method: best.method,
            lm_stop: best.lm_stop,
            report,
            identifiability,
        })
    }
}

/// Maps `f` over `items` on up to `available_parallelism` scoped threads; the output order is
/// the input order, so results do not depend on the thread count.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items.len())
        .max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| scope.spawn(move || c.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// A fitted Inferno model: parameters, fit statistics, the per-point report and an
/// identifiability assessment. Plain serde data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedInferno {
    alpha: f64,
    beta: f64,
    gamma: f64,
    model: QueueModel,
    loss_kind: Loss,
    arithmetic: Arithmetic,
    loss: f64,
    iterations: u64,
    evaluations: u64,
    runs: u64,
    starts: usize,
    termination: NmStop,
    /// Fits stored before this field existed were made by Nelder–Mead multistart.
    #[serde(default = "legacy_method")]
    method: FitMethod,
    #[serde(default)]
    lm_stop: Option<LmStop>,
    report: FitReport,
    identifiability: Identifiability,
}

/// The method of a stored fit that does not name one (the default before
/// [`FitMethod::LevenbergMarquardt`]).
fn legacy_method() -> FitMethod {
    FitMethod::NelderMeadMultistart
}

impl FittedInferno {
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
    /// The parameters as validated [`ServiceParams`].
    ///
    /// # Errors
    /// Never for a fit produced by this crate (parameters are finite and ≥ 0).
    pub fn service_params(&self) -> Result<ServiceParams> {
        Ok(ServiceParams::new(self.alpha, self.beta, self.gamma)?)
    }
    /// The model generation fitted.
    #[must_use]
    pub fn model(&self) -> QueueModel {
        self.model
    }
    /// The loss function minimised.
    #[must_use]
    pub fn loss_kind(&self) -> Loss {
        self.loss_kind
    }
    /// The analyzer arithmetic used.
    #[must_use]
    pub fn arithmetic(&self) -> Arithmetic {
        self.arithmetic
    }
    /// The loss at the optimum (= [`ErrorSummary::avg_err_weighted`](crate::ErrorSummary)).
    #[must_use]
    pub fn loss(&self) -> f64 {
        self.loss
    }
    /// Major iterations (gonum counting) of the run that produced the optimum.
    #[must_use]
    pub fn iterations(&self) -> u64 {
        self.iterations
    }
    /// Loss evaluations over all runs.
    #[must_use]
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }
    /// Nelder–Mead runs made (1 in seed-compatible mode).
    #[must_use]
    pub fn runs(&self) -> u64 {
        self.runs
    }
    /// Starting points tried (1 in seed-compatible mode, else `multistart + 1`).
    #[must_use]
    pub fn starts(&self) -> usize {
        self.starts
    }
    /// Why the run that produced the optimum stopped. For a Levenberg–Marquardt optimum
    /// (see [`lm_stop`](Self::lm_stop)) this is [`NmStop::FunctionConvergence`] when its
    /// convergence test passed and [`NmStop::IterationLimit`] otherwise.
    #[must_use]
    pub fn termination(&self) -> NmStop {
        self.termination
    }
    /// The optimizer that made this fit.
    #[must_use]
    pub fn method(&self) -> FitMethod {
        self.method
    }
    /// Why the Levenberg–Marquardt run that produced the optimum stopped (`None` when the
    /// optimum came from Nelder–Mead).
    #[must_use]
    pub fn lm_stop(&self) -> Option<LmStop> {
        self.lm_stop
    }
    /// The per-point table and summaries.
    #[must_use]
    pub fn report(&self) -> &FitReport {
        &self.report
    }
    /// Identifiability of the parameters at the optimum.
    #[must_use]
    pub fn identifiability(&self) -> &Identifiability {
        &self.identifiability
    }
    /// The Go trainer's response body for this fit.
    #[must_use]
    pub fn seed_response(&self) -> SeedResponse {
        SeedResponse {
            optimized_parms: SeedParams {
                alpha: self.alpha,
                beta: self.beta,
                gamma: self.gamma,
            },
            analysis_results: SeedAnalysis {
                avg_err_ttft: self.report.summary.avg_err_ttft_ms,
                avg_err_itl: self.report.summary.avg_err_itl_ms,
                avg_err_weighted: self.report.summary.avg_err_weighted,
            },
        }
    }
    /// An analyzer with the fitted parameters for a request shape and server limits.
    ///
    /// # Errors
    /// As [`Analyzer::new`].
    pub fn analyzer(&self, shape: RequestShape, config: QueueConfig) -> Result<Analyzer> {
        Ok(
            Analyzer::new(self.model, self.service_params()?, shape, config)?
                .with_arithmetic(self.arithmetic)?,
        )
    }
}

/// Draws a uniform index in `0..n` (helper shared with the bootstrap).
pub(crate) fn draw_index(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    rng.random_range(0..n)
}
