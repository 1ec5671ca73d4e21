//! Streaming statistics with flat memory: exact count, mean, min and max, and percentiles from
//! a log-bucketed histogram (a fixed-size quantile sketch).
//!
//! Values are latencies in integer nanoseconds. Bucket `i ≥ 1` holds `[γ^(i−1), γ^i)` ns with
//! `γ = 1.002` (bucket 0 holds 0); a percentile reports the bucket's point
//! `2γ^i/(1+γ)`, whose relative error is at most `(γ−1)/(γ+1) ≈ 0.1 %`. Percentiles use
//! linear interpolation between the order statistics `⌊h⌋` and `⌈h⌉`, `h = (n−1)·p`
//! (numpy's default), each read from the sketch.
//!
//! Speed (a tuner runs thousands of simulations, each with several sketches): the bucket
//! counts are kept only over the window of buckets seen so far (latencies of one metric span a
//! few thousand buckets of the 20 800, so a sketch starts small and its percentiles scan
//! little), and the four percentiles are read in one pass.

use serde::{Deserialize, Serialize};

const GAMMA: f64 = 1.002;
/// Buckets cover 1 ns … ~10⁶ s.
const BUCKETS: usize = 20_800;
/// Buckets added on either side when the window grows, so a metric's spread costs few moves.
const WINDOW_MARGIN: usize = 256;

/// Summary statistics of one latency metric, ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of samples.
    pub count: u64,
    /// Exact mean, ms (0 when empty).
    pub mean: f64,
    /// Exact minimum, ms.
    pub min: f64,
    /// Exact maximum, ms.
    pub max: f64,
    /// Median, ms (sketch, ≤ 0.1 % relative error).
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 95th percentile, ms.
    pub p95: f64,
    /// 99th percentile, ms.
    pub p99: f64,
}

/// The bucket of `ns`: `⌊ln(ns)/ln γ⌋ + 1` (0 for 0), capped at the last bucket
/// (`inv_ln_gamma` = `1/ln γ`).
#[inline]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn bucket_of(ns: u64, inv_ln_gamma: f64) -> usize {
    if ns == 0 {
        return 0;
    }
    let i = ((ns as f64).ln() * inv_ln_gamma) as usize + 1;
    i.min(BUCKETS - 1)
}

/// An accumulator for one metric.
#[derive(Clone, Debug)]
pub struct Sketch {
    /// Counts of buckets `lo .. lo + counts.len()` (the window seen so far).
    counts: Vec<u64>,
    lo: usize,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
    inv_ln_gamma: f64,
    /// Whether samples go into the histogram (else only count, sum, min and max are kept).
    percentiles: bool,
}

impl Default for Sketch {
    fn default() -> Self {
        Self::new()
    }
}

impl Sketch {
    /// An empty sketch.
    #[must_use]
    pub fn new() -> Self {
        Self {
            counts: Vec::new(),
            lo: 0,
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            inv_ln_gamma: 1.0 / GAMMA.ln(),
            percentiles: true,
        }
    }

    /// An empty sketch keeping only count, mean, min and max: its percentiles read 0 (a
    /// sample then costs a few additions instead of a logarithm and a histogram update).
    #[must_use]
    pub fn without_percentiles() -> Self {
        Self {
            percentiles: false,
            ..Self::new()
        }
    }

    /// Widens the window to hold buckets `lo..hi` (and a margin either side).
    fn widen(&mut self, lo: usize, hi: usize) {
        let (old_lo, old_hi) = (self.lo, self.lo + self.counts.len());
        let (new_lo, new_hi) = if self.counts.is_empty() {
            (
                lo.saturating_sub(WINDOW_MARGIN),
                (hi + WINDOW_MARGIN).min(BUCKETS),
            )
        } else {
            (
                if lo < old_lo {
                    lo.saturating_sub(WINDOW_MARGIN)
                } else {
                    old_lo
                },
                if hi > old_hi {
                    (hi + WINDOW_MARGIN).min(BUCKETS)
                } else {
                    old_hi
                },
            )
        };
        let mut counts = vec![0; new_hi - new_lo];
        if !self.counts.is_empty() {
            counts[old_lo - new_lo..old_hi - new_lo].copy_from_slice(&self.counts);
        }
        self.counts = counts;
        self.lo = new_lo;
    }

