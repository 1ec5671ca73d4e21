//! `sglang`: SGLang's scheduler (`Scheduler.get_next_batch_to_run` with `PrefillAdder`) over
//! a radix prefix cache with LRU eviction.
//!
//! A step is a **prefill batch** whenever one can be formed, else a **decode batch** of every
//! running request (prefill has priority; with `enable_mixed_chunk` the running decodes join
//! the prefill batch).
//!
//! **Prefill batch.** First the request whose prompt is being prefilled in chunks (at most
//! one) gets its next chunk. Then waiting requests, in `schedule_policy` order — `fcfs`
//! (queue order) or `lpm` (longest cached prefix first, stable; plain queue order above 128
//! waiting requests, as SGLang does) — are admitted while: running requests stay below
//! `max_running_requests` (`max_batch_size`); the request's uncached tokens plus its
//! `min(max_new_tokens − g, clip_max_new_tokens)` stay below the remaining token capacity
//! (free + evictable KV, minus `new_token_ratio × min(max_new_tokens − g, clip)` reserved
//! for each running request, minus what earlier admissions of this batch reserved); and its
//! uncached tokens fit `max_prefill_tokens` (`max_num_batched_tokens`; the first admission
//! of a batch is exempt, as in SGLang, unless decodes are mixed in). A prompt longer than the chunk budget left (`chunked_prefill_size`) is
//! truncated to whole pages and becomes the chunked request; admission stops after it. A
//! request that does not fit ends the batch. At admission the longest cached prefix (whole
//! blocks, at least one token left to compute) is matched in the radix cache and
//! referenced, so only the rest is prefilled.
//!
//! **Decode batch.** When the running requests' next tokens need more blocks than are free
//! or evictable, requests are **retracted** (preempted by recompute; their computed blocks
//! stay cached) — the one with the fewest generated tokens first, ties to the longest
//! prompt — until every remaining request has `retract_decode_steps` tokens of headroom
//! (never the last one); retracted requests rejoin the waiting queue at the back and
//! `new_token_ratio` is reset to `min(1, (Σg + retract_decode_steps·n) / Σ max_new_tokens)`
//! over the remaining `n`. Otherwise `new_token_ratio` decays linearly from
//! `init_new_token_ratio` to `min_new_token_ratio` over `new_token_ratio_decay_steps` decode
//! steps.
//!
//! **Cache.** A prefill caches the request's full computed blocks (SGLang's
//! `cache_unfinished_req`), a finished or retracted request caches all of its full blocks,
//! generated ones included (`cache_finished_req`), and drops its references: unreferenced
//! blocks stay cached and count as free until evicted, least recently used leaf first
//! ([`crate::engine::RadixCache`]). `max_total_tokens` caps the pool.
//!
//! Approximated or uncertain: pages of `block_size` tokens (SGLang's default `page_size` is
//! 1, a token-granular tree; `block_size: 1` reproduces it at a cost in speed); SGLang's
//! in-batch prefix deprioritisation for `lpm`, its overlap scheduler (the CPU scheduling the
//! next batch while the GPU runs the current one), priority scheduling and
//! `schedule_conservativeness` are not modelled; whether a retracted request's KV is cached
//! varies across SGLang versions (here it is). Prompts longer than `max_prefill_tokens`
//! without chunked prefill are rejected (SGLang would run one alone in an oversized batch).
//!
//! Sources: Zheng et al., "SGLang: Efficient Execution of Structured Language Model
//! Programs", NeurIPS 2024 (RadixAttention, LRU eviction, longest-prefix-match scheduling);
//! SGLang `python/sglang/srt/managers/scheduler.py` (`get_next_batch_to_run`,
//! `get_new_batch_prefill`, `update_running_batch`), `schedule_policy.py` (`PrefillAdder`,
//! `CLIP_MAX_NEW_TOKENS` 4096, LPM fallback above 128), `schedule_batch.py`
//! (`retract_decode`), `server_args.py` (defaults).

use std::collections::VecDeque;

use perf_model_core::BatchShape;

