//! Engines as plug-ins: a replica's scheduler and KV-memory manager behind one trait.
//!
//! The event loop ([`crate::Simulation`]) owns the clock, the request table, routing, token
//! bookkeeping and the outputs; each replica's **engine** decides what runs in the next step
//! (which requests, how many tokens each), what is admitted from its waiting queue, what is
//! preempted, and which KV blocks are held, cached and evicted. The loop only talks to the
//! [`Engine`] trait, so a downstream crate can add an engine without forking this one
//! ([`EngineRegistry`], [`crate::SimulationBuilder::engine`]); `cluster.engine.kind` selects a
//! built-in one ([`EngineKind`]):
//!
//! | kind | file | behaviour (source) |
//! |---|---|---|
//! | `vllm_v1` (default) | [`vllm_v1`] | vLLM V1: running first, then FCFS admissions, chunked prefill, fused prefill+decode steps, recompute preemption of the last admitted (specs/simulator.md §3.2) |
//! | `vllm_v0` | [`vllm_v0`] | vLLM V0 / Vidur `vllm`: prefill-only or decode-only steps, prefill priority, 1 % watermark (§3.4) |
//! | `sarathi` | [`sarathi`] | Sarathi-Serve / Vidur `sarathi`: small token budget (`chunk_size` 512), decodes, then ongoing prefills, then admissions (§3.4) |
//! | `orca` | [`orca`] | Orca: iteration-level, unchunked, admission reserves `P + max_tokens`, no preemption (§3.4) |
//! | `static` | [`static_batch`] | static batching (FasterTransformer / Vidur `faster_transformer`): a batch runs until all its members finish (§3.4) |
//! | `sglang` | [`sglang`] | SGLang: radix prefix cache with LRU eviction, `fcfs`/`lpm`, prefill-priority steps, chunked prefill, `new_token_ratio` admission, decode retraction |
//! | `trtllm` | [`trtllm`] | TensorRT-LLM: in-flight batching, capacity scheduler `guaranteed_no_evict` / `max_utilization`, micro-batch scheduler (`max_num_tokens`, `max_batch_size`), chunked context, KV block reuse |
//!
//! # The contract
//! What the simulator guarantees to an engine:
//! * [`Engine::enqueue`] is called once per routed request, in routing order; a request never
//!   reaches two replicas. It is called at any time, also while a step is in flight.
//! * [`Engine::schedule`] is called only when no step of this replica is in flight: after a
//!   request was enqueued to an idle replica, and right after [`Engine::finish_step`] whenever
//!   the engine reports work ([`Engine::has_work`]). All events of an instant are processed
//!   before the replica decides its step.
//! * [`Engine::finish_step`] is called exactly once per non-empty step, at its end
//!   (`start + step time`), before anything else is scheduled on this replica. Through
//!   [`StepEnd::advance`] (or [`StepPlan::finish`]) the simulator applies a scheduled entry:
//!   `k += n`, samples a token when `k` reaches `P + g` (the first one from the step that
//!   completes the prompt), stamps token times, records inter-token gaps and decides
//!   completion (`g == O`; engines never see `O`, only `max_new_tokens`). A finished request
//!   is written out and its [`ReqId`] **recycled** once `finish_step` returns: the engine must
//!   drop it from its queues (and free its blocks) when `advance` returns
//!   [`Advance::Finished`].
//! * [`Engine::can_serve`] is asked once per arriving request; `false` makes it `rejected`.
//!   Requests longer than `max_model_len` are rejected before the engine is asked.
//!
//! What the engine must guarantee (the simulator checks the first four and fails the run
//! with [`crate::SimError::Engine`] otherwise):
//! * **KV never above capacity**: [`Engine::kv_blocks`] `used ≤ total` after every step is
//!   built.
//! * **Blocks cover tokens**: a request scheduled for `n` tokens holds at least
//!   `⌈(k + n) / block_size⌉` blocks ([`Requests::set_blocks`]) when [`StepEnd::advance`]
//!   applies it.
//! * **Limits**: a step has at most `max_batch_size` requests and `max_num_batched_tokens`
//!   tokens (the engine's [`EngineConfig`], whatever its native names).
//! * **No stall, count conservation**: an engine with work ([`Engine::has_work`]) schedules a
//!   non-empty step (an idle replica is woken only by arrivals), and `waiting() + running()`
//!   equals the requests enqueued and not finished: a request is never lost or duplicated.
//! * **Determinism**: same calls, same answers (no hash-order, address or clock dependence).
//!
//! # Writing one
//! Keep a waiting queue and a running list of [`ReqId`]s, a [`crate::kv::BlockPool`] (or a
//! [`RadixCache`] for prefix reuse) and a [`StepPlan`]; in `schedule` push `(id, n)` entries
//! to the plan (growing each request's blocks first), in `finish_step` call
//! [`StepPlan::finish`] and free the blocks of finished requests. `examples/custom_engine.rs`
//! (workspace root) adds a shortest-prompt-first engine from outside this crate that way.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use perf_model_core::BatchShape;

