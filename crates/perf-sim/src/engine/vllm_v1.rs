//! `vllm_v1`: vLLM V1's scheduler (specs/simulator.md §3.2), the default engine.
//!
//! Per step a token budget (`max_num_batched_tokens`) and at most `max_num_seqs`
//! (`max_batch_size`) running requests. Running requests first, in admission order (one
//! token each when decoding, the rest of their prompt when prefilling, in chunks with
//! `enable_chunked_prefill`); then — only if nobody was preempted — FCFS admissions from the
//! waiting queue (without chunked prefill, a prompt that does not fit the remaining budget is
//! skipped and the next one tried). KV blocks are allocated for `k + n` tokens; when the pool
//! runs out the last running request (the latest admitted, as vLLM does; or the latest
//! arrival, [`crate::PreemptionPolicy`]) is preempted by recompute: its blocks are freed,
//! `k = 0`, and it goes back to the front of the waiting queue. A pass that preempted and
//! scheduled nothing is retried at once, as vLLM's engine loop would on its next iteration.
//!
//! Prefix caching (`enable_prefix_caching`) is vLLM's automatic prefix caching: a request's
//! full blocks are cached under their chained content hash when its prompt is computed and
//! when it ends (prompt and output; also on preemption), a new or preempted request reuses its
//! longest cached prefix (all but its last token), and cached blocks no request holds are
//! evicted least recently used when an allocation needs them (`crate::engine::vllm_kv`). Block
//! content comes from the workload's prompt identity (shared system prompts, repeated prompts,
//! conversation chains), not token ids.
//!
//! Decoding requests are kept in aggregate (the crate's `decoders` module): per-request work happens
//! only at state changes, which is what makes this engine fast; results are identical to
//! touching every request every step.
//!
//! Sources: vLLM `vllm/v1/core/sched/scheduler.py` (`schedule()`), specs/simulator.md §3.2.

use std::collections::VecDeque;

use perf_model_core::BatchShape;

use super::{
    ArrivalInfo, BatchLimitUse, Engine, EngineSetup, EngineSnapshot, KvBlocks, PrefixHits, ReqId,
    Requests, StepEnd,
};
use rand::rngs::Xoshiro256PlusPlus;

use super::speculative::SpeculativeConfig;
use super::vllm_kv::VllmKv;
use crate::config::PreemptionPolicy;
use crate::decoders::LazyDecoders;
use crate::request::{NEVER, Req};
use crate::rng::{Purpose, stream};
use crate::stats::Sketch;

/// Engine limits a replica schedules with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_num_seqs: usize,
    pub max_num_batched_tokens: u32,
    pub chunked_prefill: bool,
    pub preemption: PreemptionPolicy,
    /// Keep decoding requests in aggregate ([`LazyDecoders`]); off only to cross-check.
    pub lazy_decode: bool,
}

/// A scheduled entry of the current step.
#[derive(Clone, Copy, Debug)]
struct Entry {
    slot: u32,
    n: u32,
    decode: bool,
    /// Speculative proposals verified with a decode (`n = 1 + drafts`).
    drafts: u32,
}

/// The `vllm_v1` engine: waiting queue, running list, KV pool and the step in flight.
///
/// The running requests are `running` (those handled one by one, in running order) plus the
/// lazy decoders of `lazy`; `run_seq` orders the union.
#[derive(Debug)]
pub struct VllmV1 {
    lim: Limits,
    pool: VllmKv,
    waiting: VecDeque<u32>,
    running: Vec<u32>,
    lazy: LazyDecoders,
    next_run_seq: u64,
    /// Finished steps; the step in flight (if any) has this index.
    steps_done: u64,
    /// When the last finished step ended, ns.
    last_end: u64,
    scheduled: Vec<Entry>,
    /// Scratch for the fast path's plan: (index into `running`, tokens, new blocks).
    plan: Vec<(usize, u32, u32)>,
    preemptions: u64,
    /// Admissions from the prefix cache and the tokens they reused.
    hits: PrefixHits,
    /// How `max_num_seqs` acted (its only use: the admission loop's bound).
    batch_limit: BatchLimitUse,
    /// Speculative decoding (module speculative): settings, the replica's acceptance
    /// stream and the draft time of the step in flight, ms.
    spec: Option<SpeculativeConfig>,
    spec_rng: Xoshiro256PlusPlus,
    draft_ms: f64,
}

