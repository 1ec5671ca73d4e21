//! One serving replica with a vLLM-V1-style scheduler (specs/simulator.md §3.2).

use std::collections::{HashMap, VecDeque};

use perf_model_core::BatchShape;

use crate::config::PreemptionPolicy;
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
#[derive(Debug)]
pub(crate) struct Replica {
    pub pool: BlockPool,
    pub waiting: VecDeque<u32>,
    pub running: Vec<u32>,
    scheduled: Vec<Entry>,
    pub busy: bool,
    pub wake_pending: bool,
    step_start: u64,
    pub counters: ReplicaCounters,
    pub prefix: Option<PrefixCache>,
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
            scheduled: Vec::new(),
            busy: false,
            wake_pending: false,
            step_start: 0,
            counters: ReplicaCounters::default(),
        }
    }

    /// Waiting + running.
    pub fn outstanding(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    /// True when something could be scheduled.
    pub fn has_work(&self) -> bool {
        !self.running.is_empty() || !self.waiting.is_empty()
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
        loop {
            let (shape, preempted) = self.schedule_once(reqs, lim, now);
            if shape.is_empty()
                && self.running.is_empty()
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
            let mut j = 0;
            while j < self.waiting.len() && budget > 0 && self.running.len() < lim.max_num_seqs {
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
                self.running.push(s);
                shape.add_prefill(n, k, k + n == num);
                self.scheduled.push(Entry {
                    slot: s,
                    n,
                    decode: false,
                });
                budget -= n;
            }
        }
        debug_assert!(self.running.len() <= lim.max_num_seqs);
        debug_assert!(self.pool.used() <= self.pool.total());
        self.step_start = now;
        (shape, preempted)
    }

    /// Accounts the step `[step_start, now)` that computed `shape`.
    pub fn account(&mut self, shape: &BatchShape, dt: u64) {
        let c = &mut self.counters;
        c.steps += 1;
        c.busy_ns = c.busy_ns.saturating_add(dt);
        c.batch_sum += u64::from(shape.num_seqs());
        c.tokens_sum += shape.total_tokens();
        c.kv_block_ns += u128::from(self.pool.used()) * u128::from(dt);
        c.kv_max_used = c.kv_max_used.max(self.pool.used());
    }

    /// Ends the step at `now`: advances every scheduled request, samples tokens, records ITL
    /// gaps and pushes finished slots onto `done` (their blocks released).
    pub fn finish_step(
        &mut self,
        reqs: &mut [Req],
        now: u64,
        itl: &mut Sketch,
        done: &mut Vec<u32>,
    ) {
        let start = self.step_start;
        let mut same_gap = 0u64;
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
                    r.first_token_ns = now;
                } else {
                    let gap = now - r.last_token_ns;
                    if r.last_token_ns == start {
                        same_gap += 1;
                    } else {
                        itl.add(gap);
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
        itl.add_n(now - start, same_gap);
        if any_done {
            self.running.retain(|&s| !reqs[s as usize].finished);
        }
        self.scheduled.clear();
    }
}
