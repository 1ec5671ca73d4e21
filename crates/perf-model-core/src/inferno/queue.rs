//! The state-dependent birth–death chain (M/M/1/K-SD) shared by all model generations
//! (spec `inferno.md` §2.3), and its fast evaluation.
//!
//! # The chain
//! States `k = 0..=K`, `K = N + Q`; arrival rate λ in every state, departure rate
//! `μ(min(k, N))` in state `k`:
//! ```text
//! p_0 = 1;  p_{k+1} = p_k · λ/μ(min(k+1, N));  normalise
//! E[X] = Σ k·p_k;  B̄ = Σ_{k≤N} k·p_k + N·(1 − Σ_{k≤N} p_k);  p_K;  1 − p_K = Σ_{k<K} p_k
//! ```
//!
//! # The fast evaluation ([`ChainTable::solve`])
//! The state-by-state recursion is a chain of `K` dependent multiplies, and the old loop also
//! had a division on its loop-carried path (its rescaling test compiled to an unconditional
//! `divpd` and a blend): ≈ 15 cycles per state. Here, with `x = λ/μ(N)` and
//! `ρ_i = μ(N)/μ(i)` (so the ratio of state `i ≤ N` is `x·ρ_i` and every state `k ≥ N` has
//! ratio `x`):
//! * **head** (states `1..N−1`), in blocks of 8 states starting at `k₀ = 8b`:
//!   `p_{k₀+j} = P_b·x^j·L_{b,j}` with `P_b = p_{k₀}` and `L_{b,j} = Π_{i=k₀+1}^{k₀+j} ρ_i`
//!   precomputed per analyzer. A forward pass carries only `P_{b+1} = P_b·(x⁸·L_{b,8})` (one
//!   multiply per 8 states on the dependency chain); a reverse pass then accumulates, 2 lanes
//!   wide, `U_j = Σ_b P_b·L_{b,j}` and `V_j = Σ_b b·P_b·L_{b,j}` (as `V += U` before
//!   `U += P_b·L_b`, going down: `Σ_b b·v_b = Σ_b Σ_{b'>b} v_{b'}`), and finally
//!   `Σ p = 1 + Σ_j x^j U_j`, `Σ k·p = Σ_j x^j (8·V_j + j·U_j)`: one multiply and two adds
//!   per state, all sums of positive terms;
//! * **tail** (states `N..=K`, `p_{N−1+j} = p_{N−1}·x^j`, `j = 1..Q+1`): closed form through
//!   `A_n = Σ_{j=1}^{n} x^j`, `B_n = Σ_{j=1}^{n} j·x^j`, `X_n = x^n`, built by binary doubling
//!   `A_{2n} = A_n(1 + X_n)`, `B_{2n} = B_n(1 + X_n) + n·X_n·A_n`, `X_{2n} = X_n²` in
//!   `O(log Q)` operations. Every term is positive, so there is no cancellation (unlike
//!   `(1 − x^Q)/(1 − x)`, which loses all digits as `x → 1`). Under heavy overload (`x > 1`
//!   with `p_K` beyond about `2^{958}`) the tail is summed from the last state down with
//!   `1/x`, where the head is below `2^{-190}` of the total.
//!
//! `x` is `λ·(1/μ(N))` rounded (the old loop's queue ratio, bit for bit); the carried `x⁸`
//! is computed in double-double from `x` and its rounding error (Dekker products, no FMA in
//! the baseline target), because a once-rounded `x⁸` reused in every carry would tilt
//! `p_k` by `k·ε`. Block-start terms are kept below `2^{256}` by exact power-of-two
//! rescaling. The rare inputs outside the fast path's proven range (`x ∉ [2^{-64}, 2^{32}]`,
//! table entries outside `[2^{-200}, 2^{200}]`, `1/μ(N)` outside `[2^{-900}, 2^{900}]`, or
//! `x^{Q+1}` beyond `f64` while `p_{N−1} < 1`) take the original state-by-state loop
//! ([`solve_chain_sequential`]).
//!
//! The two orders round differently; the moments agree to ~1e-14 relative (the property
//! tests check the analyzer's outputs to 1e-12 against the pre-speed-up implementation, and
//! where they differ by more the old f64 chain is the one off the exactly computed moments).

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