use super::common::CachedPool;
use super::{
    ArrivalInfo, Engine, EngineSetup, KvBlocks, PrefixHits, ReqId, Requests, SchedulePolicy,
    SglangKnobs, StepEnd, StepPlan,
};

/// LPM sorts the waiting queue only up to this many waiting requests (SGLang's threshold).
const LPM_MAX_QUEUE: usize = 128;

/// The `sglang` engine.
#[derive(Debug)]
pub struct Sglang {
    kv: CachedPool,
    waiting: VecDeque<ReqId>,
    /// Decoding requests (prompt computed), admission order.
    running: Vec<ReqId>,
    /// The request being prefilled in chunks.
    chunked: Option<ReqId>,
    plan: StepPlan,
    knobs: SglangKnobs,
    max_running: usize,
    max_prefill: u32,
    chunking: bool,
    ratio: f64,
    decay: f64,
    retractions: u64,
    /// Scratch: `(cached blocks, queue position)` in admission order; positions taken.
    order: Vec<(u32, usize)>,
    taken: Vec<bool>,
    /// Scratch: requests admitted in this prefill batch (join `running` after mixing).
    admitted: Vec<ReqId>,
    /// Scratch: prefill entries of the step in flight.
    prefilled: Vec<ReqId>,
}

impl Sglang {
    /// The engine of one replica.
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>, knobs: &SglangKnobs) -> Self {
        let e = setup.config;
        Self {
            kv: CachedPool::new(setup),
            waiting: VecDeque::new(),
            running: Vec::new(),
            chunked: None,
            plan: StepPlan::new(),
            knobs: *knobs,
            max_running: e.max_batch_size() as usize,
            max_prefill: e.max_num_batched_tokens(),
            chunking: e.enable_chunked_prefill(),
            ratio: knobs.init_new_token_ratio,
            decay: (knobs.init_new_token_ratio - knobs.min_new_token_ratio)
                / f64::from(knobs.new_token_ratio_decay_steps),
            retractions: 0,
            order: Vec::new(),
            taken: Vec::new(),
            admitted: Vec::new(),
            prefilled: Vec::new(),
        }
    }

    /// `min(max_new_tokens − g, clip)`: the output still to come, as SGLang estimates it.
    fn est_new(&self, reqs: &Requests<'_>, id: ReqId) -> u32 {
        reqs.max_new_tokens(id)
            .saturating_sub(reqs.generated_tokens(id))
            .min(self.knobs.clip_max_new_tokens)
    }

    /// New blocks the running requests' next decode needs.
    fn decode_need(&self, reqs: &Requests<'_>) -> u64 {
        self.running
            .iter()
            .map(|&id| u64::from(self.kv.extra(reqs, id, reqs.computed_tokens(id) + 1)))
            .sum()
    }

    fn align_down(&self, n: i64) -> i64 {
        let bs = i64::from(self.kv.block_size);
        n / bs * bs
    }

    /// Builds a prefill batch (with the decodes when mixing); false when none can be formed.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    fn prefill(&mut self, reqs: &mut Requests<'_>, now: u64) -> bool {
        let in_flight = self.running.len() + usize::from(self.chunked.is_some());
        if self.chunked.is_none() && (self.waiting.is_empty() || in_flight >= self.max_running) {
            return false;
        }
        let mixed = self.knobs.enable_mixed_chunk
            && !self.running.is_empty()
            && self.decode_need(reqs) <= self.kv.cache.available();
        let mixed_tokens = if mixed { self.running.len() as i64 } else { 0 };
        let bs = f64::from(self.kv.block_size);
        if mixed {
            // The decodes take their blocks first.
            for &id in &self.running {
                let next = reqs.computed_tokens(id) + 1;
                let ok = self.kv.grow(reqs, id, next);
                debug_assert!(ok);
            }
        }
        let reserved: f64 = self
            .running
            .iter()
            .map(|&id| f64::from(self.est_new(reqs, id)) * self.ratio)
            .sum();
        // SGLang's `rem_total_tokens`: free + evictable tokens (read live: referencing a cached
        // prefix makes it unevictable) minus the running requests' reservations and what this
        // batch's admissions reserved; blocks this pass allocated are added back (SGLang
        // allocates after the batch is formed).
        let mut offset = 0.0f64;
        let mut alloc = 0u64;
        let rem_total = |kv: &CachedPool, alloc: u64, offset: f64| {
            (kv.cache.available() + alloc) as f64 * bs - reserved - offset
        };
        let mut rem_input = i64::from(self.max_prefill) - mixed_tokens;
        let mut rem_chunk = self
            .chunking
            .then(|| i64::from(self.knobs.chunked_prefill_size) - mixed_tokens);
        self.admitted.clear();

        // 1. The chunked request's next chunk.
        if let Some(id) = self.chunked {
            let rest = i64::from(reqs.remaining_tokens(id));
            let cap = rem_chunk
                .unwrap_or(i64::MAX)
                .min(rem_total(&self.kv, alloc, offset).floor() as i64);
            let mut n = rest.min(cap);
            let truncated = n < rest;
            if truncated {
                n = self.align_down(n);
            }
            let (k, held) = (reqs.computed_tokens(id), reqs.blocks(id));
            if n > 0 && self.kv.grow(reqs, id, k + n as u32) {
                alloc += u64::from(reqs.blocks(id) - held);
                self.plan.push(reqs, id, n as u32, now);
                offset += n as f64;
                if !truncated {
                    offset += f64::from(self.est_new(reqs, id));
                    self.chunked = None;
                    self.admitted.push(id);
                }
                rem_input -= n;
                if let Some(c) = &mut rem_chunk {
                    *c -= n;
                }
            }
        }

        // 2. Waiting requests in policy order.
        self.order.clear();
        let lpm = self.knobs.schedule_policy == SchedulePolicy::Lpm
            && self.kv.caching
            && self.waiting.len() <= LPM_MAX_QUEUE;
        for (pos, &id) in self.waiting.iter().enumerate() {
            let m = if lpm { self.kv.match_len(reqs, id) } else { 0 };
            self.order.push((m, pos));
        }
        if lpm {
            self.order
                .sort_by_key(|&(m, pos)| (std::cmp::Reverse(m), pos));
        }
        self.taken.clear();
        self.taken.resize(self.waiting.len(), false);
        for oi in 0..self.order.len() {
            if self.chunked.is_some() {
                break;
            }
            let running_now = self.running.len() + self.admitted.len();
            if running_now >= self.max_running {
                break;
            }
            let pos = self.order[oi].1;
            let id = self.waiting[pos];
            let m = self.kv.match_len(reqs, id);
            self.kv.take_prefix(reqs, id, m);
            let extend = i64::from(reqs.remaining_tokens(id));
            let est = f64::from(self.est_new(reqs, id));
            if extend as f64 + est >= rem_total(&self.kv, alloc, offset) {
                self.kv.undo_prefix(reqs, id);
                break;
            }
            // SGLang lets the first request of a batch exceed `max_prefill_tokens`; here only
            // when that keeps the step within the budget (no decodes mixed in).
            if extend > rem_input && (!self.plan.is_empty() || mixed) {
                self.kv.undo_prefix(reqs, id);
                break;
            }
            let (n, chunk) = match rem_chunk {
                Some(c) if extend > c => {
                    let t = self.align_down(c);
                    if t <= 0 {
                        self.kv.undo_prefix(reqs, id);
                        break;
                    }
                    (t, true)
                }
                _ => (extend, false),
            };
            let (k, held) = (reqs.computed_tokens(id), reqs.blocks(id));
            if !self.kv.grow(reqs, id, k + n as u32) {
                self.kv.undo_prefix(reqs, id);
                break;
            }
            alloc += u64::from(reqs.blocks(id) - held);
            offset += n as f64 + if chunk { 0.0 } else { est };
            rem_input -= n;
            if let Some(c) = &mut rem_chunk {
                *c -= n;
            }
            self.plan.push(reqs, id, n as u32, now);
            self.taken[pos] = true;
            if chunk {
                self.chunked = Some(id);
            } else {
                self.admitted.push(id);
            }
        }
        if self.taken.iter().any(|&t| t) {
            let mut i = 0;
            let taken = &self.taken;
            self.waiting.retain(|_| {
                let keep = !taken[i];
                i += 1;
                keep
            });
        }
        if self.plan.is_empty() {
            return false;
        }
        if mixed {
            for i in 0..self.running.len() {
                let id = self.running[i];
                self.plan.push(reqs, id, 1, now);
            }
        }
        self.running.append(&mut self.admitted);
        true
    }

    /// Retracts running requests until the rest have headroom (SGLang's `retract_decode`).
    #[allow(clippy::cast_precision_loss)]
    fn retract(&mut self, reqs: &mut Requests<'_>) {
        let bs = u64::from(self.kv.block_size);
        let steps = u64::from(self.knobs.retract_decode_steps);
        let mut first = true;
        while self.running.len() > 1
            && (first || self.kv.cache.available() * bs < self.running.len() as u64 * steps)
        {
            first = false;
            // Fewest generated tokens, then longest prompt, then latest admitted.
            let idx = self
                .running
                .iter()
                .enumerate()
                .min_by_key(|&(i, &id)| {
                    (
                        reqs.generated_tokens(id),
                        std::cmp::Reverse(reqs.prompt_tokens(id)),
                        std::cmp::Reverse(i),
                    )
                })
                .map_or(self.running.len() - 1, |(i, _)| i);
            let id = self.running.remove(idx);
            self.kv.release(reqs, id);
            reqs.preempt(id);
            self.waiting.push_back(id);
            self.retractions += 1;
        }
        let (mut decoded, mut max_new) = (0u64, 0u64);
        for &id in &self.running {
            decoded += u64::from(reqs.generated_tokens(id));
            max_new += u64::from(reqs.max_new_tokens(id));
        }
        let n = self.running.len() as u64;
        self.ratio = if max_new == 0 {
            1.0
        } else {
            ((decoded + steps * n) as f64 / max_new as f64).min(1.0)
        };
    }

    fn decode(&mut self, reqs: &mut Requests<'_>, now: u64) {
        if self.running.is_empty() {
            return;
        }
        if self.decode_need(reqs) > self.kv.cache.available() {
            self.retract(reqs);
        } else {
            self.ratio = (self.ratio - self.decay).max(self.knobs.min_new_token_ratio);
        }
        for i in 0..self.running.len() {
            let id = self.running[i];
            let next = reqs.computed_tokens(id) + 1;
            if self.kv.grow(reqs, id, next) {
                self.plan.push(reqs, id, 1, now);
            }
        }
    }
}

