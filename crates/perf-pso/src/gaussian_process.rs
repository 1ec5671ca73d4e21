//! Exact Gaussian-process regression on points of the unit cube, for the surrogate pre-filter
//! ([`crate::surrogate`]).
//!
//! Model: y = f(x) + ε with f ~ GP(0, σ_f² k) on standardised targets, squared-exponential
//! kernel k(x, x′) = exp(−‖x − x′‖² / (2ℓ²)) and noise ε ~ N(0, σ_f² η). The signal variance is
//! profiled out (σ_f² = yᵀ(K + ηI)⁻¹y / n maximises the likelihood for fixed ℓ, η), and ℓ, η are
//! chosen by the largest log marginal likelihood (Rasmussen & Williams 2006, eq. 2.30) over a
//! fixed grid — deterministic, unlike a random-restart gradient fit, and ample for the few
//! hundred points a tuning run produces. Inputs are PSO positions, already scaled to [0, 1].
//!
//! Why not a crate: `friedrich` (0.6) fits hyper-parameters by gradient ascent from a fixed
//! start and pulls in `nalgebra`; `egobox-gp` brings `ndarray` + `linfa`. Both are larger than
//! what is needed here (one kernel, a Cholesky factor), and neither returns the
//! grid-deterministic fit the tuner's "same seed, same bits" rule asks for.

/// Length scales tried, in unit-cube distance.
const LENGTH_SCALES: [f64; 10] = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5];
/// Noise-to-signal variance ratios tried.
const NOISE_RATIOS: [f64; 5] = [1e-6, 1e-4, 1e-3, 1e-2, 1e-1];

/// A fitted Gaussian process: predicts a mean and a standard deviation anywhere in the cube.
#[derive(Clone, Debug)]
pub struct GaussianProcess {
    x: Vec<Vec<f64>>,
    /// (K + ηI)⁻¹ y on standardised targets.
    alpha: Vec<f64>,
    /// Lower Cholesky factor of K + ηI, row-major.
    chol: Vec<f64>,
    y_mean: f64,
    y_scale: f64,
    signal_var: f64,
    length_scale: f64,
    noise_ratio: f64,
    log_likelihood: f64,
}

impl GaussianProcess {
    /// Fits the process to points `x` (each of the same dimension) and finite targets `y`;
    /// `None` when there are no points, the lengths differ, or a target is not finite.
    #[must_use]
    pub fn fit(x: &[Vec<f64>], y: &[f64]) -> Option<Self> {
        let n = x.len();
        if n == 0 || y.len() != n || y.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let d = x[0].len();
        if x.iter()
            .any(|p| p.len() != d || p.iter().any(|v| !v.is_finite()))
        {
            return None;
        }
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n as f64;
        // a constant target still gets a usable (flat) model
        let y_scale = if var > 0.0 { var.sqrt() } else { 1.0 };
        let ys: Vec<f64> = y.iter().map(|v| (v - y_mean) / y_scale).collect();
        let sq: Vec<f64> = (0..n * n).map(|k| sq_dist(&x[k / n], &x[k % n])).collect();
        let mut best: Option<Self> = None;
        for &ell in &LENGTH_SCALES {
            for &eta in &NOISE_RATIOS {
                let Some(gp) = Self::fit_with(x, &ys, &sq, ell, eta) else {
                    continue;
                };
                if best
                    .as_ref()
                    .is_none_or(|b| gp.log_likelihood > b.log_likelihood)
                {
                    best = Some(gp);
                }
            }
        }
        best.map(|gp| Self {
            y_mean,
            y_scale,
            ..gp
        })
    }

    /// The fit for one (ℓ, η) on standardised targets; its log marginal likelihood with σ_f²
    /// profiled: −n/2·ln σ_f² − Σ ln L_ii − n/2 (constants dropped).
    fn fit_with(x: &[Vec<f64>], ys: &[f64], sq: &[f64], ell: f64, eta: f64) -> Option<Self> {
        let n = ys.len();
        let mut k: Vec<f64> = sq.iter().map(|s| (-s / (2.0 * ell * ell)).exp()).collect();
        for i in 0..n {
            k[i * n + i] += eta;
        }
        let chol = cholesky(&k, n)?;
        let alpha = solve_lower_upper(&chol, n, ys);
        let quad: f64 = ys.iter().zip(&alpha).map(|(a, b)| a * b).sum();
        let signal_var = (quad / n as f64).max(1e-12);
        let log_det_half: f64 = (0..n).map(|i| chol[i * n + i].ln()).sum();
        let log_likelihood = -0.5 * n as f64 * signal_var.ln() - log_det_half;
        Some(Self {
            x: x.to_vec(),
            alpha,
            chol,
            y_mean: 0.0,
            y_scale: 1.0,
            signal_var,
            length_scale: ell,
            noise_ratio: eta,
            log_likelihood,
        })
    }

