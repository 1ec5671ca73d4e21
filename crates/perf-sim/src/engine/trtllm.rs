//! `trtllm`: TensorRT-LLM's in-flight batching scheduler — a capacity scheduler choosing the
//! requests KV memory allows, then a micro-batch scheduler choosing what runs this step —
//! over a paged KV cache with block reuse.
//!
//! Requests are *started* (admitted) in arrival order and stay started until they finish (or
//! are paused). Per step:
//!
//! **Capacity scheduler** (`capacity_scheduler_policy`, at most `max_batch_size` requests):
//! * `guaranteed_no_evict` (default): every started request keeps its reservation — the
//!   blocks it still needs to reach `P + max_new_tokens`; a waiting request starts only if
//!   its own blocks to completion (minus reused cached blocks) fit the free and evictable
//!   blocks left after those reservations. FCFS, head-of-line: the first that does not fit
//!   stops admission. No request is ever paused.
//! * `max_utilization`: started requests, in order, claim what their next step needs (a
//!   generating request one block at a boundary, a context request its whole remaining
//!   context); when one does not fit, the most recently started generating request is
//!   **paused** (its KV freed — full blocks stay cached for reuse — and it is recomputed
//!   later, first in the queue), and the claim retried. Then waiting requests start while
//!   their context blocks fit.
//!
//! **Micro-batch scheduler** (`max_num_tokens` = `max_num_batched_tokens`, `max_batch_size`):
//! the fitting requests in order; a generating request costs one token, a context request
//! its remaining context; the first that exceeds the token budget ends the batch. With
//! `enable_chunked_context` the context requests are set aside and, when together they
//! exceed the budget left after the generating ones, chunked first-come-first-served
//! (`FIRST_COME_FIRST_SERVED`), a truncated chunk rounded down to whole blocks
//! (`tokens_per_block`). Context and generation requests run in one fused step.
//!
//! **KV reuse** (`enable_block_reuse`, on by default): a starting request reuses the longest
//! cached prefix of whole blocks; a finished context stores its blocks for reuse, and a
//! finished (or paused) request its generated blocks too; unreferenced cached blocks are
//! evicted least recently used first ([`crate::engine::RadixCache`]). A reused block that
//! was unreferenced (counted as free) costs capacity when reactivated.
//!
//! Approximated or uncertain: the C++ `MaxUtilizationScheduler`'s choice of which started
//! request to pause and whether a new context may pause a running one differ across
//! versions (here: only started requests pause others, the latest started generating one
//! first); `EQUAL_PROGRESS` chunking, partial-block reuse, KV cache priorities, beam search,
//! draft tokens and the `STATIC_BATCH` policy are not modelled.
//!
//! Sources: TensorRT-LLM docs "Paged Attention, IFB, and Request Scheduling", "Tuning Max
//! Batch Size and Max Num Tokens", "Useful Runtime Options" (capacity scheduler policies),
//! "Scheduler" (PyTorch backend: `CapacityScheduler`, `MicroBatchScheduler`); source
//! `tensorrt_llm/_torch/pyexecutor/scheduler.py` (`PyCapacityScheduler`,
//! `PyMicroBatchScheduler`); `SchedulerConfig`/`KvCacheConfig` defaults (`max_batch_size`
//! 2048, `max_num_tokens` 8192, `tokens_per_block` 32, `enable_block_reuse` true).

use std::collections::VecDeque;

use perf_model_core::BatchShape;

use super::common::{CachedPool, reservation};
use super::{
    ArrivalInfo, CapacitySchedulerPolicy, Engine, EngineSetup, KvBlocks, PrefixHits, ReqId,
    Requests, StepEnd, StepPlan, TrtLlmKnobs,
};

/// The `trtllm` engine.
#[derive(Debug)]
pub struct TrtLlm {
    kv: CachedPool,
    waiting: VecDeque<ReqId>,
    /// Started requests, in start order.
    started: Vec<ReqId>,
    plan: StepPlan,
    policy: CapacitySchedulerPolicy,
    max_batch: usize,
    max_tokens: u32,
    chunking: bool,
    pauses: u64,
    /// Scratch: the capacity scheduler's fitting requests, in order.
    fitting: Vec<ReqId>,
    /// Scratch: the blocks each fitting request claimed (`max_utilization`).
    claims: Vec<u64>,
    /// Scratch: context requests set aside for chunking.
    contexts: Vec<ReqId>,
    /// Scratch: context entries of the step in flight.
    prefilled: Vec<ReqId>,
}