/// Rescaling threshold of the sequential loop.
const BIG: f64 = 1e250;

/// States per head block.
pub(crate) const BLOCK: usize = 8;

/// `2^{256}`: the head rescales when a block-start term exceeds it.
const RESCALE_AT: f64 = 1.157_920_892_373_162e77;
/// `2^{-64}`, `2^{32}`: the range of `x = λ/μ(N)` the fast path is proven for.
const X_MIN: f64 = 5.421_010_862_427_522e-20;
const X_MAX: f64 = 4_294_967_296.0;
/// `2^{-200}`, `2^{200}`: the range of table entries the fast path is proven for.
const L_MIN: f64 = 6.223_015_277_861_142e-61;
const L_MAX: f64 = 1.606_938_044_258_990_3e60;

/// `2^{-900}`, `2^{900}`: the range of `1/μ(N)` the fast path is proven for (with `x` in
/// range, `λ = x·μ(N)` stays below `2^{932}`, safe for Dekker splitting).
const SPLIT_MIN: f64 = 1.183_052_186_166_774_7e-271;
const SPLIT_MAX: f64 = 8.452_712_498_170_644e270;

/// `1/B` for `B = 1..=16384`, shared by every table (computed once).
static STATIC_INV_COUNTS: std::sync::LazyLock<Vec<f64>> =
    std::sync::LazyLock::new(|| (1..=16_384_u32).map(|b| 1.0 / f64::from(b)).collect());

/// Per-analyzer precomputation for [`ChainTable::solve`].
///
/// `L_{b,j}` is the prefix product of `ρ` within block `b`, evaluated as a depth-3 tree
/// (`ρ₁ρ₂`, `(ρ₁ρ₂)(ρ₃ρ₄)`, …): any fixed order does, all rounding the same few ulps.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChainTable {
    /// `1/μ(N)`, so that `x = λ·inv_top` (the old loop's queue ratio, bit for bit).
    inv_top: f64,
    /// `(1/μ(N))/inv_top − 1` to first order (`1 − inv_top·μ(N)`, exact), for `x`'s low part.
    inv_top_err: f64,
    /// `L_{b,j}` for head states `1..N−1` (block `b`, offset `j = 1..8` at index `j − 1`),
    /// padded with 0 after state `N − 1`.
    blocks: Vec<[f64; BLOCK]>,
    /// `1/B`, `B = 1..N−1`, when `N − 1` exceeds the shared table (else empty).
    inv_counts: Vec<f64>,
    /// `N − 1`, the number of head states after state 0.
    head: usize,
    /// `Q`.
    queue: u32,
    /// `ceil(log2(K + 2))`, for the tail's overflow bound.
    log2_k: f64,
    /// Every `L_{b,j}` is within `[2^{-200}, 2^{200}]`.
    fast: bool,
}

impl ChainTable {
    /// An empty table (filled by [`ChainTable::prepare`] and [`ChainTable::finish_fill`]).
    pub(crate) fn empty() -> Self {
        Self {
            inv_top: 1.0,
            inv_top_err: 0.0,
            blocks: Vec::new(),
            inv_counts: Vec::new(),
            head: 0,
            queue: 0,
            log2_k: 1.0,
            fast: false,
        }
    }

