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
    /// `weighted_random`: cumulative replica weights (empty: all equal).
    cumulative: Vec<f64>,
    /// `session_affinity`: per conversation (index = session id), its replica + 1 (0: none yet).
    sessions: Vec<u32>,
}

impl Router {
    pub fn new(kind: RouterKind, rng: Xoshiro256PlusPlus) -> Self {
        Self {
            kind,
            cursor: 0,
            rng,
            cumulative: Vec::new(),
            sessions: Vec::new(),
        }
    }

    /// Sets the replicas' weights for `weighted_random` (finite, ≥ 0, one > 0; one per
    /// replica it picks among).
    pub fn with_weights(mut self, weights: &[f64]) -> Self {
        let mut acc = 0.0;
        self.cumulative = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        self
    }

    /// `weighted_random`: a replica with probability proportional to its weight.
    fn weighted(&mut self, n: usize) -> usize {
        let Some(&total) = self.cumulative.last() else {
            return self.rng.random_range(0..n);
        };
        let u = self.rng.random::<f64>() * total;
        // The first replica whose cumulative weight exceeds u (a zero weight is never picked).
        let i = self.cumulative.partition_point(|&c| c <= u);
        i.min(n - 1)
    }

    /// The replica for the next request, of conversation `session` (0: none). Ties rotate:
    /// the scan starts one past the last choice.
    #[inline]
    pub fn pick(&mut self, replicas: &[Replica], session: u32) -> usize {
        let n = replicas.len();
        if n <= 1 {
            return 0;
        }
        let choice = match self.kind {
            RouterKind::SessionAffinity => return self.affine(replicas, session),
            RouterKind::RoundRobin => self.cursor % n,
            RouterKind::Random => self.rng.random_range(0..n),
            RouterKind::WeightedRandom => self.weighted(n),
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

    /// `session_affinity`: a conversation's later turns go where its first turn went (their
    /// prompts extend its KV, which that replica's prefix cache may still hold); a first turn
    /// or a lone request goes to the replica with the fewest outstanding requests.
    fn affine(&mut self, replicas: &[Replica], session: u32) -> usize {
        let n = replicas.len();
        let slot = session as usize;
        if session != 0
            && let Some(&r) = self.sessions.get(slot)
            && r != 0
            && (r as usize) <= n
        {
            return r as usize - 1;
        }
        let choice = self.argmin(n, |i| replicas[i].engine.outstanding() as f64);
        self.cursor = choice + 1;
        if session != 0 {
            if self.sessions.len() <= slot {
                self.sessions.resize(slot + 1, 0);
            }
            self.sessions[slot] = u32::try_from(choice + 1).unwrap_or(0);
        }
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
