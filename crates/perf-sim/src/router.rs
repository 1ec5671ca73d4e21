//! Routers: which replica a new request goes to (specs/simulator.md §6).

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

use crate::config::RouterKind;
use crate::replica::Replica;

/// A router with its state (round-robin cursor, tie rotation, random stream).
#[derive(Debug)]
pub(crate) struct Router {
    kind: RouterKind,
    cursor: usize,
    rng: Xoshiro256PlusPlus,
}

impl Router {
    pub fn new(kind: RouterKind, rng: Xoshiro256PlusPlus) -> Self {
        Self {
            kind,
            cursor: 0,
            rng,
        }
    }

    /// The replica for the next request. Ties rotate: the scan starts one past the last choice.
    pub fn pick(&mut self, replicas: &[Replica]) -> usize {
        let n = replicas.len();
        if n <= 1 {
            return 0;
        }
        let choice = match self.kind {
            RouterKind::RoundRobin => self.cursor % n,
            RouterKind::Random => self.rng.random_range(0..n),
            RouterKind::LeastOutstandingRequests => {
                self.argmin(n, |i| replicas[i].engine.outstanding() as f64)
            }
            RouterKind::LeastKvUsage => self.argmin(n, |i| {
                let p = replicas[i].engine.kv_blocks();
                #[allow(clippy::cast_precision_loss)]
                let u = p.used as f64 / p.total as f64;
                u
            }),
        };
        self.cursor = choice + 1;
        choice
    }

    fn argmin(&self, n: usize, key: impl Fn(usize) -> f64) -> usize {
        let mut best = self.cursor % n;
        let mut best_key = key(best);
        for off in 1..n {
            let i = (self.cursor + off) % n;
            let k = key(i);
            if k < best_key {
                best = i;
                best_key = k;
            }
        }
        best
    }
}