    /// Adds `times` samples of `ns` nanoseconds.
    #[inline]
    pub fn add_n(&mut self, ns: u64, times: u64) {
        if times == 0 {
            return;
        }
        if self.percentiles {
            let b = bucket_of(ns, self.inv_ln_gamma);
            let mut i = b.wrapping_sub(self.lo);
            if i >= self.counts.len() {
                self.widen(b, b + 1);
                i = b - self.lo;
            }
            self.counts[i] += times;
        }
        self.count += times;
        self.sum_ns += u128::from(ns) * u128::from(times);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds one sample of `ns` nanoseconds.
    #[inline]
    pub fn add(&mut self, ns: u64) {
        self.add_n(ns, 1);
    }

    /// Number of samples.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds every sample of `other` (exactly as if they had been added here).
    pub(crate) fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        self.percentiles &= other.percentiles;
        if self.percentiles {
            self.widen(other.lo, other.lo + other.counts.len());
            let at = other.lo - self.lo;
            for (a, b) in self.counts[at..].iter_mut().zip(&other.counts) {
                *a += b;
            }
        }
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    #[allow(clippy::cast_precision_loss)]
    fn value_of_bucket(&self, b: usize) -> f64 {
        if b == 0 {
            return 0.0;
        }
        let hi = GAMMA.powi(i32::try_from(b).unwrap_or(i32::MAX));
        let v = 2.0 * hi / (1.0 + GAMMA);
        v.clamp(self.min_ns as f64, self.max_ns as f64)
    }

    /// Values of the order statistics of ranks `ranks` (0-based, non-decreasing), ns, in one
    /// pass over the buckets.
    fn order_stats<const N: usize>(&self, ranks: [u64; N]) -> [f64; N] {
        #[allow(clippy::cast_precision_loss)]
        let mut out = [self.max_ns as f64; N];
        let mut k = 0;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            seen += c;
            if seen > ranks[k] {
                let v = self.value_of_bucket(self.lo + i);
                while k < N && seen > ranks[k] {
                    out[k] = v;
                    k += 1;
                }
                if k == N {
                    break;
                }
            }
        }
        out
    }

    /// Percentile `p` in [0, 1], ns (numpy linear interpolation); 0 for a sketch
    /// [`Sketch::without_percentiles`].
    #[must_use]
    pub fn quantile_ns(&self, p: f64) -> f64 {
        if self.count == 0 || !self.percentiles {
            return 0.0;
        }
        let (h, lo, hi) = self.ranks_of(p);
        let [a, b] = self.order_stats([lo, hi]);
        interpolate(h, a, b)
    }

    /// `h = (n−1)·p` and its two order statistics' ranks `⌊h⌋`, `⌈h⌉`.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    fn ranks_of(&self, p: f64) -> (f64, u64, u64) {
        let h = (self.count - 1) as f64 * p.clamp(0.0, 1.0);
        (h, h.floor() as u64, h.ceil() as u64)
    }

    /// The summary, converted to ms.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn stats_ms(&self) -> Stats {
        if self.count == 0 {
            return Stats::default();
        }
        let ms = 1e-6;
        let mean = self.sum_ns as f64 / self.count as f64 * ms;
        if !self.percentiles {
            return Stats {
                count: self.count,
                mean,
                min: self.min_ns as f64 * ms,
                max: self.max_ns as f64 * ms,
                ..Stats::default()
            };
        }
        let ps = [0.50, 0.90, 0.95, 0.99];
        let r = ps.map(|p| self.ranks_of(p));
        let v = self.order_stats([
            r[0].1, r[0].2, r[1].1, r[1].2, r[2].1, r[2].2, r[3].1, r[3].2,
        ]);
        let q = |i: usize| interpolate(r[i].0, v[2 * i], v[2 * i + 1]) * ms;
        Stats {
            count: self.count,
            mean,
            min: self.min_ns as f64 * ms,
            max: self.max_ns as f64 * ms,
            p50: q(0),
            p90: q(1),
            p95: q(2),
            p99: q(3),
        }
    }
}