    /// Starts filling the table for `N = n` states in service (`n ≥ 1`), queue size `queue`
    /// and top rate `top = μ(N)`: returns the slots for the ratios `ρ_B = μ(N)/μ(B)`,
    /// `B = 1..N−1` (index `B − 1`), and `1/B` at the same indices. The caller writes every
    /// ratio, then calls [`ChainTable::finish_fill`].
    pub(crate) fn prepare(&mut self, n: usize, queue: u32, top: f64) -> (&mut [f64], &[f64]) {
        self.inv_top = 1.0 / top;
        // inv_top·μ(N) = hi + lo exactly, hi ≈ 1 so 1 − hi is exact.
        let (hi, lo) = two_prod(self.inv_top, top);
        self.inv_top_err = (1.0 - hi) - lo;
        self.head = n - 1;
        self.queue = queue;
        // ceil(log2(K + 2)) = the bit length of K + 1.
        let k = n as u64 + u64::from(queue);
        self.log2_k = f64::from(u64::BITS - (k + 1).leading_zeros());
        self.blocks.clear();
        self.blocks.resize(self.head.div_ceil(BLOCK), [0.0; BLOCK]);
        let inv_counts = match STATIC_INV_COUNTS.get(..self.head) {
            Some(table) => table,
            None => {
                if self.inv_counts.len() != self.head {
                    #[allow(clippy::cast_precision_loss)]
                    let inv = (1..=self.head).map(|b| 1.0 / b as f64);
                    self.inv_counts = inv.collect();
                }
                &self.inv_counts
            }
        };
        (&mut self.blocks.as_flattened_mut()[..self.head], inv_counts)
    }

    /// Turns the ratios written after [`ChainTable::prepare`] into the block products
    /// `L_{b,j}` and decides whether the fast path applies.
    pub(crate) fn finish_fill(&mut self) {
        // Prefix products in a tree of depth 3 (the rows are independent chains of 3).
        for row in &mut self.blocks {
            let r = *row;
            let (p01, p23, p45, p67) = (r[0] * r[1], r[2] * r[3], r[4] * r[5], r[6] * r[7]);
            let p0123 = p01 * p23;
            *row = [
                r[0],
                p01,
                p01 * r[2],
                p0123,
                p0123 * r[4],
                p0123 * p45,
                p0123 * (p45 * r[6]),
                p0123 * (p45 * p67),
            ];
        }
        // The padding after state N − 1 is 0 (products with 0 stay 0); only real entries count.
        let mut fast = true;
        for &v in &self.blocks.as_flattened()[..self.head] {
            // NaN fails the range.
            fast &= (L_MIN..=L_MAX).contains(&v);
        }
        // Dekker splitting of λ and 1/μ(N) needs both below 2^{996}.
        self.fast = fast && (SPLIT_MIN..=SPLIT_MAX).contains(&self.inv_top);
    }

    /// The table for departure rates `mu[B − 1] = μ(B)` (non-empty, positive, finite) and
    /// queue size `queue`, with `ρ_B = μ(N)/μ(B)`.
    #[cfg(test)]
    pub(crate) fn fill(&mut self, mu: &[f64], queue: u32) {
        let top = mu[mu.len() - 1];
        let (ratios, _) = self.prepare(mu.len(), queue, top);
        for (r, m) in ratios.iter_mut().zip(mu) {
            *r = top / m;
        }
        self.finish_fill();
    }

    /// The chain's moments at arrival rate `lambda` (per ms, positive); `mu(B)` gives the
    /// departure rate the table was filled from (used by the sequential fallback only).
    pub(crate) fn solve(&self, lambda: f64, mu: &dyn Fn(u32) -> f64) -> ChainStats {
        self.solve_lanes::<1>([lambda], mu)[0]
    }

    /// [`ChainTable::solve`] for `L` rates at once: the lanes' latency-bound parts (the
    /// forward carries, the tail doublings, the double-double powers) interleave, so they
    /// overlap instead of following one another. Every lane does exactly the operations of a
    /// single solve, so the results are bit for bit those of `solve`.
    pub(crate) fn solve_lanes<const L: usize>(
        &self,
        lambdas: [f64; L],
        mu: &dyn Fn(u32) -> f64,
    ) -> [ChainStats; L] {
        let x: [f64; L] = std::array::from_fn(|l| lambdas[l] * self.inv_top);
        let in_range = |x: f64| (X_MIN..=X_MAX).contains(&x);
        if !(self.fast && x.iter().all(|&x| in_range(x))) {
            // Some lane is outside the proven range: lanes one by one.
            return std::array::from_fn(|l| {
                if self.fast && in_range(x[l]) {
                    self.solve_lanes::<1>([lambdas[l]], mu)[0]
                } else {
                    self.sequential(lambdas[l], mu)
                }
            });
        }
        // x = λ·(1/μ(N)) rounds twice; x_lo restores λ/μ(N) to ~2^{-100} (see head_sums).
        let x_lo: [f64; L] = std::array::from_fn(|l| {
            let (_, e) = two_prod(lambdas[l], self.inv_top);
            e + x[l] * self.inv_top_err
        });
        // Tail sums first: independent of the head, they overlap with its forward pass.
        let tails: [Geometric; L] = std::array::from_fn(|l| geometric(x[l], self.queue));
        let head = self.head_sums(x, x_lo);
        std::array::from_fn(|l| {
            let (s0, s1, p) = (head.s0[l], head.s1[l], head.p[l]);
            self.finish(x[l], s0, s1, p, &tails[l])
                .unwrap_or_else(|| self.sequential(lambdas[l], mu))
        })
    }

