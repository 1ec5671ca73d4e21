//! Sizing: the largest rate meeting latency targets, and replica counts (spec `inferno.md`
//! §2.4, upstream `Size` / `/target` and optimizer-light).

use serde::{Deserialize, Serialize};

use super::analyzer::{Analysis, Analyzer, Metrics, ensure_finite_analysis};
use super::params::Arithmetic;
use super::real::Real;
use crate::error::{Error, Result};
use crate::validate::{optional, out_of_range, positive};

/// Relative tolerance of the rate bisection.
const BISECTION_TOLERANCE: f64 = 1e-6;
/// Iteration cap of the rate bisection.
const BISECTION_MAX_ITERATIONS: usize = 100;
/// A TPS target sizes at `(1 − 0.1)·λmax` (upstream `StabilitySafetyFraction`).
const STABILITY_SAFETY_FRACTION: f64 = 0.1;

/// Service-level targets; `None` means "no target". Each given value must be > 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SloTargets {
    /// Target mean time to first token, ms.
    pub ttft_ms: Option<f64>,
    /// Target mean inter-token latency, ms.
    pub itl_ms: Option<f64>,
    /// Throughput target. Upstream uses only its presence (whatever its value and unit): it
    /// sizes at `0.9·λmax`, the largest rate with a safety margin against instability.
    pub tps: Option<f64>,
}

impl SloTargets {
    /// TTFT and ITL targets (ms), no TPS target.
    #[must_use]
    pub fn latency(ttft_ms: f64, itl_ms: f64) -> Self {
        Self {
            ttft_ms: Some(ttft_ms),
            itl_ms: Some(itl_ms),
            tps: None,
        }
    }

    /// Checks every given target.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::OutOfRange`] naming `ttft_ms`, `itl_ms` or `tps` when a
    /// given value is NaN, ∞ or ≤ 0.
    pub fn validate(&self) -> Result<()> {
        optional("ttft_ms", self.ttft_ms, positive)?;
        optional("itl_ms", self.itl_ms, positive)?;
        optional("tps", self.tps, positive)?;
        Ok(())
    }
}

/// Result of [`Analyzer::size`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    /// `λ*`, the largest rate meeting every target, req/s (the minimum of the per-target rates,
    /// or the top of the rate range when there is no target).
    pub rate_rps: f64,
    /// Largest rate meeting the TTFT target, req/s (`None` without that target).
    pub rate_ttft_rps: Option<f64>,
    /// Largest rate meeting the ITL target, req/s (`None` without that target).
    pub rate_itl_rps: Option<f64>,
    /// Rate for the TPS target, `0.9·λmax`, req/s (`None` without that target).
    pub rate_tps_rps: Option<f64>,
    /// The analysis at `λ*`.
    pub analysis: Analysis,
}

/// Result of [`Analyzer::replicas_for`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaPlan {
    /// Load per replica, `total / replicas`, req/s.
    pub per_replica_rps: f64,
    /// Number of replicas, `ceil(total / rate*)`.
    pub replicas: u64,
    /// The analysis of one replica at `per_replica_rps`.
    pub per_replica_analysis: Analysis,
}

/// Outcome of one bisection.
enum Search<T> {
    Found(T),
    /// The target is below the value at the bottom of the range (which is given).
    Below(T),
}

/// Finds `x ∈ [lo, hi]` with `f(x) = target` for a monotone `f`, as upstream
/// `utils.BinarySearch`: boundary checks first (target above the range → `hi`), then at most
/// 100 midpoints `0.5·(lo + hi)` computed in `T`, stopping when `|f(x) − target| ≤ 1e-6·target`.
fn bisect<T: Real>(lo: T, hi: T, target: T, mut f: impl FnMut(T) -> T) -> Search<T> {
    let tol = T::of(BISECTION_TOLERANCE) * target;
    let within = |y: T| {
        let d = if y > target { y - target } else { target - y };
        d <= tol
    };
    let y_lo = f(lo);
    if within(y_lo) {
        return Search::Found(lo);
    }
    let y_hi = f(hi);
    if within(y_hi) {
        return Search::Found(hi);
    }
    let increasing = y_lo < y_hi;
    if (increasing && target < y_lo) || (!increasing && target > y_lo) {
        return Search::Below(y_lo);
    }
    if (increasing && target > y_hi) || (!increasing && target < y_hi) {
        return Search::Found(hi);
    }
    let (mut lo, mut hi) = (lo, hi);
    let mut x = lo;
    for _ in 0..BISECTION_MAX_ITERATIONS {
        x = T::of(0.5) * (lo + hi);
        let y = f(x);
        if within(y) {
            break;
        }
        if (increasing && target < y) || (!increasing && target > y) {
            hi = x;
        } else {
            lo = x;
        }
    }
    Search::Found(x)
}