impl TrtLlm {
    /// The engine of one replica.
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>, knobs: &TrtLlmKnobs) -> Self {
        let e = setup.config;
        Self {
            kv: CachedPool::new(setup),
            waiting: VecDeque::new(),
            started: Vec::new(),
            plan: StepPlan::new(),
            policy: knobs.capacity_scheduler_policy,
            max_batch: e.max_batch_size() as usize,
            max_tokens: e.max_num_batched_tokens(),
            chunking: e.enable_chunked_prefill(),
            pauses: 0,
            fitting: Vec::new(),
            claims: Vec::new(),
            contexts: Vec::new(),
            prefilled: Vec::new(),
        }
    }

    /// Blocks `id` still needs to reach `P + max_new_tokens`.
    fn to_completion(&self, reqs: &Requests<'_>, id: ReqId) -> u64 {
        u64::from(self.kv.extra(reqs, id, reservation(reqs, id)))
    }

    /// Blocks `id`'s next step needs: one at a block boundary when generating, its whole
    /// remaining context otherwise.
    fn step_need(&self, reqs: &Requests<'_>, id: ReqId) -> u64 {
        let tokens = if reqs.is_decoding(id) {
            reqs.computed_tokens(id) + 1
        } else {
            reqs.num_tokens(id)
        };
        u64::from(self.kv.extra(reqs, id, tokens))
    }

    /// Starts the waiting head if `fits(need)` with `need` its blocks (`to_completion` or
    /// its context) net of reuse; returns the need, or `None` (nothing changed).
    fn try_start(
        &mut self,
        reqs: &mut Requests<'_>,
        avail_after: impl Fn(&CachedPool) -> u64,
    ) -> Option<u64> {
        let &id = self.waiting.front()?;
        let m = self.kv.match_len(reqs, id);
        self.kv.take_prefix(reqs, id, m);
        let need = match self.policy {
            CapacitySchedulerPolicy::GuaranteedNoEvict => self.to_completion(reqs, id),
            CapacitySchedulerPolicy::MaxUtilization => self.step_need(reqs, id),
        };
        if need > avail_after(&self.kv) {
            self.kv.undo_prefix(reqs, id);
            return None;
        }
        self.waiting.pop_front();
        self.started.push(id);
        self.fitting.push(id);
        Some(need)
    }

    fn capacity_no_evict(&mut self, reqs: &mut Requests<'_>) {
        let mut reserved: u64 = 0;
        for i in 0..self.started.len() {
            let id = self.started[i];
            reserved += self.to_completion(reqs, id);
            self.fitting.push(id);
        }
        while self.fitting.len() < self.max_batch {
            let r = reserved;
            match self.try_start(reqs, |kv| kv.cache.available().saturating_sub(r)) {
                Some(need) => reserved += need,
                None => break,
            }
        }
    }

    /// Pauses `started[idx]`: its KV is released (full blocks stay cached) and it is queued
    /// first, to be recomputed.
    fn pause(&mut self, reqs: &mut Requests<'_>, idx: usize) {
        let id = self.started.remove(idx);
        self.kv.release(reqs, id);
        reqs.preempt(id);
        self.waiting.push_front(id);
        self.pauses += 1;
    }

    fn capacity_max_utilization(&mut self, reqs: &mut Requests<'_>) {
        let mut claimed: u64 = 0;
        self.claims.clear();
        let mut i = 0;
        while i < self.started.len() && self.fitting.len() < self.max_batch {
            let id = self.started[i];
            let need = self.step_need(reqs, id);
            if need <= self.kv.cache.available().saturating_sub(claimed) {
                claimed += need;
                self.fitting.push(id);
                self.claims.push(need);
                i += 1;
                continue;
            }
            // Pause the most recently started generating request (this one, one claimed
            // before it, or one not reached yet) and retry.
            let Some(j) = (0..self.started.len())
                .rev()
                .find(|&j| reqs.is_decoding(self.started[j]))
            else {
                break;
            };
            if j < i {
                let victim = self.started[j];
                if let Some(f) = self.fitting.iter().position(|&x| x == victim) {
                    self.fitting.remove(f);
                    claimed -= self.claims.remove(f);
                }
                i -= 1;
            }
            self.pause(reqs, j);
        }
        while self.fitting.len() < self.max_batch {
            let c = claimed;
            match self.try_start(reqs, |kv| kv.cache.available().saturating_sub(c)) {
                Some(need) => claimed += need,
                None => break,
            }
        }
    }

    /// Schedules `n` tokens of `id` after growing its blocks (always possible after the
    /// capacity scheduler; skipped defensively otherwise).
    fn run(&mut self, reqs: &mut Requests<'_>, id: ReqId, n: u32, now: u64) -> bool {
        let k = reqs.computed_tokens(id);
        let ok = self.kv.grow(reqs, id, k + n);
        debug_assert!(ok, "the capacity scheduler guaranteed the blocks");
        if ok {
            self.plan.push(reqs, id, n, now);
        }
        ok
    }

    fn micro_batch(&mut self, reqs: &mut Requests<'_>, now: u64) {
        let mut tokens = 0u32;
        let mut count = 0usize;
        self.contexts.clear();
        let mut deferred = 0u64;
        for i in 0..self.fitting.len() {
            let id = self.fitting[i];
            if reqs.is_decoding(id) {
                if tokens + 1 > self.max_tokens {
                    break;
                }
                if self.run(reqs, id, 1, now) {
                    tokens += 1;
                }
            } else if !self.chunking {
                let n = reqs.remaining_tokens(id);
                if u64::from(tokens) + u64::from(n) > u64::from(self.max_tokens) {
                    break;
                }
                if self.run(reqs, id, n, now) {
                    tokens += n;
                }
            } else {
                self.contexts.push(id);
                deferred += u64::from(reqs.remaining_tokens(id));
            }
            count += 1;
            if count >= self.max_batch {
                break;
            }
        }
        if self.contexts.is_empty() {
            return;
        }
        let mut cap = self.max_tokens - tokens;
        let all_fit = deferred <= u64::from(cap);
        let bs = self.kv.block_size;
        for j in 0..self.contexts.len() {
            let id = self.contexts[j];
            let rest = reqs.remaining_tokens(id);
            let mut n = rest;
            if !all_fit && n > cap {
                n = cap / bs * bs;
            }
            if n > 0 && self.run(reqs, id, n, now) {
                cap -= n;
            }
            if cap == 0 {
                break;
            }
        }
    }
}

