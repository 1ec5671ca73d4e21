//! A closed-form start for the fit: the model linearised at batch sizes estimated from the
//! measurements, fitted by non-negative linear least squares.

use perf_model_core::inferno::{ServiceParams, ServiceTimes};

use crate::lm::cholesky_solve;
use crate::loss::Dataset;

/// The linearised fit: a start and the parameters' natural magnitudes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Linearised {
    /// Non-negative least-squares parameters of the linearised model (`None` when no subset
    /// of the parameters gives a positive fit).
    pub start: Option<[f64; 3]>,
    /// For each parameter, the value whose contribution to the predictions is 0.1 % of the
    /// observed latencies (root mean square over the points): a scale for a parameter at 0.
    pub floor: [f64; 3],
}

/// Linearises the service-time primitives, which are linear in `(α, β, γ)` at a fixed batch
/// size `B` (and chunk count), at a batch estimated from each point's own measurements
/// (Little's law, queueing wait neglected):
/// ```text
/// B̂ = min(N, λ·(TTFT_obs + (m − 1)·ITL_obs)) + 1          (the arriving request included)
/// ITL ≈ Decode(B̂) = Σ_j θ_j·Decode_j(B̂),   TTFT ≈ Prefill(B̂) + Decode(B̂)
/// ```
/// (`Decode_j` is the primitive at the unit parameter vector `e_j`) and solves
/// `min Σ ((TTFT_lin − TTFT_obs)/TTFT_obs)² + ((ITL_lin − ITL_obs)/ITL_obs)²` over `θ ≥ 0` by
/// trying every subset of free parameters (an exact non-negative least-squares solve for
/// three unknowns). No analyzer solve is needed: this costs less than one loss evaluation.
pub(crate) fn linearised(data: &Dataset) -> Linearised {
    let mut rows: Vec<([f64; 3], f64)> = Vec::with_capacity(2 * data.points.len());
    for p in &data.points {
        let n_max = f64::from(p.config.max_batch_size());
        let m = p.shape.output_tokens();
        let lambda = p.point.rate_rps / 1000.0;
        let busy = lambda * (p.point.ttft_ms + (m - 1.0).max(0.0) * p.point.itl_ms);
        let b = (busy.min(n_max) + 1.0).min(n_max);
        let mut ttft = [0.0; 3];
        let mut itl = [0.0; 3];
        for j in 0..3 {
            let mut unit = [0.0; 3];
            unit[j] = 1.0;
            let Ok(params) = ServiceParams::new(unit[0], unit[1], unit[2]) else {
                continue;
            };
            let Ok(st) = ServiceTimes::new(data.model, params, p.shape, p.config.max_num_tokens())
            else {
                continue;
            };
            let decode = st.decode_time(b);
            itl[j] = decode;
            ttft[j] = st.prefill_time(b) + decode;
        }
        rows.push((ttft.map(|c| c / p.point.ttft_ms), 1.0));
        rows.push((itl.map(|c| c / p.point.itl_ms), 1.0));
    }
    #[allow(clippy::cast_precision_loss)]
    let count = rows.len().max(1) as f64;
    let floor: [f64; 3] = std::array::from_fn(|j| {
        let rms = (rows.iter().map(|(c, _)| c[j] * c[j]).sum::<f64>() / count).sqrt();
        if rms > 0.0 && rms.is_finite() {
            1e-3 / rms
        } else {
            1e-9
        }
    });
    Linearised {
        start: nnls3(&rows),
        floor,
    }
}

/// Non-negative least squares `min Σ (cᵀθ − y)²`, `θ ≥ 0`, over three unknowns: the best
/// non-negative solution of the unconstrained problems restricted to each subset.
fn nnls3(rows: &[([f64; 3], f64)]) -> Option<[f64; 3]> {
    let mut best: Option<([f64; 3], f64)> = None;
    for mask in 1u8..8 {
        let idx: Vec<usize> = (0..3).filter(|j| mask & (1 << j) != 0).collect();
        let k = idx.len();
        // Column-scaled normal equations on the subset.
        let scale: Vec<f64> = idx
            .iter()
            .map(|&j| rows.iter().map(|(c, _)| c[j] * c[j]).sum::<f64>().sqrt())
            .collect();
        if scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            continue;
        }
        let mut m = [[0.0f64; 3]; 3];
        let mut b = [0.0f64; 3];
        for (c, y) in rows {
            for p in 0..k {
                let cp = c[idx[p]] / scale[p];
                b[p] += cp * y;
                for q in 0..k {
                    m[p][q] += cp * c[idx[q]] / scale[q];
                }
            }
        }
        let Some(z) = cholesky_solve(&mut m, &mut b, k) else {
            continue;
        };
        let mut theta = [0.0; 3];
        for p in 0..k {
            theta[idx[p]] = z[p] / scale[p];
        }
        if theta.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            continue;
        }
        let sse: f64 = rows
            .iter()
            .map(|(c, y)| {
                let e = c[0] * theta[0] + c[1] * theta[1] + c[2] * theta[2] - y;
                e * e
            })
            .sum();
        if best.is_none_or(|(_, s)| sse < s) {
            best = Some((theta, sse));
        }
    }
    best.map(|(t, _)| t)
}

#[cfg(test)]
mod tests {
    use super::nnls3;

    #[test]
    fn nnls_recovers_exact_and_clamps_negative() {
        let rows: Vec<([f64; 3], f64)> = (0..6)
            .map(|i| {
                let x = f64::from(i);
                let c = [1.0, x, x * x];
                (c, 2.0 + 0.5 * x + 0.25 * x * x)
            })
            .collect();
        let t = nnls3(&rows).unwrap();
        for (got, want) in t.iter().zip([2.0, 0.5, 0.25]) {
            assert!((got - want).abs() < 1e-9, "{t:?}");
        }
        // y = 2 − 0.5x: the non-negative fit drops the slope.
        let rows: Vec<([f64; 3], f64)> = (0..6)
            .map(|i| {
                let x = f64::from(i);
                ([1.0, x, x * x], 2.0 - 0.5 * x)
            })
            .collect();
        let t = nnls3(&rows).unwrap();
        assert!(t[1] == 0.0 && t[0] > 0.0, "{t:?}");
    }
}
