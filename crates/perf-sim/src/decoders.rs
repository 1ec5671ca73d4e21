//! Decoding requests kept in aggregate (specs/simulator.md §11: "per-request work only at
//! state changes").
//!
//! Once a running request has its prompt computed, every step it takes is the same: one token,
//! one more cached token of context, one new KV block every `block_size` steps, done after a
//! known number of steps. Touching each such request every step is what made the simulator's
//! cost grow with the batch size. A *lazy* decoder instead records its state at the step it
//! became lazy (`sync_step` and its `Req` fields as of then) and the replica keeps only sums:
//!
//! * how many lazy decoders there are (and how many of them are past the warm-up, whose
//!   inter-token gaps are sampled), and Σk (their cached context), as `Σ(k₀ − sync) +
//!   count·t` at step `t`, so a step's [`BatchShape`](perf_model_core::BatchShape) costs O(1);
//! * how many of them need a new block at step `t`: a decoder holding `b₀` blocks over `k₀`
//!   tokens needs one at `sync + (b₀·bs − k₀)` and every `bs` steps after, so the count per
//!   residue `t mod bs` is all the scheduler needs;
//! * a heap of their completion steps (each finishes after `target − generated` more tokens);
//! * the durations of recent steps as a monotone queue, so the longest inter-token gap a
//!   decoder saw over its lazy steps is one binary search when it is materialised.
//!
//! A lazy request is materialised (its `Req` brought up to date) when it completes, and all of
//! them are when the scheduler has to see requests one by one (a KV shortage, a token budget
//! that truncates before the last decoder, the end of the run). Results are identical to
//! touching every request every step; `sim::tests` checks that byte for byte.

use std::collections::VecDeque;

use crate::completion_wheel::CompletionWheel;
use crate::request::Req;

/// Monotone-queue length above which entries no lazy decoder can ask about are pruned.
const GAP_PRUNE_LEN: usize = 4096;

/// The aggregate state of a replica's lazy decoders.
#[derive(Debug)]
pub(crate) struct LazyDecoders {
    block_size: u32,
    count: u32,
    /// Of `count`, the lazy decoders that are `measured` (past the warm-up): those whose
    /// inter-token gaps enter the ITL statistics.
    measured: u32,
    /// Σ (k₀ − sync) over lazy decoders.
    ctx_base: i128,
    /// Lazy decoders needing a new block at steps `t` with `t mod block_size = i`.
    block_phase: Vec<u32>,
    /// Every lazy decoder's slot by completion step, then `run_seq` (unique among running
    /// requests, so the order is total).
    completions: CompletionWheel,
    /// At least the largest `run_seq` of any lazy decoder (not lowered on completion).
    seq_bound: u64,
    /// `(step, duration ns)` of finished steps with strictly decreasing durations: the longest
    /// step at or after step `s` is the first entry with index ≥ `s`.
    gaps: VecDeque<(u64, u64)>,
}

impl LazyDecoders {
    /// No lazy decoders, for KV blocks of `block_size` tokens.
    pub fn new(block_size: u32) -> Self {
        let bs = block_size.max(1);
        Self {
            block_size: bs,
            count: 0,
            measured: 0,
            ctx_base: 0,
            block_phase: vec![0; bs as usize],
            completions: CompletionWheel::default(),
            seq_bound: 0,
            gaps: VecDeque::new(),
        }
    }

    /// Number of lazy decoders.
    #[inline]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Number of lazy decoders that are `measured` (arrived after the warm-up).
    #[inline]
    pub fn measured_count(&self) -> u32 {
        self.measured
    }

    /// An upper bound of the lazy decoders' `run_seq` (0 when there were none).
    #[inline]
    pub fn seq_bound(&self) -> u64 {
        self.seq_bound
    }

