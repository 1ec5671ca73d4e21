//! The analyzer as it was before the issue-18 speed-up (commit 7ae82a0), kept verbatim in
//! arithmetic and operation order, for comparison only: the property tests check the fast
//! analyzer against it to 1e-12 relative, and the `inferno_speed` example and the `analyzer`
//! bench time it side by side with the fast one.
//!
//! It is standalone (no crate imports) so that the library's tests include it as a private
//! module and the bench and example include it by `#[path]`; it is not part of the public API.
//!
//! The old `solve` walked the `K + 1` chain states one by one; its rescaling test was compiled
//! to an unconditional `divpd` plus a blend, which put a division on the loop-carried path of
//! the running sums (≈ 15 cycles per state).

#![allow(dead_code, clippy::pedantic)]

use std::ops::{Add, Div, Mul, Sub};

/// Model generation (as `QueueModel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// v0.3.0.
    V3,
    /// v0.4.0–v0.6.0.
    V6,
    /// v0.7.0/v0.8.0.
    V7,
}

/// Inputs of one analyzer.
#[derive(Clone, Copy, Debug)]
pub struct Problem {
    /// Model generation.
    pub model: Model,
    /// α, β, γ.
    pub alpha: f64,
    /// β.
    pub beta: f64,
    /// γ.
    pub gamma: f64,
    /// Mean input tokens.
    pub n: f64,
    /// Mean output tokens.
    pub m: f64,
    /// Max batch size N.
    pub max_batch: u32,
    /// Max queue size Q.
    pub max_queue: u32,
    /// Token budget M.
    pub max_tokens: u32,
    /// `Arithmetic::GoFloat32`.
    pub f32: bool,
}

/// `Analysis` fields, in declaration order: offered, throughput, response, wait, in_service,
/// in_system, prefill, ttft, itl, rho, max_rate, min_rate, blocking.
pub type Fields = [f64; 13];

/// Why a reference call failed (the fast analyzer must fail on the same inputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// μ(B) not positive and finite.
    Build,
    /// V3 rate guard.
    AboveCapacity,
    /// A figure overflowed.
    NonFinite,
    /// A sizing target below the value at λmin.
    Unreachable,
}

/// Result of the reference `size`: rate, rate TTFT, rate ITL, rate TPS, analysis.
pub type RefSizing = (f64, Option<f64>, Option<f64>, Option<f64>, Fields);

trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    fn of(x: f64) -> Self;
    fn get(self) -> f64;
    fn max0(self) -> Self {
        if self > Self::ZERO { self } else { Self::ZERO }
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(x: f64) -> Self {
        x
    }
    fn get(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[allow(clippy::cast_possible_truncation)]
    fn of(x: f64) -> Self {
        x as f32
    }
    fn get(self) -> f64 {
        f64::from(self)
    }
}

fn count<T: Real>(c: u32) -> T {
    T::of(f64::from(c))
}

fn round_batch(batch: f64) -> u32 {
    let idx = (batch + 0.5).floor();
    if idx.is_nan() || idx < 1.0 {
        1
    } else if idx >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        idx as u32
    }
}

#[derive(Clone, Copy)]
struct Core<T> {
    model: Model,
    a: T,
    b: T,
    g: T,
    n: T,
    m: T,
    max_tokens: T,
}