use crate::error::{Result, invalid};
use crate::request::{NEVER, Req};
use crate::stats::Sketch;

mod common;
pub mod config;
pub mod orca;
pub mod radix;
pub mod sarathi;
pub mod sglang;
pub mod speculative;
pub mod static_batch;
pub mod trtllm;
mod vllm_kv;
pub mod vllm_v0;
pub mod vllm_v1;

pub use config::{
    CapacitySchedulerPolicy, EngineConfig, EngineKind, PrefillBudget, SarathiKnobs, SchedulePolicy,
    SglangKnobs, TrtLlmKnobs, VllmV0Knobs,
};
pub use radix::RadixCache;

/// Handle of a request in the simulator's request table, valid from [`Engine::enqueue`] until
/// [`StepEnd::advance`] reports it [`Advance::Finished`] (then it is recycled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqId(pub(crate) u32);

impl ReqId {
    #[inline]
    fn slot(self) -> usize {
        self.0 as usize
    }
}

/// The engine's view of the request table: what a scheduler may know about a request (its
/// prompt, progress, declared `max_new_tokens`, arrival) and the changes it may make (blocks
/// held, prefix-cache hits, recompute preemption). The actual output length `O` stays hidden.
pub struct Requests<'a> {
    pub(crate) reqs: &'a mut [Req],
}

impl fmt::Debug for Requests<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requests")
            .field("slots", &self.reqs.len())
            .finish()
    }
}

impl<'a> Requests<'a> {
    pub(crate) fn new(reqs: &'a mut [Req]) -> Self {
        Self { reqs }
    }

    #[inline]
    pub(crate) fn get(&self, id: ReqId) -> &Req {
        &self.reqs[id.slot()]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: ReqId) -> &mut Req {
        &mut self.reqs[id.slot()]
    }

    /// Prompt tokens `P`.
    #[must_use]
    #[inline]
    pub fn prompt_tokens(&self, id: ReqId) -> u32 {
        self.get(id).prompt
    }

    /// Tokens generated so far, `g`.
    #[must_use]
    #[inline]
    pub fn generated_tokens(&self, id: ReqId) -> u32 {
        self.get(id).generated
    }

    /// Tokens whose KV is computed, `k` (0 after a preemption).
    #[must_use]
    #[inline]
    pub fn computed_tokens(&self, id: ReqId) -> u32 {
        self.get(id).computed
    }

    /// `P + g`: the tokens whose KV the next token needs.
    #[must_use]
    #[inline]
    pub fn num_tokens(&self, id: ReqId) -> u32 {
        self.get(id).num_tokens()
    }

    /// Tokens still to compute before the next token is sampled, `P + g − k` (1 in steady
    /// decode: the last sampled token is fed back).
    #[must_use]
    #[inline]
    pub fn remaining_tokens(&self, id: ReqId) -> u32 {
        let r = self.get(id);
        r.num_tokens() - r.computed
    }