    /// The state-by-state evaluation with the rates recomputed by `mu` (rare inputs).
    #[cold]
    #[inline(never)]
    fn sequential(&self, lambda: f64, mu: &dyn Fn(u32) -> f64) -> ChainStats {
        let n = u32::try_from(self.head + 1).unwrap_or(u32::MAX);
        solve_chain_sequential(lambda, n, mu, self.queue as usize)
    }

    /// Sums over states `0..N−1` for each lane: `Σ p`, `Σ k·p` and `p_{N−1}` (all scaled by
    /// the same power of two, with `p_{N−1} ≤ 2^{256}`).
    ///
    /// Blocks are taken [`CHUNK`] at a time in two passes:
    /// * forward: only the block-start terms `P_b = p_{8b}`, `P_{b+1} = P_b·(x⁸·L_{b,8})`
    ///   (one multiply per block on the dependency chain; the lanes' chains interleave), with
    ///   `x⁸` in double-double (`x` itself corrected for the rounding of `λ·(1/μ(N))`) so that
    ///   the carried product has no systematic error — a once-rounded `x` would tilt `p_k` by
    ///   `k·ε`. A term above `2^{256}` is rescaled exactly (a power of two, recorded);
    /// * reverse: per lane, 8-wide accumulators `U_j = Σ_b P_b·L_{b,j}` and
    ///   `V_j = Σ_b b·P_b·L_{b,j}`, the latter as `V += U` before `U += …` going down the
    ///   blocks (`Σ_b b·v_b = Σ_b Σ_{b'>b} v_{b'}`): positive sums only, one multiply and two
    ///   adds per state, no per-block horizontal reduction, no multiply by `b`; the common
    ///   factor `x^j` of offset `j` is applied once per chunk.
    #[inline]
    fn head_sums<const L: usize>(&self, x: [f64; L], x_lo: [f64; L]) -> HeadSums<L> {
        // x^j, j = 1..8 (for the terms), and x⁸ in double-double (for the carries).
        let mut xp = [[0.0; BLOCK]; L];
        let mut x8 = [(0.0, 0.0); L];
        for l in 0..L {
            let x1 = x[l];
            let x2 = x1 * x1;
            let x4 = x2 * x2;
            xp[l] = [
                x1,
                x2,
                x2 * x1,
                x4,
                x4 * x1,
                x4 * x2,
                x4 * (x2 * x1),
                x4 * x4,
            ];
            let mut d = (x1, x_lo[l]);
            for _ in 0..3 {
                d = dd_square(d);
            }
            x8[l] = d;
        }
        let mut s0 = [1.0; L];
        let mut s1 = [0.0; L];
        let mut p = [1.0; L];
        let full = self.head / BLOCK;
        let rest = self.head % BLOCK;
        let mut b0 = 0;
        while b0 < self.blocks.len() {
            let rows = &self.blocks[b0..self.blocks.len().min(b0 + CHUNK)];
            // Forward: P_b for the chunk's blocks, and exact rescaling events.
            let mut pbuf = [[0.0; L]; CHUNK];
            let mut shifted = [false; L];
            let mut shift = [[0_u64; L]; CHUNK];
            for (i, row) in rows.iter().enumerate() {
                pbuf[i] = p;
                for l in 0..L {
                    let carry = if b0 + i < full {
                        x8[l].0 * row[BLOCK - 1] + x8[l].1 * row[BLOCK - 1]
                    } else {
                        xp[l][rest - 1] * row[rest - 1]
                    };
                    let next = p[l] * carry;
                    p[l] = if next > RESCALE_AT {
                        let e = exponent(next);
                        shift[i][l] = e;
                        shifted[l] = true;
                        next * pow2_neg(e)
                    } else {
                        next
                    };
                }
            }
            // Reverse, lane by lane.
            #[allow(clippy::cast_precision_loss)]
            let base = b0 as f64;
            for l in 0..L {
                let (u, v, scale) = if shifted[l] {
                    reverse_shifted(rows, &pbuf, &shift, l)
                } else {
                    let (u, v) = reverse(rows, &pbuf, l);
                    (u, v, 1.0)
                };
                // The common factor x^j of offset j, applied once per chunk.
                let u: [f64; BLOCK] = std::array::from_fn(|j| xp[l][j] * u[j]);
                let v: [f64; BLOCK] = std::array::from_fn(|j| xp[l][j] * v[j]);
                let su = sum8(&u);
                let sv = sum8(&v);
                let sj = sum8(&std::array::from_fn(|j| JS[j] * u[j]));
                s0[l] = s0[l] * scale + su;
                s1[l] = s1[l] * scale + (8.0 * (base * su + sv) + sj);
            }
            b0 += rows.len();
        }
        HeadSums { s0, s1, p }
    }

