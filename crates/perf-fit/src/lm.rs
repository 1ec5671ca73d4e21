//! A bound-constrained Levenberg–Marquardt solver for small least-squares problems
//! (three parameters, `θ ≥ 0`), with a forward-difference Jacobian.
//!
//! # Algorithm
//! Minimise `F(θ) = ½‖r(θ)‖²` over `θ ≥ 0` (Levenberg 1944, Marquardt 1963), with the
//! diagonal scaling of Moré (1978) and the damping update of Nielsen (1999):
//! ```text
//! J      = ∂r/∂θ by forward differences, h_j = η·max(θ_j, floor_j)  (backward at a wall)
//! D_j    = max(D_j, ‖J_:j‖)                       Moré's scale-invariant metric
//! free   = { j : θ_j > 0 or (Jᵀr)_j < 0 }          a variable at 0 pushed outward stays 0
//! step   (J_fᵀJ_f + μ·D_f²)·δ_f = −(Jᵀr)_f,  θ' = max(0, θ + δ)   (projected)
//! ρ      = (F(θ) − F(θ')) / (−gᵀδ' − ½δ'ᵀJᵀJδ'),   δ' = θ' − θ
//! ρ > 0: accept, μ ← μ·max(⅓, 1 − (2ρ − 1)³);   else μ ← μ·ν, ν ← 2ν
//! ```
//! # Stopping rule
//! The first of (MINPACK's tests, Moré 1978 §7, with our tolerances):
//! * [`LmStop::SmallReduction`]: after an accepted step, the actual and the predicted
//!   relative reductions of `F` are both `≤ ftol`;
//! * [`LmStop::SmallStep`]: the scaled step `‖D·δ'‖ ≤ xtol·‖D·θ‖`;
//! * [`LmStop::SmallGradient`]: every free variable's scaled gradient
//!   `|(Jᵀr)_j| / (D_j·‖r‖) ≤ gtol` (the cosine between `r` and that column of `J`);
//! * [`LmStop::NoProgress`]: the damping exceeds `1e20` (no step decreases `F`);
//! * [`LmStop::IterationLimit`].
//!
//! References: K. Levenberg, *A method for the solution of certain non-linear problems in
//! least squares*, Quart. Appl. Math. 2 (1944) 164–168; D. W. Marquardt, *An algorithm for
//! least-squares estimation of nonlinear parameters*, SIAM J. Appl. Math. 11 (1963) 431–441;
//! J. J. Moré, *The Levenberg–Marquardt algorithm: implementation and theory*, Lecture Notes
//! in Mathematics 630 (1978) 105–116; H. B. Nielsen, *Damping parameter in Marquardt's
//! method*, IMM-REP-1999-05, DTU (1999).

use serde::{Deserialize, Serialize};

/// Number of parameters (α, β, γ).
const P: usize = 3;

/// Why a Levenberg–Marquardt run stopped (the stopping rule of
/// [`FitMethod::LevenbergMarquardt`](crate::FitMethod#levenbergmarquardt-the-default)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LmStop {
    /// Both the actual and the predicted relative reduction of the sum of squares were at most
    /// `ftol` after an accepted step.
    SmallReduction,
    /// The scaled step was at most `xtol` relative to the scaled parameters.
    SmallStep,
    /// The scaled gradient of every free parameter was at most `gtol` (a stationary point; a
    /// parameter held at 0 has a gradient pushing it below 0).
    SmallGradient,
    /// No step could decrease the loss (the damping grew beyond `1e20`).
    NoProgress,
    /// The iteration limit was reached.
    IterationLimit,
}

impl LmStop {
    /// True for the convergence tests (reduction, step, gradient), false for the limits.
    #[must_use]
    pub fn converged(self) -> bool {
        matches!(
            self,
            Self::SmallReduction | Self::SmallStep | Self::SmallGradient
        )
    }
}

/// Tolerances and limits of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LmSettings {
    /// Iteration limit (one Jacobian per iteration).
    pub max_iterations: u32,
    /// Relative-reduction tolerance.
    pub ftol: f64,
    /// Relative-step tolerance.
    pub xtol: f64,
    /// Scaled-gradient tolerance.
    pub gtol: f64,
    /// Relative forward-difference step `η`.
    pub fd_step: f64,
}