impl Engine for TrtLlm {
    fn name(&self) -> &str {
        "trtllm"
    }

    fn can_serve(&self, r: &ArrivalInfo) -> bool {
        let total = self.kv.cache.pool().total();
        let longest = match self.policy {
            CapacitySchedulerPolicy::GuaranteedNoEvict => {
                r.prompt_tokens.saturating_add(r.max_new_tokens)
            }
            CapacitySchedulerPolicy::MaxUtilization => r.final_tokens,
        };
        (self.chunking || r.final_tokens <= self.max_tokens)
            && u64::from(self.kv.blocks_for(longest)) <= total
    }

    fn enqueue(&mut self, _reqs: &mut Requests<'_>, id: ReqId) {
        self.waiting.push_back(id);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        self.plan.clear();
        self.fitting.clear();
        match self.policy {
            CapacitySchedulerPolicy::GuaranteedNoEvict => self.capacity_no_evict(reqs),
            CapacitySchedulerPolicy::MaxUtilization => self.capacity_max_utilization(reqs),
        }
        self.micro_batch(reqs, now);
        self.plan.shape()
    }

    fn finish_step(&mut self, step: &mut StepEnd<'_>) {
        // A completed context stores its blocks for reuse.
        let any = self
            .kv
            .finish_step(&mut self.plan, step, &mut self.prefilled, |reqs, id| {
                let r = reqs.get(id);
                r.computed == r.num_tokens()
            });
        if any {
            let reqs = step.requests();
            self.started.retain(|&id| !reqs.get(id).finished);
        }
    }

    fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn running(&self) -> usize {
        self.started.len()
    }

    fn kv_blocks(&self) -> KvBlocks {
        self.kv.kv()
    }

    fn preemptions(&self) -> u64 {
        self.pauses
    }

    fn prefix_hits(&self) -> PrefixHits {
        self.kv.hits
    }
}