    /// True in steady decode: at least one token generated and only it left to compute.
    #[must_use]
    #[inline]
    pub fn is_decoding(&self, id: ReqId) -> bool {
        let r = self.get(id);
        r.generated >= 1 && r.computed + 1 == r.num_tokens()
    }

    /// The output cap the client sent (`max_tokens`; without one the client asks for exactly
    /// its output length, as benchmark clients do), at most `max_model_len − P`: what an
    /// engine reserving KV "to completion" plans for. `g` never exceeds it.
    #[must_use]
    #[inline]
    pub fn max_new_tokens(&self, id: ReqId) -> u32 {
        self.get(id).max_new
    }

    /// Arrival time at the cluster, ns.
    #[must_use]
    #[inline]
    pub fn arrival_ns(&self, id: ReqId) -> u64 {
        self.get(id).arrival_ns
    }

    /// The run-wide request number (the CSV's `request_id`): arrival order, unique.
    #[must_use]
    #[inline]
    pub fn request_number(&self, id: ReqId) -> u64 {
        self.get(id).id
    }

    /// KV blocks the engine recorded for the request ([`Requests::set_blocks`]).
    #[must_use]
    #[inline]
    pub fn blocks(&self, id: ReqId) -> u32 {
        self.get(id).blocks
    }

    /// Times the request was preempted.
    #[must_use]
    #[inline]
    pub fn preemptions(&self, id: ReqId) -> u32 {
        self.get(id).preemptions
    }

    /// Records that the request holds `blocks` KV blocks (its own and shared ones): what
    /// "blocks cover tokens" is checked against.
    #[inline]
    pub fn set_blocks(&mut self, id: ReqId, blocks: u32) {
        self.get_mut(id).blocks = blocks;
    }

    /// Admits the request with its first `tokens` prompt tokens found in a prefix cache:
    /// `k = tokens` (recorded as the request's `cached_prefix_length` and a `hit`). Only for
    /// a request with nothing computed; `tokens` must be below `P + g` (the last token is
    /// always recomputed for its logits).
    pub fn start_from_cache(&mut self, id: ReqId, tokens: u32) {
        let r = self.get_mut(id);
        debug_assert!(r.computed == 0 && tokens < r.num_tokens());
        if r.computed == 0 && tokens > 0 && tokens < r.num_tokens() {
            r.computed = tokens;
            r.cached = tokens;
        }
    }

    /// Preempts the request by recompute: `k = 0`, no blocks, preemption count + 1. The
    /// engine frees its blocks and queues it again; it recomputes `P + g` tokens later
    /// (delivered tokens are not delivered again).
    pub fn preempt(&mut self, id: ReqId) {
        let r = self.get_mut(id);
        r.computed = 0;
        r.blocks = 0;
        r.shared = 0;
        r.preemptions += 1;
    }

    /// A key identifying the content of the request's KV block `index` (tokens
    /// `[index·bs, (index+1)·bs)`) for prefix caching: blocks inside a shared system prompt
    /// have their group's key, blocks of a conversation turn (prompt and output) its
    /// conversation's key, blocks inside a repeated prompt the prompt's key, anything else
    /// (unique prompts, generated tokens) a key of the request alone. Two requests'
    /// blocks with equal keys and equal preceding blocks hold the same KV.
    #[must_use]
    pub fn block_content(&self, id: ReqId, index: u32, block_size: u32) -> u64 {
        block_content_of(self.get(id), index, block_size)
    }
}

