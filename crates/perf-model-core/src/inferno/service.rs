//! Service-time primitives of the three model generations (spec `inferno.md` §2.1, §2.2).
//!
//! Notation: `n` mean input tokens, `m` mean output tokens, `B` batch size, `M` max tokens per
//! iteration, α/β/γ the [`ServiceParams`]. All times are in ms, rates in requests per ms.

use serde::{Deserialize, Serialize};

use super::params::{QueueModel, RequestShape, ServiceParams};
use super::queue::ChainTable;
use super::real::{Real, count};
use crate::error::Result;
use crate::validate::at_least_one;

/// The primitives at one integer batch size `B` (what `golden_primitives.json` records).
///
/// For [`QueueModel::V3`] and [`QueueModel::V6`], `nc` is 1, `iter_time` is `T(B)`, `prefill`
/// is `Prefill(B)`, `itl` is `Decode(B)` and `tau` is `S(B)`; for [`QueueModel::V7`] they are
/// `nc(B)`, `T_iter(B)`, `Prefill(B)`, `ITL_closed(B)` and `τ(B)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Primitives {
    /// Prefill chunks per request, `nc(B)` (1 without chunking).
    pub nc: u32,
    /// Iteration time with `B` requests in the batch, ms.
    pub iter_time: f64,
    /// Prefill time of one request, ms.
    pub prefill: f64,
    /// Time per output token (decode step), ms.
    pub itl: f64,
    /// Total service time of one request, ms.
    pub tau: f64,
}

/// Service-time primitives of one model generation for one request shape.
///
/// This is the closed-form part of the analyzer, usable on its own (e.g. for plots or for the
/// optimal-concurrency brackets). [`super::Analyzer`] precomputes `μ(B)` and `nc(B)` from it.
///
/// # Examples
/// ```
/// use perf_model_core::inferno::{QueueModel, RequestShape, ServiceParams, ServiceTimes};
/// let st = ServiceTimes::new(
///     QueueModel::V7,
///     ServiceParams::new(8.0, 0.033, 0.000333)?,
///     RequestShape::new(4096.0, 64.0)?,
///     8192,
/// )?;
/// let p = st.primitives(128)?;
/// assert_eq!(p.nc, 7);
/// assert!((p.tau - 30100.477).abs() < 0.01);
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawServiceTimes")]
pub struct ServiceTimes {
    model: QueueModel,
    params: ServiceParams,
    shape: RequestShape,
    max_num_tokens: u32,
}

/// Unvalidated form of [`ServiceTimes`] used by serde.
#[derive(Deserialize)]
struct RawServiceTimes {
    model: QueueModel,
    params: ServiceParams,
    shape: RequestShape,
    max_num_tokens: u32,
}

impl TryFrom<RawServiceTimes> for ServiceTimes {
    type Error = crate::Error;
    fn try_from(raw: RawServiceTimes) -> Result<Self> {
        Self::new(raw.model, raw.params, raw.shape, raw.max_num_tokens)
    }
}