    /// Adds the tail (states `N..=K`) to the head sums and normalises; `None` when the tail
    /// would overflow and the head is not negligible (the caller then runs the sequential
    /// loop).
    #[inline]
    fn finish(&self, x: f64, s0h: f64, s1h: f64, p: f64, g: &Geometric) -> Option<ChainStats> {
        #[allow(clippy::cast_precision_loss)]
        let n = (self.head + 1) as f64;
        let q1 = f64::from(self.queue) + 1.0;
        let limit = 1010.0 - 2.0 * self.log2_k;
        let direct = if x <= 1.0 {
            true
        } else {
            // log2 of x^{Q+1} and of p_K = p_{N−1}·x^{Q+1}.
            let lx = q1 * x.log2();
            let lp = p.log2();
            if lx + lp.max(0.0) < limit {
                true
            } else if lx + lp >= limit {
                false
            } else {
                return None;
            }
        };
        if direct {
            // A_{Q+1}, B_{Q+1}, X_{Q+1} from A_Q, B_Q, X_Q.
            let x_last = g.x * x;
            let a_all = g.a + x_last;
            let b_all = g.b + q1 * x_last;
            let s0 = s0h + p * a_all;
            let s1 = s1h + p * ((n - 1.0) * a_all + b_all);
            let before = s0h + p * g.a;
            Some(ChainStats {
                in_system: s1 / s0,
                in_service: (s1h + n * (p * a_all)) / s0,
                p_full: p * x_last / s0,
                accepted: before / s0,
            })
        } else {
            // Heavy overload: in units of p_K, the tail is Σ_{i=0}^{Q} y^i (y = 1/x) and the
            // head (≤ 2^{770}/2^{966}) vanishes.
            let y = 1.0 / x;
            let gy = geometric(y, self.queue);
            let k = n + f64::from(self.queue);
            let s0 = 1.0 + gy.a;
            Some(ChainStats {
                in_system: (k * s0 - gy.b) / s0,
                in_service: (n * s0) / s0,
                p_full: 1.0 / s0,
                accepted: gy.a / s0,
            })
        }
    }
}

/// Blocks per forward/reverse chunk (the forward pass buffers `P_b` on the stack).
const CHUNK: usize = 32;

/// `j + 1` for offsets `j = 0..8` (state `8b + j + 1`).
const JS: [f64; BLOCK] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];