/// The outcome of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LmRun {
    /// The parameters at the end (the best point seen: every accepted step decreases `F`).
    pub theta: [f64; P],
    /// The objective value the residual function reported at `theta`.
    pub value: f64,
    /// Iterations (Jacobians) made.
    pub iterations: u32,
    /// Residual evaluations made (including the Jacobians' and the start's).
    pub evaluations: u64,
    /// Why it stopped.
    pub stop: LmStop,
}

/// The residual function: fills `r` at `θ` and returns the objective value `Σ r²` as its owner
/// computes it (`None` where the model cannot be evaluated).
pub(crate) trait Residuals {
    /// Number of residuals.
    fn len(&self) -> usize;
    /// Evaluates the residuals at `theta` into `r` (of length [`Residuals::len`]).
    fn eval(&mut self, theta: [f64; P], r: &mut [f64]) -> Option<f64>;
}

/// Damping growth limit: beyond it no step decreases `F` at the Jacobian's accuracy.
const MU_LIMIT: f64 = 1e20;
/// Initial damping relative to the scaled curvature (Madsen, Nielsen & Tingleff 2004, §3.2).
const TAU: f64 = 1e-3;

/// Minimises `½‖r(θ)‖²` over `θ ≥ 0` from `start` (which must be evaluable, else `None`).
/// `floor[j]` is the smallest magnitude used for the difference step and the initial scale
/// of a parameter at 0.
pub(crate) fn minimize(
    f: &mut impl Residuals,
    start: [f64; P],
    floor: [f64; P],
    s: LmSettings,
) -> Option<LmRun> {
    let m = f.len();
    let mut r = vec![0.0; m];
    let mut trial = vec![0.0; m];
    let mut shifted = vec![0.0; m];
    let mut evaluations = 1u64;
    let mut value = f.eval(start, &mut r)?;
    if !value.is_finite() {
        return None;
    }
    let mut x = start;
    let mut half = 0.5 * sum_sq(&r);
    let mut jac = vec![[0.0f64; P]; m];
    let mut d = [0.0f64; P];
    let mut mu = 0.0f64;
    let mut nu = 2.0f64;
    let mut iterations = 0u32;
    let stop = loop {
        if iterations >= s.max_iterations {
            break LmStop::IterationLimit;
        }
        iterations += 1;
        // Forward-difference Jacobian (backward where the forward point cannot be evaluated).
        let mut usable = [true; P];
        for j in 0..P {
            let h = s.fd_step * x[j].abs().max(floor[j]);
            let mut xp = x;
            xp[j] = x[j] + h;
            evaluations += 1;
            let fwd = f.eval(xp, &mut shifted).is_some_and(f64::is_finite);
            let step = if fwd {
                xp[j] - x[j]
            } else if x[j] - h >= 0.0 {
                xp[j] = x[j] - h;
                evaluations += 1;
                if f.eval(xp, &mut shifted).is_some_and(f64::is_finite) {
                    xp[j] - x[j]
                } else {
                    0.0
                }
            } else {
                0.0
            };
            if step == 0.0 {
                usable[j] = false;
                for row in &mut jac {
                    row[j] = 0.0;
                }
                continue;
            }
            for (row, (rs, r0)) in jac.iter_mut().zip(shifted.iter().zip(&r)) {
                row[j] = (rs - r0) / step;
            }
        }
        let (g, a) = normal_equations(&jac, &r);
        for j in 0..P {
            let norm = a[j][j].sqrt();
            if d[j] == 0.0 {
                d[j] = if norm > 0.0 { norm } else { 1.0 / floor[j] };
            }
            d[j] = d[j].max(norm);
        }
        if iterations == 1 {
            mu = TAU * (0..P).map(|j| a[j][j] / (d[j] * d[j])).fold(0.0, f64::max);
            if mu.is_nan() || mu <= 0.0 {
                mu = TAU;
            }
        }
        let free: [bool; P] = std::array::from_fn(|j| usable[j] && (x[j] > 0.0 || g[j] < 0.0));
        let rnorm = (2.0 * half).sqrt();
        let gnorm = (0..P)
            .filter(|&j| free[j])
            .map(|j| g[j].abs() / (d[j] * rnorm))
            .fold(0.0, f64::max);
        if !free.contains(&true) || gnorm <= s.gtol || rnorm == 0.0 {
            break LmStop::SmallGradient;
        }
        let xnorm = (0..P).map(|j| (d[j] * x[j]).powi(2)).sum::<f64>().sqrt();
        // Inner loop: raise the damping until a step decreases F.
        let outcome = loop {
            let Some(delta) = damped_step(&a, &g, &d, mu, &free) else {
                mu *= nu;
                nu *= 2.0;
                if mu > MU_LIMIT {
                    break Some(LmStop::NoProgress);
                }
                continue;
            };
            let xn: [f64; P] = std::array::from_fn(|j| (x[j] + delta[j]).max(0.0));
            let dp: [f64; P] = std::array::from_fn(|j| xn[j] - x[j]);
            let dnorm = (0..P).map(|j| (d[j] * dp[j]).powi(2)).sum::<f64>().sqrt();
            if dnorm <= s.xtol * xnorm {
                break Some(LmStop::SmallStep);
            }
            let pred = -(dot(&g, &dp) + 0.5 * quad(&a, &dp));
            evaluations += 1;
            let accepted = f
                .eval(xn, &mut trial)
                .filter(|v| v.is_finite() && pred > 0.0)
                .and_then(|v| {
                    let h = 0.5 * sum_sq(&trial);
                    let rho = (half - h) / pred;
                    (rho > 0.0).then_some((v, h, rho))
                });
            if let Some((v, h, rho)) = accepted {
                let actred = (half - h) / half;
                let prered = pred / half;
                x = xn;
                half = h;
                value = v;
                std::mem::swap(&mut r, &mut trial);
                mu *= (1.0 - (2.0 * rho - 1.0).powi(3)).max(1.0 / 3.0);
                nu = 2.0;
                if actred.abs() <= s.ftol && prered <= s.ftol {
                    break Some(LmStop::SmallReduction);
                }
                break None;
            }
            mu *= nu;
            nu *= 2.0;
            if mu > MU_LIMIT {
                break Some(LmStop::NoProgress);
            }
        };
        if let Some(stop) = outcome {
            break stop;
        }
    };
    Some(LmRun {
        theta: x,
        value,
        iterations,
        evaluations,
        stop,
    })
}

