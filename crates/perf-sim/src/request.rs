//! The simulator's per-request state (a slab slot, recycled after the request's CSV row is written).

/// "Not yet" marker for optional times.
pub(crate) const NEVER: u64 = u64::MAX;

/// One request in flight (specs/simulator.md §3.1).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Req {
    pub id: u64,
    pub client: u32,
    pub replica: u32,
    /// Prompt tokens P.
    pub prompt: u32,
    /// Target output tokens O ≥ 1.
    pub target: u32,
    /// The output cap the client declared (its `max_tokens`, else O), at most
    /// `max_model_len − P`: what engines reserving KV to completion plan for.
    pub max_new: u32,
    /// Generated tokens g.
    pub generated: u32,
    /// Tokens whose KV is cached, k.
    pub computed: u32,
    /// KV blocks held.
    pub blocks: u32,
    pub preemptions: u32,
    /// Tokens computed as prefill (recomputation included).
    pub prefilled: u64,
    pub arrival_ns: u64,
    /// When it reached its replica's waiting queue (arrival + pre-schedule overhead).
    pub schedulable_ns: u64,
    pub scheduled_ns: u64,
    pub first_token_ns: u64,
    pub last_token_ns: u64,
    pub itl_max_ns: u64,
    /// Prefix-cache keys of its system prompt and whole prompt (0 = none).
    pub group_key: u64,
    pub prompt_key: u64,
    /// System prompt tokens (with `group_key`).
    pub system_len: u32,
    /// Conversation (1-based, in opening order; 0 = a lone request) and turn in it (1-based;
    /// 0 for a lone request). A conversation's tokens form one chain: its prefix-cache key is
    /// `crate::conversation::session_key(session)` (also its `prompt_key`).
    pub session: u32,
    pub turn: u32,
    /// Of `blocks`, those that are cached prefix blocks the request holds (shared, unlocked
    /// rather than freed when it ends).
    pub shared: u32,
    /// Prompt tokens found in the prefix cache at its last admission.
    pub cached: u32,
    pub finished: bool,
    /// A lazy decoder (crate::decoders): `computed`, `generated`, `blocks`, `last_token_ns`
    /// and `itl_max_ns` are as of step `sync_step`.
    pub lazy: bool,
    pub sync_step: u64,
    /// Position in its replica's running order (increases with each admission).
    pub run_seq: u64,
    /// Slot holds a live request.
    pub in_use: bool,
    /// Arrived at or after the warm-up (`SimConfig::warm_up_s`): counted in the latency and
    /// throughput statistics.
    pub measured: bool,
}

impl Req {
    /// `P + g`.
    #[inline]
    pub fn num_tokens(&self) -> u32 {
        self.prompt + self.generated
    }
}

/// A slab of requests with a free list: memory stays flat over a long run.
#[derive(Debug, Default)]
pub(crate) struct Slab {
    pub reqs: Vec<Req>,
    free: Vec<u32>,
    pub live: usize,
}

impl Slab {
    pub fn insert(&mut self, r: Req) -> u32 {
        self.live += 1;
        if let Some(s) = self.free.pop() {
            self.reqs[s as usize] = r;
            s
        } else {
            self.reqs.push(r);
            u32::try_from(self.reqs.len() - 1).unwrap_or(u32::MAX)
        }
    }

    pub fn remove(&mut self, slot: u32) {
        self.live -= 1;
        self.reqs[slot as usize].in_use = false;
        self.free.push(slot);
    }
}