impl VllmV1 {
    /// The engine of one replica (`setup.config.kind` is `vllm_v1`).
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>) -> Self {
        Self::with_lazy_decode(setup, true)
    }

    /// As [`VllmV1::new`]; `lazy_decode = false` touches every decoding request every step
    /// (the same results, slower; for cross-checks).
    pub(crate) fn with_lazy_decode(setup: &EngineSetup<'_>, lazy_decode: bool) -> Self {
        let e = setup.config;
        let block_size = e.block_size();
        Self {
            lim: Limits {
                max_num_seqs: e.max_batch_size() as usize,
                max_num_batched_tokens: e.max_num_batched_tokens(),
                chunked_prefill: e.enable_chunked_prefill(),
                preemption: setup.preemption,
                // Speculating decoders advance by varying amounts: handled one by one.
                lazy_decode: lazy_decode && e.speculative.is_none(),
            },
            spec: e.speculative.clone(),
            spec_rng: stream(setup.seed, Purpose::Speculation, u64::from(setup.replica)),
            draft_ms: 0.0,
            hits: PrefixHits::default(),
            batch_limit: BatchLimitUse::default(),
            pool: VllmKv::new(setup.num_blocks, block_size, e.enable_prefix_caching()),
            waiting: VecDeque::new(),
            running: Vec::new(),
            lazy: LazyDecoders::new(block_size),
            next_run_seq: 0,
            steps_done: 0,
            last_end: 0,
            scheduled: Vec::new(),
            plan: Vec::new(),
            preemptions: 0,
        }
    }

    /// Running requests (one by one and lazy).
    #[inline]
    fn running_count(&self) -> usize {
        self.running.len() + self.lazy.count() as usize
    }

    /// Brings every lazy decoder up to date and back into `running`, in running order.
    fn materialise_all(&mut self, reqs: &mut [Req]) {
        if self.lazy.count() == 0 {
            return;
        }
        self.lazy
            .materialise_all(reqs, self.steps_done, self.last_end, &mut self.running);
        self.running
            .sort_unstable_by_key(|&s| reqs[s as usize].run_seq);
    }

    /// Appends `s` to the running order.
    fn push_running(&mut self, reqs: &mut [Req], s: u32) {
        reqs[s as usize].run_seq = self.next_run_seq;
        self.next_run_seq += 1;
        self.running.push(s);
    }

    /// Evicts a victim among the not-yet-scheduled running requests `running[from..]`: the
    /// last one (latest admitted, vLLM) or the latest arrival; frees its blocks and requeues it
    /// at the front of the waiting queue for recomputation. Returns its slot.
    fn preempt(&mut self, reqs: &mut [Req], from: usize, policy: PreemptionPolicy) -> Option<u32> {
        let v = match policy {
            PreemptionPolicy::LastAdmitted => self.running.pop()?,
            PreemptionPolicy::LatestArrival => {
                let tail = self.running.get(from..)?;
                let (pos, _) = tail
                    .iter()
                    .enumerate()
                    .max_by_key(|&(_, &s)| reqs[s as usize].id)?;
                self.running.remove(from + pos)
            }
        };
        let r = &mut reqs[v as usize];
        // Its computed full blocks stay cached: the recomputation may find them.
        self.pool.release(r);
        r.computed = 0;
        r.preemptions += 1;
        self.waiting.push_front(v);
        self.preemptions += 1;
        Some(v)
    }

    /// Builds the next step at `now`: running requests first (preempting on block shortage),
    /// then FCFS admissions if nobody was preempted. Returns the batch (empty ⇒ idle).
    ///
    /// A pass that preempted and scheduled nothing (the victim was the first running request)
    /// is retried at once, as vLLM's engine loop would on its next iteration; each retry moves
    /// a request from running to waiting, so this ends, and an empty batch means no work.
    fn schedule_step(&mut self, reqs: &mut [Req], now: u64) -> BatchShape {
        let lim = self.lim;
        let lim = &lim;
        let shape = if lim.lazy_decode
            && let Some(shape) = self.schedule_fast(reqs, lim, now)
        {
            shape
        } else {
            self.materialise_all(reqs);
            loop {
                let (shape, preempted) = self.schedule_once(reqs, lim, now);
                if !shape.is_empty() || !preempted {
                    break shape;
                }
            }
        };
        self.note_running();
        shape
    }

    /// Raises the peak of running requests to the current count.
    #[inline]
    fn note_running(&mut self) {
        let n = self.running_count() as u64;
        if n > self.batch_limit.peak_running {
            self.batch_limit.peak_running = n;
        }
    }

    fn schedule_once(&mut self, reqs: &mut [Req], lim: &Limits, now: u64) -> (BatchShape, bool) {
        let mut shape = BatchShape::default();
        self.scheduled.clear();
        let mut spec_seqs = 0;
        let mut budget = lim.max_num_batched_tokens;
        let mut preempted = false;
        let mut i = 0;
        'running: while i < self.running.len() && budget > 0 {
            let s = self.running[i];
            let (k, num, blocks, generated, target) = {
                let r = &reqs[s as usize];
                (r.computed, r.num_tokens(), r.blocks, r.generated, r.target)
            };
            let n = (num - k).min(budget);
            if n == 0 {
                i += 1;
                continue;
            }
            // A decode verifies its pending token and up to k proposals (never beyond the
            // output's last token, nor the step's budget).
            let drafts = match &self.spec {
                Some(spec) if generated >= 1 && n == 1 && k + 1 == num => spec
                    .num_speculative_tokens
                    .min(target.saturating_sub(generated + 1))
                    .min(budget - 1),
                _ => 0,
            };
            let n = n + drafts;
            let need = self.pool.extra_for(k + n, blocks);
            while u64::from(need) > self.pool.free() {
                preempted = true;
                match self.preempt(reqs, i, lim.preemption) {
                    Some(v) if v == s => break 'running,
                    Some(_) => {}
                    None => break 'running,
                }
            }
            self.pool.try_take(need);
            reqs[s as usize].blocks += need;
            debug_assert!(self.pool.blocks_for(k + n) <= reqs[s as usize].blocks);
            let decode = generated >= 1 && n == 1 + drafts && k + 1 == num;
            if drafts > 0 {
                // k + 1 tokens over the context: a chunk's work (module speculative).
                shape.add_prefill(n, k, true);
                spec_seqs += 1;
            } else if decode {
                shape.add_decode(k);
            } else {
                shape.add_prefill(n, k, k + n == num);
            }
            self.scheduled.push(Entry {
                slot: s,
                n,
                decode,
                drafts,
            });
            budget -= n;
            i += 1;
        }
        if !preempted {
            self.admit(reqs, lim, now, budget, &mut shape);
        }
        self.draft_ms = self
            .spec
            .as_ref()
            .map_or(0.0, |spec| spec.draft_time_ms(spec_seqs));
        debug_assert!(self.running_count() <= lim.max_num_seqs);
        debug_assert!(self.pool.used() <= self.pool.total());
        (shape, preempted)
    }

    /// FCFS admissions from the waiting queue with the `budget` left this step.
    fn admit(
        &mut self,
        reqs: &mut [Req],
        lim: &Limits,
        now: u64,
        mut budget: u32,
        shape: &mut BatchShape,
    ) {
        let mut j = 0;
        while j < self.waiting.len() && budget > 0 {
            // The only place `max_num_seqs` acts: a run where this never stops an admission
            // is the same under any larger limit (`BatchLimitUse`).
            self.note_running();
            if self.running_count() >= lim.max_num_seqs {
                self.batch_limit.held_back += 1;
                break;
            }
            let s = self.waiting[j];
            let cached = if reqs[s as usize].computed == 0 && reqs[s as usize].blocks == 0 {
                self.pool.cached_tokens(&reqs[s as usize])
            } else {
                0
            };
            let bs = self.pool.block_size();
            let r = &mut reqs[s as usize];
            let num = r.num_tokens();
            let (k, held, shared) = if cached > 0 {
                (cached, cached / bs, cached / bs)
            } else {
                (r.computed, r.blocks, r.shared)
            };
            let full = num - k;
            if !lim.chunked_prefill && full > budget {
                j += 1;
                continue;
            }
            let n = full.min(budget);
            let need = self.pool.extra_for(k + n, held);
            // Hold the cached prefix first, so the allocation cannot evict it.
            self.pool.hold_prefix(r, cached / bs);
            if !self.pool.try_take(need) {
                self.pool.drop_prefix(r, cached / bs);
                break;
            }
            if cached > 0 {
                r.computed = cached;
                r.cached = cached;
                self.hits.admissions += 1;
                self.hits.tokens += u64::from(cached);
            }
            r.shared = shared;
            r.blocks = held + need;
            if r.scheduled_ns == NEVER {
                r.scheduled_ns = now;
            }
            // A request whose prompt was computed on a prefill replica (disaggregation)
            // arrives decoding; any other admission computes a prompt (or recomputes).
            let decode = n == 1 && r.generated >= 1 && k + 1 == num;
            let _ = self.waiting.remove(j);
            self.push_running(reqs, s);
            if decode {
                shape.add_decode(k);
            } else {
                shape.add_prefill(n, k, k + n == num);
            }
            self.scheduled.push(Entry {
                slot: s,
                n,
                decode,
                drafts: 0,
            });
            budget -= n;
        }
    }

    /// One step built without touching the lazy decoders one by one, when that gives exactly
    /// what [`Replica::schedule_once`] would: no KV shortage (so no preemption), and either the
    /// whole demand fits the token budget or every request handled one by one comes after every
    /// lazy decoder in running order (so a truncating budget cuts the same requests). `None`
    /// (nothing changed) otherwise, or when the step would be empty.
    fn schedule_fast(&mut self, reqs: &mut [Req], lim: &Limits, now: u64) -> Option<BatchShape> {
        let t = self.steps_done;
        let lazy = self.lazy.count();
        let mut budget = lim.max_num_batched_tokens.checked_sub(lazy)?;
        if lazy > 0 {
            let mut demand = u64::from(lazy);
            let mut interleaved = false;
            for &s in &self.running {
                let r = &reqs[s as usize];
                demand += u64::from(r.num_tokens() - r.computed);
                interleaved |= r.run_seq < self.lazy.seq_bound();
            }
            if interleaved && demand > u64::from(lim.max_num_batched_tokens) {
                return None;
            }
        }
        let lazy_blocks = self.lazy.blocks_needed(t);
        let mut free = self.pool.free().checked_sub(u64::from(lazy_blocks))?;
        self.plan.clear();
        for (i, &s) in self.running.iter().enumerate() {
            if budget == 0 {
                break;
            }
            let r = &reqs[s as usize];
            let (k, num) = (r.computed, r.num_tokens());
            let n = (num - k).min(budget);
            if n == 0 {
                continue;
            }
            let need = self.pool.extra_for(k + n, r.blocks);
            free = free.checked_sub(u64::from(need))?;
            self.plan.push((i, n, need));
            budget -= n;
        }
        if lazy == 0 && self.plan.is_empty() && self.waiting.is_empty() {
            return None;
        }
        let mut shape = BatchShape::default();
        self.scheduled.clear();
        self.pool.try_take(lazy_blocks);
        shape.add_decodes(lazy, self.lazy.context_sum(t));
        for &(i, n, need) in &self.plan {
            let s = self.running[i];
            self.pool.try_take(need);
            let r = &mut reqs[s as usize];
            r.blocks += need;
            let (k, num) = (r.computed, r.num_tokens());
            let decode = r.generated >= 1 && n == 1 && k + 1 == num;
            if decode {
                shape.add_decode(k);
            } else {
                shape.add_prefill(n, k, k + n == num);
            }
            self.scheduled.push(Entry {
                slot: s,
                n,
                decode,
                drafts: 0,
            });
        }
        self.admit(reqs, lim, now, budget, &mut shape);
        if shape.is_empty() {
            return None;
        }
        debug_assert!(self.running_count() <= lim.max_num_seqs);
        Some(shape)
    }

    /// Ends the step at `now`: advances every scheduled request and lazy decoder, samples
    /// tokens, records ITL gaps (of `measured` requests only) and pushes finished slots onto
    /// `done` in running order (their blocks released); decoding requests become lazy
    /// decoders. First tokens are stamped `first_token_delay` ns after `now` (the front end
    /// streams them; ITL gaps are measured at the engine).
    #[allow(clippy::too_many_arguments)]
    fn end_step(
        &mut self,
        reqs: &mut [Req],
        start: u64,
        now: u64,
        first_token_delay: u64,
        itl: &mut Sketch,
        done: &mut Vec<u32>,
    ) {
        let lazy_decode = self.lim.lazy_decode;
        let t = self.steps_done;
        self.lazy.record_step(t, now - start);
        // Every lazy decoder emitted a token after one that ended when this step started; the
        // gaps of those arrived during the warm-up are not sampled.
        let mut same_gap = u64::from(self.lazy.measured_count());
        let mut any_done = false;
        for e in &self.scheduled {
            let r = &mut reqs[e.slot as usize];
            if e.drafts > 0 {
                // The pending token and the accepted proposals hold valid KV; the step emits
                // them plus one token of the target model (below).
                let accepted = match &self.spec {
                    Some(spec) => spec.draw_accepted(e.drafts, &mut self.spec_rng),
                    None => 0,
                };
                r.computed += 1 + accepted;
                r.generated += accepted;
                if r.measured {
                    itl.add_n(0, u64::from(accepted));
                }
            } else {
                r.computed += e.n;
            }
            if !e.decode {
                r.prefilled += u64::from(e.n);
                if r.computed >= r.prompt {
                    // Its prompt's full blocks become reusable at once.
                    self.pool.publish(r);
                }
            }
            if r.computed == r.num_tokens() {
                r.generated += 1;
                if r.generated == 1 {
                    // The client sees it once the front end has streamed it.
                    r.first_token_ns = now.saturating_add(first_token_delay);
                } else {
                    let gap = now - r.last_token_ns;
                    if r.measured {
                        if r.last_token_ns == start {
                            same_gap += 1;
                        } else {
                            itl.add(gap);
                        }
                    }
                    r.itl_max_ns = r.itl_max_ns.max(gap);
                }
                r.last_token_ns = now;
                if r.generated >= r.target {
                    self.pool.release(r);
                    r.finished = true;
                    any_done = true;
                    done.push(e.slot);
                }
            }
        }
        let eager_done = done.len();
        self.lazy.take_completions(t, done);
        for &slot in &done[eager_done..] {
            let r = &mut reqs[slot as usize];
            self.lazy.materialise(r, t + 1, now);
            debug_assert_eq!(r.generated, r.target);
            self.pool.release(r);
            r.finished = true;
        }
        if done.len() > eager_done && eager_done > 0 {
            done.sort_unstable_by_key(|&s| reqs[s as usize].run_seq);
        }
        itl.add_n(now - start, same_gap);
        if any_done {
            self.running.retain(|&s| !reqs[s as usize].finished);
        }
        self.steps_done = t + 1;
        self.last_end = now;
        if lazy_decode {
            let mut became_lazy = false;
            for e in &self.scheduled {
                let r = &mut reqs[e.slot as usize];
                // Only a request that sampled a token now: one that stopped a recomputation
                // a token short has a longer gap ahead than the step's.
                if !r.finished && r.last_token_ns == now && r.computed + 1 == r.num_tokens() {
                    self.lazy.add(r, e.slot, t + 1);
                    became_lazy = true;
                }
            }
            if became_lazy {
                self.running.retain(|&s| !reqs[s as usize].lazy);
            }
            self.lazy.prune_gaps(reqs);
        }
        self.scheduled.clear();
    }
}

