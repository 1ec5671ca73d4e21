//! The cost-model seam: what one engine step computes ([`BatchShape`]) and what it costs
//! ([`StepTimeModel`]).

use serde::{Deserialize, Serialize};

/// The work of one engine step (one forward pass), reduced to the aggregates every analytic
/// cost model needs, so a cost call is O(1) however many requests are in the batch.
///
/// A scheduled request contributes `n` new tokens on top of `k` tokens whose KV is already
/// cached. A *prefill* entry has `n > 1` or is still inside its prompt; a *decode* entry
/// computes exactly one token (`n = 1`) over `k` cached tokens.
///
/// Aggregates kept (specs/simulator.md §4.1):
/// ```text
/// prefill: count, Σn, Σn², Σk, Σn·k      decode: count, Σk      logits: requests sampling
/// ```
///
/// The fields are public so that a simulator can keep them incrementally; every sum saturates
/// rather than wraps, so no input makes the accessors panic.
///
/// # Examples
/// ```
/// use perf_model_core::BatchShape;
/// let mut b = BatchShape::default();
/// b.add_prefill(512, 0, true);     // a whole 512-token prompt
/// b.add_decode(1024);              // one decode over 1024 cached tokens
/// assert_eq!(b.total_tokens(), 513);
/// assert_eq!(b.num_seqs(), 2);
/// assert_eq!(b.kv_tokens(), 512 + 1025);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchShape {
    /// Number of prefill (or prefill-chunk) entries.
    pub prefill_seqs: u32,
    /// Σn over prefill entries: new prompt tokens computed this step.
    pub prefill_tokens: u64,
    /// Σn² over prefill entries (quadratic attention inside the chunk).
    pub prefill_tokens_sq: u64,
    /// Σk over prefill entries: tokens cached before this chunk.
    pub prefill_cached: u64,
    /// Σn·k over prefill entries (attention of new tokens over the cached prefix).
    pub prefill_cross: u64,
    /// Number of decode entries (each computes one token).
    pub decode_seqs: u32,
    /// Σk over decode entries: cached context read by the decodes.
    pub decode_context: u64,
    /// Requests that sample a token this step (decodes plus prefills finishing their prompt).
    pub logits: u32,
}

impl BatchShape {
    /// A step with one whole prompt of `tokens` tokens and nothing cached.
    #[must_use]
    pub fn prefill(tokens: u32) -> Self {
        let mut b = Self::default();
        b.add_prefill(tokens, 0, true);
        b
    }

    /// A step of `batch` decodes, each over `context` cached tokens.
    #[must_use]
    pub fn decode(batch: u32, context: u32) -> Self {
        Self {
            decode_seqs: batch,
            decode_context: u64::from(batch) * u64::from(context),
            logits: batch,
            ..Self::default()
        }
    }

    /// Adds a prefill chunk of `new_tokens` over `cached` tokens; `last_chunk` says whether it
    /// completes the prompt (and so samples a first token).
    pub fn add_prefill(&mut self, new_tokens: u32, cached: u32, last_chunk: bool) {
        let n = u64::from(new_tokens);
        let k = u64::from(cached);
        // Saturating: the sums never wrap, whatever the caller feeds in (n·k < 2⁶⁴ always).
        self.prefill_seqs = self.prefill_seqs.saturating_add(1);
        self.prefill_tokens = self.prefill_tokens.saturating_add(n);
        self.prefill_tokens_sq = self.prefill_tokens_sq.saturating_add(n * n);
        self.prefill_cached = self.prefill_cached.saturating_add(k);
        self.prefill_cross = self.prefill_cross.saturating_add(n * k);
        if last_chunk {
            self.logits = self.logits.saturating_add(1);
        }
    }

    /// Adds one decode over `context` cached tokens.
    pub fn add_decode(&mut self, context: u32) {
        self.decode_seqs = self.decode_seqs.saturating_add(1);
        self.decode_context = self.decode_context.saturating_add(u64::from(context));
        self.logits = self.logits.saturating_add(1);
    }