/// [`Requests::block_content`] of a request.
#[inline]
pub(crate) fn block_content_of(r: &Req, index: u32, block_size: u32) -> u64 {
    let end = u64::from(index + 1) * u64::from(block_size);
    let base = if r.prompt_key != 0 && end <= u64::from(r.system_len) && r.group_key != 0 {
        r.group_key
    } else if crate::conversation::is_session_key(r.prompt_key) {
        // A conversation's token at position i is the same in every turn that holds it
        // (prompt, then output, then the next turn's new input): one chain.
        r.prompt_key
    } else if r.prompt_key != 0 && end <= u64::from(r.prompt) {
        r.prompt_key
    } else {
        // Request-unique content: bit 63 keeps it apart from workload keys (clients below
        // 32 768 leave it clear).
        (1 << 63) | r.id
    };
    mix64(base ^ mix64(u64::from(index).wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

/// SplitMix64's finaliser: a fixed, portable 64-bit mix.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What [`StepEnd::advance`] did to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advance {
    /// Its KV grew but no token was sampled (a partial prefill).
    Computed,
    /// It sampled a token and continues.
    Token,
    /// It sampled its last token: it is complete, its [`ReqId`] is recycled after
    /// [`Engine::finish_step`] returns. Free its blocks and forget it.
    Finished,
}

/// The end of a step, handed to [`Engine::finish_step`]: applies scheduled work to requests
/// and records tokens.
pub struct StepEnd<'a> {
    pub(crate) reqs: &'a mut [Req],
    pub(crate) now: u64,
    pub(crate) start: u64,
    pub(crate) first_token_delay: u64,
    pub(crate) itl: &'a mut Sketch,
    pub(crate) done: &'a mut Vec<u32>,
    pub(crate) block_size: u32,
    pub(crate) violation: Option<String>,
    /// Measured tokens whose gap is the whole step (their previous token ended when it
    /// started): recorded at once by the simulator after [`Engine::finish_step`].
    pub(crate) same_gap: u64,
}

impl fmt::Debug for StepEnd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepEnd")
            .field("start", &self.start)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl StepEnd<'_> {
    /// When the step ends, ns.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.now
    }

    /// When the step started, ns.
    #[must_use]
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The request table.
    pub fn requests(&mut self) -> Requests<'_> {
        Requests::new(self.reqs)
    }

    /// Applies `n` computed tokens to request `id` (scheduled for `n` in this step): `k += n`;
    /// when `k` reaches `P + g` a token is sampled at the step's end (the client sees the
    /// first one after the front end's delay); the request finishes with its last token.
    pub fn advance(&mut self, id: ReqId, n: u32) -> Advance {
        let bs = self.block_size;
        let r = &mut self.reqs[id.slot()];
        let num = r.num_tokens();
        if self.violation.is_none() {
            if n == 0 || r.computed + n > num {
                self.violation = Some(format!(
                    "request {} scheduled for {n} tokens with {} of {num} computed",
                    r.id, r.computed
                ));
            } else if u64::from(r.blocks) * u64::from(bs) < u64::from(r.computed + n) {
                self.violation = Some(format!(
                    "request {} holds {} blocks of {bs} tokens for {} tokens (blocks must \
                     cover tokens)",
                    r.id,
                    r.blocks,
                    r.computed + n
                ));
            }
        }
        let n = n.min(num - r.computed);
        let decode = r.generated >= 1 && n == 1 && r.computed + 1 == num;
        r.computed += n;
        if !decode {
            r.prefilled += u64::from(n);
        }
        if r.computed < num {
            return Advance::Computed;
        }
        r.generated += 1;
        if r.generated == 1 {
            r.first_token_ns = self.now.saturating_add(self.first_token_delay);
        } else {
            let gap = self.now - r.last_token_ns;
            if r.measured {
                if r.last_token_ns == self.start {
                    self.same_gap += 1;
                } else {
                    self.itl.add(gap);
                }
            }
            r.itl_max_ns = r.itl_max_ns.max(gap);
        }
        r.last_token_ns = self.now;
        if r.generated >= r.target {
            r.finished = true;
            self.done.push(id.0);
            Advance::Finished
        } else {
            Advance::Token
        }
    }
}

/// The work of one step being built: `(request, tokens)` entries and the batch shape the cost
/// model prices (prefill chunks and decodes fused in one pass).
#[derive(Clone, Debug, Default)]
pub struct StepPlan {
    entries: Vec<(ReqId, u32)>,
    shape: BatchShape,
}

