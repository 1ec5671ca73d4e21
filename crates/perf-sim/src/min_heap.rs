//! A binary min-heap of `u128` keys with a `u32` payload each: what the event queue and the
//! lazy decoders' completion order need, without `BinaryHeap`'s generic tuple comparisons
//! (a packed key compares in one instruction pair, an entry moves as two words).

/// One entry: its key (the order) and payload.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u128,
    payload: u32,
}

/// A min-heap of `(key, payload)`; equal keys pop in an unspecified order, so callers make
/// keys unique when the order of ties matters.
#[derive(Clone, Debug, Default)]
pub(crate) struct MinHeap {
    entries: Vec<Entry>,
}

impl MinHeap {
    /// Adds `payload` under `key`.
    #[inline]
    pub fn push(&mut self, key: u128, payload: u32) {
        // Sift up with a hole: parents move down until the new key's place is found.
        let mut i = self.entries.len();
        self.entries.push(Entry { key, payload });
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.entries[parent].key <= key {
                break;
            }
            self.entries[i] = self.entries[parent];
            i = parent;
        }
        self.entries[i] = Entry { key, payload };
    }

    /// The smallest key and its payload.
    #[inline]
    pub fn peek(&self) -> Option<(u128, u32)> {
        self.entries.first().map(|e| (e.key, e.payload))
    }

    /// Removes and returns the smallest key and its payload.
    #[inline]
    pub fn pop(&mut self) -> Option<(u128, u32)> {
        let last = self.entries.pop()?;
        let Some(top) = self.entries.first().copied() else {
            return Some((last.key, last.payload));
        };
        // Sift the last entry down from the root with a hole.
        let n = self.entries.len();
        let mut i = 0;
        loop {
            let mut child = 2 * i + 1;
            if child >= n {
                break;
            }
            if child + 1 < n && self.entries[child + 1].key < self.entries[child].key {
                child += 1;
            }
            if self.entries[child].key >= last.key {
                break;
            }
            self.entries[i] = self.entries[child];
            i = child;
        }
        self.entries[i] = last;
        Some((top.key, top.payload))
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every `(key, payload)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u128, u32)> + '_ {
        self.entries.iter().map(|e| (e.key, e.payload))
    }

    /// Removes every entry, returning them in no particular order.
    pub fn drain(&mut self) -> impl Iterator<Item = (u128, u32)> + '_ {
        self.entries.drain(..).map(|e| (e.key, e.payload))
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Pops in the order of a `BinaryHeap` of `Reverse(key)` (unique keys), pushes and pops
    /// interleaved.
    #[test]
    fn pops_in_key_order() {
        let mut heap = MinHeap::default();
        let mut reference = BinaryHeap::new();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(99);
        let mut next = || rng.random::<u64>() >> 20;
        for n in 0..40_000u64 {
            if next() % 3 == 0 {
                assert_eq!(heap.pop(), reference.pop().map(|Reverse(p)| p));
            } else {
                // Unique keys: a random high part, the push count low.
                let key = (u128::from(next() % 100) << 64) | u128::from(n);
                let payload = (n % 1000) as u32;
                heap.push(key, payload);
                reference.push(Reverse((key, payload)));
            }
            assert_eq!(heap.len(), reference.len());
            assert_eq!(heap.peek(), reference.peek().map(|Reverse(p)| *p));
        }
        let mut rest: Vec<_> = heap.drain().collect();
        rest.sort_unstable();
        let mut want: Vec<_> = reference.into_iter().map(|Reverse(p)| p).collect();
        want.sort_unstable();
        assert_eq!(rest, want);
        assert_eq!(heap.pop(), None);
    }
}
