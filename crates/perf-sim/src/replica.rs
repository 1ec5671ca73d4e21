//! One serving replica with a vLLM-V1-style scheduler (specs/simulator.md §3.2).

use std::collections::{HashMap, VecDeque};

use perf_model_core::BatchShape;

use crate::config::PreemptionPolicy;
use crate::decoders::LazyDecoders;
use crate::kv::BlockPool;
use crate::request::{NEVER, Req};
use crate::stats::Sketch;

/// Engine limits a replica schedules with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_num_seqs: usize,
    pub max_num_batched_tokens: u32,
    pub chunked_prefill: bool,
    pub max_queue: usize,
    pub preemption: PreemptionPolicy,
    /// Keep decoding requests in aggregate ([`LazyDecoders`]); off only to cross-check.
    pub lazy_decode: bool,
}

/// Per-replica counters for the summary.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplicaCounters {
    pub steps: u64,
    pub busy_ns: u64,
    pub batch_sum: u64,
    pub tokens_sum: u64,
    /// Σ used_blocks · step duration (block·ns).
    pub kv_block_ns: u128,
    pub kv_max_used: u64,
    pub preemptions: u64,
    pub completed: u64,
    pub routed: u64,
}

/// One step as `steps.csv` reports it (specs/simulator.md §7.3), taken when it was scheduled.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StepRecord {
    /// Step number within the replica, from 0.
    pub index: u64,
    pub start_ns: u64,
    pub shape: BatchShape,
    pub kv_blocks_used: u64,
    /// Waiting and running requests once the step was scheduled.
    pub waiting: usize,
    pub running: usize,
    /// Requests preempted while scheduling it.
    pub preempted: u64,
}

/// A scheduled entry of the current step.
#[derive(Clone, Copy, Debug)]
struct Entry {
    slot: u32,
    n: u32,
    decode: bool,
}

/// An idealised prefix cache: block-aligned prefixes (whole prompts and system prompts) whose
/// blocks stay pinned once computed, up to `cap` blocks; no LRU eviction (all pins are
/// dropped only when they alone keep a waiting request out of an idle replica).
#[derive(Debug, Default)]
pub(crate) struct PrefixCache {
    /// Key → cached tokens (a multiple of the block size).
    map: HashMap<u64, u32>,
    pinned: u64,
    cap: u64,
    pub hits: u64,
    pub hit_tokens: u64,
}

/// A replica: waiting queue, running list, KV pool and the step in flight.
///
/// The running requests are `running` (those handled one by one, in running order) plus the
/// lazy decoders of `lazy`; `run_seq` orders the union.
#[derive(Debug)]
pub(crate) struct Replica {
    pub pool: BlockPool,
    pub waiting: VecDeque<u32>,
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
    pub busy: bool,
    pub wake_pending: bool,
    step_start: u64,
    pub counters: ReplicaCounters,
    pub prefix: Option<PrefixCache>,
    /// The step in flight (or the last one).
    pub last_step: StepRecord,
    preemptions_seen: u64,
}

impl Replica {
    /// A replica of `blocks` KV blocks; with `prefix_cap = Some(n)` a prefix cache pinning at
    /// most `n` blocks.
    pub fn new(blocks: u64, block_size: u32, prefix_cap: Option<u64>) -> Self {
        Self {
            prefix: prefix_cap.map(|cap| PrefixCache {
                cap,
                ..PrefixCache::default()
            }),
            pool: BlockPool::new(blocks, block_size),
            waiting: VecDeque::new(),
            running: Vec::new(),
            lazy: LazyDecoders::new(block_size),
            next_run_seq: 0,
            steps_done: 0,
            last_end: 0,
            scheduled: Vec::new(),
            plan: Vec::new(),
            busy: false,
            wake_pending: false,
            step_start: 0,
            counters: ReplicaCounters::default(),
            last_step: StepRecord::default(),
            preemptions_seen: 0,
        }
    }

    /// Running requests (one by one and lazy).
    #[inline]
    fn running_count(&self) -> usize {
        self.running.len() + self.lazy.count() as usize
    }

    /// Waiting + running.
    pub fn outstanding(&self) -> usize {
        self.waiting.len() + self.running_count()
    }

    /// True when something could be scheduled.
    pub fn has_work(&self) -> bool {
        self.running_count() > 0 || !self.waiting.is_empty()
    }