impl Analyzer {
    /// The largest arrival rate meeting `targets`, and the analysis there.
    ///
    /// For TTFT and ITL separately, bisects `λ ∈ [λmin, λmax]` (the [`Analyzer::rate_range`])
    /// for `metric(λ) = target` (relative tolerance 1e-6, at most 100 iterations; TTFT and ITL
    /// increase with λ). A target above the value at `λmax` gives `λmax`. A TPS target gives
    /// `0.9·λmax`. `λ* = min` of the three.
    ///
    /// # Errors
    /// * [`Error::OutOfRange`] / [`Error::NonFinite`] naming the target that is ≤ 0 or NaN;
    /// * [`Error::TargetUnreachable`] when a target is below the model's value at `λmin`.
    ///
    /// # Examples
    /// ```
    /// use perf_model_core::inferno::{
    ///     Analyzer, QueueConfig, QueueModel, RequestShape, ServiceParams, SloTargets,
    /// };
    /// let analyzer = Analyzer::new(
    ///     QueueModel::V3,
    ///     ServiceParams::new(12.0, 0.05, 5e-4)?,
    ///     RequestShape::new(128.0, 512.0)?,
    ///     QueueConfig::new(48, 128)?,
    /// )?;
    /// let s = analyzer.size(&SloTargets::latency(60.0, 20.0))?;
    /// assert!((s.rate_rps - 2.8741).abs() < 1e-3);      // ITL binds
    /// assert!((s.analysis.itl_ms - 20.0).abs() < 1e-4);
    /// # Ok::<(), perf_model_core::Error>(())
    /// ```
    pub fn size(&self, targets: &SloTargets) -> Result<Sizing> {
        targets.validate()?;
        match self.arithmetic {
            Arithmetic::F64 => self.size_t::<f64>(targets),
            Arithmetic::GoFloat32 => self.size_t::<f32>(targets),
        }
    }

    fn size_t<T: Real>(&self, targets: &SloTargets) -> Result<Sizing> {
        let core = self.times.core::<T>();
        let thousand = T::of(1000.0);
        let lambda_min = T::of(self.range.min_rps) / thousand;
        let lambda_max = T::of(self.range.max_rps) / thousand;

        let search = |target: Option<f64>,
                      metric: &'static str,
                      pick: fn(&Metrics<T>) -> T|
         -> Result<Option<T>> {
            let Some(target) = target else {
                return Ok(None);
            };
            match bisect(lambda_min, lambda_max, T::of(target), |x| {
                pick(&self.evaluate(&core, x))
            }) {
                Search::Found(x) => Ok(Some(x)),
                Search::Below(achieved) => Err(Error::TargetUnreachable {
                    metric,
                    target,
                    achieved: achieved.get(),
                    min_rate: self.range.min_rps,
                }),
            }
        };
        let ttft = search(targets.ttft_ms, "TTFT", |m| m.ttft)?;
        let itl = search(targets.itl_ms, "ITL", |m| m.itl)?;
        let tps = targets
            .tps
            .map(|_| lambda_max * (T::ONE - T::of(STABILITY_SAFETY_FRACTION)));

        let mut lambda = lambda_max;
        for l in [ttft, itl, tps].into_iter().flatten() {
            if l < lambda {
                lambda = l;
            }
        }
        // As upstream: convert to req/s and back before the final analysis. The V3 rate guard
        // is not applied here: λ* ≤ λmax by construction.
        let rate = lambda * thousand;
        let metrics = self.evaluate(&core, rate / thousand);
        let to_rps = |x: Option<T>| x.map(|l| (l * thousand).get());
        let analysis = self.widen(rate.get(), &metrics);
        ensure_finite_analysis(&analysis)?;
        Ok(Sizing {
            rate_rps: rate.get(),
            rate_ttft_rps: to_rps(ttft),
            rate_itl_rps: to_rps(itl),
            rate_tps_rps: to_rps(tps),
            analysis,
        })
    }

    /// Replicas needed to carry `total_rate_rps` under `targets` (optimizer-light).
    ///
    /// # Formula
    /// ```text
    /// rate* = throughput of size(targets);   replicas = ceil(total / rate*)
    /// per-replica analysis = solve(total / replicas)
    /// ```
    ///
    /// # Errors
    /// * [`Error::NonFinite`] / [`Error::OutOfRange`] naming `total_rate` when it is NaN, ∞
    ///   or ≤ 0;
    /// * whatever [`Analyzer::size`] returns.
    pub fn replicas_for(&self, total_rate_rps: f64, targets: &SloTargets) -> Result<ReplicaPlan> {
        positive("total_rate", total_rate_rps)?;
        let sizing = self.size(targets)?;
        let per = sizing.analysis.throughput_rps;
        if !(per.is_finite() && per > 0.0) {
            return Err(Error::Inconsistent(format!(
                "sized throughput per replica is {per} req/s"
            )));
        }
        let ratio = (total_rate_rps / per).ceil().max(1.0);
        // u64::MAX as f64 rounds up to 2^64, so `<` keeps the cast below exact and in range.
        #[allow(clippy::cast_precision_loss)]
        if ratio >= u64::MAX as f64 {
            return Err(out_of_range(
                "total_rate",
                total_rate_rps,
                "needs more replicas than can be counted",
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let replicas = ratio as u64;
        #[allow(clippy::cast_precision_loss)]
        let per_replica_rps = total_rate_rps / replicas as f64;
        // The per-replica rate is ≤ rate* ≤ max rate, so the V3 guard cannot reject it except
        // by rounding; clamp to be safe.
        let per_replica_rps = per_replica_rps.min(self.range.max_rps);
        Ok(ReplicaPlan {
            per_replica_rps,
            replicas,
            per_replica_analysis: self.solve(per_replica_rps)?,
        })
    }
}
