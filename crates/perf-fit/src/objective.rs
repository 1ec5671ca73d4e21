//! The argmin cost function of the Inferno fit and the single-start driver.

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Error as ArgminError, Executor, KV, State};

use perf_model_core::inferno::{Arithmetic, QueueModel};

use crate::error::{FitError, Result};
use crate::loss::{Dataset, Loss};
use crate::nelder_mead::{GonumNelderMead, NmState, NmStop};
use crate::point::FitPoint;

/// The Inferno data-set loss as an argmin [`CostFunction`] of (optionally scaled) parameters,
/// `θ_i = x_i · scale_i`, for driving [`GonumNelderMead`] (or any argmin solver) with your own
/// executor settings and observers.
///
/// The cost is the mean point loss, `+∞` where a parameter is negative or the analyzer fails
/// (never NaN).
///
/// # Examples
/// ```
/// use argmin::core::Executor;
/// use perf_fit::{FitPoint, GonumNelderMead, InfernoCost, Loss};
/// use perf_model_core::inferno::{Arithmetic, QueueModel};
/// let points: Vec<FitPoint> = [(27.16, 18.05, 7.50), (101.85, 22.01, 9.27), (176.50, 40.56, 15.57)]
///     .map(|(r, t, i)| FitPoint::new(r, 64.0, 64.0, t, i).with_max_batch_size(512))
///     .to_vec();
/// let cost = InfernoCost::new(&points, QueueModel::V3, Loss::WeightedAbsolute, Arithmetic::F64)?;
/// let start = cost.loss_at([10.0, 0.0, 0.0]);
/// let res = Executor::new(cost, GonumNelderMead::new())
///     .configure(|s| s.param(vec![10.0, 0.0, 0.0]).max_iters(2000))
///     .run()
///     .map_err(perf_fit::FitError::Optimizer)?;
/// assert!(res.state().best_cost < start);
/// # Ok::<(), perf_fit::FitError>(())
/// ```
///
/// [`GonumNelderMead`]: crate::GonumNelderMead
#[derive(Clone, Debug)]
pub struct InfernoCost {
    data: Dataset,
    loss: Loss,
    scale: [f64; 3],
}

impl InfernoCost {
    /// The loss of `points` (validated; errors name the index) for `model`, unscaled.
    ///
    /// # Errors
    /// [`FitError::NotEnoughPoints`] for no points, [`FitError::InvalidPoint`] for a bad one.
    pub fn new(
        points: &[FitPoint],
        model: QueueModel,
        loss: Loss,
        arithmetic: Arithmetic,
    ) -> Result<Self> {
        if points.is_empty() {
            return Err(FitError::NotEnoughPoints { needed: 1, got: 0 });
        }
        Ok(Self {
            data: Dataset::new(points, model, arithmetic)?,
            loss,
            scale: [1.0; 3],
        })
    }

    pub(crate) fn from_dataset(data: &Dataset, loss: Loss, scale: [f64; 3]) -> Self {
        Self {
            data: data.clone(),
            loss,
            scale,
        }
    }

    /// Optimise `x = θ / scale` instead of `θ` (upstream scales by the initial values).
    ///
    /// # Errors
    /// [`FitError::InvalidParam`] naming `scale` unless every entry is finite and `> 0`.
    pub fn with_scale(mut self, scale: [f64; 3]) -> Result<Self> {
        if scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(FitError::InvalidParam {
                name: "scale",
                value: format!("{scale:?}"),
                reason: "every entry must be finite and > 0",
            });
        }
        self.scale = scale;
        Ok(self)
    }

    /// The parameters `(α, β, γ)` of an optimiser vector `x`.
    #[must_use]
    pub fn theta(&self, x: &[f64]) -> [f64; 3] {
        std::array::from_fn(|i| x.get(i).copied().unwrap_or(f64::NAN) * self.scale[i])
    }

    /// The loss at `(α, β, γ)` (unscaled).
    #[must_use]
    pub fn loss_at(&self, theta: [f64; 3]) -> f64 {
        self.data.loss(self.loss, theta)
    }
}

impl CostFunction for InfernoCost {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, ArgminError> {
        if x.len() != 3 {
            return Ok(f64::INFINITY);
        }
        Ok(self.data.loss(self.loss, self.theta(x)))
    }
}

/// Emits one `tracing` debug event per Nelder–Mead step.
struct TracingObserver;

impl Observe<NmState> for TracingObserver {
    fn observe_iter(&mut self, state: &NmState, kv: &KV) -> Result<(), ArgminError> {
        tracing::trace!(
            iter = state.get_iter(),
            best = state.get_best_cost(),
            action = ?kv.get("action"),
            "inferno nelder-mead step"
        );
        Ok(())
    }
}

/// Nelder–Mead settings shared by every start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NmSettings {
    pub simplex_size: f64,
    pub max_major_iterations: u64,
    pub tolerance: f64,
    pub stall_iterations: u64,
}

/// The outcome of one Nelder–Mead run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Run {
    pub theta: [f64; 3],
    pub loss: f64,
    pub major_iterations: u64,
    pub evaluations: u64,
    pub stop: NmStop,
}

/// Runs gonum's Nelder–Mead from `start` (unscaled parameters) on variables scaled by `scale`.
pub(crate) fn run_nm(
    data: &Dataset,
    loss: Loss,
    start: [f64; 3],
    scale: [f64; 3],
    nm: NmSettings,
) -> Result<Run> {
    let objective = InfernoCost::from_dataset(data, loss, scale);
    let f0 = data.loss(loss, start);
    if !f0.is_finite() {
        return Err(FitError::InfeasibleStart {
            alpha: start[0],
            beta: start[1],
            gamma: start[2],
        });
    }
    let x0: Vec<f64> = (0..3).map(|i| start[i] / scale[i]).collect();
    let solver = GonumNelderMead::new()
        .with_simplex_size(nm.simplex_size)
        .with_max_major_iterations(nm.max_major_iterations)
        .with_function_converge(nm.tolerance, nm.stall_iterations);
    let guard = nm.max_major_iterations.saturating_add(10).max(10);
    let mut executor = Executor::new(objective, solver).configure(|s: NmState| {
        s.param(x0).max_iters(if nm.max_major_iterations == 0 {
            u64::MAX
        } else {
            guard
        })
    });
    if tracing::enabled!(tracing::Level::TRACE) {
        executor = executor.add_observer(TracingObserver, ObserverMode::Always);
    }
    let res = executor.run()?;
    let solver = res.solver();
    let (vertices, values) = solver.simplex();
    let theta_x = vertices.first().cloned().unwrap_or_default();
    let objective = res
        .problem()
        .problem
        .as_ref()
        .ok_or_else(|| FitError::Degenerate("optimizer lost its problem".into()))?;
    let theta = objective.theta(&theta_x);
    let evaluations = res.problem().counts.get("cost_count").copied().unwrap_or(0);
    let run = Run {
        theta,
        loss: values.first().copied().unwrap_or(f64::INFINITY),
        major_iterations: solver.major_iterations(),
        evaluations,
        stop: solver.stop_reason().unwrap_or(NmStop::IterationLimit),
    };
    tracing::debug!(
        alpha = run.theta[0],
        beta = run.theta[1],
        gamma = run.theta[2],
        loss = run.loss,
        iterations = run.major_iterations,
        evaluations = run.evaluations,
        "inferno nelder-mead run"
    );
    Ok(run)
}