impl StepPlan {
    /// An empty plan.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the plan for the next step.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.shape = BatchShape::default();
    }

    /// Schedules `n ≥ 1` tokens of request `id` in the step starting at `now`: a decode when
    /// the request is decoding and `n = 1`, else a prefill chunk of `n` tokens over its `k`
    /// cached ones. Marks the request's first scheduled time. The request must already hold
    /// blocks for `k + n` tokens.
    pub fn push(&mut self, reqs: &mut Requests<'_>, id: ReqId, n: u32, now: u64) {
        let r = reqs.get_mut(id);
        let (k, num) = (r.computed, r.num_tokens());
        debug_assert!(n >= 1 && k + n <= num, "n {n}, k {k}, num {num}");
        if r.generated >= 1 && n == 1 && k + 1 == num {
            self.shape.add_decode(k);
        } else {
            self.shape.add_prefill(n, k, k + n == num);
        }
        if r.scheduled_ns == NEVER {
            r.scheduled_ns = now;
        }
        self.entries.push((id, n));
    }

    /// The batch so far.
    #[must_use]
    pub fn shape(&self) -> BatchShape {
        self.shape
    }

    /// The `(request, tokens)` entries so far, in scheduling order.
    #[must_use]
    pub fn entries(&self) -> &[(ReqId, u32)] {
        &self.entries
    }

    /// Entries scheduled.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing scheduled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Tokens scheduled.
    #[must_use]
    pub fn tokens(&self) -> u64 {
        self.shape.total_tokens()
    }

    /// Applies every entry at the step's end ([`StepEnd::advance`], in scheduling order) and
    /// tells `on_event` what happened to each; then empties the plan.
    pub fn finish(
        &mut self,
        step: &mut StepEnd<'_>,
        mut on_event: impl FnMut(&mut Requests<'_>, ReqId, Advance),
    ) {
        for &(id, n) in &self.entries {
            let ev = step.advance(id, n);
            on_event(&mut step.requests(), id, ev);
        }
        self.clear();
    }
}

/// What an engine is told about an arriving request to decide whether it could ever serve it
/// ([`Engine::can_serve`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArrivalInfo {
    /// Prompt tokens `P`.
    pub prompt_tokens: u32,
    /// `P + O`: the longest the request's KV can grow (a recomputation after a preemption
    /// prefills up to `P + O − 1` tokens).
    pub final_tokens: u32,
    /// The declared output cap ([`Requests::max_new_tokens`]).
    pub max_new_tokens: u32,
}

/// KV blocks of a replica: referenced (held by requests, the cached prefixes they share
/// included; cached blocks no request holds count as free, as vLLM's and SGLang's usage gauges
/// count them) and total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvBlocks {
    /// Blocks in use.
    pub used: u64,
    /// Blocks available to the engine.
    pub total: u64,
}

/// An engine's counts at one instant ([`Engine::snapshot`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineSnapshot {
    /// [`Engine::waiting`].
    pub waiting: usize,
    /// [`Engine::running`].
    pub running: usize,
    /// [`Engine::kv_blocks`].
    pub kv: KvBlocks,
    /// [`Engine::preemptions`].
    pub preemptions: u64,
}

/// How an engine's running-request limit (`max_batch_size`, vLLM's `max_num_seqs`) acted in
/// a run: whether it ever held a request back, and how close the run came to it.
///
/// When `held_back` is 0 the limit never changed a decision, so any `max_batch_size` above
/// `peak_running` gives the same run, step for step (an engine reports this only if it can
/// guarantee that; see [`Engine::batch_limit_use`]). A tuner uses it to know that such
/// configurations need no simulation of their own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchLimitUse {
    /// Admission passes the limit ended while requests were waiting (and, for `vllm_v1` and
    /// `sarathi`, the step's token budget had room): 0 means it never held a request back.
    pub held_back: u64,
    /// The most requests running at once, at admissions and after each step was built.
    pub peak_running: u64,
}

/// Prefix-cache reuse so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixHits {
    /// Admissions that reused a cached prefix.
    pub admissions: u64,
    /// Prompt tokens those admissions reused.
    pub tokens: u64,
}