    /// Brings every lazy decoder up to date and back into `running`, in running order.
    pub fn materialise_all(&mut self, reqs: &mut [Req]) {
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
        self.pool.release(r.blocks - r.shared);
        r.blocks = 0;
        r.shared = 0;
        r.computed = 0;
        r.preemptions += 1;
        self.waiting.push_front(v);
        self.counters.preemptions += 1;
        Some(v)
    }

    /// Builds the next step at `now`: running requests first (preempting on block shortage),
    /// then FCFS admissions if nobody was preempted. Returns the batch (empty ⇒ idle).
    ///
    /// A pass that preempted and scheduled nothing (the victim was the first running request)
    /// is retried at once, as vLLM's engine loop would on its next iteration; each retry moves
    /// a request from running to waiting, so this ends, and an empty batch means no work.
    pub fn schedule(&mut self, reqs: &mut [Req], lim: &Limits, now: u64) -> BatchShape {
        if lim.lazy_decode
            && let Some(shape) = self.schedule_fast(reqs, lim, now)
        {
            return shape;
        }
        self.materialise_all(reqs);
        loop {
            let (shape, preempted) = self.schedule_once(reqs, lim, now);
            if shape.is_empty()
                && self.running_count() == 0
                && !self.waiting.is_empty()
                && self.flush_prefixes()
            {
                continue;
            }
            if !shape.is_empty() || !preempted {
                return shape;
            }
        }
    }

    /// Drops every pinned prefix (only when nothing runs, so no request references them).
    /// Returns whether any block was freed.
    fn flush_prefixes(&mut self) -> bool {
        let Some(pc) = &mut self.prefix else {
            return false;
        };
        if pc.pinned == 0 {
            return false;
        }
        #[allow(clippy::cast_possible_truncation)]
        self.pool.release(pc.pinned as u32);
        pc.pinned = 0;
        pc.map.clear();
        true
    }

    /// Block-aligned prompt tokens of `r` found in the prefix cache (at least one prompt
    /// token is always recomputed, as vLLM does on a full hit).
    fn cached_prefix(&self, r: &Req) -> u32 {
        let Some(pc) = &self.prefix else {
            return 0;
        };
        if r.prompt_key == 0 {
            return 0;
        }
        let hit = pc
            .map
            .get(&r.prompt_key)
            .copied()
            .unwrap_or(0)
            .max(pc.map.get(&r.group_key).copied().unwrap_or(0));
        let bs = self.pool.block_size();
        let limit = (r.prompt.saturating_sub(1) / bs) * bs;
        hit.min(limit)
    }

    /// After `r` (in `slot`) computed its whole prompt: pin its prompt's (else its system
    /// prompt's) full blocks if they are not cached yet and the cap allows.
    fn pin_prefix(pool: &BlockPool, pc: &mut PrefixCache, r: &mut Req) {
        if r.prompt_key == 0 {
            return;
        }
        let bs = pool.block_size();
        let mut pin = |key: u64, tokens: u32, r: &mut Req| {
            let full = tokens / bs;
            if full == 0 || pc.map.contains_key(&key) || r.blocks < full {
                return;
            }
            let new = u64::from(full.saturating_sub(r.shared));
            if pc.pinned + new > pc.cap {
                return;
            }
            pc.pinned += new;
            r.shared = r.shared.max(full);
            pc.map.insert(key, full * bs);
        };
        pin(r.prompt_key, r.prompt, r);
        pin(r.group_key, r.system_len, r);
    }

