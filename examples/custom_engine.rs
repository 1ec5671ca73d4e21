//! A custom engine added from outside `perf-sim`: a shortest-prompt-first scheduler,
//! registered under a name and selected by `cluster.engine.kind`, compared with vLLM V1 on a
//! mix of short chat prompts and long document prompts.
//!
//! Run: `cargo run --release --example custom_engine`.
//!
//! ```text
//!  Poisson ─► router ─► replica ─► Engine (trait object) ─► step = (request, tokens)… ─► cost model
//!                                  │ kind: vllm_v1        → built in
//!                                  │ kind: shortest_first → ShortestFirst (this file),
//!                                  │                        via SimulationBuilder::engine
//! ```
//!
//! The engine is small but complete: a waiting set ordered by tokens left to prefill (ties by
//! arrival), running requests decoded first each step, then whole-prompt admissions while
//! the token budget, `max_batch_size` and the KV pool allow; a decode that finds no free
//! block preempts (recompute) the most recently admitted request. It keeps the engine
//! contract (see `perf_sim::engine`): blocks recorded with `Requests::set_blocks` cover the
//! scheduled tokens, the pool never exceeds its capacity, and finished requests leave.
//! Its option `max_prompt_share` (fraction of the budget one prompt may take, default 1)
//! shows how a custom engine reads and validates `cluster.engine.options`.
//!
//! What to look for: shortest-first cuts the chat clients' TTFT under load (short prompts
//! overtake long ones) at the price of the documents' TTFT.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::error::Error;

use llm_perf::model::BatchShape;
use llm_perf::sim::engine::{
    Advance, ArrivalInfo, Engine, EngineSetup, KvBlocks, ReqId, Requests, StepEnd, StepPlan,
};
use llm_perf::sim::kv::BlockPool;
use llm_perf::sim::{SimConfig, SimError, Simulation};

/// Shortest-prompt-first with whole-prompt admissions and decode priority.
struct ShortestFirst {
    pool: BlockPool,
    /// `(tokens to prefill, arrival number, request)`: smallest first.
    waiting: BinaryHeap<Reverse<(u32, u64, ReqId)>>,
    running: Vec<ReqId>,
    plan: StepPlan,
    max_seqs: usize,
    budget: u32,
    /// Longest prompt admitted, tokens (`max_prompt_share × budget`).
    max_prompt: u32,
    preemptions: u64,
}

impl ShortestFirst {
    fn build(setup: &EngineSetup<'_>) -> Result<Box<dyn Engine>, SimError> {
        let e = setup.config;
        let share = match e.kind {
            llm_perf::sim::EngineKind::Custom { ref options, .. } => {
                match options.get("max_prompt_share") {
                    None => 1.0,
                    Some(v) => v
                        .as_f64()
                        .filter(|s| *s > 0.0 && *s <= 1.0)
                        .ok_or_else(|| SimError::InvalidConfig {
                            field: "cluster.engine.options.max_prompt_share".into(),
                            value: v.to_string(),
                            reason: "must be a number in (0, 1]".into(),
                        })?,
                }
            }
            _ => 1.0,
        };
        let budget = e.max_num_batched_tokens();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let max_prompt = (f64::from(budget) * share) as u32;
        Ok(Box::new(Self {
            pool: BlockPool::new(setup.num_blocks, e.block_size()),
            waiting: BinaryHeap::new(),
            running: Vec::new(),
            plan: StepPlan::new(),
            max_seqs: e.max_batch_size() as usize,
            budget,
            max_prompt,
            preemptions: 0,
        }))
    }

    /// Grows `id`'s blocks to hold `tokens`; false when the pool is short.
    fn grow(&mut self, reqs: &mut Requests<'_>, id: ReqId, tokens: u32) -> bool {
        let need = self.pool.extra_for(tokens, reqs.blocks(id));
        if !self.pool.try_take(need) {
            return false;
        }
        let held = reqs.blocks(id);
        reqs.set_blocks(id, held + need);
        true
    }

    fn queue(&mut self, reqs: &Requests<'_>, id: ReqId) {
        self.waiting.push(Reverse((
            reqs.remaining_tokens(id),
            reqs.request_number(id),
            id,
        )));
    }
}

impl Engine for ShortestFirst {
    fn name(&self) -> &str {
        "shortest_first"
    }

    fn can_serve(&self, r: &ArrivalInfo) -> bool {
        // Whole prompts (a recomputation after a preemption prefills up to P + O − 1).
        r.final_tokens <= self.max_prompt
            && u64::from(self.pool.blocks_for(r.final_tokens)) <= self.pool.total()
    }

