//! Nelder–Mead exactly as gonum v0.16 `optimize.NelderMead` + `optimize.Minimize` run it, as an
//! argmin [`Solver`].
//!
//! # Why not argmin's own `NelderMead`
//! argmin 0.11's `NelderMead` differs from the Go trainer's optimizer in ways that change the
//! result, so it cannot reproduce the published fits:
//! * **coefficients**: argmin uses reflection 1, expansion 2, contraction 0.5, shrink 0.5 and
//!   `with_rho` rejects ρ > 0.5, so gonum's dimension-adapted contraction
//!   `0.75 − 1/(2d)` = 7/12 (d = 3) is unreachable; gonum's expansion is `1 + 2/d` = 5/3 and
//!   shrink `1 − 1/d` = 2/3;
//! * **inside contraction**: argmin contracts towards the worst vertex from the centroid the
//!   same way for both cases (`x_c = c + ρ(x − c)`), gonum uses `c + ρ(c − w)` outside and
//!   `c − ρ(c − w)` inside;
//! * **ordering**: argmin re-sorts the whole simplex after every step and recomputes the
//!   centroid; gonum inserts the new vertex with a stable insertion step and updates the
//!   centroid incrementally (different rounding, different tie-breaking);
//! * **convergence**: argmin stops on the standard deviation of the vertex costs; gonum stops
//!   after 100 consecutive major iterations without a decrease of the best value by more than
//!   `1e-10` (`FunctionConverge`), or after 1000 major iterations;
//! * **initial simplex**: argmin takes the vertices from the caller; gonum builds `x0` plus an
//!   absolute step 0.05 along each axis.
//!
//! [`GonumNelderMead`] implements gonum's steps one for one; argmin's [`Executor`] drives it,
//! so observers (e.g. `tracing`) and the usual [`IterState`] work as with any argmin solver.
//!
//! # Iteration counting
//! gonum counts *major iterations*: the start point is the first, the completed initial simplex
//! the second, and every Nelder–Mead step one more. [`GonumNelderMead::major_iterations`]
//! counts the same way; argmin's `IterState::get_iter` counts Nelder–Mead steps only (it is
//! smaller by 2).
//!
//! [`Executor`]: argmin::core::Executor

use argmin::core::{
    ArgminError, CostFunction, Error, IterState, KV, KvValue, Problem, Solver, TerminationReason,
    TerminationStatus,
};
use serde::{Deserialize, Serialize};

/// Parameter vector of the solver.
type P = Vec<f64>;
/// argmin state used by [`GonumNelderMead`].
pub type NmState = IterState<P, (), (), (), (), f64>;

/// What the last step did (for observers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NmAction {
    /// The initial simplex was built.
    Initialize,
    /// The reflected point was accepted.
    Reflection,
    /// The expanded (or, if not better, reflected) point was accepted.
    Expansion,
    /// The outside contraction was accepted.
    ContractionOutside,
    /// The inside contraction was accepted.
    ContractionInside,
    /// The simplex was shrunk towards the best vertex.
    Shrink,
}

impl std::fmt::Display for NmAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Why gonum's `Minimize` loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NmStop {
    /// `FunctionConverge`: no decrease of the best value by more than the tolerance for the
    /// configured number of consecutive major iterations.
    FunctionConvergence,
    /// The major-iteration limit was reached.
    IterationLimit,
}

