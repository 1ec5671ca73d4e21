//! Pieces the built-in engines other than `vllm_v1` share: FCFS queues over a paged pool,
//! recompute preemption, KV reservations, and a radix-cached variant.

use std::collections::VecDeque;

use super::{
    Advance, BatchLimitUse, EngineSetup, KvBlocks, PrefixHits, RadixCache, ReqId, Requests,
    StepEnd, StepPlan,
};
use crate::config::PreemptionPolicy;
use crate::kv::BlockPool;

/// Tokens a request reserves "to completion": prompt plus declared output cap.
pub(crate) fn reservation(reqs: &Requests<'_>, id: ReqId) -> u32 {
    reqs.prompt_tokens(id)
        .saturating_add(reqs.max_new_tokens(id))
}

/// A waiting queue, a running list (admission order), a paged pool without prefix caching
/// and the step being built.
#[derive(Debug)]
pub(crate) struct Basic {
    pub pool: BlockPool,
    pub waiting: VecDeque<ReqId>,
    pub running: Vec<ReqId>,
    pub plan: StepPlan,
    pub preemptions: u64,
    pub max_seqs: usize,
    pub budget: u32,
    pub policy: PreemptionPolicy,
    /// How `max_seqs` acted ([`Basic::at_seq_limit`] is its only use).
    pub batch_limit: BatchLimitUse,
}

impl Basic {
    pub fn new(setup: &EngineSetup<'_>) -> Self {
        let e = setup.config;
        Self {
            pool: BlockPool::new(setup.num_blocks, e.block_size()),
            waiting: VecDeque::new(),
            running: Vec::new(),
            plan: StepPlan::new(),
            preemptions: 0,
            max_seqs: e.max_batch_size() as usize,
            budget: e.max_num_batched_tokens(),
            policy: setup.preemption,
            batch_limit: BatchLimitUse::default(),
        }
    }

    /// Whether the running-request limit stops the admission of a waiting request now; the
    /// engines' only use of `max_seqs`, so a run where it never does is the same under any
    /// larger limit ([`BatchLimitUse`]).
    pub fn at_seq_limit(&mut self) -> bool {
        self.note_running();
        let full = self.running.len() >= self.max_seqs;
        self.batch_limit.held_back += u64::from(full);
        full
    }

    /// Raises the peak of running requests to the current count.
    pub fn note_running(&mut self) {
        let n = self.running.len() as u64;
        self.batch_limit.peak_running = self.batch_limit.peak_running.max(n);
    }

    /// Blocks `id` needs beyond those it holds to hold `tokens` tokens.
    pub fn extra(&self, reqs: &Requests<'_>, id: ReqId, tokens: u32) -> u32 {
        self.pool.extra_for(tokens, reqs.blocks(id))
    }

    /// Grows `id`'s blocks to hold `tokens` tokens; false (nothing taken) when the pool is
    /// short.
    pub fn grow(&mut self, reqs: &mut Requests<'_>, id: ReqId, tokens: u32) -> bool {
        let need = self.extra(reqs, id, tokens);
        if !self.pool.try_take(need) {
            return false;
        }
        let b = reqs.blocks(id);
        reqs.set_blocks(id, b + need);
        true
    }

    /// The preemption victim among `running[from..]`: the last admitted, or the latest
    /// arrival ([`PreemptionPolicy`]).
    pub fn victim(&self, reqs: &Requests<'_>, from: usize) -> Option<usize> {
        let tail = self.running.get(from..).filter(|t| !t.is_empty())?;
        Some(match self.policy {
            PreemptionPolicy::LastAdmitted => self.running.len() - 1,
            PreemptionPolicy::LatestArrival => {
                let (pos, _) = tail
                    .iter()
                    .enumerate()
                    .max_by_key(|&(_, &id)| reqs.request_number(id))?;
                from + pos
            }
        })
    }

    /// Preempts `running[idx]` by recompute: frees its blocks, queues it at the front.
    pub fn preempt_at(&mut self, reqs: &mut Requests<'_>, idx: usize) -> ReqId {
        let id = self.running.remove(idx);
        self.pool.release(reqs.blocks(id));
        reqs.preempt(id);
        self.waiting.push_front(id);
        self.preemptions += 1;
        id
    }

    /// Applies the step's entries; finished requests free their blocks and leave `running`.
    pub fn finish(&mut self, step: &mut StepEnd<'_>) {
        let pool = &mut self.pool;
        let mut any = false;
        self.plan.finish(step, |reqs, id, ev| {
            if ev == super::Advance::Finished {
                pool.release(reqs.blocks(id));
                reqs.set_blocks(id, 0);
                any = true;
            }
        });
        if any {
            let reqs = step.requests();
            self.running.retain(|&id| !reqs.get(id).finished);
        }
    }

    pub fn kv(&self) -> KvBlocks {
        KvBlocks {
            used: self.pool.used(),
            total: self.pool.total(),
        }
    }
}

/// A paged pool with a [`RadixCache`] (or none, `caching = false`) and the per-request
/// bookkeeping of cached prefixes: admission matches and references the longest cached
/// prefix, a completed prefill caches the request's full blocks, a finished or preempted
/// request caches everything it computed and drops its references.
#[derive(Debug)]
pub(crate) struct CachedPool {
    pub cache: RadixCache,
    pub caching: bool,
    pub block_size: u32,
    pub hits: PrefixHits,
}

