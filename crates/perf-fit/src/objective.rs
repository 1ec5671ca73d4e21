//! The argmin cost function of the Inferno fit and the single-start driver.

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Error as ArgminError, Executor, KV, State};

use crate::error::{FitError, Result};
use crate::loss::{Dataset, Loss};
use crate::nelder_mead::{GonumNelderMead, NmState, NmStop};

/// The data-set loss as an argmin cost function of scaled parameters: `θ_i = x_i · scale_i`.
pub(crate) struct InfernoObjective<'a> {
    pub data: &'a Dataset,
    pub loss: Loss,
    pub scale: [f64; 3],
}

impl InfernoObjective<'_> {
    pub fn theta(&self, x: &[f64]) -> [f64; 3] {
        [
            x[0] * self.scale[0],
            x[1] * self.scale[1],
            x[2] * self.scale[2],
        ]
    }
}

impl CostFunction for InfernoObjective<'_> {
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
    let objective = InfernoObjective { data, loss, scale };
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