    /// Posterior mean and standard deviation of f at `point` (in the targets' unit; the
    /// standard deviation excludes the observation noise).
    #[must_use]
    pub fn predict(&self, point: &[f64]) -> (f64, f64) {
        let n = self.x.len();
        let ks: Vec<f64> = self
            .x
            .iter()
            .map(|xi| (-sq_dist(xi, point) / (2.0 * self.length_scale.powi(2))).exp())
            .collect();
        let mean: f64 = ks.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        let v = forward(&self.chol, n, &ks);
        let reduction: f64 = v.iter().map(|a| a * a).sum();
        let var = (self.signal_var * (1.0 - reduction)).max(1e-12);
        (self.y_mean + self.y_scale * mean, self.y_scale * var.sqrt())
    }

    /// The chosen length scale ℓ.
    #[must_use]
    pub fn length_scale(&self) -> f64 {
        self.length_scale
    }

    /// The chosen noise-to-signal variance ratio η.
    #[must_use]
    pub fn noise_ratio(&self) -> f64 {
        self.noise_ratio
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Lower Cholesky factor of the symmetric `n × n` matrix `a`; `None` unless positive definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves L v = b.
fn forward(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut v = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * v[k]).sum();
        v[i] = (b[i] - s) / l[i * n + i];
    }
    v
}

/// Solves L Lᵀ x = b.
fn solve_lower_upper(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let v = forward(l, n, b);
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (v[i] - s) / l[i * n + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]]
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        assert!((l[0] - 2.0).abs() < 1e-15 && (l[2] - 1.0).abs() < 1e-15);
        assert!((l[3] - 2f64.sqrt()).abs() < 1e-15);
        // A x = [2, 5] ⇒ x = [−0.5, 2]
        let x = solve_lower_upper(&l, 2, &[2.0, 5.0]);
        assert!((x[0] + 0.5).abs() < 1e-14 && (x[1] - 2.0).abs() < 1e-14);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn interpolates_a_smooth_function_and_is_unsure_far_from_data() {
        // f(x, y) = sin(3x) + y² on a 6 × 6 grid
        let f = |p: &[f64]| (3.0 * p[0]).sin() + p[1] * p[1];
        let mut x = Vec::new();
        for i in 0..6 {
            for j in 0..6 {
                x.push(vec![f64::from(i) / 5.0, f64::from(j) / 5.0]);
            }
        }
        let y: Vec<f64> = x.iter().map(|p| f(p)).collect();
        let gp = GaussianProcess::fit(&x, &y).unwrap();
        // between grid points the smooth function is recovered closely
        for p in [[0.1, 0.3], [0.55, 0.75], [0.9, 0.1]] {
            let (m, s) = gp.predict(&p);
            assert!((m - f(&p)).abs() < 0.01, "{p:?}: {m} vs {}", f(&p));
            assert!(s < 0.05, "{p:?}: sd {s}");
        }
        // at a training point the mean is the data and the spread is tiny
        let (m, s) = gp.predict(&x[7]);
        assert!((m - y[7]).abs() < 1e-3 && s < 1e-2);
        // far outside the data the prediction reverts to the prior spread
        let (_, far) = gp.predict(&[6.0, -5.0]);
        assert!(far > 0.5, "sd {far}");
    }

    #[test]
    fn same_data_same_bits_and_bad_data_is_refused() {
        let x = vec![vec![0.1], vec![0.4], vec![0.4], vec![0.9]];
        let y = vec![1.0, 2.0, 2.1, 0.5];
        let a = GaussianProcess::fit(&x, &y).unwrap().predict(&[0.6]);
        let b = GaussianProcess::fit(&x, &y).unwrap().predict(&[0.6]);
        assert_eq!(a.0.to_bits(), b.0.to_bits());
        assert_eq!(a.1.to_bits(), b.1.to_bits());
        assert!(GaussianProcess::fit(&x, &[1.0, f64::INFINITY, 2.0, 3.0]).is_none());
        assert!(GaussianProcess::fit(&[], &[]).is_none());
        // a constant target predicts that constant
        let flat = GaussianProcess::fit(&x, &[3.0; 4]).unwrap();
        assert!((flat.predict(&[0.25]).0 - 3.0).abs() < 1e-9);
    }
}
