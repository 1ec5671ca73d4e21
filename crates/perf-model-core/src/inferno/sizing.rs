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
#[derive(Clone, Copy)]
enum Search<T> {
    /// The root (or `hi`), with the metrics evaluated there.
    Found(T, Metrics<T>),
    /// The target is below the value at the bottom of the range (which is given).
    Below(T),
}

/// Where a [`Bisection`] is.
#[derive(Clone, Copy)]
enum Step<T> {
    /// Needs `f(lo)`.
    Low,
    /// Needs `f(hi)`; `f(lo)` was `y_lo`.
    High { y_lo: T },
    /// Needs `f` at the midpoint of `[lo, hi]` (iteration `iter`).
    Mid {
        lo: T,
        hi: T,
        increasing: bool,
        iter: usize,
    },
    /// Finished.
    Done(Search<T>),
}

/// Upstream `utils.BinarySearch` as a resumable state machine, so that two searches can
/// share or pair their solves: finds `x ∈ [lo, hi]` with `f(x) = target` for a monotone `f`.
/// Boundary checks first (target above the range → `hi`), then at most 100 midpoints
/// `0.5·(lo + hi)` computed in `T`, stopping when `|f(x) − target| ≤ 1e-6·target`.
/// `pick` selects `f` from the metrics.
struct Bisection<T> {
    lo: T,
    hi: T,
    target: T,
    tol: T,
    pick: fn(&Metrics<T>) -> T,
    step: Step<T>,
}

impl<T: Real> Bisection<T> {
    fn new(lo: T, hi: T, target: T, pick: fn(&Metrics<T>) -> T) -> Self {
        Self {
            lo,
            hi,
            target,
            tol: T::of(BISECTION_TOLERANCE) * target,
            pick,
            step: Step::Low,
        }
    }

    /// The next rate to evaluate, or `None` when finished.
    fn probe(&self) -> Option<T> {
        match self.step {
            Step::Low => Some(self.lo),
            Step::High { .. } => Some(self.hi),
            Step::Mid { lo, hi, .. } => Some(T::of(0.5) * (lo + hi)),
            Step::Done(_) => None,
        }
    }

    fn within(&self, y: T) -> bool {
        let d = if y > self.target {
            y - self.target
        } else {
            self.target - y
        };
        d <= self.tol
    }

    /// Takes the metrics at [`Bisection::probe`].
    fn feed(&mut self, m: Metrics<T>) {
        let y = (self.pick)(&m);
        let target = self.target;
        self.step = match self.step {
            Step::Low => {
                if self.within(y) {
                    Step::Done(Search::Found(self.lo, m))
                } else {
                    Step::High { y_lo: y }
                }
            }
            Step::High { y_lo } => {
                let increasing = y_lo < y;
                if self.within(y) {
                    Step::Done(Search::Found(self.hi, m))
                } else if (increasing && target < y_lo) || (!increasing && target > y_lo) {
                    Step::Done(Search::Below(y_lo))
                } else if (increasing && target > y) || (!increasing && target < y) {
                    Step::Done(Search::Found(self.hi, m))
                } else {
                    Step::Mid {
                        lo: self.lo,
                        hi: self.hi,
                        increasing,
                        iter: 0,
                    }
                }
            }
            Step::Mid {
                lo,
                hi,
                increasing,
                iter,
            } => {
                let x = T::of(0.5) * (lo + hi);
                if self.within(y) || iter + 1 == BISECTION_MAX_ITERATIONS {
                    Step::Done(Search::Found(x, m))
                } else if (increasing && target < y) || (!increasing && target > y) {
                    Step::Mid {
                        lo,
                        hi: x,
                        increasing,
                        iter: iter + 1,
                    }
                } else {
                    Step::Mid {
                        lo: x,
                        hi,
                        increasing,
                        iter: iter + 1,
                    }
                }
            }
            done @ Step::Done(_) => done,
        };
    }

    fn result(&self) -> Option<Search<T>> {
        match self.step {
            Step::Done(s) => Some(s),
            _ => None,
        }
    }
}