impl<T: Real> Core<T> {
    fn new(p: &Problem) -> Self {
        Self {
            model: p.model,
            a: T::of(p.alpha),
            b: T::of(p.beta),
            g: T::of(p.gamma),
            n: T::of(p.n),
            m: T::of(p.m),
            max_tokens: count(p.max_tokens),
        }
    }
    fn two() -> T {
        T::of(2.0)
    }
    fn iter_old(&self, batch: T) -> T {
        let tc = (self.n + self.m) / (self.m + T::ONE);
        let tmem = self.n + self.m / Self::two();
        self.a + batch * (self.b * tc + self.g * tmem)
    }
    fn prefill_old(&self, batch: T) -> T {
        if self.n == T::ZERO {
            return T::ZERO;
        }
        self.iter_old(batch) + (self.b + self.g) * self.n
    }
    fn decode_old(&self, batch: T) -> T {
        let half = if self.model == Model::V3 {
            self.m / Self::two()
        } else {
            (self.m + T::ONE) / Self::two()
        };
        self.iter_old(batch) + self.b + self.g * (self.n + half)
    }
    fn chunk_capacity(&self, c: u32) -> f64 {
        let cc: T = count(c);
        let x = (cc + self.m) * (self.max_tokens - self.n / cc) / (self.n + self.m);
        x.max0().get().floor()
    }
    fn num_chunks(&self, batch: u32) -> u32 {
        if self.model != Model::V7 {
            return 1;
        }
        let target = f64::from(batch.max(1));
        let (n, m, mt) = (self.n.get(), self.m.get(), self.max_tokens.get());
        let phi = m * mt - n - target * (n + m);
        let root = (-phi + (phi * phi + 4.0 * mt * m * n).sqrt()) / (2.0 * mt);
        let mut c = if root.is_finite() && root > 1.0 {
            if root >= f64::from(u32::MAX) {
                u32::MAX
            } else {
                root.ceil() as u32
            }
        } else {
            1
        };
        for _ in 0..64 {
            if c > 1 && self.chunk_capacity(c - 1) >= target {
                c -= 1;
            } else {
                break;
            }
        }
        for _ in 0..64 {
            if c < u32::MAX && self.chunk_capacity(c) < target {
                c += 1;
            } else {
                break;
            }
        }
        c
    }
    fn w_pre(&self, c: u32) -> T {
        (self.b + self.g * (count::<T>(c) + T::ONE) / Self::two()) * self.n
    }
    fn w_dec(&self) -> T {
        self.b * self.m + self.g * self.m * (self.n + (self.m + T::ONE) / Self::two())
    }
    fn delta(&self, c: u32) -> T {
        (self.w_pre(c) + self.w_dec()) / (count::<T>(c) + self.m)
    }
    fn background(&self, batch: T, c: u32) -> T {
        (self.a + (batch - T::ONE) * self.delta(c)).max0()
    }
    fn iteration(&self, batch: T, c: u32) -> T {
        match self.model {
            Model::V7 => self.a + batch * self.delta(c),
            _ => self.iter_old(batch),
        }
    }
    fn prefill(&self, batch: T, c: u32) -> T {
        match self.model {
            Model::V7 => count::<T>(c) * self.background(batch, c) + self.w_pre(c),
            _ => self.prefill_old(batch),
        }
    }
    fn service_time(&self, batch: u32, c: u32) -> T {
        let bb: T = count(batch);
        match self.model {
            Model::V7 => (count::<T>(c) + self.m) * self.iteration(bb, c),
            _ => self.prefill_old(bb) + self.m * self.decode_old(bb),
        }
    }
}

struct ChainStats {
    in_system: f64,
    in_service: f64,
    p_full: f64,
    accepted: f64,
}

const BIG: f64 = 1e250;

fn solve_chain(lambda: f64, inv_mu: &[f64], queue: usize) -> ChainStats {
    let n = inv_mu.len();
    let mut p = 1.0_f64;
    let mut s0 = 1.0_f64;
    let mut s1 = 0.0_f64;
    let mut before = 0.0_f64;
    for (k, &inv) in inv_mu.iter().enumerate() {
        p *= lambda * inv;
        if p > BIG {
            p /= BIG;
            s0 /= BIG;
            s1 /= BIG;
        }
        before = s0;
        s0 += p;
        let kk = (k + 1) as f64;
        s1 += kk * p;
    }
    let s0_serv = s0;
    let s1_serv = s1;
    let mut serv_scale = 1.0_f64;
    let ratio = lambda * inv_mu[n - 1];
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
    let nn = n as f64;
    ChainStats {
        in_system: s1 / s0,
        in_service: (s1_serv + nn * (s0 - s0_serv)) / s0,
        p_full: p / s0,
        accepted: before / s0,
    }
}

/// The old analyzer: tables built by `new`, then `solve` and `size`.
pub struct RefAnalyzer {
    p: Problem,
    mu: Vec<f64>,
    inv_mu: Vec<f64>,
    nc: Vec<u32>,
    min_rps: f64,
    max_rps: f64,
}

struct Metrics<T> {
    throughput: T,
    response: T,
    wait: T,
    in_service: T,
    in_system: T,
    prefill: T,
    itl: T,
    ttft: T,
    blocking: f64,
}