/// gonum's Nelder–Mead (v0.16.0) with gonum's default `FunctionConverge` and a major-iteration
/// limit, as an argmin [`Solver`] on `Vec<f64>` parameters.
///
/// The start point is the executor's initial parameter
/// (`Executor::configure(|s| s.param(x0))`); its cost must be finite, as in gonum. `NaN`
/// costs are treated as `+∞` (they rank worst).
///
/// # Formula
/// With `d` the dimension, `c` the centroid of the best `d` vertices and `w` the worst:
/// ```text
/// reflect  x_r = c + 1·(c − w)
/// expand   x_e = c + (1 + 2/d)·(c − w)                 (5/3 for d = 3)
/// outside  x_c = c + (0.75 − 1/(2d))·(c − w)           (7/12)
/// inside   x_c = c − (0.75 − 1/(2d))·(c − w)
/// shrink   x_i = x_best + (1 − 1/d)·(x_i − x_best)     (2/3)
/// ```
/// (d = 1: expansion 2, contraction 0.5, shrink 0.5.)
///
/// # Examples
/// ```
/// use argmin::core::{CostFunction, Error, Executor};
/// use perf_fit::GonumNelderMead;
/// struct Bowl;
/// impl CostFunction for Bowl {
///     type Param = Vec<f64>;
///     type Output = f64;
///     fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
///         Ok((x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2))
///     }
/// }
/// let res = Executor::new(Bowl, GonumNelderMead::new())
///     .configure(|s| s.param(vec![0.0, 0.0]).max_iters(10_000))
///     .run()?;
/// let best = res.state().best_param.clone().unwrap();
/// assert!((best[0] - 1.0).abs() < 1e-4 && (best[1] + 2.0).abs() < 1e-4);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GonumNelderMead {
    simplex_size: f64,
    max_major_iterations: u64,
    converge_absolute: f64,
    converge_iterations: u64,
    // coefficients (set in init)
    reflection: f64,
    expansion: f64,
    contraction: f64,
    shrink: f64,
    // simplex, sorted by value, best first
    vertices: Vec<P>,
    values: Vec<f64>,
    centroid: P,
    // Minimize-loop bookkeeping
    major: u64,
    conv_best: f64,
    conv_first: bool,
    conv_iter: u64,
    stop: Option<NmStop>,
}

impl Default for GonumNelderMead {
    fn default() -> Self {
        Self::new()
    }
}

