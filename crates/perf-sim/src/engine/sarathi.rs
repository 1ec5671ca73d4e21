//! `sarathi`: Sarathi-Serve's stall-free batching as Vidur's `sarathi` replica scheduler
//! implements it (specs/simulator.md §3.4); also `vllm_v0` with `enable_chunked_prefill`.
//!
//! A small per-step token budget (`chunk_size`, i.e. `max_num_batched_tokens`, default 512)
//! is filled in three passes:
//! 1. **Decodes** of running requests whose prefill is complete, one token each, in
//!    admission order. A request whose next token needs a block when none is free preempts
//!    (by recompute) the last running request (or the latest arrival,
//!    [`crate::PreemptionPolicy`]), which goes to the front of the waiting queue; if that is
//!    the request itself, it is the one preempted.
//! 2. **Ongoing prefills** of running requests, each the rest of its prompt up to the budget
//!    left.
//! 3. **Admissions**, FCFS, while running requests are below `max_batch_size`, budget is left
//!    and the head's whole prompt (`P + g` after a preemption) fits in the free blocks with
//!    `watermark × blocks` to spare: its prompt blocks are allocated at once (Vidur's
//!    `_allocate_request`) and its first chunk scheduled.
//!
//! Prefill chunks and decodes run in one fused step. Unlike `vllm_v1`, decodes never wait
//! behind a prefill (they come first), a request's prompt blocks are reserved at
//! admission, and admissions continue after a preemption.
//!
//! Sources: Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
//! Sarathi-Serve", OSDI 2024; Vidur
//! `vidur/scheduler/replica_scheduler/sarathi_replica_scheduler.py` (watermark 0.01 from its
//! base scheduler config).

use perf_model_core::BatchShape;

use super::common::Basic;
use super::{ArrivalInfo, BatchLimitUse, Engine, EngineSetup, KvBlocks, ReqId, Requests, StepEnd};

/// The `sarathi` engine.
#[derive(Debug)]
pub struct Sarathi {
    b: Basic,
    watermark_blocks: u64,
    name: &'static str,
    /// Scratch: running requests still prefilling, in running order.
    prefills: Vec<ReqId>,
}

impl Sarathi {
    /// The engine of one replica, reporting itself as `name` (`sarathi`, or `vllm_v0` with
    /// chunked prefill).
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>, watermark: f64, name: &'static str) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let watermark_blocks = (watermark * setup.num_blocks as f64) as u64;
        Self {
            b: Basic::new(setup),
            watermark_blocks,
            name,
            prefills: Vec::new(),
        }
    }

    fn build(&mut self, reqs: &mut Requests<'_>, now: u64) {
        let b = &mut self.b;
        b.plan.clear();
        self.prefills.clear();
        let mut tokens = 0u32;
        // 1. Decodes.
        let mut i = 0;
        while i < b.running.len() {
            let id = b.running[i];
            if !reqs.is_decoding(id) {
                self.prefills.push(id);
                i += 1;
                continue;
            }
            if tokens >= b.budget {
                i += 1;
                continue;
            }
            let next = reqs.computed_tokens(id) + 1;
            let need = b.extra(reqs, id, next);
            let mut preempted_self = false;
            while b.pool.free() < u64::from(need) {
                let Some(v) = b.victim(reqs, i) else {
                    break;
                };
                b.preempt_at(reqs, v);
                if v == i {
                    preempted_self = true;
                    break;
                }
            }
            if preempted_self {
                continue;
            }
            if !b.grow(reqs, id, next) {
                i += 1;
                continue;
            }
            b.plan.push(reqs, id, 1, now);
            tokens += 1;
            i += 1;
        }
        // 2. Ongoing prefills (their prompt blocks were allocated at admission).
        for &id in &self.prefills {
            let n = reqs.remaining_tokens(id).min(b.budget - tokens);
            if n == 0 {
                continue;
            }
            let k = reqs.computed_tokens(id);
            if !b.grow(reqs, id, k + n) {
                continue;
            }
            b.plan.push(reqs, id, n, now);
            tokens += n;
        }
        // 3. Admissions.
        while let Some(&id) = b.waiting.front() {
            if tokens >= b.budget || b.at_seq_limit() {
                break;
            }
            let num = reqs.num_tokens(id);
            let need = b.extra(reqs, id, num);
            if b.pool.free() < u64::from(need) + self.watermark_blocks {
                break;
            }
            b.grow(reqs, id, num);
            b.waiting.pop_front();
            b.running.push(id);
            let n = reqs.remaining_tokens(id).min(b.budget - tokens);
            b.plan.push(reqs, id, n, now);
            tokens += n;
        }
        b.note_running();
    }
}

impl Engine for Sarathi {
    fn name(&self) -> &str {
        self.name
    }

    fn can_serve(&self, request: &ArrivalInfo) -> bool {
        u64::from(self.b.pool.blocks_for(request.final_tokens)) + self.watermark_blocks
            <= self.b.pool.total()
    }

    fn enqueue(&mut self, _reqs: &mut Requests<'_>, id: ReqId) {
        self.b.waiting.push_back(id);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        loop {
            let before = self.b.preemptions;
            self.build(reqs, now);
            if !self.b.plan.is_empty() || self.b.preemptions == before {
                return self.b.plan.shape();
            }
        }
    }

    fn finish_step(&mut self, step: &mut StepEnd<'_>) {
        self.b.finish(step);
    }

    fn waiting(&self) -> usize {
        self.b.waiting.len()
    }

    fn running(&self) -> usize {
        self.b.running.len()
    }

    fn kv_blocks(&self) -> KvBlocks {
        self.b.kv()
    }

    fn batch_limit_use(&self) -> Option<BatchLimitUse> {
        Some(self.b.batch_limit)
    }

    fn preemptions(&self) -> u64 {
        self.b.preemptions
    }
}