impl ServiceTimes {
    /// Primitives of `model` for requests of `shape` with token budget `max_num_tokens` per
    /// iteration (used by V7 only).
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] naming `max_num_tokens` when it is 0.
    pub fn new(
        model: QueueModel,
        params: ServiceParams,
        shape: RequestShape,
        max_num_tokens: u32,
    ) -> Result<Self> {
        at_least_one("max_num_tokens", u64::from(max_num_tokens))?;
        Ok(Self {
            model,
            params,
            shape,
            max_num_tokens,
        })
    }

    pub(crate) fn core<T: Real>(&self) -> Core<T> {
        Core::new(self.model, &self.params, &self.shape, self.max_num_tokens)
    }

    /// The model generation.
    #[must_use]
    pub fn model(&self) -> QueueModel {
        self.model
    }

    /// The request shape.
    pub(crate) fn shape(&self) -> &RequestShape {
        &self.shape
    }

    /// The token budget per iteration `M`.
    pub(crate) fn max_num_tokens(&self) -> u32 {
        self.max_num_tokens
    }

    /// Largest batch size whose requests can all be prefilled in `chunks` chunks (V7).
    ///
    /// # Formula
    /// ```text
    /// b(c) = floor( max(0, (c + m)·(M − n/c) / (n + m)) )
    /// ```
    /// (queue-analysis v0.7.0, `CalculateMaxBatchSizeForNumIterationsPerPrefill`.)
    #[must_use]
    pub fn chunk_capacity(&self, chunks: u32) -> f64 {
        self.core::<f64>().chunk_capacity(chunks.max(1))
    }

    /// Prefill chunks per request at batch size `batch`, `nc(B)`; 1 for V3 and V6.
    ///
    /// # Formula
    /// ```text
    /// nc(B) = smallest c ≥ 1 with b(c) ≥ B          (V7; b(c) from chunk_capacity)
    /// ```
    #[must_use]
    pub fn num_chunks(&self, batch: u32) -> u32 {
        self.core::<f64>().num_chunks(batch)
    }

    /// Iteration time with `batch` requests in the batch (`batch` may be fractional), ms.
    ///
    /// # Formula
    /// ```text
    /// V3, V6: T(B) = α + B·(β·tc + γ·tmem),  tc = (n+m)/(m+1),  tmem = n + m/2
    /// V7:     T_iter(B) = α + B·δ(c),  δ(c) = (w_pre(c) + w_dec)/(c + m),  c = nc(round(B))
    ///         w_pre(c) = (β + γ·(c+1)/2)·n,   w_dec = β·m + γ·m·(n + (m+1)/2)
    /// ```
    #[must_use]
    pub fn iteration_time(&self, batch: f64) -> f64 {
        let core = self.core::<f64>();
        core.iteration(batch, core.num_chunks(round_batch(batch)))
    }

    /// Prefill time of one request in a batch of `batch` (may be fractional), ms.
    ///
    /// # Formula
    /// ```text
    /// V3, V6: Prefill(B) = T(B) + (β+γ)·n           (0 if n = 0)
    /// V7:     Prefill(B) = c·max(0, α + (B−1)·δ(c)) + w_pre(c),  c = nc(round(B))
    /// ```
    #[must_use]
    pub fn prefill_time(&self, batch: f64) -> f64 {
        let core = self.core::<f64>();
        core.prefill(batch, core.num_chunks(round_batch(batch)))
    }

    /// Time per output token (one decode step) in a batch of `batch`, ms.
    ///
    /// # Formula
    /// ```text
    /// V3: Decode(B) = T(B) + β + γ·(n + m/2)
    /// V6: Decode(B) = T(B) + β + γ·(n + (m+1)/2)
    /// V7: ITL_closed(B) = max(0, α + (B−1)·δ(c)) + β + γ·(n + (m+1)/2),  c = nc(round(B))
    /// ```
    #[must_use]
    pub fn decode_time(&self, batch: f64) -> f64 {
        let core = self.core::<f64>();
        core.decode(batch, core.num_chunks(round_batch(batch)))
    }

    /// Total service time of one request in a batch of `batch` requests, ms.
    ///
    /// # Formula
    /// ```text
    /// V3, V6: S(B) = Prefill(B) + m·Decode(B)
    /// V7:     τ(B) = (c + m)·T_iter(B),  c = nc(B)
    /// ```
    #[must_use]
    pub fn service_time(&self, batch: u32) -> f64 {
        let core = self.core::<f64>();
        core.service_time(batch.max(1), core.num_chunks(batch))
    }

    /// State-dependent departure rate with `batch` requests in service, requests per ms.
    ///
    /// # Formula
    /// ```text
    /// μ(B) = B / S(B)        (V7: B / τ(B))
    /// ```
    #[must_use]
    pub fn service_rate(&self, batch: u32) -> f64 {
        let b = batch.max(1);
        f64::from(b) / self.service_time(b)
    }

    /// All primitives at batch size `batch`.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] naming `batch` when it is 0.
    pub fn primitives(&self, batch: u32) -> Result<Primitives> {
        at_least_one("batch", u64::from(batch))?;
        let core = self.core::<f64>();
        let nc = core.num_chunks(batch);
        let b = f64::from(batch);
        Ok(Primitives {
            nc,
            iter_time: core.iteration(b, nc),
            prefill: core.prefill(b, nc),
            itl: core.decode(b, nc),
            tau: core.service_time(batch, nc),
        })
    }
}