enum Search<T> {
    Found(T),
    Below(T),
}

fn bisect<T: Real>(lo: T, hi: T, target: T, mut f: impl FnMut(T) -> T) -> Search<T> {
    let tol = T::of(1e-6) * target;
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
    for _ in 0..100 {
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

impl RefAnalyzer {
    /// The old `Analyzer::new(..).with_arithmetic(..)`.
    ///
    /// # Errors
    /// [`RefError::Build`] when a service rate is not positive and finite.
    pub fn new(p: Problem) -> Result<Self, RefError> {
        if p.f32 {
            Self::build::<f32>(p)
        } else {
            Self::build::<f64>(p)
        }
    }

    fn build<T: Real>(p: Problem) -> Result<Self, RefError> {
        let core = Core::<T>::new(&p);
        let n = p.max_batch;
        let mut mu = Vec::with_capacity(n as usize);
        let mut nc = Vec::with_capacity(n as usize);
        let mut prev_c = 1;
        for b in 1..=n {
            let c = if core.model == Model::V7 {
                if core.chunk_capacity(prev_c) >= f64::from(b) {
                    prev_c
                } else {
                    core.num_chunks(b)
                }
            } else {
                1
            };
            prev_c = c;
            let rate = count::<T>(b) / core.service_time(b, c);
            let r = rate.get();
            if !(r.is_finite() && r > 0.0) {
                return Err(RefError::Build);
            }
            mu.push(r);
            nc.push(c);
        }
        let eps = T::of(0.001);
        let thousand = T::of(1000.0);
        let lambda_min = T::of(mu[0]) * eps;
        let lambda_max = T::of(mu[mu.len() - 1]) * (T::ONE - eps);
        let inv_mu = mu.iter().map(|m| 1.0 / m).collect();
        Ok(Self {
            p,
            mu,
            inv_mu,
            nc,
            min_rps: (lambda_min * thousand).get(),
            max_rps: (lambda_max * thousand).get(),
        })
    }

    /// `μ(B)` table (req/ms).
    pub fn mu(&self) -> &[f64] {
        &self.mu
    }

    /// The rate range, req/s.
    pub fn range(&self) -> (f64, f64) {
        (self.min_rps, self.max_rps)
    }

    /// The old `solve` (rate already validated as finite and > 0).
    ///
    /// # Errors
    /// [`RefError::AboveCapacity`] (V3 guard) or [`RefError::NonFinite`].
    pub fn solve(&self, rate_rps: f64) -> Result<Fields, RefError> {
        if self.p.f32 {
            self.solve_t::<f32>(rate_rps)
        } else {
            self.solve_t::<f64>(rate_rps)
        }
    }

    fn solve_t<T: Real>(&self, rate_rps: f64) -> Result<Fields, RefError> {
        let rate = T::of(rate_rps);
        if self.p.model == Model::V3 && rate > T::of(self.max_rps) {
            return Err(RefError::AboveCapacity);
        }
        let core = Core::<T>::new(&self.p);
        let metrics = self.evaluate(&core, rate / T::of(1000.0));
        let a = self.widen(rate_rps, &metrics);
        finite(a)
    }

    /// The old post-chain computation from given chain moments `[E[X], B̄, p_K, 1 − p_K]`
    /// (the property tests feed it exactly computed moments to judge which of two chain
    /// evaluations is closer to the truth).
    ///
    /// # Errors
    /// As [`RefAnalyzer::solve`].
    pub fn solve_with_moments(&self, rate_rps: f64, moments: [f64; 4]) -> Result<Fields, RefError> {
        let stats = ChainStats {
            in_system: moments[0],
            in_service: moments[1],
            p_full: moments[2],
            accepted: moments[3],
        };
        if self.p.f32 {
            let core = Core::<f32>::new(&self.p);
            let m = self.metrics(&core, f32::of(rate_rps) / f32::of(1000.0), &stats);
            finite(self.widen(rate_rps, &m))
        } else {
            let core = Core::<f64>::new(&self.p);
            let m = self.metrics(&core, rate_rps / 1000.0, &stats);
            finite(self.widen(rate_rps, &m))
        }
    }

    fn evaluate<T: Real>(&self, core: &Core<T>, lambda: T) -> Metrics<T> {
        let stats = solve_chain(lambda.get(), &self.inv_mu, self.p.max_queue as usize);
        self.metrics(core, lambda, &stats)
    }

    fn metrics<T: Real>(&self, core: &Core<T>, lambda: T, stats: &ChainStats) -> Metrics<T> {
        let in_service = T::of(stats.in_service);
        let in_system = T::of(stats.in_system);
        let accepted = if self.p.f32 {
            T::ONE - T::of(stats.p_full)
        } else {
            T::of(stats.accepted)
        };
        let throughput = lambda * accepted;
        let response = in_system / throughput;
        let service = in_service / throughput;
        let wait = (response - service).max0();
        let n = self.nc.len().max(1);
        let i = usize::try_from(round_batch(in_service.get())).map_or(n, |i| i.min(n));
        let c = self.nc[i - 1];
        let prefill = core.prefill(in_service, c);
        let itl = (service - prefill) / core.m;
        let ttft = wait + prefill + itl;
        Metrics {
            throughput,
            response,
            wait,
            in_service,
            in_system,
            prefill,
            itl,
            ttft,
            blocking: stats.p_full,
        }
    }

    fn widen<T: Real>(&self, offered_rps: f64, m: &Metrics<T>) -> Fields {
        let rho = (m.in_service / count::<T>(self.p.max_batch)).get();
        [
            offered_rps,
            (m.throughput * T::of(1000.0)).get(),
            m.response.get(),
            m.wait.get(),
            m.in_service.get(),
            m.in_system.get(),
            m.prefill.get(),
            m.ttft.get(),
            m.itl.get(),
            rho.clamp(0.0, 1.0),
            self.max_rps,
            self.min_rps,
            m.blocking,
        ]
    }

    /// The old `size` (targets already validated).
    ///
    /// # Errors
    /// [`RefError::Unreachable`] or [`RefError::NonFinite`].
    pub fn size(
        &self,
        ttft: Option<f64>,
        itl: Option<f64>,
        tps: Option<f64>,
    ) -> Result<RefSizing, RefError> {
        if self.p.f32 {
            self.size_t::<f32>(ttft, itl, tps)
        } else {
            self.size_t::<f64>(ttft, itl, tps)
        }
    }

    fn size_t<T: Real>(
        &self,
        ttft_target: Option<f64>,
        itl_target: Option<f64>,
        tps_target: Option<f64>,
    ) -> Result<RefSizing, RefError> {
        let core = Core::<T>::new(&self.p);
        let thousand = T::of(1000.0);
        let lambda_min = T::of(self.min_rps) / thousand;
        let lambda_max = T::of(self.max_rps) / thousand;
        let search =
            |target: Option<f64>, pick: fn(&Metrics<T>) -> T| -> Result<Option<T>, RefError> {
                let Some(target) = target else {
                    return Ok(None);
                };
                match bisect(lambda_min, lambda_max, T::of(target), |x| {
                    pick(&self.evaluate(&core, x))
                }) {
                    Search::Found(x) => Ok(Some(x)),
                    Search::Below(_) => Err(RefError::Unreachable),
                }
            };
        let ttft = search(ttft_target, |m| m.ttft)?;
        let itl = search(itl_target, |m| m.itl)?;
        let tps = tps_target.map(|_| lambda_max * (T::ONE - T::of(0.1)));
        let mut lambda = lambda_max;
        for l in [ttft, itl, tps].into_iter().flatten() {
            if l < lambda {
                lambda = l;
            }
        }
        let rate = lambda * thousand;
        let metrics = self.evaluate(&core, rate / thousand);
        let to_rps = |x: Option<T>| x.map(|l| (l * thousand).get());
        let analysis = finite(self.widen(rate.get(), &metrics))?;
        Ok((rate.get(), to_rps(ttft), to_rps(itl), to_rps(tps), analysis))
    }
}

fn finite(a: Fields) -> Result<Fields, RefError> {
    // Same fields as `ensure_finite_analysis` (offered, rho and the range are not checked).
    let checked = [a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[12]];
    if checked.iter().all(|v| v.is_finite()) {
        Ok(a)
    } else {
        Err(RefError::NonFinite)
    }
}
