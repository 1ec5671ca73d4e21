//! When lazy decoders finish: a timing wheel of engine steps.
//!
//! A lazy decoder finishes at a step known when it becomes lazy (`crate::decoders`), almost
//! always within a few hundred steps, and the steps are visited one by one. A wheel of
//! `WHEEL` buckets, one per step of the coming window, makes adding and taking a completion
//! O(1) (a binary heap of the same entries cost a sift of its depth with unpredictable
//! branches at each); the rare completion beyond the window waits in a heap and joins the
//! wheel once the window reaches it.

use crate::min_heap::MinHeap;

/// Buckets (steps) of the wheel's window; a power of two.
const WHEEL: usize = 1024;
const MASK: u64 = WHEEL as u64 - 1;

/// Lazy decoders' slots keyed by completion step; within a step they come out by `run_seq`.
#[derive(Debug)]
pub(crate) struct CompletionWheel {
    /// `buckets[s mod WHEEL]`: `(run_seq, slot)` completing at step `s`, for `s` in
    /// `[now, now + WHEEL)`.
    buckets: Vec<Vec<(u64, u32)>>,
    /// Completions at `now + WHEEL` or later, keyed by `(step, run_seq)`.
    far: MinHeap,
    /// The earliest step a completion can still be at (the next step taken).
    now: u64,
    len: usize,
}

impl Default for CompletionWheel {
    fn default() -> Self {
        Self {
            buckets: vec![Vec::new(); WHEEL],
            far: MinHeap::default(),
            now: 0,
            len: 0,
        }
    }
}

impl CompletionWheel {
    /// Adds `slot` (ordered by `run_seq`, unique among them) completing at `step ≥ now`.
    #[inline]
    pub fn add(&mut self, step: u64, run_seq: u64, slot: u32) {
        debug_assert!(step >= self.now);
        self.len += 1;
        if step - self.now < WHEEL as u64 {
            self.buckets[(step & MASK) as usize].push((run_seq, slot));
        } else {
            self.far
                .push((u128::from(step) << 64) | u128::from(run_seq), slot);
        }
    }

    /// Appends to `out` the slots completing at step `t` (steps are taken in order, each
    /// once: `t` ≥ every step taken before), in `run_seq` order, and removes them.
    #[inline]
    pub fn take(&mut self, t: u64, out: &mut Vec<u32>) {
        debug_assert!(t >= self.now);
        self.now = t;
        // Far completions the window now reaches join their buckets.
        while let Some((key, slot)) = self.far.peek() {
            #[allow(clippy::cast_possible_truncation)]
            let (step, run_seq) = ((key >> 64) as u64, key as u64);
            if step - t >= WHEEL as u64 {
                break;
            }
            self.far.pop();
            self.buckets[(step & MASK) as usize].push((run_seq, slot));
        }
        let bucket = &mut self.buckets[(t & MASK) as usize];
        if bucket.is_empty() {
            return;
        }
        if bucket.len() > 1 {
            bucket.sort_unstable_by_key(|&(run_seq, _)| run_seq);
        }
        self.len -= bucket.len();
        out.extend(bucket.drain(..).map(|(_, slot)| slot));
    }

    /// Every slot, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets
            .iter()
            .flatten()
            .map(|&(_, slot)| slot)
            .chain(self.far.iter().map(|(_, slot)| slot))
    }

    /// Removes every entry, appending its slot to `out` (in no particular order).
    pub fn drain_into(&mut self, out: &mut Vec<u32>) {
        if self.len == 0 {
            return;
        }
        for b in &mut self.buckets {
            out.extend(b.drain(..).map(|(_, slot)| slot));
        }
        out.extend(self.far.drain().map(|(_, slot)| slot));
        self.len = 0;
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Takes what a `(step, run_seq)` heap would pop step by step, with completions near and
    /// far beyond the window, added as the steps go.
    #[test]
    fn takes_each_step_in_run_seq_order_as_a_heap_would() {
        let mut wheel = CompletionWheel::default();
        let mut heap = BinaryHeap::new();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(3);
        let mut next = || rng.random::<u64>() >> 24;
        let mut run_seq = 0u64;
        let mut out = Vec::new();
        let mut taken = 0;
        for t in 0..20_000u64 {
            for _ in 0..next() % 4 {
                // Mostly short, some beyond the window.
                let ahead = if next() % 10 == 0 {
                    next() % 5000
                } else {
                    next() % 300
                };
                run_seq += 1 + next() % 3;
                let slot = (next() % 100_000) as u32;
                wheel.add(t + ahead, run_seq, slot);
                heap.push(Reverse((t + ahead, run_seq, slot)));
            }
            out.clear();
            wheel.take(t, &mut out);
            let mut want = Vec::new();
            while let Some(&Reverse((s, _, slot))) = heap.peek() {
                if s != t {
                    break;
                }
                heap.pop();
                want.push(slot);
            }
            assert_eq!(out, want, "step {t}");
            taken += out.len();
            assert_eq!(wheel.len(), heap.len());
        }
        assert!(taken > 10_000);
        let mut rest: Vec<u32> = wheel.slots().collect();
        let mut drained = Vec::new();
        wheel.drain_into(&mut drained);
        rest.sort_unstable();
        drained.sort_unstable();
        let mut want: Vec<u32> = heap.into_iter().map(|Reverse((_, _, s))| s).collect();
        want.sort_unstable();
        assert_eq!((rest, drained.clone()), (want.clone(), want));
        assert_eq!(wheel.len(), 0);
    }
}