    /// Σk of the lazy decoders at step `t` (their cached context when step `t` starts).
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn context_sum(&self, t: u64) -> u64 {
        let s = self.ctx_base + i128::from(self.count) * i128::from(t);
        s.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// New blocks the lazy decoders need at step `t`.
    #[inline]
    pub fn blocks_needed(&self, t: u64) -> u32 {
        self.block_phase[self.phase_index(t)]
    }

    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    fn phase_index(&self, t: u64) -> usize {
        (t % u64::from(self.block_size)) as usize
    }

    /// The block-need residue of `r` (lazy since `r.sync_step`).
    fn phase_of(&self, r: &Req) -> usize {
        let slack = u64::from(r.blocks) * u64::from(self.block_size) - u64::from(r.computed);
        self.phase_index(r.sync_step.saturating_add(slack))
    }

    /// Makes `r` (in `slot`, decoding: `computed + 1 == prompt + generated`, not finished) a
    /// lazy decoder whose next step is `t`.
    pub fn add(&mut self, r: &mut Req, slot: u32, t: u64) {
        debug_assert!(!r.finished && r.generated >= 1 && r.computed + 1 == r.num_tokens());
        debug_assert!(u64::from(r.computed) <= u64::from(r.blocks) * u64::from(self.block_size));
        r.lazy = true;
        r.sync_step = t;
        let phase = self.phase_of(r);
        self.block_phase[phase] += 1;
        self.count += 1;
        self.measured += u32::from(r.measured);
        self.ctx_base += i128::from(r.computed) - i128::from(t);
        let done_at = t + u64::from(r.target - r.generated - 1);
        self.completions.add(done_at, r.run_seq, slot);
        self.seq_bound = self.seq_bound.max(r.run_seq);
    }

    /// Records that step `t` lasted `dur` ns.
    pub fn record_step(&mut self, t: u64, dur: u64) {
        if self.count == 0 {
            self.gaps.clear();
            return;
        }
        while self.gaps.back().is_some_and(|&(_, d)| d <= dur) {
            self.gaps.pop_back();
        }
        self.gaps.push_back((t, dur));
    }

    /// Drops gap entries older than every lazy decoder's `sync_step` (`reqs` = the slab).
    pub fn prune_gaps(&mut self, reqs: &[Req]) {
        if self.gaps.len() <= GAP_PRUNE_LEN {
            return;
        }
        let oldest = self
            .completions
            .slots()
            .map(|slot| reqs[slot as usize].sync_step)
            .min()
            .unwrap_or(u64::MAX);
        while self.gaps.front().is_some_and(|&(t, _)| t < oldest) {
            self.gaps.pop_front();
        }
    }

    /// Appends to `out` the slots of the lazy decoders completing at step `t`, in running
    /// order, and forgets their completions (their `Req`s still to be materialised with
    /// [`LazyDecoders::materialise`]). Called once per step, steps in order.
    pub fn take_completions(&mut self, t: u64, out: &mut Vec<u32>) {
        self.completions.take(t, out);
    }

    /// Brings lazy `r` up to date after `steps_done` finished steps (the last one ended at
    /// `last_end`) and removes it from the sums. Its heap entry must already be gone.
    pub fn materialise(&mut self, r: &mut Req, steps_done: u64, last_end: u64) {
        debug_assert!(r.lazy);
        let phase = self.phase_of(r);
        self.block_phase[phase] -= 1;
        self.count -= 1;
        self.measured -= u32::from(r.measured);
        self.ctx_base -= i128::from(r.computed) - i128::from(r.sync_step);
        r.lazy = false;
        let j = steps_done - r.sync_step;
        if j == 0 {
            return;
        }
        #[allow(clippy::cast_possible_truncation)]
        let j32 = j as u32;
        r.computed += j32;
        r.generated += j32;
        r.blocks = r.blocks.max(r.computed.div_ceil(self.block_size));
        r.last_token_ns = last_end;
        let from = self.gaps.partition_point(|&(t, _)| t < r.sync_step);
        if let Some(&(_, longest)) = self.gaps.get(from) {
            r.itl_max_ns = r.itl_max_ns.max(longest);
        }
    }

    /// Materialises every lazy decoder after `steps_done` finished steps; their slots are
    /// appended to `out` (unordered).
    pub fn materialise_all(
        &mut self,
        reqs: &mut [Req],
        steps_done: u64,
        last_end: u64,
        out: &mut Vec<u32>,
    ) {
        let from = out.len();
        self.completions.drain_into(out);
        for &slot in &out[from..] {
            self.materialise(&mut reqs[slot as usize], steps_done, last_end);
        }
        debug_assert_eq!(self.count, 0);
        debug_assert_eq!(self.measured, 0);
        self.ctx_base = 0;
        self.seq_bound = 0;
        self.gaps.clear();
    }
}
