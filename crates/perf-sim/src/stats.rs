//! Streaming statistics with flat memory: exact count, mean, min and max, and percentiles from
//! a log-bucketed histogram (a fixed-size quantile sketch).
//!
//! Values are latencies in integer nanoseconds. Bucket `i ≥ 1` holds `[γ^(i−1), γ^i)` ns with
//! `γ = 1.002` (bucket 0 holds 0); a percentile reports the bucket's point
//! `2γ^i/(1+γ)`, whose relative error is at most `(γ−1)/(γ+1) ≈ 0.1 %`. Percentiles use
//! linear interpolation between the order statistics `⌊h⌋` and `⌈h⌉`, `h = (n−1)·p`
//! (numpy's default), each read from the sketch.

use serde::{Deserialize, Serialize};

const GAMMA: f64 = 1.002;
/// Buckets cover 1 ns … ~10⁶ s.
const BUCKETS: usize = 20_800;

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

/// An accumulator for one metric.
#[derive(Clone, Debug)]
pub struct Sketch {
    counts: Vec<u64>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
    inv_ln_gamma: f64,
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
            counts: vec![0; BUCKETS],
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            inv_ln_gamma: 1.0 / GAMMA.ln(),
        }
    }

    #[inline]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    fn bucket(&self, ns: u64) -> usize {
        if ns == 0 {
            return 0;
        }
        let i = ((ns as f64).ln() * self.inv_ln_gamma) as usize + 1;
        i.min(BUCKETS - 1)
    }

    /// Adds `times` samples of `ns` nanoseconds.
    #[inline]
    pub fn add_n(&mut self, ns: u64, times: u64) {
        if times == 0 {
            return;
        }
        let b = self.bucket(ns);
        self.counts[b] += times;
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
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
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

    /// Value of the order statistic of rank `r` (0-based), ns.
    fn order_stat(&self, r: u64) -> f64 {
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen > r {
                return self.value_of_bucket(b);
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let m = self.max_ns as f64;
        m
    }

    /// Percentile `p` in [0, 1], ns (numpy linear interpolation).
    #[must_use]
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    pub fn quantile_ns(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let h = (self.count - 1) as f64 * p.clamp(0.0, 1.0);
        let lo = h.floor();
        let a = self.order_stat(lo as u64);
        let b = self.order_stat(h.ceil() as u64);
        a + (h - lo) * (b - a)
    }

    /// The summary, converted to ms.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn stats_ms(&self) -> Stats {
        if self.count == 0 {
            return Stats::default();
        }
        let ms = 1e-6;
        Stats {
            count: self.count,
            mean: self.sum_ns as f64 / self.count as f64 * ms,
            min: self.min_ns as f64 * ms,
            max: self.max_ns as f64 * ms,
            p50: self.quantile_ns(0.50) * ms,
            p90: self.quantile_ns(0.90) * ms,
            p95: self.quantile_ns(0.95) * ms,
            p99: self.quantile_ns(0.99) * ms,
        }
    }
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
}
