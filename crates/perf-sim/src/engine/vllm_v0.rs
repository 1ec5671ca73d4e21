//! `vllm_v0`: vLLM V0's default scheduler (and Vidur's `vllm` replica scheduler): a step is
//! either a prefill batch or a decode batch, never both (specs/simulator.md §3.4).
//!
//! Per step:
//! 1. **Prefills first.** While the waiting queue's head fits — running requests below
//!    `max_batch_size`, the batch's prompt tokens within `max_num_batched_tokens` (Σ prompt,
//!    or with `prefill_budget: padded` batch size × longest prompt, as Vidur pads), and its
//!    prompt blocks leaving `watermark × blocks` free (vLLM's `can_allocate`) — it is
//!    admitted with blocks for its whole prompt (`P + g` after a preemption) and prefilled in
//!    this step. Head-of-line: the first that does not fit stops admission.
//! 2. **Otherwise decode** every running request (one token each, in admission order),
//!    giving a request a new block when its next token crosses a block boundary. When no
//!    block is free the last running request (vLLM's lowest priority; or the latest arrival,
//!    [`crate::PreemptionPolicy`]) is preempted by recompute and put at the front of the
//!    waiting queue; if that is the request itself, it is preempted and decoding goes on
//!    with the rest.
//!
//! With `enable_chunked_prefill` vLLM V0 runs its chunked-prefill scheduler instead, which
//! this simulator models as [`crate::engine::sarathi`] with this engine's token budget and
//! watermark.
//!
//! A request is rejected on arrival when `P + O` exceeds the token budget (its recomputation
//! could never be scheduled) or its blocks plus the watermark exceed the cache.
//!
//! Sources: vLLM v0.6 `vllm/core/scheduler.py` (`_schedule_default`, `_schedule_prefills`,
//! `_schedule_running`), `vllm/core/block_manager.py` (`can_allocate` with
//! `watermark_blocks`); Vidur `vidur/scheduler/replica_scheduler/vllm_replica_scheduler.py`.

use perf_model_core::BatchShape;

use super::common::Basic;
use super::{
    ArrivalInfo, BatchLimitUse, Engine, EngineSetup, KvBlocks, PrefillBudget, ReqId, Requests,
    StepEnd, VllmV0Knobs,
};

/// The `vllm_v0` engine (without chunked prefill).
#[derive(Debug)]
pub struct VllmV0 {
    b: Basic,
    watermark_blocks: u64,
    padded: bool,
}

impl VllmV0 {
    /// The engine of one replica.
    #[must_use]
    pub fn new(setup: &EngineSetup<'_>, knobs: &VllmV0Knobs) -> Self {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let watermark_blocks = (knobs.watermark * setup.num_blocks as f64) as u64;
        Self {
            b: Basic::new(setup),
            watermark_blocks,
            padded: knobs.prefill_budget == PrefillBudget::Padded,
        }
    }

    fn prefill(&mut self, reqs: &mut Requests<'_>, now: u64) {
        let b = &mut self.b;
        let (mut count, mut tokens, mut longest) = (0u64, 0u64, 0u32);
        while let Some(&id) = b.waiting.front() {
            if b.at_seq_limit() {
                break;
            }
            let n = reqs.remaining_tokens(id);
            let batch_tokens = if self.padded {
                (count + 1) * u64::from(longest.max(n))
            } else {
                tokens + u64::from(n)
            };
            if batch_tokens > u64::from(b.budget) {
                break;
            }
            let need = b.extra(reqs, id, n + reqs.computed_tokens(id));
            if b.pool.free() < u64::from(need) + self.watermark_blocks {
                break;
            }
            b.grow(reqs, id, reqs.num_tokens(id));
            b.waiting.pop_front();
            b.running.push(id);
            b.plan.push(reqs, id, n, now);
            count += 1;
            tokens += u64::from(n);
            longest = longest.max(n);
        }
        b.note_running();
    }

    fn decode(&mut self, reqs: &mut Requests<'_>, now: u64) {
        let b = &mut self.b;
        let mut i = 0;
        while i < b.running.len() {
            let id = b.running[i];
            let tokens = reqs.computed_tokens(id) + 1;
            let need = b.extra(reqs, id, tokens);
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
            if !b.grow(reqs, id, tokens) {
                break;
            }
            b.plan.push(reqs, id, 1, now);
            i += 1;
        }
    }
}

impl Engine for VllmV0 {
    fn name(&self) -> &str {
        "vllm_v0"
    }

    fn can_serve(&self, request: &ArrivalInfo) -> bool {
        request.final_tokens <= self.b.budget
            && u64::from(self.b.pool.blocks_for(request.final_tokens)) + self.watermark_blocks
                <= self.b.pool.total()
    }

    fn enqueue(&mut self, _reqs: &mut Requests<'_>, id: ReqId) {
        self.b.waiting.push_back(id);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        loop {
            self.b.plan.clear();
            let before = self.b.preemptions;
            self.prefill(reqs, now);
            if self.b.plan.is_empty() {
                self.decode(reqs, now);
            }
            // A decode pass that preempted everyone it could not grow and scheduled nothing
            // is retried at once (the preempted requests are now waiting), as vLLM's engine
            // loop would on its next iteration.
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
