//! Optimal concurrency: the smallest max batch size reaching near-peak SLO-feasible throughput
//! (spec `inferno.md` §2.4; upstream v0.8.0 `OptimalConcurrency`, `/optimize`).

use serde::{Deserialize, Serialize};

use super::analyzer::{Analysis, Analyzer};
use super::params::Arithmetic;
use super::real::{Real, count};
use super::sizing::SloTargets;
use crate::error::Result;

/// Onset-search tolerance ε: the threshold is `(1 − ε/2)·f(Mmax)`.
pub const ONSET_EPSILON: f64 = 0.02;
/// Bisection probes of the onset search.
pub const ONSET_MAX_PROBES: u32 = 6;

/// Result of [`Analyzer::optimal_concurrency`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimalConcurrency {
    /// `M*`, the chosen max batch size.
    pub concurrency: u32,
    /// The sized analysis at `M*` (`None` when infeasible).
    pub analysis: Option<Analysis>,
    /// Closed-form ITL bracket: largest `B ≤ Mmax` with `ITL_closed(B) ≤ target ITL` (1 if
    /// none, or without an ITL target).
    pub m_itl: u32,
    /// Closed-form prefill bracket: largest `B ≤ Mmax` with `Prefill(B) ≤ target TTFT` (1 if
    /// none, or without a TTFT target).
    pub m_tpf: u32,
    /// Oracle calls that returned a feasible throughput (confirmatory call included).
    pub oracle_calls: u32,
    /// `f(Mmax)`, the anchor throughput, req/s (0 when infeasible).
    pub anchor_rps: f64,
    /// Every probed `M`, in order (diagnostics).
    pub probes: Vec<u32>,
    /// Whether the SLO can be met at `M*`.
    pub feasible: bool,
}

impl Analyzer {
    /// Finds the smallest max batch size `M ≤ Mmax` whose SLO-bound throughput is within
    /// `ε/2` of the throughput at `Mmax`, where `Mmax` is this analyzer's `max_batch_size`.
    ///
    /// The oracle is `f(M)` = throughput of [`Analyzer::size`] with `N = M` (0 when sizing
    /// fails). Steps (upstream v0.8.0 `ConcurrencyOptimizer.Find`):
    /// 1. closed-form brackets `M_ITL`, `M_TPF` (see [`OptimalConcurrency`]);
    /// 2. anchor `f* = f(Mmax)`; threshold `(1 − ε/2)·f*`, `ε = 0.02`;
    /// 3. bisect for the smallest `M ∈ [max(1, min(M_ITL, M_TPF)),
    ///    min(Mmax, max(3·max(M_ITL, M_TPF), lo + 1))]` with `f(M) ≥ threshold`, ≤ 6 probes;
    /// 4. one confirmatory probe at `M*`.
    ///
    /// Upstream defines it for V7; for V3/V6 the brackets use `Decode(B)` and `Prefill(B)`.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] / [`crate::Error::NonFinite`] naming an invalid target.
    /// An SLO that cannot be met is not an error: `feasible` is then false.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::inferno::{
    ///     Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams, SloTargets,
    /// };
    /// let analyzer = Analyzer::new(
    ///     QueueModel::V7,
    ///     ServiceParams::new(12.0, 0.05, 5e-4)?,
    ///     RequestShape::new(128.0, 512.0)?,
    ///     QueueConfig::new(256, 128)?,
    /// )?;
    /// let opt = analyzer.optimal_concurrency(&SloTargets::latency(60.0, 20.0))?;
    /// assert_eq!(opt.concurrency, 49);
    /// assert_eq!((opt.m_itl, opt.m_tpf), (31, 164));
    /// # Ok::<(), perf_model_core::Error>(())
    /// ```
    pub fn optimal_concurrency(&self, targets: &SloTargets) -> Result<OptimalConcurrency> {
        targets.validate()?;
        Ok(match self.arithmetic {
            Arithmetic::F64 => self.optimal_t::<f64>(targets),
            Arithmetic::GoFloat32 => self.optimal_t::<f32>(targets),
        })
    }

    fn optimal_t<T: Real>(&self, targets: &SloTargets) -> OptimalConcurrency {
        let m_max = self.config.max_batch_size();
        let core = self.times.core::<T>();
        // Absent targets are 0 upstream, so no batch size meets them: bracket 1.
        let largest = |target: Option<f64>, metric: &dyn Fn(u32) -> T| -> u32 {
            let t = T::of(target.unwrap_or(0.0));
            (1..=m_max).filter(|&b| metric(b) <= t).max().unwrap_or(1)
        };
        let m_itl = largest(targets.itl_ms, &|b| {
            core.decode(count(b), self.nc[b as usize - 1])
        });
        let m_tpf = largest(targets.ttft_ms, &|b| {
            core.prefill(count(b), self.nc[b as usize - 1])
        });

        let mut probes = Vec::new();
        let mut calls = 0_u32;
        let mut probe = |m: u32| -> (T, Option<Analysis>) {
            probes.push(m);
            let analysis = self
                .with_max_batch_size(m)
                .and_then(|a| a.size(targets))
                .ok()
                .map(|s| s.analysis);
            let thr = analysis.map_or(T::ZERO, |a| T::of(a.throughput_rps));
            if thr > T::ZERO {
                calls += 1;
            }
            (thr, analysis)
        };

        let (fstar, _) = probe(m_max);
        if fstar <= T::ZERO {
            return OptimalConcurrency {
                concurrency: 1,
                analysis: None,
                m_itl,
                m_tpf,
                oracle_calls: calls,
                anchor_rps: 0.0,
                probes,
                feasible: false,
            };
        }
        let threshold = (T::ONE - T::of(ONSET_EPSILON) / T::of(2.0)) * fstar;
        let mut lo = m_itl.min(m_tpf).max(1);
        let upper = u64::from(m_itl.max(m_tpf));
        let hi_wide = (3 * upper).max(u64::from(lo) + 1).min(u64::from(m_max));
        let mut hi = u32::try_from(hi_wide).unwrap_or(m_max).max(lo);
        let mut iters = 0;
        while lo < hi && iters < ONSET_MAX_PROBES {
            let mid = lo + (hi - lo) / 2;
            if probe(mid).0 >= threshold {
                hi = mid;
            } else {
                lo = mid + 1;
            }
            iters += 1;
        }
        let m_star = hi.clamp(1, m_max);
        let (thr, analysis) = probe(m_star);
        let feasible = thr > T::ZERO;
        OptimalConcurrency {
            concurrency: m_star,
            analysis: if feasible { analysis } else { None },
            m_itl,
            m_tpf,
            oracle_calls: calls,
            anchor_rps: fstar.get(),
            probes,
            feasible,
        }
    }
}