/// A replica's scheduler and KV-memory manager (see the [module docs](self) for the contract).
///
/// Object safe; `Send`, so simulations can run on any thread.
pub trait Engine: Send {
    /// The engine's name (`vllm_v1`, or a custom engine's registered name).
    fn name(&self) -> &str;

    /// Whether a request could ever be served here (else it is `rejected` on arrival): e.g.
    /// its blocks fit the cache, its prompt fits the token budget without chunked prefill.
    fn can_serve(&self, request: &ArrivalInfo) -> bool;

    /// A request routed to this replica joins its waiting queue.
    fn enqueue(&mut self, reqs: &mut Requests<'_>, id: ReqId);

    /// Builds the step starting at `now` (no step in flight) and returns its batch; an empty
    /// batch leaves the replica idle until the next arrival.
    fn schedule(&mut self, reqs: &mut Requests<'_>, now: u64) -> BatchShape;

    /// Ends the step in flight: apply every scheduled entry with [`StepEnd::advance`] (or
    /// [`StepPlan::finish`]) and release finished requests.
    fn finish_step(&mut self, step: &mut StepEnd<'_>);

    /// Requests waiting to be admitted.
    fn waiting(&self) -> usize;

    /// Requests admitted and not finished (holding or about to hold KV).
    fn running(&self) -> usize;

    /// KV blocks in use and total.
    fn kv_blocks(&self) -> KvBlocks;

    /// Preemptions so far (recomputation, retraction or pausing).
    fn preemptions(&self) -> u64;

    /// Prefix-cache reuse so far (none by default).
    fn prefix_hits(&self) -> PrefixHits {
        PrefixHits::default()
    }

    /// How the running-request limit acted so far ([`BatchLimitUse`]), for an engine whose
    /// only use of `max_batch_size` is to stop admitting when that many requests run. The
    /// default, `None`, claims nothing (no configuration is then treated as equivalent).
    fn batch_limit_use(&self) -> Option<BatchLimitUse> {
        None
    }

    /// The counts above at once (the simulator reads them after every step is built; one
    /// call instead of four).
    fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            waiting: self.waiting(),
            running: self.running(),
            kv: self.kv_blocks(),
            preemptions: self.preemptions(),
        }
    }

    /// Waiting + running.
    fn outstanding(&self) -> usize {
        self.waiting() + self.running()
    }

    /// True when something could be scheduled.
    fn has_work(&self) -> bool {
        self.outstanding() > 0
    }

    /// Time the step just built spends outside the target model's forward pass that the
    /// engine itself adds, ms (speculative decoding's draft proposals); 0 by default. The
    /// simulator adds it to the cost model's step time.
    fn extra_step_ms(&self) -> f64 {
        0.0
    }

    /// Brings every request's state up to date (at the end of a run, before the unfinished
    /// ones are written out). Engines that keep requests in aggregate do it here.
    fn sync(&mut self, reqs: &mut Requests<'_>) {
        let _ = reqs;
    }

    /// Whether the engine can serve as the decode pool of a disaggregated cluster
    /// ([`crate::disagg`]): [`Engine::enqueue`] then also receives requests whose prompt KV
    /// was computed on another replica and arrives with them (`k = P`, `g = 1`, no blocks
    /// held); the engine allocates blocks for their `P + 1` tokens at admission and decodes
    /// from there. Default `false` (the simulator refuses such a configuration).
    fn accepts_prefilled(&self) -> bool {
        false
    }
}

/// What an engine factory gets to build one replica's engine.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EngineSetup<'a> {
    /// `cluster.engine`: kind, limits, knobs (a custom engine's `options`).
    pub config: &'a EngineConfig,
    /// KV blocks of the replica (`cluster.kv_cache`, capped by the engine's own limit).
    pub num_blocks: u64,
    /// Which replica, from 0.
    pub replica: u32,
    /// `cluster.preemption` (used by the vLLM-style engines).
    pub preemption: crate::PreemptionPolicy,
    /// `cluster.kv_cache.prefix_cache_fraction` (no built-in engine uses it any more: their
    /// prefix caches evict least recently used blocks; kept for custom engines).
    pub prefix_cache_fraction: f64,
    /// The simulation's master seed: an engine drawing random numbers derives its stream
    /// from it and `replica` ([`crate::rng::stream`]), so runs stay reproducible.
    pub seed: u64,
}