/// `2^{-990}`, `2^{1000}`: a service time in this range gives a positive finite `μ(B) = B/S`
/// in `f64` for every `B ≤ 2^{24}` (`B/S ∈ [2^{-1000}, 2^{1014}]`).
const SERVICE_MIN: f64 = 9.556_619_453_472_961e-299;
const SERVICE_MAX: f64 = 1.071_508_607_186_267_3e301;

/// The length of the run of values equal to `nc[0]` at the start of `nc` (non-empty).
///
/// `nc` is non-decreasing (`b(c)` grows with `c`), so a binary search finds the end; a
/// branch-free check confirms it, and a linear scan takes over should it not hold.
fn run_length(nc: &[u32]) -> usize {
    let c = nc[0];
    let guess = nc.partition_point(|&x| x <= c);
    let same = nc[..guess].iter().fold(true, |ok, &x| ok & (x == c));
    if same && nc.get(guess).is_none_or(|&x| x != c) {
        guess
    } else {
        nc.iter().take_while(|&&x| x == c).count()
    }
}

/// The service time `S(B)` on a run of batch sizes with one chunk count, with the
/// `B`-independent parts precomputed (see [`Core::for_each_run`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ServiceLine<T> {
    /// V7: `τ(B) = (c + m)·(α + B·δ(c))`.
    Chunked { cm: T, a: T, d: T },
    /// V3/V6: `S(B) = Prefill(B) + m·Decode(B)` with `T(B) = α + B·per`,
    /// `Prefill = T(B) + (β+γ)·n` (0 without input), `Decode = T(B) + β + γ·(n + half)`.
    Whole {
        a: T,
        per: T,
        prefill_extra: T,
        no_input: bool,
        beta: T,
        decode_extra: T,
        m: T,
    },
}

impl<T: Real> ServiceLine<T> {
    /// `S(B)` at `bb = B`, in the operation order of [`Core::service_time`].
    #[inline(always)]
    pub(crate) fn at(self, bb: T) -> T {
        match self {
            Self::Chunked { cm, a, d } => cm * (a + bb * d),
            Self::Whole {
                a,
                per,
                prefill_extra,
                no_input,
                beta,
                decode_extra,
                m,
            } => {
                let iter = a + bb * per;
                let prefill = if no_input {
                    T::ZERO
                } else {
                    iter + prefill_extra
                };
                prefill + m * (iter + beta + decode_extra)
            }
        }
    }
}

/// Go's `int(B + 0.5)` clamped to at least 1 (the batch index the V7 tables are read at).
///
/// `floor(B + 0.5)` without a libm call: on `[1, 2³²)` truncation is the floor, and the
/// comparisons `floor(v) < 1 ⟺ v < 1`, `floor(v) ≥ 2³² − 1 ⟺ v ≥ 2³² − 1` hold exactly.
pub(super) fn round_batch(batch: f64) -> u32 {
    let idx = batch + 0.5;
    if idx.is_nan() || idx < 1.0 {
        1
    } else if idx >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = idx as u32;
        i
    }
}

/// `floor(v)` for `v ≥ 0` (or +∞) without a libm call: below 2⁵² truncation through `u64` is
/// exact, and from 2⁵² on every `f64` is an integer.
fn floor_non_negative(v: f64) -> f64 {
    const EXACT: f64 = 4_503_599_627_370_496.0; // 2^52
    if v < EXACT {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let f = (v as u64) as f64;
        f
    } else {
        v
    }
}

/// The primitives in scalar type `T`, with the operation order of the Go reference so that
/// `T = f32` reproduces its rounding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Core<T> {
    model: QueueModel,
    a: T,
    b: T,
    g: T,
    n: T,
    m: T,
    max_tokens: T,
}

impl<T: Real> Core<T> {
    pub(crate) fn new(
        model: QueueModel,
        p: &ServiceParams,
        s: &RequestShape,
        max_num_tokens: u32,
    ) -> Self {
        Self {
            model,
            a: T::of(p.alpha()),
            b: T::of(p.beta()),
            g: T::of(p.gamma()),
            n: T::of(s.input_tokens()),
            m: T::of(s.output_tokens()),
            max_tokens: count(max_num_tokens),
        }
    }