impl GonumNelderMead {
    /// gonum's defaults: simplex step 0.05, `MajorIterations` 1000 (the Go trainer's setting),
    /// `FunctionConverge{Absolute: 1e-10, Iterations: 100}`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            simplex_size: 0.05,
            max_major_iterations: 1000,
            converge_absolute: 1e-10,
            converge_iterations: 100,
            reflection: 1.0,
            expansion: 0.0,
            contraction: 0.0,
            shrink: 0.0,
            vertices: Vec::new(),
            values: Vec::new(),
            centroid: Vec::new(),
            major: 0,
            conv_best: 0.0,
            conv_first: true,
            conv_iter: 0,
            stop: None,
        }
    }

    /// Absolute step of the initial simplex along each axis (default 0.05).
    #[must_use]
    pub fn with_simplex_size(mut self, size: f64) -> Self {
        self.simplex_size = size;
        self
    }

    /// Major-iteration limit (default 1000; 0 = none).
    #[must_use]
    pub fn with_max_major_iterations(mut self, n: u64) -> Self {
        self.max_major_iterations = n;
        self
    }

    /// `FunctionConverge` settings: stop after `iterations` consecutive major iterations
    /// without a decrease of the best value by more than `absolute` (defaults 1e-10, 100;
    /// `iterations` = 0 disables it).
    #[must_use]
    pub fn with_function_converge(mut self, absolute: f64, iterations: u64) -> Self {
        self.converge_absolute = absolute;
        self.converge_iterations = iterations;
        self
    }

    /// Major iterations so far, counted as gonum does (start point, initial simplex, then one
    /// per step).
    #[must_use]
    pub fn major_iterations(&self) -> u64 {
        self.major
    }

    /// Why the run stopped, once it has.
    #[must_use]
    pub fn stop_reason(&self) -> Option<NmStop> {
        self.stop
    }

    /// The current simplex (vertices sorted best first) and their values.
    #[must_use]
    pub fn simplex(&self) -> (&[P], &[f64]) {
        (&self.vertices, &self.values)
    }

    fn eval<O: CostFunction<Param = P, Output = f64>>(
        problem: &mut Problem<O>,
        x: &P,
    ) -> Result<f64, Error> {
        let f = problem.cost(x)?;
        Ok(if f.is_nan() { f64::INFINITY } else { f })
    }

    /// gonum `performMajorIteration`: convergence check, then the iteration limit.
    fn major_iteration(&mut self, f: f64) {
        self.major += 1;
        if self.stop.is_some() {
            return;
        }
        // FunctionConverge.Converged (Relative = 0)
        if self.conv_first {
            self.conv_best = f;
            self.conv_first = false;
        } else if self.converge_iterations > 0 {
            if f < self.conv_best && self.conv_best - f > self.converge_absolute {
                self.conv_best = f;
                self.conv_iter = 0;
            } else {
                self.conv_iter += 1;
                if self.conv_iter >= self.converge_iterations {
                    self.stop = Some(NmStop::FunctionConvergence);
                    return;
                }
            }
        }
        if self.max_major_iterations > 0 && self.major >= self.max_major_iterations {
            self.stop = Some(NmStop::IterationLimit);
        }
    }

    /// Stable insertion sort of the simplex by value (Go's `sort.Sort` on ≤ 12 elements).
    fn sort(&mut self) {
        for i in 1..self.values.len() {
            let mut j = i;
            while j > 0 && self.values[j] < self.values[j - 1] {
                self.values.swap(j, j - 1);
                self.vertices.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    fn compute_centroid(&mut self) {
        let dim = self.centroid.len();
        self.centroid.iter_mut().for_each(|c| *c = 0.0);
        for vertex in &self.vertices[..dim] {
            for (c, v) in self.centroid.iter_mut().zip(vertex) {
                *c += v;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let d = dim as f64;
        self.centroid.iter_mut().for_each(|c| *c /= d);
    }

    /// `x = c + scale·(c − w)`, computed as gonum does: `((c − w)·scale) + c`.
    fn along(&self, scale: f64) -> P {
        let w = &self.vertices[self.centroid.len()];
        self.centroid
            .iter()
            .zip(w)
            .map(|(c, w)| (c - w) * scale + c)
            .collect()
    }

    /// gonum `replaceWorst`: insert `{x, f}` in place of the worst vertex keeping the order,
    /// then update the centroid incrementally.
    fn replace_worst(&mut self, x: P, f: f64) {
        let dim = self.centroid.len();
        self.vertices[dim] = x;
        self.values[dim] = f;
        let mut i = dim;
        while i > 0 {
            if self.values[i - 1] < f {
                break;
            }
            self.vertices.swap(i - 1, i);
            self.values.swap(i - 1, i);
            i -= 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let inv = 1.0 / dim as f64;
        let worst = &self.vertices[dim];
        let new = &self.vertices[i];
        for ((c, w), n) in self.centroid.iter_mut().zip(worst).zip(new) {
            *c += -inv * w;
            *c += inv * n;
        }
    }

    fn shrink_simplex<O: CostFunction<Param = P, Output = f64>>(
        &mut self,
        problem: &mut Problem<O>,
    ) -> Result<(), Error> {
        for i in 1..self.vertices.len() {
            let x: P = self.vertices[i]
                .iter()
                .zip(&self.vertices[0])
                .map(|(v, b)| (v - b) * self.shrink + b)
                .collect();
            let f = Self::eval(problem, &x)?;
            self.vertices[i] = x;
            self.values[i] = f;
        }
        self.sort();
        self.compute_centroid();
        Ok(())
    }
}

impl<O> Solver<O, NmState> for GonumNelderMead
where
    O: CostFunction<Param = P, Output = f64>,
{
    fn name(&self) -> &str {
        "gonum Nelder-Mead"
    }

    fn init(
        &mut self,
        problem: &mut Problem<O>,
        mut state: NmState,
    ) -> Result<(NmState, Option<KV>), Error> {
        let x0 = state
            .take_param()
            .ok_or_else(|| ArgminError::NotInitialized {
                text: "GonumNelderMead needs an initial parameter vector".into(),
            })?;
        let dim = x0.len();
        if dim == 0 {
            return Err(ArgminError::InvalidParameter {
                text: "GonumNelderMead needs at least one parameter".into(),
            }
            .into());
        }
        #[allow(clippy::cast_precision_loss)]
        let d = dim as f64;
        let (expansion, contraction, shrink) = if dim == 1 {
            (2.0, 0.5, 0.5)
        } else {
            (1.0 + 2.0 / d, 0.75 - 1.0 / (2.0 * d), 1.0 - 1.0 / d)
        };
        self.reflection = 1.0;
        self.expansion = expansion;
        self.contraction = contraction;
        self.shrink = shrink;
        self.major = 0;
        self.conv_first = true;
        self.conv_iter = 0;
        self.conv_best = 0.0;
        self.stop = None;

        let f0 = Self::eval(problem, &x0)?;
        if !f0.is_finite() {
            return Err(ArgminError::InvalidParameter {
                text: format!("the cost at the initial point is not finite ({f0})"),
            }
            .into());
        }
        // Major iteration 1: the start point.
        self.major_iteration(f0);
        // Initial simplex: vertex `dim` is x0, vertex i is x0 + size·e_i.
        self.vertices = vec![x0.clone(); dim + 1];
        self.values = vec![f64::INFINITY; dim + 1];
        self.values[dim] = f0;
        for i in 0..dim {
            let mut x = x0.clone();
            x[i] += self.simplex_size;
            self.values[i] = Self::eval(problem, &x)?;
            self.vertices[i] = x;
        }
        self.centroid = vec![0.0; dim];
        self.sort();
        self.compute_centroid();
        // Major iteration 2: the completed simplex.
        self.major_iteration(self.values[0]);
        let mut kv = KV::new();
        kv.insert("action", KvValue::Str(NmAction::Initialize.to_string()));
        Ok((
            state.param(self.vertices[0].clone()).cost(self.values[0]),
            Some(kv),
        ))
    }

    fn next_iter(
        &mut self,
        problem: &mut Problem<O>,
        state: NmState,
    ) -> Result<(NmState, Option<KV>), Error> {
        let dim = self.centroid.len();
        let xr = self.along(self.reflection);
        let fr = Self::eval(problem, &xr)?;
        let action = if fr >= self.values[0] && fr < self.values[dim - 1] {
            self.replace_worst(xr, fr);
            NmAction::Reflection
        } else if fr < self.values[0] {
            let xe = self.along(self.reflection * self.expansion);
            let fe = Self::eval(problem, &xe)?;
            if fe < fr {
                self.replace_worst(xe, fe);
            } else {
                self.replace_worst(xr, fr);
            }
            NmAction::Expansion
        } else if fr < self.values[dim] {
            let xc = self.along(self.reflection * self.contraction);
            let fc = Self::eval(problem, &xc)?;
            if fc <= fr {
                self.replace_worst(xc, fc);
                NmAction::ContractionOutside
            } else {
                self.shrink_simplex(problem)?;
                NmAction::Shrink
            }
        } else {
            let xc = self.along(-self.contraction);
            let fc = Self::eval(problem, &xc)?;
            if fc < self.values[dim] {
                self.replace_worst(xc, fc);
                NmAction::ContractionInside
            } else {
                self.shrink_simplex(problem)?;
                NmAction::Shrink
            }
        };
        self.major_iteration(self.values[0]);
        let mut kv = KV::new();
        kv.insert("action", KvValue::Str(action.to_string()));
        kv.insert("major_iterations", KvValue::Uint(self.major));
        Ok((
            state.param(self.vertices[0].clone()).cost(self.values[0]),
            Some(kv),
        ))
    }

    fn terminate(&mut self, _state: &NmState) -> TerminationStatus {
        match self.stop {
            None => TerminationStatus::NotTerminated,
            Some(NmStop::FunctionConvergence) => {
                TerminationStatus::Terminated(TerminationReason::SolverConverged)
            }
            Some(NmStop::IterationLimit) => {
                TerminationStatus::Terminated(TerminationReason::MaxItersReached)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argmin::core::Executor;

    struct Rosenbrock;
    impl CostFunction for Rosenbrock {
        type Param = P;
        type Output = f64;
        fn cost(&self, x: &P) -> Result<f64, Error> {
            Ok((1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2) + x[2] * x[2])
        }
    }

    #[test]
    fn minimises_rosenbrock() {
        let res = Executor::new(Rosenbrock, GonumNelderMead::new())
            .configure(|s| s.param(vec![-1.0, 1.0, 0.5]).max_iters(100_000))
            .run()
            .unwrap();
        let best = res.state().best_param.clone().unwrap();
        assert!((best[0] - 1.0).abs() < 1e-3, "{best:?}");
        assert!(res.state().best_cost < 1e-6);
    }

    #[test]
    fn infinite_start_is_error() {
        struct Wall;
        impl CostFunction for Wall {
            type Param = P;
            type Output = f64;
            fn cost(&self, _x: &P) -> Result<f64, Error> {
                Ok(f64::INFINITY)
            }
        }
        let res = Executor::new(Wall, GonumNelderMead::new())
            .configure(|s| s.param(vec![0.0, 0.0]))
            .run();
        assert!(res.is_err());
    }

    #[test]
    fn iteration_limit_counts_major_iterations() {
        let res = Executor::new(
            Rosenbrock,
            GonumNelderMead::new().with_max_major_iterations(10),
        )
        .configure(|s| s.param(vec![-1.0, 1.0, 0.5]).max_iters(100_000))
        .run()
        .unwrap();
        assert_eq!(res.solver().major_iterations(), 10);
        assert_eq!(res.state().iter, 8);
        assert_eq!(res.solver().stop_reason(), Some(NmStop::IterationLimit));
    }
}