/// `Σ_j a_j` in a fixed tree (every caller rounds identically): even and odd offsets
/// separately first, which maps onto 2-wide vector adds without lane shuffles.
#[inline(always)]
fn sum8(a: &[f64; BLOCK]) -> f64 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// The reverse pass of one lane over a chunk without rescaling events:
/// `U_j = Σ_i P_i·L_{i,j}`, `V_j = Σ_i i·P_i·L_{i,j}` (chunk-relative `i`; the caller
/// multiplies both by `x^{j+1}`). Not inlined: on its own the loop vectorises with the
/// accumulators in natural lane order (inlined, the caller's reductions made the compiler
/// keep them lane-swapped, with a shuffle per vector per block).
#[inline(never)]
fn reverse<const L: usize>(
    rows: &[[f64; BLOCK]],
    pbuf: &[[f64; L]; CHUNK],
    lane: usize,
) -> ([f64; BLOCK], [f64; BLOCK]) {
    let mut u = [0.0; BLOCK];
    let mut v = [0.0; BLOCK];
    for (row, pb) in rows.iter().zip(pbuf).rev() {
        let pl = pb[lane];
        for j in 0..BLOCK {
            v[j] += u[j];
            u[j] += pl * row[j];
        }
    }
    (u, v)
}

/// [`reverse`] for a chunk in which the lane was rescaled: each `P_i` is brought to the scale
/// of the chunk's end by the exact factor `2^{−Σ shifts after i}`; also returns the factor
/// for the whole chunk (to apply to the sums before it).
#[cold]
#[inline(never)]
fn reverse_shifted<const L: usize>(
    rows: &[[f64; BLOCK]],
    pbuf: &[[f64; L]; CHUNK],
    shift: &[[u64; L]; CHUNK],
    lane: usize,
) -> ([f64; BLOCK], [f64; BLOCK], f64) {
    let mut u = [0.0; BLOCK];
    let mut v = [0.0; BLOCK];
    let mut factor = 1.0;
    for i in (0..rows.len()).rev() {
        // `shift[i]` rescaled P_{i+1}, which is in the chunk end's scale once the later
        // shifts are applied; P_i is one shift further away.
        if shift[i][lane] > 0 {
            factor *= pow2_neg(shift[i][lane]);
        }
        let pl = pbuf[i][lane] * factor;
        for j in 0..BLOCK {
            v[j] += u[j];
            u[j] += pl * rows[i][j];
        }
    }
    (u, v, factor)
}

/// The binary exponent of a normal positive `x` above 1 (`x ∈ [2^e, 2^{e+1})`).
#[inline(always)]
fn exponent(x: f64) -> u64 {
    ((x.to_bits() >> 52) & 0x7ff) - 1023
}

/// `2^{−e}` for `0 ≤ e ≤ 1022` (exact).
#[inline(always)]
fn pow2_neg(e: u64) -> f64 {
    f64::from_bits((1023 - e) << 52)
}

/// `(hi, lo)` with `hi + lo = a·b` exactly (Dekker; no FMA in the baseline target). Needs
/// `|a|, |b| < 2^{996}`.
#[inline(always)]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    const SPLIT: f64 = 134_217_729.0; // 2^27 + 1
    let split = |v: f64| {
        let c = SPLIT * v;
        let hi = c - (c - v);
        (hi, v - hi)
    };
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
}

/// The square of the double-double `hi + lo`, renormalised.
#[inline(always)]
fn dd_square((hi, lo): (f64, f64)) -> (f64, f64) {
    let (p, e) = two_prod(hi, hi);
    let e = e + 2.0 * hi * lo;
    let s = p + e;
    (s, e - (s - p))
}

/// Per-lane head sums.
struct HeadSums<const L: usize> {
    s0: [f64; L],
    s1: [f64; L],
    p: [f64; L],
}

/// `A_n = Σ_{j=1}^{n} x^j`, `B_n = Σ_{j=1}^{n} j·x^j`, `X_n = x^n`.
#[derive(Clone, Copy, Debug)]
struct Geometric {
    a: f64,
    b: f64,
    x: f64,
}