    pub(crate) fn output_tokens(&self) -> T {
        self.m
    }

    fn two() -> T {
        T::of(2.0)
    }

    // ---- V3 / V6 (§2.1) ----

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
        let half = if self.model == QueueModel::V3 {
            self.m / Self::two()
        } else {
            (self.m + T::ONE) / Self::two()
        };
        self.iter_old(batch) + self.b + self.g * (self.n + half)
    }

    // ---- V7 (§2.2) ----

    pub(crate) fn chunk_capacity(&self, c: u32) -> f64 {
        let cc: T = count(c);
        let x = (cc + self.m) * (self.max_tokens - self.n / cc) / (self.n + self.m);
        floor_non_negative(x.max0().get())
    }

    /// Smallest `c ≥ 1` with `b(c) ≥ batch`: closed-form start (the root of the quadratic
    /// `M·c² + (m·M − n − B(n+m))·c − n·m = 0`), then corrected with `b(c)` itself so that the
    /// rounding of `b` decides, as upstream.
    pub(crate) fn num_chunks(&self, batch: u32) -> u32 {
        if self.model != QueueModel::V7 {
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
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let r = root.ceil() as u32;
                r
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

    // ---- unified ----

    /// Iteration time at (real) batch `batch` with `c` chunks (ignored by V3/V6).
    pub(crate) fn iteration(&self, batch: T, c: u32) -> T {
        match self.model {
            QueueModel::V7 => self.a + batch * self.delta(c),
            _ => self.iter_old(batch),
        }
    }

    /// Prefill time at (real) batch `batch` with `c` chunks.
    pub(crate) fn prefill(&self, batch: T, c: u32) -> T {
        match self.model {
            QueueModel::V7 => count::<T>(c) * self.background(batch, c) + self.w_pre(c),
            _ => self.prefill_old(batch),
        }
    }

    /// Decode step time (closed-form ITL) at (real) batch `batch` with `c` chunks.
    pub(crate) fn decode(&self, batch: T, c: u32) -> T {
        match self.model {
            QueueModel::V7 => {
                self.background(batch, c)
                    + self.b
                    + self.g * (self.n + (self.m + T::ONE) / Self::two())
            }
            _ => self.decode_old(batch),
        }
    }

    /// `nc(B)` for `B = 1..=n` into `out` (cleared first); all 1 for V3/V6. `nc` is
    /// non-decreasing in `B`, so the last count is kept while its capacity `b(c)` (computed
    /// once per count) still covers `B`.
    pub(crate) fn chunk_table(&self, n: u32, out: &mut Vec<u32>) {
        out.clear();
        if self.model != QueueModel::V7 {
            out.resize(n as usize, 1);
            return;
        }
        out.reserve(n as usize);
        let mut c = 1;
        let mut cap = self.chunk_capacity(c);
        for b in 1..=n {
            if cap < f64::from(b) {
                c = self.num_chunks(b);
                cap = self.chunk_capacity(c);
            }
            out.push(c);
        }
    }

    /// The runs of equal chunk count in `nc` (index ranges) with the service time as a
    /// function of `B` on each run: `f(start, end, line)` with `S(B) = line.at(B)` for
    /// `B − 1 ∈ start..end`.
    ///
    /// Bit for bit `service_time(B, nc(B))`: the same operations, with the `B`-independent
    /// parts (`δ(c)`, `c + m` for V7; `β·tc + γ·tmem`, `(β+γ)·n`, `γ·(n + half)` for V3/V6)
    /// computed once per run instead of once per `B`, so that the caller's loop over a run is
    /// straight-line (vectorisable).
    #[inline]
    pub(crate) fn for_each_run(&self, nc: &[u32], mut f: impl FnMut(usize, usize, ServiceLine<T>)) {
        if self.model == QueueModel::V7 {
            let mut start = 0;
            while start < nc.len() {
                let c = nc[start];
                let end = start + run_length(&nc[start..]);
                let line = ServiceLine::Chunked {
                    cm: count::<T>(c) + self.m,
                    a: self.a,
                    d: self.delta(c),
                };
                f(start, end, line);
                start = end;
            }
        } else if !nc.is_empty() {
            let tc = (self.n + self.m) / (self.m + T::ONE);
            let tmem = self.n + self.m / Self::two();
            let half = if self.model == QueueModel::V3 {
                self.m / Self::two()
            } else {
                (self.m + T::ONE) / Self::two()
            };
            let line = ServiceLine::Whole {
                a: self.a,
                per: self.b * tc + self.g * tmem,
                prefill_extra: (self.b + self.g) * self.n,
                no_input: self.n == T::ZERO,
                beta: self.b,
                decode_extra: self.g * (self.n + half),
                m: self.m,
            };
            f(0, nc.len(), line);
        }
    }

    /// `μ(B) = B/S(B)` widened to `f64` (`nc` = the chunk count at `B`).
    pub(crate) fn rate(&self, batch: u32, nc: u32) -> f64 {
        (count::<T>(batch) / self.service_time(batch, nc)).get()
    }

    /// Fills `table` (the chain's ratios `ρ_B = μ(N)/μ(B)`, `B < N`) for chunk counts `nc`
    /// (`N = nc.len() ≥ 1`) and queue size `queue`; returns `(μ(1), μ(N))`, or `(B, μ(B))` at
    /// the first `B` whose rate is not positive and finite.
    ///
    /// `f64`: `ρ_B = S(B)·(μ(N)·(1/B))`, no division per `B`; a service time within
    /// `[2^{-990}, 2^{1000}]` proves `μ(B)` positive and finite, anything else is checked
    /// exactly. `f32` (Go parity): `ρ_B = μ(N)/μ(B)` with the `f32` rates, as the chain uses
    /// them.
    pub(crate) fn fill_chain(
        &self,
        nc: &[u32],
        queue: u32,
        table: &mut ChainTable,
    ) -> Result<(f64, f64), (u32, f64)> {
        let valid = |r: f64| r > 0.0 && r <= f64::MAX;
        let n = u32::try_from(nc.len()).unwrap_or(u32::MAX);
        let first_invalid = || {
            (1..=n)
                .map(|b| (b, self.rate(b, nc[b as usize - 1])))
                .find(|&(_, r)| !valid(r))
        };
        let top = self.rate(n, nc[nc.len() - 1]);
        let first = self.rate(1, nc[0]);
        if !(valid(top) && valid(first)) {
            return Err(first_invalid().unwrap_or((n, top)));
        }
        let (ratios, inv_counts) = table.prepare(nc.len(), queue, top);
        let head = &nc[..nc.len() - 1];
        let mut ok = true;
        self.for_each_run(head, |start, end, line| {
            let slots = ratios[start..end].iter_mut().zip(&inv_counts[start..end]);
            #[allow(clippy::cast_possible_truncation)]
            let counts = start as u32 + 1..;
            if T::IS_F64 {
                let mut in_range = true;
                for ((slot, inv), b) in slots.zip(counts) {
                    let s = line.at(count::<T>(b)).get();
                    *slot = s * (top * inv);
                    // NaN fails the range.
                    in_range &= (SERVICE_MIN..=SERVICE_MAX).contains(&s);
                }
                ok &= in_range;
            } else {
                for ((slot, _), b) in slots.zip(counts) {
                    let r = (count::<T>(b) / line.at(count::<T>(b))).get();
                    *slot = top / r;
                    ok &= valid(r);
                }
            }
        });
        if !ok && let Some(bad) = first_invalid() {
            return Err(bad);
        }
        table.finish_fill();
        Ok((first, top))
    }

    /// Service time of one request at integer batch `batch` with `c` chunks.
    pub(crate) fn service_time(&self, batch: u32, c: u32) -> T {
        let bb: T = count(batch);
        match self.model {
            QueueModel::V7 => (count::<T>(c) + self.m) * self.iteration(bb, c),
            _ => self.prefill_old(bb) + self.m * self.decode_old(bb),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn times(model: QueueModel) -> ServiceTimes {
        ServiceTimes::new(
            model,
            ServiceParams::new(12.0, 0.05, 5e-4).unwrap(),
            RequestShape::new(128.0, 512.0).unwrap(),
            8192,
        )
        .unwrap()
    }

    #[test]
    fn v6_identity_holds() {
        // S(B) = (1+m)·(α + (B+1)·δ), δ = β·tc + γ·tmem (exact for V6).
        let st = times(QueueModel::V6);
        let (n, m) = (128.0, 512.0);
        let delta = 0.05 * (n + m) / (m + 1.0) + 5e-4 * (n + m / 2.0);
        for b in [1_u32, 7, 48] {
            let expect = (1.0 + m) * (12.0 + (f64::from(b) + 1.0) * delta);
            assert_relative_eq!(st.service_time(b), expect, max_relative = 1e-12);
        }
    }

    #[test]
    fn v3_decode_is_gamma_half_below_v6() {
        let (v3, v6) = (times(QueueModel::V3), times(QueueModel::V6));
        assert_relative_eq!(
            v6.decode_time(10.0) - v3.decode_time(10.0),
            5e-4 / 2.0,
            max_relative = 1e-9
        );
    }

    #[test]
    fn chunk_count_is_smallest_fitting() {
        let st = ServiceTimes::new(
            QueueModel::V7,
            ServiceParams::new(8.0, 0.033, 0.000333).unwrap(),
            RequestShape::new(4096.0, 64.0).unwrap(),
            8192,
        )
        .unwrap();
        for b in 1..=400 {
            let c = st.num_chunks(b);
            assert!(st.chunk_capacity(c) >= f64::from(b));
            assert!(
                c == 1 || st.chunk_capacity(c - 1) < f64::from(b),
                "b={b} c={c}"
            );
        }
        assert_eq!(st.num_chunks(128), 7);
        assert_eq!(st.num_chunks(200), 39);
    }

    #[test]
    fn service_range_constants_are_powers_of_two() {
        assert_eq!(SERVICE_MIN.to_bits(), 2.0_f64.powi(-990).to_bits());
        assert_eq!(SERVICE_MAX.to_bits(), 2.0_f64.powi(1000).to_bits());
        assert!(f64::from(super::super::MAX_BATCH_SIZE_LIMIT) / SERVICE_MIN < f64::MAX);
    }

    /// The run-wise service times equal `service_time` bit for bit (all models, runs of
    /// several chunk counts, no input).
    #[test]
    fn runs_match_service_time_bit_for_bit() {
        for model in QueueModel::ALL {
            for (n_in, m_out, budget) in
                [(4096.0, 64.0, 8192), (128.0, 512.0, 8192), (0.0, 7.5, 64)]
            {
                let st = ServiceTimes::new(
                    model,
                    ServiceParams::new(8.0, 0.033, 0.000_333).unwrap(),
                    RequestShape::new(n_in, m_out).unwrap(),
                    budget,
                )
                .unwrap();
                let core = st.core::<f64>();
                let mut nc = Vec::new();
                core.chunk_table(300, &mut nc);
                let mut seen = 0;
                core.for_each_run(&nc, |start, end, line| {
                    assert_eq!(start, seen);
                    for b in start as u32 + 1..=end as u32 {
                        let want = core.service_time(b, nc[b as usize - 1]);
                        assert_eq!(
                            line.at(f64::from(b)).to_bits(),
                            want.to_bits(),
                            "{model} B={b}"
                        );
                    }
                    seen = end;
                });
                assert_eq!(seen, 300);
            }
        }
    }

    #[test]
    fn run_length_sorted_and_not() {
        assert_eq!(run_length(&[3]), 1);
        assert_eq!(run_length(&[3, 3, 3, 4, 4, 9]), 3);
        assert_eq!(run_length(&[3, 3, 3]), 3);
        assert_eq!(run_length(&[3, 2, 3, 3]), 1);
        assert_eq!(run_length(&[3, 3, 5, 3]), 2);
    }

    #[test]
    fn zero_batch_primitives_is_error() {
        let err = times(QueueModel::V7).primitives(0).unwrap_err();
        assert!(err.to_string().contains("batch"), "{err}");
    }

    #[test]
    fn no_prefill_without_input() {
        let st = ServiceTimes::new(
            QueueModel::V3,
            ServiceParams::new(12.0, 0.05, 5e-4).unwrap(),
            RequestShape::new(0.0, 10.0).unwrap(),
            8192,
        )
        .unwrap();
        assert_eq!(st.prefill_time(3.0).to_bits(), 0.0_f64.to_bits());
    }
}