/// numpy's linear interpolation between the order statistics `a` (rank `⌊h⌋`) and `b`.
fn interpolate(h: f64, a: f64, b: f64) -> f64 {
    a + (h - h.floor()) * (b - a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_a_tenth_of_a_percent() {
        let mut s = Sketch::new();
        for i in 1..=10_000u64 {
            s.add(i * 1_000_000);
        }
        let st = s.stats_ms();
        assert_eq!(st.count, 10_000);
        assert!((st.mean - 5000.5).abs() < 1e-9);
        for (got, want) in [(st.p50, 5000.5), (st.p90, 9000.1), (st.p99, 9900.01)] {
            assert!((got / want - 1.0).abs() < 1e-3, "{got} vs {want}");
        }
        assert!((st.max - 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn single_value_is_exact() {
        let mut s = Sketch::new();
        s.add_n(12_345_678, 3);
        let st = s.stats_ms();
        assert!((st.p50 - 12.345_678).abs() < 1e-12);
        assert!((st.p99 - 12.345_678).abs() < 1e-12);
    }

    /// A deterministic stream of values spread over many decades.
    fn values(seed: u64, n: usize, max_bits: u32) -> Vec<u64> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let bits = rng.random_range(1..=max_bits);
                rng.random::<u64>() >> (64 - bits)
            })
            .collect()
    }

    /// The percentiles as the sketch defines them, from every bucket of the whole range.
    fn reference_quantile(samples: &[u64], p: f64) -> f64 {
        let mut counts = vec![0u64; BUCKETS];
        for &ns in samples {
            counts[bucket_of(ns, 1.0 / GAMMA.ln())] += 1;
        }
        let (min, max) = (samples.iter().min().unwrap(), samples.iter().max().unwrap());
        let stat = |r: u64| {
            let mut seen = 0;
            for (b, &c) in counts.iter().enumerate() {
                seen += c;
                if seen > r {
                    if b == 0 {
                        return 0.0;
                    }
                    let v = 2.0 * GAMMA.powi(b as i32) / (1.0 + GAMMA);
                    return v.clamp(*min as f64, *max as f64);
                }
            }
            *max as f64
        };
        let h = (samples.len() - 1) as f64 * p;
        let (a, b) = (stat(h.floor() as u64), stat(h.ceil() as u64));
        a + (h - h.floor()) * (b - a)
    }

    #[test]
    #[allow(clippy::float_cmp)]
    fn windowed_one_pass_percentiles_match_the_full_histogram() {
        for (seed, bits) in [(1, 12), (2, 25), (3, 40), (4, 60)] {
            let v = values(seed, 5_000, bits);
            // Added in two halves merged together, the second half first, so the window grows
            // on both sides.
            let (a, b) = v.split_at(2_500);
            let (mut sa, mut sb) = (Sketch::new(), Sketch::new());
            b.iter().for_each(|&x| sb.add(x));
            a.iter().for_each(|&x| sa.add(x));
            sb.merge(&sa);
            let st = sb.stats_ms();
            assert_eq!(st.count, 5_000);
            for (got, p) in [(st.p50, 0.5), (st.p90, 0.9), (st.p95, 0.95), (st.p99, 0.99)] {
                assert_eq!(got, reference_quantile(&v, p) * 1e-6, "seed {seed} p {p}");
                assert_eq!(
                    sb.quantile_ns(p),
                    reference_quantile(&v, p),
                    "seed {seed} p {p}"
                );
            }
        }
    }

    #[test]
    #[allow(clippy::float_cmp)]
    fn without_percentiles_keeps_the_exact_figures_only() {
        let (mut full, mut lean) = (Sketch::new(), Sketch::without_percentiles());
        for v in values(9, 1_000, 30) {
            full.add(v);
            lean.add_n(v, 2);
            lean.add_n(v, 0);
        }
        let (f, l) = (full.stats_ms(), lean.stats_ms());
        assert_eq!(
            (l.count, l.mean, l.min, l.max),
            (2 * f.count, f.mean, f.min, f.max)
        );
        assert_eq!((l.p50, l.p90, l.p95, l.p99), (0.0, 0.0, 0.0, 0.0));
        assert!(f.p50 > 0.0);
        assert_eq!(lean.quantile_ns(0.5), 0.0);
        // Merged into a full sketch, the result has none either.
        full.merge(&lean);
        assert_eq!(full.stats_ms().p99, 0.0);
    }
}
