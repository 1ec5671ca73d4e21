//! The state-dependent birth–death chain (M/M/1/K-SD) shared by all model generations
//! (spec `inferno.md` §2.3).

/// Moments of the stationary distribution of the chain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ChainStats {
    /// `E[X] = Σ k·p_k`, mean number in system.
    pub in_system: f64,
    /// `B̄ = E[min(X, N)]`, mean number in service.
    pub in_service: f64,
    /// `p_K`, the probability that the system is full (blocking probability).
    pub p_full: f64,
    /// `1 − p_K`, computed as `Σ_{k<K} p_k` (no cancellation under heavy overload).
    pub accepted: f64,
}

/// Rescaling threshold: unnormalised probabilities above it are scaled down by it.
const BIG: f64 = 1e250;

/// Solves the chain with arrival rate `lambda` (per ms) in every state and departure rate
/// `μ(min(k, N))` in state `k`, for states `0..=K` with `K = N + queue`, given
/// `inv_mu[B − 1] = 1/μ(B)`, `B = 1..=N`.
///
/// ```text
/// p_0 = 1;  p_{k+1} = (p_k·λ) / μ(min(k+1, N));  normalise
/// E[X] = Σ k·p_k;  B̄ = Σ_{k≤N} k·p_k + N·(1 − Σ_{k≤N} p_k)
/// ```
///
/// Allocation-free: only the running sums are kept. The step is `p·(λ·(1/μ))` rather than
/// `(p·λ)/μ`: one multiply on the loop-carried path instead of a divide (≈4× faster; the
/// results differ from the reference order by a few f64 ulps). Unnormalised terms are rescaled before
/// they overflow (upstream rescales the whole vector by `MaxFloat64/K`, to the same effect).
/// `inv_mu` must be non-empty with positive finite entries.
pub(crate) fn solve_chain(lambda: f64, inv_mu: &[f64], queue: usize) -> ChainStats {
    let n = inv_mu.len();
    let mut p = 1.0_f64;
    let mut s0 = 1.0_f64; // Σ p_k
    let mut s1 = 0.0_f64; // Σ k·p_k
    let mut before = 0.0_f64; // Σ p_k over all states but the last one added
    for (k, &inv) in inv_mu.iter().enumerate() {
        p *= lambda * inv;
        if p > BIG {
            p /= BIG;
            s0 /= BIG;
            s1 /= BIG;
        }
        before = s0;
        s0 += p;
        #[allow(clippy::cast_precision_loss)]
        let kk = (k + 1) as f64;
        s1 += kk * p;
    }
    let s0_serv = s0;
    let s1_serv = s1;
    // Scale applied to the in-service sums after the first N states (powers of BIG).
    let mut serv_scale = 1.0_f64;
    let ratio = lambda * inv_mu[n - 1];
    #[allow(clippy::cast_precision_loss)]
    let mut kk = n as f64;
    for _ in 0..queue {
        p *= ratio;
        if p > BIG {
            p /= BIG;
            s0 /= BIG;
            s1 /= BIG;
            serv_scale /= BIG;
        }
        kk += 1.0;
        before = s0;
        s0 += p;
        s1 += kk * p;
    }
    let (s0_serv, s1_serv) = (s0_serv * serv_scale, s1_serv * serv_scale);
    #[allow(clippy::cast_precision_loss)]
    let nn = n as f64;
    ChainStats {
        in_system: s1 / s0,
        in_service: (s1_serv + nn * (s0 - s0_serv)) / s0,
        p_full: p / s0,
        accepted: before / s0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn mm1k_closed_form() {
        // Constant μ, N = 1: M/M/1/K with ρ = 0.5, K = 4.
        let s = solve_chain(0.5, &[1.0], 3);
        let rho: f64 = 0.5;
        let norm: f64 = (0..=4).map(|k| rho.powi(k)).sum();
        let ex: f64 = (0..=4).map(|k| f64::from(k) * rho.powi(k)).sum::<f64>() / norm;
        assert_relative_eq!(s.in_system, ex, max_relative = 1e-14);
        assert_relative_eq!(s.p_full, rho.powi(4) / norm, max_relative = 1e-14);
        assert_relative_eq!(s.in_service, 1.0 - 1.0 / norm, max_relative = 1e-14);
    }

    #[test]
    fn heavy_overload_does_not_overflow() {
        let s = solve_chain(1e6, &[1.0, 0.5], 2000);
        assert!(s.in_system.is_finite() && s.p_full.is_finite());
        assert_relative_eq!(s.p_full, 1.0, max_relative = 1e-5);
        assert_relative_eq!(s.in_service, 2.0, max_relative = 1e-9);
    }
}
