//! Disaggregated prefill and decode (Splitwise, DistServe, NVIDIA Dynamo; specs/simulator.md
//! §6): `cluster.disaggregation` names a prefill pool and a decode pool of `cluster.pools`.
//!
//! A request's life:
//! 1. It is routed (`cluster.router`) to a replica of the **prefill pool**, which runs it as a
//!    prefill-only request: its output cap is 1, so the replica computes the prompt, samples
//!    the first token (TTFT is stamped there, at the end of the step completing the prompt)
//!    and releases its KV blocks.
//! 2. Its KV — `kv_bytes_per_token · P` bytes — crosses the prefill replica's **link** to the
//!    decode pool. Each prefill replica has one link, a FIFO server carrying one transfer at a
//!    time: a transfer starts when the step ends or when the link is free, whichever is later,
//!    and takes `latency_ms + kv_bytes_per_token · P / bandwidth` (ceiling, in ns).
//! 3. When the transfer ends the request is routed (by the same router kind, from a stream of
//!    its own) to a replica of the **decode pool** and joins its waiting queue with its prompt
//!    computed and one token generated (`k = P`, `g = 1`). The decode engine admits it when it
//!    can allocate blocks for its `P + 1` tokens (the prompt's KV and the first token's), so
//!    admission is limited by the decode pool's KV; it then decodes tokens 2 … O. The gap
//!    between token 1 and token 2 includes the transfer and the wait for decode KV.
//!
//! A request whose output is one token completes in the prefill pool, with no transfer.
//! Simplifications: the transferred KV waits in host memory until the decode replica admits it
//! (no decode-side reservation before the transfer); every prefill replica has its own link;
//! a preempted request recomputes on the decode replica (as vLLM does). The decode pool's
//! engine must accept requests whose prompt was computed elsewhere ([`crate::Engine::accepts_prefilled`]:
//! `vllm_v1`); the prefill pool may run any engine.
//!
//! The KV bytes per token come from the prefill pool's model (`2 · layers · kv_heads ·
//! head_dim · dtype bytes`, [`perf_model_core::ModelSpec::kv_bytes_per_token`], the model of
//! its roofline cost model or of its `kv_cache.model`), or from `kv_bytes_per_token` (needed
//! for a cost model without a model, Inferno).
//!
//! ```yaml
//! cluster:
//!   cost_model: { kind: roofline, model: Llama-3.1-8B, accelerator: H100 }
//!   pools:
//!     - { name: prefill, replicas: 2 }
//!     - { name: decode, replicas: 2, engine: { max_batch_size: 512 } }
//!   disaggregation:
//!     prefill_pool: prefill
//!     decode_pool: decode
//!     link: { latency_ms: 0.05, bandwidth_gbs: 50 }   # GB/s (bytes)
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid, non_negative, positive};
use crate::pool::PoolConfig;
use crate::stats::Stats;

/// `cluster.disaggregation`: which pool prefills, which decodes, and the link between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisaggregationConfig {
    /// Name of the pool that prefills (receives the arrivals).
    pub prefill_pool: String,
    /// Name of the pool that decodes (receives the KV hand-offs).
    pub decode_pool: String,
    /// The link each prefill replica sends KV over.
    pub link: LinkConfig,
    /// KV bytes per token sent; default: derived from the prefill pool's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_bytes_per_token: Option<f64>,
}

/// A KV-transfer link: `latency_ms + bytes / bandwidth` per transfer, one transfer at a time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Fixed time per transfer, ms (≥ 0).
    #[serde(default)]
    pub latency_ms: f64,
    /// Bandwidth, GB/s (10⁹ bytes per second; > 0). NVLink-class ≈ 50–450, a 400 Gbit/s NIC
    /// ≈ 50, a 100 Gbit/s NIC ≈ 12.5.
    pub bandwidth_gbs: f64,
}

impl DisaggregationConfig {
    /// Checks the pool names, that every pool is one of the two, and the link.
    pub(crate) fn validate(&self, pools: &[PoolConfig]) -> Result<()> {
        let p = "cluster.disaggregation";
        let names: Vec<&str> = pools.iter().map(|q| q.name.as_str()).collect();
        for (key, name) in [
            ("prefill_pool", &self.prefill_pool),
            ("decode_pool", &self.decode_pool),
        ] {
            if !names.contains(&name.as_str()) {
                return Err(invalid(
                    format!("{p}.{key}"),
                    name,
                    format!(
                        "no such pool in cluster.pools (pools: {})",
                        names.join(", ")
                    ),
                ));
            }
        }
        if self.prefill_pool == self.decode_pool {
            return Err(invalid(
                format!("{p}.decode_pool"),
                &self.decode_pool,
                "must differ from prefill_pool",
            ));
        }
        if let Some(q) = pools
            .iter()
            .find(|q| q.name != self.prefill_pool && q.name != self.decode_pool)
        {
            return Err(invalid(
                "cluster.pools",
                &q.name,
                "with disaggregation every pool is the prefill_pool or the decode_pool",
            ));
        }
        non_negative(format!("{p}.link.latency_ms"), self.link.latency_ms)?;
        positive(format!("{p}.link.bandwidth_gbs"), self.link.bandwidth_gbs)?;
        if let Some(b) = self.kv_bytes_per_token {
            positive(format!("{p}.kv_bytes_per_token"), b)?;
        }
        Ok(())
    }
}

