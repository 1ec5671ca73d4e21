//! The simulator's event queue: a binary min-heap of events ordered by time, then class, then
//! the order they were pushed in.
//!
//! Each event's order is packed into one `u128` key (time in the high 64 bits, the class in the
//! next 8, a push counter in the low 56), so a comparison is one integer compare and a move is
//! two words ([`MinHeap`]): the queue is touched a few times per engine step, which made the
//! generic `BinaryHeap` of tuples a tenth of a tuner's time.

use crate::min_heap::MinHeap;

/// Bits of the key holding the push counter (ties of time and class pop in push order).
const SEQ_BITS: u32 = 56;

/// A min-queue of `(time, class, payload)` events; equal times pop by class, then first in,
/// first out.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: MinHeap,
    pushed: u64,
}

impl EventQueue {
    /// Adds an event at `time` (ns) of `class` carrying `payload`.
    #[inline]
    pub fn push(&mut self, time: u64, class: u8, payload: u32) {
        self.pushed += 1;
        let key = (u128::from(time) << 64)
            | (u128::from(class) << SEQ_BITS)
            | u128::from(self.pushed & ((1 << SEQ_BITS) - 1));
        self.heap.push(key, payload);
    }

    /// Removes and returns the earliest event as `(time, class, payload)`.
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, u8, u32)> {
        self.heap.pop().map(unpack)
    }

    /// Whether an event pushed now at `time` of `class` would be the next to pop (nothing
    /// queued comes before it).
    #[inline]
    pub fn would_be_next(&self, time: u64, class: u8) -> bool {
        self.heap.peek().is_none_or(|top| {
            let (t, c, _) = unpack(top);
            t > time || (t == time && c > class)
        })
    }

    /// Number of queued events.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[inline]
#[allow(clippy::cast_possible_truncation)]
fn unpack((key, payload): (u128, u32)) -> (u64, u8, u32) {
    ((key >> 64) as u64, (key >> SEQ_BITS) as u8, payload)
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Pops in exactly the order of a `BinaryHeap` of `(time, class, seq, payload)` tuples,
    /// pushes and pops interleaved, with many ties.
    #[test]
    fn pops_as_the_tuple_heap_does() {
        let mut q = EventQueue::default();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(12345);
        let mut next = || rng.random::<u64>() >> 33;
        let mut popped = 0;
        for _ in 0..50_000 {
            if next() % 3 != 0 {
                let (time, class, payload) =
                    (next() % 64, (next() % 5) as u8, (next() % 1000) as u32);
                seq += 1;
                q.push(time, class, payload);
                reference.push(Reverse((time, class, seq, payload)));
            } else {
                let want = reference.pop().map(|Reverse((t, c, _, p))| (t, c, p));
                assert_eq!(q.pop(), want);
                popped += 1;
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some(Reverse((t, c, _, p))) = reference.pop() {
            assert_eq!(q.pop(), Some((t, c, p)));
        }
        assert_eq!(q.pop(), None);
        assert!(popped > 10_000);
    }

    #[test]
    fn would_be_next_compares_time_then_class() {
        let mut q = EventQueue::default();
        assert!(q.would_be_next(5, 3));
        q.push(5, 2, 0);
        assert!(q.would_be_next(4, 4));
        assert!(q.would_be_next(5, 1));
        assert!(
            !q.would_be_next(5, 2),
            "same time and class: the queued one is first"
        );
        assert!(!q.would_be_next(5, 3));
        assert!(!q.would_be_next(6, 0));
    }
}
