//! `static`: static (request-level) batching, as FasterTransformer served models before
//! continuous batching and as Vidur's `faster_transformer` replica scheduler models it
//! (specs/simulator.md §3.4).
//!
//! When the replica has no batch, it forms one FCFS from the waiting queue: up to
//! `max_batch_size` requests whose prompts together fit `max_num_batched_tokens` and whose
//! reservations `P + max_new_tokens` fit the free blocks (the head that does not fit ends
//! the batch). The batch's prompts run in one prefill step; then the batch decodes, one
//! token per member per step, until **every** member has finished. Only then is the next
//! batch formed: arrivals wait, however short the remaining work. Members leave the batch
//! (and free their reservation) as they finish. No preemption.
//!
//! Approximation: FasterTransformer pads prompts to the longest and keeps computing for
//! members that have finished; the cost model here is charged for the real prompt tokens
//! and the unfinished members only (a lower bound on the real step time).
//!
//! Sources: NVIDIA FasterTransformer GPT serving (static batches); Yu et al., OSDI 2022, §2
//! (request-level scheduling, the baseline Orca improves on); Vidur
//! `vidur/scheduler/replica_scheduler/faster_transformer_replica_scheduler.py`.

use perf_model_core::BatchShape;

use super::common::Basic;
use super::orca::{admit_reserving, serves_reserving};
use super::{ArrivalInfo, BatchLimitUse, Engine, EngineSetup, KvBlocks, ReqId, Requests, StepEnd};

/// The `static` engine.
#[derive(Debug)]
pub struct Static {
    b: Basic,
}

impl Static {
    /// The engine of one replica.
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>) -> Self {
        Self {
            b: Basic::new(setup),
        }
    }
}

impl Engine for Static {
    fn name(&self) -> &str {
        "static"
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
        if b.running.is_empty() {
            admit_reserving(b, reqs, now, 0);
        } else {
            for i in 0..b.running.len() {
                let id = b.running[i];
                b.plan.push(reqs, id, 1, now);
            }
        }
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