/// Builds engines for a custom `cluster.engine.kind` (any `Fn(&EngineSetup) ->
/// Result<Box<dyn Engine>>` is one).
pub trait EngineFactory: Send + Sync {
    /// A fresh engine for one replica (called for every replica of every run, and once when
    /// the simulation is built, to validate `options`).
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `cluster.engine.options.<key>` for bad
    /// options.
    fn build(&self, setup: &EngineSetup<'_>) -> Result<Box<dyn Engine>>;
}

impl<F> EngineFactory for F
where
    F: Fn(&EngineSetup<'_>) -> Result<Box<dyn Engine>> + Send + Sync,
{
    fn build(&self, setup: &EngineSetup<'_>) -> Result<Box<dyn Engine>> {
        self(setup)
    }
}

/// Custom engines by name, for `cluster.engine.kind: <name>`.
#[derive(Clone, Default)]
pub struct EngineRegistry {
    custom: BTreeMap<String, Arc<dyn EngineFactory>>,
}

impl fmt::Debug for EngineRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineRegistry")
            .field("custom", &self.custom.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl EngineRegistry {
    /// The built-in engines only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` under `name`.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] when `name` is a built-in kind or not of the form
    /// `[a-z0-9_-]+`.
    pub fn register(&mut self, name: &str, factory: impl EngineFactory + 'static) -> Result<()> {
        if EngineKind::builtin(name).is_some() {
            return Err(invalid(
                "cluster.engine.kind",
                name,
                "is a built-in engine; give a custom engine another name",
            ));
        }
        if !config::is_custom_name(name) {
            return Err(invalid(
                "cluster.engine.kind",
                name,
                "a custom engine name is lowercase letters, digits, '_' and '-'",
            ));
        }
        self.custom.insert(name.to_owned(), Arc::new(factory));
        Ok(())
    }

    /// Names of the registered custom engines.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.custom.keys().map(String::as_str)
    }

    /// Builds the engine `setup.config` selects.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] for an unknown custom kind; whatever a custom
    /// factory returns.
    pub fn build(&self, setup: &EngineSetup<'_>) -> Result<Box<dyn Engine>> {
        let c = setup.config;
        Ok(match &c.kind {
            EngineKind::VllmV1 => Box::new(vllm_v1::VllmV1::new(setup)),
            EngineKind::VllmV0(k) if c.enable_chunked_prefill() => {
                Box::new(sarathi::Sarathi::new(setup, k.watermark, "vllm_v0"))
            }
            EngineKind::VllmV0(k) => Box::new(vllm_v0::VllmV0::new(setup, k)),
            EngineKind::Sarathi(k) => {
                Box::new(sarathi::Sarathi::new(setup, k.watermark, "sarathi"))
            }
            EngineKind::Orca => Box::new(orca::Orca::new(setup)),
            EngineKind::Static => Box::new(static_batch::Static::new(setup)),
            EngineKind::Sglang(k) => Box::new(sglang::Sglang::new(setup, k)),
            EngineKind::TrtLlm(k) => Box::new(trtllm::TrtLlm::new(setup, k)),
            EngineKind::Custom { name, .. } => match self.custom.get(name) {
                Some(f) => f.build(setup)?,
                None => {
                    return Err(invalid(
                        "cluster.engine.kind",
                        name,
                        format!(
                            "unknown engine: the built-ins are {}; a custom engine must be \
                             registered (SimulationBuilder::engine){}",
                            EngineKind::BUILTIN.join(", "),
                            if self.custom.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    ", registered: {}",
                                    self.names().collect::<Vec<_>>().join(", ")
                                )
                            }
                        ),
                    ));
                }
            },
        })
    }
}