fn sum_sq(r: &[f64]) -> f64 {
    r.iter().map(|v| v * v).sum()
}

fn dot(a: &[f64; P], b: &[f64; P]) -> f64 {
    (0..P).map(|j| a[j] * b[j]).sum()
}

fn quad(a: &[[f64; P]; P], v: &[f64; P]) -> f64 {
    (0..P)
        .map(|i| v[i] * (0..P).map(|j| a[i][j] * v[j]).sum::<f64>())
        .sum()
}

/// `g = Jᵀr`, `A = JᵀJ`.
fn normal_equations(jac: &[[f64; P]], r: &[f64]) -> ([f64; P], [[f64; P]; P]) {
    let mut g = [0.0; P];
    let mut a = [[0.0; P]; P];
    for (row, &ri) in jac.iter().zip(r) {
        for i in 0..P {
            g[i] += row[i] * ri;
            for j in 0..P {
                a[i][j] += row[i] * row[j];
            }
        }
    }
    (g, a)
}

/// Solves `(A_ff + μ·D_f²)·δ_f = −g_f` on the free variables (δ = 0 elsewhere) in the scaled
/// variables `D·δ`, by Cholesky; `None` when the matrix is not numerically positive definite.
fn damped_step(
    a: &[[f64; P]; P],
    g: &[f64; P],
    d: &[f64; P],
    mu: f64,
    free: &[bool; P],
) -> Option<[f64; P]> {
    let idx: Vec<usize> = (0..P).filter(|&j| free[j]).collect();
    let k = idx.len();
    // Scaled system: (D⁻¹AD⁻¹ + μI)·(Dδ) = −D⁻¹g.
    let mut m = [[0.0f64; P]; P];
    let mut b = [0.0f64; P];
    for (p, &i) in idx.iter().enumerate() {
        b[p] = -g[i] / d[i];
        for (q, &j) in idx.iter().enumerate() {
            m[p][q] = a[i][j] / (d[i] * d[j]);
        }
        m[p][p] += mu;
    }
    let y = cholesky_solve(&mut m, &mut b, k)?;
    let mut delta = [0.0; P];
    for (p, &i) in idx.iter().enumerate() {
        delta[i] = y[p] / d[i];
    }
    delta.iter().all(|v| v.is_finite()).then_some(delta)
}