    /// Adds `count` decodes whose cached contexts sum to `context_sum` (the same as `count`
    /// calls of [`BatchShape::add_decode`]).
    pub fn add_decodes(&mut self, count: u32, context_sum: u64) {
        self.decode_seqs = self.decode_seqs.saturating_add(count);
        self.decode_context = self.decode_context.saturating_add(context_sum);
        self.logits = self.logits.saturating_add(count);
    }

    /// Requests scheduled this step.
    #[must_use]
    pub fn num_seqs(&self) -> u32 {
        self.prefill_seqs.saturating_add(self.decode_seqs)
    }

    /// Tokens computed this step: Σn over prefills plus one per decode.
    #[must_use]
    pub fn total_tokens(&self) -> u64 {
        self.prefill_tokens
            .saturating_add(u64::from(self.decode_seqs))
    }

    /// KV-cache tokens touched this step, Σ(k + n): cached context read plus new tokens written.
    #[must_use]
    pub fn kv_tokens(&self) -> u64 {
        self.prefill_cached
            .saturating_add(self.prefill_tokens)
            .saturating_add(self.decode_context)
            .saturating_add(u64::from(self.decode_seqs))
    }

    /// True when nothing is scheduled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.num_seqs() == 0
    }
}

/// A step-time (cost) model: how long one engine step takes.
///
/// This is the seam between cost models and the simulator: `perf-sim` only sees this trait;
/// the roofline model ([`crate::roofline`]), the Inferno step model and the learned predictors
/// of `perf-predict` implement it. Implementations must be monotone non-decreasing in every
/// aggregate of [`BatchShape`] and return a finite, non-negative time.
pub trait StepTimeModel: Send + Sync {
    /// Duration of one step that computes `batch`, in milliseconds.
    fn step_time(&self, batch: &BatchShape) -> f64;
}

impl<T: StepTimeModel + ?Sized> StepTimeModel for &T {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        (**self).step_time(batch)
    }
}

impl<T: StepTimeModel + ?Sized> StepTimeModel for Box<T> {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        (**self).step_time(batch)
    }
}

impl<T: StepTimeModel + ?Sized> StepTimeModel for std::sync::Arc<T> {
    fn step_time(&self, batch: &BatchShape) -> f64 {
        (**self).step_time(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_add_up() {
        let mut b = BatchShape::default();
        b.add_prefill(100, 50, false);
        b.add_prefill(20, 0, true);
        b.add_decode(7);
        assert_eq!(b.prefill_tokens, 120);
        assert_eq!(b.prefill_tokens_sq, 100 * 100 + 20 * 20);
        assert_eq!(b.prefill_cross, 100 * 50);
        assert_eq!(b.logits, 2);
        assert_eq!(b.total_tokens(), 121);
        assert_eq!(b.kv_tokens(), 50 + 120 + 7 + 1);
    }

    #[test]
    fn uniform_decode_matches_incremental() {
        let mut b = BatchShape::default();
        for _ in 0..4 {
            b.add_decode(300);
        }
        assert_eq!(b, BatchShape::decode(4, 300));
    }

    #[test]
    fn extreme_values_saturate_instead_of_panicking() {
        let mut b = BatchShape {
            prefill_seqs: u32::MAX,
            decode_seqs: 1,
            logits: u32::MAX,
            decode_context: u64::MAX,
            ..BatchShape::default()
        };
        b.add_decode(u32::MAX);
        b.add_prefill(u32::MAX, u32::MAX, true);
        assert_eq!(b.num_seqs(), u32::MAX);
        assert_eq!(b.kv_tokens(), u64::MAX);
        assert_eq!(b.logits, u32::MAX);
    }

    #[test]
    fn empty_step() {
        assert!(BatchShape::default().is_empty());
        assert!(!BatchShape::prefill(1).is_empty());
    }

    struct Fixed(f64);
    impl StepTimeModel for Fixed {
        fn step_time(&self, _: &BatchShape) -> f64 {
            self.0
        }
    }

    #[test]
    fn trait_objects_forward() {
        let boxed: Box<dyn StepTimeModel> = Box::new(Fixed(2.5));
        assert_eq!(
            boxed.step_time(&BatchShape::prefill(8)).to_bits(),
            2.5f64.to_bits()
        );
    }
}
