//! `orca`: Orca's iteration-level scheduling (specs/simulator.md §3.4).
//!
//! Every step runs all running requests (each decodes one token) plus, FCFS, as many waiting
//! requests as fit, each with its **whole prompt** (no chunking) in the same fused step:
//! admission needs a running slot (`max_batch_size`), the prompt within the step's remaining
//! `max_num_batched_tokens`, and free blocks for `P + max_new_tokens` — Orca reserves a
//! request's KV up to its maximum length when it starts, so running requests never run out
//! and nothing is ever preempted. The head of the queue that does not fit blocks the ones
//! behind it. The reservation is released when the request finishes.
//!
//! Orca itself has no per-step token budget (only the batch size and the memory
//! reservation); set `max_num_batched_tokens` high to mimic that. Its selective batching
//! (attention per request, the rest batched) is what the fused-step cost model prices.
//!
//! A request is rejected on arrival when its prompt exceeds the token budget or
//! `P + max_new_tokens` needs more blocks than the cache has.
//!
//! Sources: Yu et al., "Orca: A Distributed Serving System for Transformer-Based Generative
//! Models", OSDI 2022 (§4: iteration-level scheduling, reservation of `max_tokens` slots);
//! Vidur `vidur/scheduler/replica_scheduler/orca_replica_scheduler.py`.

use perf_model_core::BatchShape;

use super::common::{Basic, reservation};
use super::{ArrivalInfo, BatchLimitUse, Engine, EngineSetup, KvBlocks, ReqId, Requests, StepEnd};

/// The `orca` engine.
#[derive(Debug)]
pub struct Orca {
    b: Basic,
}

impl Orca {
    /// The engine of one replica.
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>) -> Self {
        Self {
            b: Basic::new(setup),
        }
    }
}

/// FCFS whole-prompt admissions with full reservations into `b`'s plan, `tokens` already
/// scheduled; shared with [`crate::engine::static_batch`].
pub(crate) fn admit_reserving(b: &mut Basic, reqs: &mut Requests<'_>, now: u64, mut tokens: u32) {
    while let Some(&id) = b.waiting.front() {
        if b.at_seq_limit() {
            break;
        }
        let n = reqs.remaining_tokens(id);
        if u64::from(tokens) + u64::from(n) > u64::from(b.budget) {
            break;
        }
        if !b.grow(reqs, id, reservation(reqs, id)) {
            break;
        }
        b.waiting.pop_front();
        b.running.push(id);
        b.plan.push(reqs, id, n, now);
        tokens += n;
    }
    b.note_running();
}

/// Whether a request's whole prompt fits the budget and its reservation the cache.
pub(crate) fn serves_reserving(b: &Basic, request: &ArrivalInfo) -> bool {
    request.prompt_tokens <= b.budget
        && u64::from(
            b.pool
                .blocks_for(request.prompt_tokens.saturating_add(request.max_new_tokens)),
        ) <= b.pool.total()
}

impl Engine for Orca {
    fn name(&self) -> &str {
        "orca"
    }

    fn can_serve(&self, request: &ArrivalInfo) -> bool {
        serves_reserving(&self.b, request)
    }

    fn enqueue(&mut self, _reqs: &mut Requests<'_>, id: ReqId) {
        self.b.waiting.push_back(id);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        let b = &mut self.b;
        b.plan.clear();
        for i in 0..b.running.len() {
            let id = b.running[i];
            b.plan.push(reqs, id, 1, now);
        }
        let tokens = u32::try_from(b.running.len()).unwrap_or(u32::MAX);
        admit_reserving(b, reqs, now, tokens);
        b.plan.shape()
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
        0
    }
}