/// Solves the leading `k×k` system `m·y = b` (symmetric positive definite) in place.
pub(crate) fn cholesky_solve(
    m: &mut [[f64; P]; P],
    b: &mut [f64; P],
    k: usize,
) -> Option<[f64; P]> {
    for j in 0..k {
        let mut diag = m[j][j];
        for v in &m[j][..j] {
            diag -= v * v;
        }
        if !(diag > 0.0 && diag.is_finite()) {
            return None;
        }
        let ljj = diag.sqrt();
        m[j][j] = ljj;
        for i in j + 1..k {
            let mut s = m[i][j];
            for (a, b) in m[i][..j].iter().zip(&m[j][..j]) {
                s -= a * b;
            }
            m[i][j] = s / ljj;
        }
    }
    for i in 0..k {
        let mut s = b[i];
        for l in 0..i {
            s -= m[i][l] * b[l];
        }
        b[i] = s / m[i][i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for l in i + 1..k {
            s -= m[l][i] * b[l];
        }
        b[i] = s / m[i][i];
    }
    let mut y = [0.0; P];
    y[..k].copy_from_slice(&b[..k]);
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Residuals of a model `y = a·exp(−b·t) + c` at known data.
    struct Exp {
        t: Vec<f64>,
        y: Vec<f64>,
        calls: u64,
    }

    impl Residuals for Exp {
        fn len(&self) -> usize {
            self.t.len()
        }
        fn eval(&mut self, th: [f64; P], r: &mut [f64]) -> Option<f64> {
            self.calls += 1;
            for ((ri, t), y) in r.iter_mut().zip(&self.t).zip(&self.y) {
                *ri = th[0] * (-th[1] * t).exp() + th[2] - y;
            }
            Some(sum_sq(r))
        }
    }

    const SETTINGS: LmSettings = LmSettings {
        max_iterations: 200,
        ftol: 1e-14,
        xtol: 1e-12,
        gtol: 1e-12,
        fd_step: 1e-7,
    };

    #[test]
    fn recovers_exact_exponential() {
        let t: Vec<f64> = (0..20).map(|i| f64::from(i) * 0.25).collect();
        let y = t.iter().map(|t| 3.0 * (-0.7 * t).exp() + 0.5).collect();
        let mut f = Exp { t, y, calls: 0 };
        let run = minimize(&mut f, [1.0, 0.1, 0.0], [1e-3; 3], SETTINGS).unwrap();
        for (got, want) in run.theta.iter().zip([3.0, 0.7, 0.5]) {
            assert!((got - want).abs() < 1e-6, "{run:?}");
        }
        assert!(run.value < 1e-12, "{run:?}");
        assert!(run.stop.converged(), "{run:?}");
        assert_eq!(run.evaluations, f.calls);
    }

    #[test]
    fn bound_holds_a_parameter_at_zero() {
        // The unconstrained optimum has c = −0.5 < 0: the bounded one keeps c = 0.
        let t: Vec<f64> = (0..20).map(|i| f64::from(i) * 0.25).collect();
        let y = t.iter().map(|t| 3.0 * (-0.7 * t).exp() - 0.5).collect();
        let mut f = Exp { t, y, calls: 0 };
        let run = minimize(&mut f, [1.0, 0.1, 1.0], [1e-3; 3], SETTINGS).unwrap();
        assert_eq!(run.theta[2].to_bits(), 0.0f64.to_bits(), "{run:?}");
        assert!(run.theta[0] > 0.0 && run.theta[1] > 0.0, "{run:?}");
        assert!(run.stop.converged(), "{run:?}");
    }

    #[test]
    fn cholesky_solves_spd_system() {
        let mut m = [[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]];
        let a = m;
        let mut b = [1.0, 2.0, 3.0];
        let y = cholesky_solve(&mut m, &mut b, 3).unwrap();
        for i in 0..3 {
            let got: f64 = (0..3).map(|j| a[i][j] * y[j]).sum();
            assert!((got - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        let mut singular = [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(cholesky_solve(&mut singular, &mut [1.0, 1.0, 1.0], 3).is_none());
    }
}