impl Engine for Sglang {
    fn name(&self) -> &str {
        "sglang"
    }

    fn can_serve(&self, r: &ArrivalInfo) -> bool {
        let total = self.kv.cache.pool().total();
        let est = r.max_new_tokens.min(self.knobs.clip_max_new_tokens);
        (self.chunking || r.final_tokens <= self.max_prefill)
            && u64::from(self.kv.blocks_for(r.final_tokens)) <= total
            && u64::from(r.prompt_tokens) + u64::from(est) < total * u64::from(self.kv.block_size)
    }

    fn enqueue(&mut self, _reqs: &mut Requests<'_>, id: ReqId) {
        self.waiting.push_back(id);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        self.plan.clear();
        if !self.prefill(reqs, now) {
            self.plan.clear();
            self.decode(reqs, now);
        }
        self.plan.shape()
    }

    fn finish_step(&mut self, step: &mut StepEnd<'_>) {
        let any = self
            .kv
            .finish_step(&mut self.plan, step, &mut self.prefilled, |_, _| true);
        if any {
            let reqs = step.requests();
            self.running.retain(|&id| !reqs.get(id).finished);
        }
    }

    fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn running(&self) -> usize {
        self.running.len() + usize::from(self.chunked.is_some())
    }

    fn kv_blocks(&self) -> KvBlocks {
        self.kv.kv()
    }

    fn preemptions(&self) -> u64 {
        self.retractions
    }

    fn prefix_hits(&self) -> PrefixHits {
        self.kv.hits
    }
}