/// [`Geometric`] for `n` by binary doubling from the most significant bit:
/// ```text
/// (A, B, X)_{2k}   = (A_k·(1 + X_k),  B_k·(1 + X_k) + (k·X_k)·A_k,  X_k²)
/// (A, B, X)_{k+1}  = (A_k + X_k·x,    B_k + (k+1)·X_k·x,        X_k·x)
/// ```
#[inline]
fn geometric(x: f64, n: u32) -> Geometric {
    let (mut a, mut b, mut xn, mut k) = (0.0_f64, 0.0_f64, 1.0_f64, 0.0_f64);
    let bits = u32::BITS - n.leading_zeros();
    for i in (0..bits).rev() {
        let grow = 1.0 + xn;
        b = b * grow + (k * xn) * a;
        a *= grow;
        xn *= xn;
        k += k;
        if (n >> i) & 1 == 1 {
            xn *= x;
            k += 1.0;
            a += xn;
            b += k * xn;
        }
    }
    Geometric { a, b, x: xn }
}

/// The state-by-state evaluation (the pre-speed-up algorithm, bit for bit): used when the
/// fast path's range conditions fail, and as the property tests' reference.
///
/// ```text
/// p_0 = 1;  p_{k+1} = p_k·(λ·(1/μ(min(k+1, N))));  normalise
/// ```
/// Unnormalised terms are rescaled by `1e250` before they overflow. `mu(B)` gives `μ(B)`,
/// `B = 1..=n` (`n ≥ 1`, positive finite rates).
pub(crate) fn solve_chain_sequential(
    lambda: f64,
    n: u32,
    mu: impl Fn(u32) -> f64,
    queue: usize,
) -> ChainStats {
    let mut p = 1.0_f64;
    let mut s0 = 1.0_f64; // Σ p_k
    let mut s1 = 0.0_f64; // Σ k·p_k
    let mut before = 0.0_f64; // Σ p_k over all states but the last one added
    for k in 1..=n {
        p *= lambda * (1.0 / mu(k));
        if p > BIG {
            p /= BIG;
            s0 /= BIG;
            s1 /= BIG;
        }
        before = s0;
        s0 += p;
        s1 += f64::from(k) * p;
    }
    let s0_serv = s0;
    let s1_serv = s1;
    // Scale applied to the in-service sums after the first N states (powers of BIG).
    let mut serv_scale = 1.0_f64;
    let ratio = lambda * (1.0 / mu(n));
    let mut kk = f64::from(n);
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
    let nn = f64::from(n);
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

    fn seq(lambda: f64, mu: &[f64], queue: usize) -> ChainStats {
        let n = u32::try_from(mu.len()).unwrap();
        solve_chain_sequential(lambda, n, |b| mu[b as usize - 1], queue)
    }

    fn rates(mu: &[f64]) -> impl Fn(u32) -> f64 + '_ {
        |b| mu[b as usize - 1]
    }

    fn table(mu: &[f64], queue: u32) -> ChainTable {
        let mut t = ChainTable::empty();
        t.fill(mu, queue);
        t
    }

    #[test]
    fn constants_are_powers_of_two() {
        assert_eq!(RESCALE_AT.to_bits(), 2.0_f64.powi(256).to_bits());
        assert_eq!(X_MIN.to_bits(), 2.0_f64.powi(-64).to_bits());
        assert_eq!(X_MAX.to_bits(), 2.0_f64.powi(32).to_bits());
        assert_eq!(L_MIN.to_bits(), 2.0_f64.powi(-200).to_bits());
        assert_eq!(L_MAX.to_bits(), 2.0_f64.powi(200).to_bits());
        assert_eq!(SPLIT_MIN.to_bits(), 2.0_f64.powi(-900).to_bits());
        assert_eq!(SPLIT_MAX.to_bits(), 2.0_f64.powi(900).to_bits());
        assert_eq!(pow2_neg(300).to_bits(), 2.0_f64.powi(-300).to_bits());
        assert_eq!(exponent(3.0 * 2.0_f64.powi(300)), 301);
    }

    #[test]
    fn mm1k_closed_form() {
        // Constant μ, N = 1: M/M/1/K with ρ = 0.5, K = 4.
        for s in [
            seq(0.5, &[1.0], 3),
            table(&[1.0], 3).solve(0.5, &rates(&[1.0])),
        ] {
            let rho: f64 = 0.5;
            let norm: f64 = (0..=4).map(|k| rho.powi(k)).sum();
            let ex: f64 = (0..=4).map(|k| f64::from(k) * rho.powi(k)).sum::<f64>() / norm;
            assert_relative_eq!(s.in_system, ex, max_relative = 1e-14);
            assert_relative_eq!(s.p_full, rho.powi(4) / norm, max_relative = 1e-14);
            assert_relative_eq!(s.in_service, 1.0 - 1.0 / norm, max_relative = 1e-14);
            assert_relative_eq!(s.accepted, 1.0 - rho.powi(4) / norm, max_relative = 1e-14);
        }
    }

    #[test]
    fn heavy_overload_does_not_overflow() {
        let s = seq(1e6, &[1.0, 0.5], 2000);
        assert!(s.in_system.is_finite() && s.p_full.is_finite());
        assert_relative_eq!(s.p_full, 1.0, max_relative = 1e-5);
        assert_relative_eq!(s.in_service, 2.0, max_relative = 1e-9);
    }

    #[test]
    fn geometric_doubling_matches_direct_sums() {
        for &x in &[0.3, 0.999, 1.0, 1.0 + 1e-9, 1.7] {
            for n in [0_u32, 1, 2, 3, 7, 8, 255, 256, 1000] {
                let g = geometric(x, n);
                let (mut a, mut b, mut xn) = (0.0, 0.0, 1.0);
                for j in 1..=n {
                    xn *= x;
                    a += xn;
                    b += f64::from(j) * xn;
                }
                assert_relative_eq!(g.a, a, max_relative = 1e-13, epsilon = 1e-300);
                assert_relative_eq!(g.b, b, max_relative = 1e-13, epsilon = 1e-300);
                assert_relative_eq!(g.x, xn, max_relative = 1e-13);
            }
        }
    }

    /// Fast and sequential agree on rising, falling and peaked rate tables across light load,
    /// x ≈ 1, overload (both tail branches) and queue sizes 0..600.
    #[test]
    fn fast_matches_sequential() {
        let shapes: [fn(usize) -> f64; 3] = [
            |b| b as f64 / (1000.0 + 30.0 * b as f64),
            |b| 1.0 / (50.0 + b as f64),
            |b| (1.0 + ((b as f64) * 0.7).sin().abs()) * 0.01,
        ];
        for shape in shapes {
            // 600: more than one chunk of 32 blocks.
            for n in [1_usize, 2, 7, 8, 9, 16, 100, 256, 600] {
                let mu: Vec<f64> = (1..=n).map(shape).collect();
                for queue in [0_u32, 1, 5, 256, 600] {
                    let t = table(&mu, queue);
                    assert!(t.fast);
                    // 50 and 1e6 drive p past 2^256 within the head: rescaling events.
                    for f in [1e-6, 0.01, 0.5, 0.999, 1.0, 1.001, 1.5, 3.0, 50.0, 1e6] {
                        let lambda = f * mu[n - 1];
                        let a = t.solve(lambda, &rates(&mu));
                        let b = seq(lambda, &mu, queue as usize);
                        for (x, y) in [
                            (a.in_system, b.in_system),
                            (a.in_service, b.in_service),
                            (a.accepted, b.accepted),
                        ] {
                            assert_relative_eq!(x, y, max_relative = 1e-13);
                        }
                        assert_relative_eq!(
                            a.p_full,
                            b.p_full,
                            max_relative = 1e-13,
                            epsilon = 1e-300
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn lanes_equal_single_bit_for_bit() {
        let mu: Vec<f64> = (1..=77)
            .map(|b| b as f64 / (900.0 + 11.0 * b as f64))
            .collect();
        let t = table(&mu, 130);
        let top = mu[76];
        // The third lane is outside the fast range (x > 2^32): lanes go one by one.
        for lambdas in [
            [0.2 * top, 0.9 * top, 1.3 * top, 40.0 * top],
            [0.2 * top, 0.9 * top, 1e12 * top, 40.0 * top],
        ] {
            let four = t.solve_lanes(lambdas, &rates(&mu));
            for (l, s) in lambdas.iter().zip(four) {
                let one = t.solve(*l, &rates(&mu));
                assert_eq!(format!("{one:?}"), format!("{s:?}"));
                assert_eq!(one.in_system.to_bits(), s.in_system.to_bits());
            }
        }
    }
}
