//! Minimum-norm least squares through a one-sided Jacobi SVD (pure Rust, no BLAS).
//!
//! The seed fits its linear predictors with scikit-learn, whose solver (LAPACK `gelsd`) returns
//! the *minimum-norm* least-squares solution: identical columns get identical weights. The
//! normal equations (or Gauss–Seidel on them) do not, so we solve through the singular value
//! decomposition `A = U·Σ·Vᵀ` and the pseudo-inverse `x = V·Σ⁺·Uᵀ·y`.
//!
//! One-sided Jacobi (Hestenes) orthogonalises the columns of `A` by plane rotations; it is
//! accurate in the *relative* sense even when the column norms span many orders of magnitude
//! (the seed's `prod_ext_ctx` reaches 10¹⁰ while `batch_size` stays below 10²), which is exactly
//! what unscaled design matrices need.

/// Result of a least-squares solve.
#[derive(Clone, Debug, PartialEq)]
pub struct LstsqSolution {
    /// The minimum-norm solution.
    pub x: Vec<f64>,
    /// Numerical rank of the design matrix.
    pub rank: usize,
    /// Singular values, in column order of the rotated matrix (not sorted).
    pub singular_values: Vec<f64>,
}

/// Solves `min ‖A·x − y‖₂` with minimum `‖x‖₂`, where `a` holds the rows of `A`.
///
/// Singular values below `rcond · σ_max` count as zero; `rcond = None` uses NumPy's default
/// `ε · max(n, p)`. All rows must have the same width and all values must be finite (callers
/// validate first); an empty matrix gives an empty solution.
#[must_use]
pub fn lstsq_min_norm(a: &[Vec<f64>], y: &[f64], rcond: Option<f64>) -> LstsqSolution {
    let n = a.len();
    let p = a.first().map_or(0, Vec::len);
    // Column-major copy of A, and V = I.
    let mut cols: Vec<Vec<f64>> = (0..p)
        .map(|j| {
            a.iter()
                .map(|row| row.get(j).copied().unwrap_or(0.0))
                .collect()
        })
        .collect();
    let mut v: Vec<Vec<f64>> = (0..p)
        .map(|j| (0..p).map(|i| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let eps = f64::EPSILON;
    for _sweep in 0..100 {
        let mut rotated = false;
        for i in 0..p {
            for j in (i + 1)..p {
                let alpha: f64 = cols[i].iter().map(|v| v * v).sum();
                let beta: f64 = cols[j].iter().map(|v| v * v).sum();
                let gamma: f64 = cols[i].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
                if alpha == 0.0 || beta == 0.0 || gamma.abs() <= eps * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + zeta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let s = c * t;
                rotate(&mut cols, i, j, c, s);
                rotate(&mut v, i, j, c, s);
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma: Vec<f64> = cols
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let smax = sigma.iter().copied().fold(0.0, f64::max);
    let tol = rcond.unwrap_or(eps * n.max(p) as f64) * smax;
    let mut x = vec![0.0; p];
    let mut rank = 0;
    for k in 0..p {
        if sigma[k] <= tol || sigma[k] == 0.0 {
            continue;
        }
        rank += 1;
        // u_k = a_k / σ_k, so (u_k · y) / σ_k = (a_k · y) / σ_k².
        let coef = cols[k].iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / (sigma[k] * sigma[k]);
        for (xi, vi) in x.iter_mut().zip(&v[k]) {
            *xi += coef * vi;
        }
    }
    LstsqSolution {
        x,
        rank,
        singular_values: sigma,
    }
}

/// Applies the plane rotation to columns `i` and `j`: `(cᵢ, cⱼ) ← (c·cᵢ − s·cⱼ, s·cᵢ + c·cⱼ)`.
fn rotate(cols: &mut [Vec<f64>], i: usize, j: usize, c: f64, s: f64) {
    let (left, right) = cols.split_at_mut(j);
    let (ci, cj) = (&mut left[i], &mut right[0]);
    for (a, b) in ci.iter_mut().zip(cj.iter_mut()) {
        let (ai, bj) = (*a, *b);
        *a = c * ai - s * bj;
        *b = s * ai + c * bj;
    }
}

/// Minimum-norm least squares through LAPACK `dgelsd` (ndarray-linalg), feature `lapack`.
/// Returns `None` if LAPACK reports an error (the caller then uses the pure-Rust solver).
#[cfg(feature = "lapack")]
#[must_use]
pub fn lstsq_lapack(a: &[Vec<f64>], y: &[f64]) -> Option<LstsqSolution> {
    use ndarray_linalg::LeastSquaresSvd;
    let n = a.len();
    let p = a.first().map_or(0, Vec::len);
    let flat: Vec<f64> = a.iter().flat_map(|r| r.iter().copied()).collect();
    let m = ndarray::Array2::from_shape_vec((n, p), flat).ok()?;
    let b = ndarray::Array1::from_vec(y.to_vec());
    let res = m.least_squares(&b).ok()?;
    Some(LstsqSolution {
        x: res.solution.to_vec(),
        rank: usize::try_from(res.rank).unwrap_or(0),
        singular_values: res.singular_values.to_vec(),
    })
}

/// Least squares with an intercept, as scikit-learn's `LinearRegression` does it: centre the
/// columns and the target, solve minimum-norm on the centred matrix, then
/// `bias = ȳ − w·x̄`. Returns `(weights, bias, rank)`. With the `lapack` feature the centred
/// system goes to LAPACK `dgelsd` (same minimum-norm answer), else to [`lstsq_min_norm`].
#[must_use]
pub fn lstsq_with_intercept(rows: &[Vec<f64>], y: &[f64]) -> (Vec<f64>, f64, usize) {
    let n = rows.len();
    let p = rows.first().map_or(0, Vec::len);
    if n == 0 {
        return (vec![0.0; p], 0.0, 0);
    }
    let nf = n as f64;
    let mean_x: Vec<f64> = (0..p)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / nf)
        .collect();
    let mean_y = y.iter().sum::<f64>() / nf;
    let centred: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().zip(&mean_x).map(|(v, m)| v - m).collect())
        .collect();
    let yc: Vec<f64> = y.iter().map(|v| v - mean_y).collect();
    #[cfg(feature = "lapack")]
    let sol = match lstsq_lapack(&centred, &yc) {
        Some(sol) => sol,
        None => lstsq_min_norm(&centred, &yc, None),
    };
    #[cfg(not(feature = "lapack"))]
    let sol = lstsq_min_norm(&centred, &yc, None);
    let bias = mean_y - sol.x.iter().zip(&mean_x).map(|(w, m)| w * m).sum::<f64>();
    (sol.x, bias, sol.rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn full_rank_exact_solution() {
        // y = 1 + 2·x1 − 3·x2 exactly.
        let rows: Vec<Vec<f64>> = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![2.0, 5.0],
            vec![3.0, -1.0],
            vec![4.0, 2.0],
        ];
        let y: Vec<f64> = rows.iter().map(|r| 1.0 + 2.0 * r[0] - 3.0 * r[1]).collect();
        let (w, b, rank) = lstsq_with_intercept(&rows, &y);
        assert_eq!(rank, 2);
        assert_relative_eq!(w[0], 2.0, max_relative = 1e-12);
        assert_relative_eq!(w[1], -3.0, max_relative = 1e-12);
        assert_relative_eq!(b, 1.0, max_relative = 1e-12);
    }

    #[test]
    fn duplicate_columns_share_the_weight() {
        // Columns 0 and 1 identical: y = 6·x → min-norm splits 3 / 3.
        let rows: Vec<Vec<f64>> = (1..=5).map(|i| vec![f64::from(i), f64::from(i)]).collect();
        let y: Vec<f64> = (1..=5).map(|i| 6.0 * f64::from(i)).collect();
        let sol = lstsq_min_norm(&rows, &y, None);
        assert_eq!(sol.rank, 1);
        assert_relative_eq!(sol.x[0], 3.0, max_relative = 1e-12);
        assert_relative_eq!(sol.x[1], 3.0, max_relative = 1e-12);
    }

    #[test]
    fn zero_matrix_gives_zero() {
        let sol = lstsq_min_norm(&[vec![0.0, 0.0], vec![0.0, 0.0]], &[1.0, 2.0], None);
        assert_eq!(sol.rank, 0);
        assert!(sol.x.iter().all(|v| *v == 0.0));
    }
}