    fn schedule_once(&mut self, reqs: &mut [Req], lim: &Limits, now: u64) -> (BatchShape, bool) {
        let mut shape = BatchShape::default();
        self.scheduled.clear();
        let mut budget = lim.max_num_batched_tokens;
        let mut preempted = false;
        let mut i = 0;
        'running: while i < self.running.len() && budget > 0 {
            let s = self.running[i];
            let (k, num, blocks, generated) = {
                let r = &reqs[s as usize];
                (r.computed, r.num_tokens(), r.blocks, r.generated)
            };
            let n = (num - k).min(budget);
            if n == 0 {
                i += 1;
                continue;
            }
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
            let decode = generated >= 1 && n == 1 && k + 1 == num;
            if decode {
                shape.add_decode(k);
            } else {
                shape.add_prefill(n, k, k + n == num);
            }
            self.scheduled.push(Entry { slot: s, n, decode });
            budget -= n;
            i += 1;
        }
        if !preempted {
            self.admit(reqs, lim, now, budget, &mut shape);
        }
        debug_assert!(self.running_count() <= lim.max_num_seqs);
        debug_assert!(self.pool.used() <= self.pool.total());
        self.step_start = now;
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
        while j < self.waiting.len() && budget > 0 && self.running_count() < lim.max_num_seqs {
            let s = self.waiting[j];
            let cached = if reqs[s as usize].computed == 0 && reqs[s as usize].blocks == 0 {
                self.cached_prefix(&reqs[s as usize])
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
            if !self.pool.try_take(need) {
                break;
            }
            if cached > 0 {
                r.computed = cached;
                r.cached = cached;
                if let Some(pc) = &mut self.prefix {
                    pc.hits += 1;
                    pc.hit_tokens += u64::from(cached);
                }
            }
            r.shared = shared;
            r.blocks = held + need;
            if r.scheduled_ns == NEVER {
                r.scheduled_ns = now;
            }
            let _ = self.waiting.remove(j);
            self.push_running(reqs, s);
            shape.add_prefill(n, k, k + n == num);
            self.scheduled.push(Entry {
                slot: s,
                n,
                decode: false,
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
            self.scheduled.push(Entry { slot: s, n, decode });
        }
        self.admit(reqs, lim, now, budget, &mut shape);
        if shape.is_empty() {
            return None;
        }
        debug_assert!(self.running_count() <= lim.max_num_seqs);
        self.step_start = now;
        Some(shape)
    }

    /// Accounts the step `[step_start, now)` that computed `shape`, and records it in
    /// [`Replica::last_step`].
    pub fn account(&mut self, shape: &BatchShape, dt: u64) {
        self.last_step = StepRecord {
            index: self.counters.steps,
            start_ns: self.step_start,
            shape: *shape,
            kv_blocks_used: self.pool.used(),
            waiting: self.waiting.len(),
            running: self.running_count(),
            preempted: self.counters.preemptions - self.preemptions_seen,
        };
        self.preemptions_seen = self.counters.preemptions;
        let c = &mut self.counters;
        c.steps += 1;
        c.busy_ns = c.busy_ns.saturating_add(dt);
        c.batch_sum += u64::from(shape.num_seqs());
        c.tokens_sum += shape.total_tokens();
        c.kv_block_ns += u128::from(self.pool.used()) * u128::from(dt);
        c.kv_max_used = c.kv_max_used.max(self.pool.used());
    }

    /// Ends the step at `now`: advances every scheduled request and lazy decoder, samples
    /// tokens, records ITL gaps (of `measured` requests only) and pushes finished slots onto
    /// `done` in running order (their blocks released); decoding requests become lazy
    /// decoders. First tokens are stamped `first_token_delay` ns after `now` (the front end
    /// streams them; ITL gaps are measured at the engine).
    pub fn finish_step(
        &mut self,
        reqs: &mut [Req],
        now: u64,
        first_token_delay: u64,
        itl: &mut Sketch,
        done: &mut Vec<u32>,
        lazy_decode: bool,
    ) {
        let start = self.step_start;
        let t = self.steps_done;
        self.lazy.record_step(t, now - start);
        // Every lazy decoder emitted a token after one that ended when this step started; the
        // gaps of those arrived during the warm-up are not sampled.
        let mut same_gap = u64::from(self.lazy.measured_count());
        let mut any_done = false;
        for e in &self.scheduled {
            let r = &mut reqs[e.slot as usize];
            r.computed += e.n;
            if !e.decode {
                r.prefilled += u64::from(e.n);
                if r.computed >= r.prompt
                    && let Some(pc) = &mut self.prefix
                {
                    Self::pin_prefix(&self.pool, pc, r);
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
                    self.pool.release(r.blocks - r.shared);
                    r.blocks = 0;
                    r.shared = 0;
                    r.finished = true;
                    any_done = true;
                    self.counters.completed += 1;
                    done.push(e.slot);
                }
            }
        }
        let eager_done = done.len();
        while let Some(slot) = self.lazy.pop_completion(t) {
            let r = &mut reqs[slot as usize];
            self.lazy.materialise(r, t + 1, now);
            debug_assert_eq!(r.generated, r.target);
            self.pool.release(r.blocks - r.shared);
            r.blocks = 0;
            r.shared = 0;
            r.finished = true;
            self.counters.completed += 1;
            done.push(slot);
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