/// The KV transfers of a run (`summary.pools[prefill].kv_transfers`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransferSummary {
    /// Transfers started.
    pub transfers: u64,
    /// Bytes sent.
    pub bytes: f64,
    /// KV bytes per token used.
    pub kv_bytes_per_token: f64,
    /// Time from the end of the prefill step to the end of the transfer (link queueing
    /// included), over measured requests, ms.
    pub handoff_ms: Stats,
}

/// A request in the prefill stage: its real output and cap, restored for the decode stage.
#[derive(Clone, Copy, Debug, Default)]
struct Stash {
    active: bool,
    target: u32,
    max_new: u32,
}

/// The run-time state of disaggregation.
#[derive(Debug)]
pub(crate) struct Disagg {
    /// Pool indices.
    pub prefill_pool: usize,
    pub decode_pool: usize,
    /// Replica index ranges.
    pub prefill: std::ops::Range<usize>,
    pub decode: std::ops::Range<usize>,
    /// Routes hand-offs over the decode pool.
    pub router: crate::router::Router,
    latency_ns: u64,
    /// ns per token of KV: `kv_bytes_per_token / (bandwidth_gbs)` (GB/s = bytes per ns).
    ns_per_token: f64,
    kv_bytes_per_token: f64,
    /// Per prefill replica: when its link is next free.
    link_free: Vec<u64>,
    /// Per slot.
    stash: Vec<Stash>,
    pub transfers: u64,
    pub bytes: f64,
    pub handoff: crate::stats::Sketch,
}

impl Disagg {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &DisaggregationConfig,
        prefill_pool: usize,
        decode_pool: usize,
        prefill: std::ops::Range<usize>,
        decode: std::ops::Range<usize>,
        router: crate::router::Router,
        kv_bytes_per_token: f64,
        secs_to_ns: fn(f64) -> u64,
    ) -> Self {
        Self {
            prefill_pool,
            decode_pool,
            link_free: vec![0; prefill.len()],
            prefill,
            decode,
            router,
            latency_ns: secs_to_ns(cfg.link.latency_ms * 1e-3),
            ns_per_token: kv_bytes_per_token / cfg.link.bandwidth_gbs,
            kv_bytes_per_token,
            stash: Vec::new(),
            transfers: 0,
            bytes: 0.0,
            handoff: crate::stats::Sketch::new(),
        }
    }

    /// A request routed to the prefill pool: remember its output and cap, and make it a
    /// prefill-only request (output 1).
    pub fn enter_prefill(&mut self, slot: u32, req: &mut crate::request::Req) {
        let s = slot as usize;
        if self.stash.len() <= s {
            self.stash.resize(s + 1, Stash::default());
        }
        if req.target <= 1 {
            return; // done at prefill: nothing to hand off
        }
        self.stash[s] = Stash {
            active: true,
            target: req.target,
            max_new: req.max_new,
        };
        req.target = 1;
        req.max_new = 1;
    }

    /// Whether the request in `slot` is in its prefill stage.
    #[inline]
    pub fn in_prefill(&self, slot: u32) -> bool {
        self.stash.get(slot as usize).is_some_and(|s| s.active)
    }

    /// Restores the request's real output and cap (for the decode stage, or for its CSV row
    /// when it ends before); the slot leaves the prefill stage.
    pub fn restore(&mut self, slot: u32, req: &mut crate::request::Req) {
        if let Some(s) = self.stash.get_mut(slot as usize)
            && s.active
        {
            s.active = false;
            req.target = s.target;
            req.max_new = s.max_new;
        }
    }

    /// Sends the KV of a request of `prompt` tokens over prefill replica `replica`'s link,
    /// ready at `now`; returns when it reaches the decode pool.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn transfer(&mut self, replica: usize, prompt: u32, now: u64, measured: bool) -> u64 {
        let i = replica - self.prefill.start;
        let start = now.max(self.link_free[i]);
        let dur = self
            .latency_ns
            .saturating_add((self.ns_per_token * f64::from(prompt)).ceil() as u64);
        let end = start.saturating_add(dur);
        self.link_free[i] = end;
        self.transfers += 1;
        self.bytes += self.kv_bytes_per_token * f64::from(prompt);
        if measured {
            self.handoff.add(end - now);
        }
        end
    }

    /// The transfers so far.
    pub fn summary(&self) -> TransferSummary {
        TransferSummary {
            transfers: self.transfers,
            bytes: self.bytes,
            kv_bytes_per_token: self.kv_bytes_per_token,
            handoff_ms: self.handoff.stats_ms(),
        }
    }
}