    fn enqueue(&mut self, reqs: &mut Requests<'_>, id: ReqId) {
        self.queue(reqs, id);
    }

    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape {
        self.plan.clear();
        // 1. Decodes, in admission order; on a block shortage the latest admitted goes back.
        let mut i = 0;
        while i < self.running.len() {
            let id = self.running[i];
            let next = reqs.computed_tokens(id) + 1;
            while self.pool.extra_for(next, reqs.blocks(id)) as u64 > self.pool.free() {
                let Some(victim) = self.running.pop() else {
                    break;
                };
                self.pool.release(reqs.blocks(victim));
                reqs.preempt(victim);
                self.queue(reqs, victim);
                self.preemptions += 1;
                if victim == id {
                    break;
                }
            }
            if i >= self.running.len() {
                break; // `id` itself was preempted
            }
            if self.grow(reqs, id, next) {
                self.plan.push(reqs, id, 1, now);
            }
            i += 1;
        }
        // 2. Shortest prompts first, whole, while they fit.
        let mut tokens = u32::try_from(self.plan.len()).unwrap_or(u32::MAX);
        while let Some(&Reverse((n, _, id))) = self.waiting.peek() {
            if self.running.len() >= self.max_seqs || tokens + n > self.budget {
                break;
            }
            if !self.grow(reqs, id, n) {
                break;
            }
            self.waiting.pop();
            self.running.push(id);
            self.plan.push(reqs, id, n, now);
            tokens += n;
        }
        self.plan.shape()
    }

    fn finish_step(&mut self, step: &mut StepEnd<'_>) {
        let pool = &mut self.pool;
        let mut finished = Vec::new();
        self.plan.finish(step, |reqs, id, ev| {
            if ev == Advance::Finished {
                pool.release(reqs.blocks(id));
                reqs.set_blocks(id, 0);
                finished.push(id);
            }
        });
        // A finished request's id is recycled after this call: forget it now.
        self.running.retain(|id| !finished.contains(id));
    }

    fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn running(&self) -> usize {
        self.running.len()
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
}

fn config(kind: &str, rate: f64) -> Result<SimConfig, serde_json::Error> {
    let options = if kind == "vllm_v1" {
        String::new()
    } else {
        r#", "options": { "max_prompt_share": 1.0 }"#.to_owned()
    };
    serde_json::from_str(&format!(
        r#"{{
          "seed": 7, "max_requests": 4000,
          "cluster": {{
            "engine": {{ "kind": "{kind}", "max_batch_size": 128,
                         "max_num_batched_tokens": 8192{options} }},
            "cost_model": {{ "kind": "roofline", "model": "Llama-3.1-8B", "accelerator": "H100" }},
            "kv_cache": {{ "num_gpu_blocks": 6000 }} }},
          "workload": {{ "rate": {rate}, "clients": [
            {{ "name": "chat", "weight": 4, "arrival": {{ "kind": "poisson" }},
              "input": {{ "kind": "lognormal", "mean": 200, "std": 100, "max": 1000 }},
              "output": {{ "kind": "lognormal", "mean": 150, "std": 80, "max": 1000 }} }},
            {{ "name": "documents", "weight": 1, "arrival": {{ "kind": "poisson" }},
              "input": {{ "kind": "uniform", "low": 3000, "high": 6000 }},
              "output": {{ "kind": "fixed", "value": 100 }} }} ] }}
        }}"#
    ))
}

/// Mean TTFT per client, ms, from the requests CSV (client names without commas).
fn ttft_by_client(csv: &[u8]) -> Result<Vec<(String, f64)>, Box<dyn Error>> {
    let mut sums: Vec<(String, f64, u32)> = Vec::new();
    for line in std::str::from_utf8(csv)?.lines().skip(1) {
        let rec: Vec<&str> = line.split(',').collect();
        if rec.get(9) != Some(&"completed") {
            continue;
        }
        let ttft: f64 = rec[10].parse()?;
        match sums.iter_mut().find(|s| s.0 == rec[1]) {
            Some(s) => {
                s.1 += ttft;
                s.2 += 1;
            }
            None => sums.push((rec[1].to_owned(), ttft, 1)),
        }
    }
    Ok(sums
        .into_iter()
        .map(|(c, sum, n)| (c, sum / f64::from(n)))
        .collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    println!(
        "{:<16} {:>6}  {:>12} {:>15}  {:>9}  {:>7}",
        "engine", "req/s", "chat TTFT ms", "documents TTFT", "E2E p99", "preempt"
    );
    for rate in [20.0, 30.0, 36.0] {
        for kind in ["vllm_v1", "shortest_first"] {
            let sim = Simulation::builder(config(kind, rate)?)
                .engine("shortest_first", ShortestFirst::build)?
                .build()?;
            let mut csv = Vec::new();
            let s = sim.run(&mut csv)?;
            let ttft = ttft_by_client(&csv)?;
            let get = |c: &str| ttft.iter().find(|t| t.0 == c).map_or(f64::NAN, |t| t.1);
            println!(
                "{kind:<16} {rate:>6.1}  {:>12.1} {:>15.1}  {:>9.0}  {:>7}",
                get("chat"),
                get("documents"),
                s.latency.e2e_ms.p99,
                s.preemptions
            );
        }
    }
    Ok(())
}