impl Engine for VllmV1 {
    fn name(&self) -> &str {
        "vllm_v1"
    }

    fn can_serve(&self, request: &ArrivalInfo) -> bool {
        let total = request.final_tokens;
        (self.lim.chunked_prefill || total <= self.lim.max_num_batched_tokens)
            && u64::from(self.pool.blocks_for(total)) <= self.pool.total()
    }

    fn enqueue(&mut self, _reqs: &mut Requests<'_>, id: ReqId) {
        self.waiting.push_back(id.0);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        self.schedule_step(reqs.reqs, now)
    }

    fn finish_step(&mut self, step: &mut StepEnd<'_>) {
        self.end_step(
            step.reqs,
            step.start,
            step.now,
            step.first_token_delay,
            step.itl,
            step.done,
        );
    }

    fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn running(&self) -> usize {
        self.running_count()
    }

    fn kv_blocks(&self) -> KvBlocks {
        KvBlocks {
            used: self.pool.used(),
            total: self.pool.total(),
        }
    }

    fn preemptions(&self) -> u64 {
        self.preemptions
    }

    fn extra_step_ms(&self) -> f64 {
        self.draft_ms
    }

    fn prefix_hits(&self) -> PrefixHits {
        self.hits
    }

    fn batch_limit_use(&self) -> Option<BatchLimitUse> {
        Some(self.batch_limit)
    }

    fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            waiting: self.waiting.len(),
            running: self.running_count(),
            kv: KvBlocks {
                used: self.pool.used(),
                total: self.pool.total(),
            },
            preemptions: self.preemptions,
        }
    }

    fn has_work(&self) -> bool {
        self.running_count() > 0 || !self.waiting.is_empty()
    }

    fn sync(&mut self, reqs: &mut Requests<'_>) {
        self.materialise_all(reqs.reqs);
    }

    fn accepts_prefilled(&self) -> bool {
        true
    }
}