/// Runs the TTFT and ITL bisections (either may be absent) in lockstep: while they probe the
/// same `λ` (both start from `[λmin, λmax]` and share midpoints until their decisions differ)
/// one solve serves both; once they differ, each step's two probes are solved together as a
/// two-lane batch ([`Analyzer::evaluate_pair`], bit for bit two single solves). The results
/// are exactly those of two separate searches.
fn bisect_both<T: Real>(
    mut searches: [Option<Bisection<T>>; 2],
    mut eval: impl FnMut(T) -> Metrics<T>,
    mut eval_pair: impl FnMut([T; 2]) -> [Metrics<T>; 2],
) -> [Option<Search<T>>; 2] {
    loop {
        let probes = [0, 1].map(|i| searches[i].as_ref().and_then(Bisection::probe));
        match probes {
            [None, None] => break,
            [Some(a), Some(b)] if a.get().to_bits() == b.get().to_bits() => {
                let m = eval(a);
                for s in searches.iter_mut().flatten() {
                    s.feed(m);
                }
            }
            [Some(a), Some(b)] => {
                let [ma, mb] = eval_pair([a, b]);
                for (s, m) in searches.iter_mut().zip([ma, mb]) {
                    if let Some(s) = s {
                        s.feed(m);
                    }
                }
            }
            [Some(x), None] | [None, Some(x)] => {
                let m = eval(x);
                for s in searches.iter_mut().flatten() {
                    if s.probe().is_some() {
                        s.feed(m);
                    }
                }
            }
        }
    }
    [0, 1].map(|i| searches[i].as_ref().and_then(Bisection::result))
}

impl Analyzer {
    /// The largest arrival rate meeting `targets`, and the analysis there.
    ///
    /// For TTFT and ITL separately, bisects `λ ∈ [λmin, λmax]` (the [`Analyzer::rate_range`])
    /// for `metric(λ) = target` (relative tolerance 1e-6, at most 100 iterations; TTFT and ITL
    /// increase with λ). A target above the value at `λmax` gives `λmax`. A TPS target gives
    /// `0.9·λmax`. `λ* = min` of the three.
    ///
    /// # Formula
    /// ```text
    /// λ_T = bisect(TTFT(λ) = target_TTFT),  λ_I = bisect(ITL(λ) = target_ITL),  λ_S = 0.9·λmax
    /// λ* = min(λmax, λ_T, λ_I, λ_S);  analysis = solve(1000·λ*)
    /// ```
    /// Each bisection probe is one solve of the chain. The two searches run in lockstep: one
    /// solve serves both while they probe the same `λ` (same midpoints from `[λmin, λmax]`
    /// until their decisions differ), then each step's two probes are solved as a two-lane
    /// batch (see [`Analyzer::solve_rates`]); the final analysis reuses the probe at `λ*`.
    /// The results are exactly those of two separate searches.
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

        let make = |target: Option<f64>, pick: fn(&Metrics<T>) -> T| {
            target.map(|t| Bisection::new(lambda_min, lambda_max, T::of(t), pick))
        };
        let searches = [
            make(targets.ttft_ms, |m| m.ttft),
            make(targets.itl_ms, |m| m.itl),
        ];
        let [ttft, itl] = bisect_both(
            searches,
            |x| self.evaluate(&core, x),
            |x| self.evaluate_pair(&core, x),
        );
        // As upstream, the TTFT search comes first: its error wins.
        let found =
            |search: Option<Search<T>>, metric: &'static str, target: Option<f64>| match search {
                None => Ok(None),
                Some(Search::Found(x, m)) => Ok(Some((x, m))),
                Some(Search::Below(achieved)) => Err(Error::TargetUnreachable {
                    metric,
                    target: target.unwrap_or(f64::NAN),
                    achieved: achieved.get(),
                    min_rate: self.range.min_rps,
                }),
            };
        let ttft = found(ttft, "TTFT", targets.ttft_ms)?;
        let itl = found(itl, "ITL", targets.itl_ms)?;
        let tps = targets
            .tps
            .map(|_| lambda_max * (T::ONE - T::of(STABILITY_SAFETY_FRACTION)));

        let mut lambda = lambda_max;
        let mut known = None;
        for (l, m) in [ttft, itl]
            .into_iter()
            .flatten()
            .map(|(l, m)| (l, Some(m)))
            .chain(tps.map(|l| (l, None)))
        {
            if l < lambda {
                lambda = l;
                known = m;
            }
        }
        // As upstream: convert to req/s and back before the final analysis. The V3 rate guard
        // is not applied here: λ* ≤ λmax by construction. When the round trip returns the
        // same λ, the search's metrics there are the final analysis' (same input, same bits).
        let rate = lambda * thousand;
        let back = rate / thousand;
        let metrics = match known {
            Some(m) if back.get().to_bits() == lambda.get().to_bits() => m,
            _ => self.evaluate(&core, back),
        };
        let to_rps = |x: Option<(T, Metrics<T>)>| x.map(|(l, _)| (l * thousand).get());
        let analysis = self.widen(rate.get(), &metrics);
        ensure_finite_analysis(&analysis)?;
        Ok(Sizing {
            rate_rps: rate.get(),
            rate_ttft_rps: to_rps(ttft),
            rate_itl_rps: to_rps(itl),
            rate_tps_rps: tps.map(|l| (l * thousand).get()),
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