impl CachedPool {
    /// Ends a step of `plan` for a radix-cached engine: applies its entries, releases the
    /// blocks of requests that finished, then caches the blocks of each unfinished request that
    /// prefilled this step and `publish` accepts (`prefilled` is scratch space). Returns whether
    /// a request finished (the caller then drops finished ones from its running list).
    pub fn finish_step(
        &mut self,
        plan: &mut StepPlan,
        step: &mut StepEnd<'_>,
        prefilled: &mut Vec<ReqId>,
        publish: impl Fn(&Requests<'_>, ReqId) -> bool,
    ) -> bool {
        prefilled.clear();
        {
            let reqs = step.requests();
            for &(id, n) in plan.entries() {
                if !(n == 1 && reqs.is_decoding(id)) {
                    prefilled.push(id);
                }
            }
        }
        let mut any = false;
        plan.finish(step, |reqs, id, ev| {
            if ev == Advance::Finished {
                self.release(reqs, id);
                any = true;
            }
        });
        let mut reqs = step.requests();
        for &id in prefilled.iter() {
            if !reqs.get(id).finished && publish(&reqs, id) {
                self.publish(&mut reqs, id);
            }
        }
        any
    }

    pub fn new(setup: &EngineSetup<'_>) -> Self {
        let e = setup.config;
        Self {
            cache: RadixCache::new(setup.num_blocks, e.block_size()),
            caching: e.enable_prefix_caching(),
            block_size: e.block_size(),
            hits: PrefixHits::default(),
        }
    }

    pub fn blocks_for(&self, tokens: u32) -> u32 {
        tokens.div_ceil(self.block_size)
    }

    /// Cached leading blocks of `id` usable at admission (the last token is always
    /// recomputed for its logits).
    pub fn match_len(&self, reqs: &Requests<'_>, id: ReqId) -> u32 {
        if !self.caching {
            return 0;
        }
        let bs = self.block_size;
        let limit = (reqs.num_tokens(id) - 1) / bs;
        self.cache
            .match_len(&|i| reqs.block_content(id, i, bs), limit)
    }

    /// References `id`'s first `m` cached blocks and admits it from them (a waiting request
    /// with nothing computed).
    pub fn take_prefix(&mut self, reqs: &mut Requests<'_>, id: ReqId, m: u32) {
        if m == 0 {
            return;
        }
        let bs = self.block_size;
        {
            let view = &*reqs;
            self.cache.lock(&|i| view.block_content(id, i, bs), m);
        }
        let r = reqs.get_mut(id);
        r.shared = m;
        r.blocks = m;
        reqs.start_from_cache(id, m * bs);
        self.hits.admissions += 1;
        self.hits.tokens += u64::from(m * bs);
    }

    /// Drops the references [`CachedPool::take_prefix`] took (an admission undone).
    pub fn undo_prefix(&mut self, reqs: &mut Requests<'_>, id: ReqId) {
        let m = reqs.get(id).shared;
        if m == 0 {
            return;
        }
        let bs = self.block_size;
        {
            let view = &*reqs;
            self.cache.unlock(&|i| view.block_content(id, i, bs), m);
        }
        let r = reqs.get_mut(id);
        r.shared = 0;
        r.blocks = 0;
        r.computed = 0;
        r.cached = 0;
        self.hits.admissions -= 1;
        self.hits.tokens -= u64::from(m * bs);
    }

    /// Grows `id`'s blocks to hold `tokens` tokens (evicting cached blocks as needed); false
    /// (nothing taken) when even that is not enough.
    pub fn grow(&mut self, reqs: &mut Requests<'_>, id: ReqId, tokens: u32) -> bool {
        let held = reqs.blocks(id);
        let need = self.blocks_for(tokens).saturating_sub(held);
        if need == 0 {
            return true;
        }
        if !self.cache.allocate(need) {
            return false;
        }
        reqs.set_blocks(id, held + need);
        true
    }

    /// Blocks `id` would take to hold `tokens` tokens.
    pub fn extra(&self, reqs: &Requests<'_>, id: ReqId, tokens: u32) -> u32 {
        self.blocks_for(tokens).saturating_sub(reqs.blocks(id))
    }

    /// Caches `id`'s full computed blocks beyond those it already references.
    pub fn publish(&mut self, reqs: &mut Requests<'_>, id: ReqId) {
        if !self.caching {
            return;
        }
        let bs = self.block_size;
        let (shared, full) = {
            let r = reqs.get(id);
            (r.shared, r.computed / bs)
        };
        if full <= shared {
            return;
        }
        let freed = {
            let view = &*reqs;
            self.cache
                .publish(&|i| view.block_content(id, i, bs), shared, full)
        };
        let _ = freed; // duplicates were freed; the request references the cached copies
        reqs.get_mut(id).shared = full;
    }

    /// Releases everything `id` holds (finished or preempted): its computed full blocks stay
    /// cached (unreferenced), the rest is freed.
    pub fn release(&mut self, reqs: &mut Requests<'_>, id: ReqId) {
        self.publish(reqs, id);
        let bs = self.block_size;
        let (shared, blocks) = {
            let r = reqs.get(id);
            (r.shared, r.blocks)
        };
        if shared > 0 {
            let view = &*reqs;
            self.cache
                .unlock(&|i| view.block_content(id, i, bs), shared);
        }
        self.cache.release(blocks - shared);
        let r = reqs.get_mut(id);
        r.blocks = 0;
        r.shared = 0;
    }

    pub fn kv(&self) -> KvBlocks {
        KvBlocks {
            used: self.cache.referenced(),
            total: self.cache.pool().total(),
        }
    }
}
