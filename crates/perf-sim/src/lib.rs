//! A discrete-event simulator of LLM inference serving.
//!
//! This crate owns the event loop, workload generators, per-replica schedulers (continuous
//! batching, chunked prefill, paged KV cache, preemption), routers, multi-replica clusters,
//! metrics (requests arriving in an optional warm-up, [`SimConfig::warm_up_s`], are simulated
//! and written out but left out of the latency and throughput figures), per-request CSV and
//! summary JSON. Configurations load from YAML or JSON
//! ([`SimConfig::from_path`], [`load`]); workloads are open-loop (Poisson, Gamma, constant,
//! piecewise-constant rate stages), closed-loop (N users with think times) or trace replays
//! ([`ArrivalConfig`]). A seed (LLMPerfOracle) YAML configuration loads unchanged through the [`seed`]
//! compatibility loader, which reports each decision it takes. Step costs come only through `perf_model_core::StepTimeModel`, so any cost
//! model (roofline, Inferno, learned) plugs in without this crate knowing it.
//!
//! ```
//! use perf_sim::{SimConfig, Simulation};
//! let config: SimConfig = serde_json::from_str(r#"{
//!   "seed": 42, "max_requests": 200,
//!   "cluster": { "replicas": 2, "router": "least_outstanding_requests",
//!     "engine": { "max_batch_size": 64, "max_num_batched_tokens": 2048 },
//!     "cost_model": { "kind": "inferno", "alpha": 12.0, "beta": 0.05, "gamma": 5e-4 },
//!     "kv_cache": { "num_gpu_blocks": 2048 } },
//!   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 4.0 },
//!     "input": { "kind": "lognormal", "mean": 256, "std": 128 },
//!     "output": { "kind": "uniform", "low": 16, "high": 64 } } ] }
//! }"#)?;
//! let mut csv = Vec::new();
//! let summary = Simulation::new(config)?.run(&mut csv)?;
//! let c = summary.requests;
//! assert_eq!(c.arrived, 200);
//! assert_eq!(c.arrived, c.completed + c.rejected + c.dropped + c.unfinished);
//! assert_eq!(String::from_utf8(csv)?.lines().count(), 201); // header + one row per request
//! assert!(summary.latency.ttft_ms.mean > 12.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it works
//! One single-threaded loop pops events from a binary heap keyed `(time, class, sequence)`
//! with an integer-nanosecond clock: at equal times step ends come before arrivals, and a
//! replica decides its next step (a `WAKE` event) only after every event of that instant. There
//! are no per-token events: each busy replica has exactly one pending step end, and an idle
//! replica wakes only when a request is routed to it. Cost-model times (f64 ms) are converted
//! with a ceiling, so no lower bound is broken by rounding.
//!
//! # Engines
//! What a replica runs in each step — admissions, preemptions, the KV cache — is its
//! **engine**, a trait object ([`engine::Engine`]) chosen by `cluster.engine.kind`
//! ([`EngineConfig`]): `vllm_v1` (default, below), `vllm_v0`, `sarathi`, `orca`, `static`,
//! `sglang` (radix prefix cache with LRU eviction, `fcfs`/`lpm`) and `trtllm` (capacity
//! policies `guaranteed_no_evict`/`max_utilization`, KV block reuse), each with its own
//! knobs, behaviour and sources documented in [`engine`]. A downstream crate adds an engine
//! without forking this one: implement [`engine::Engine`] and register it with
//! [`SimulationBuilder::engine`]; the simulator checks the contract (KV within capacity,
//! blocks cover tokens, limits, no stall, no request lost) on every step.
//!
//! By default each replica follows vLLM V1 (specs/simulator.md §3.2): per step a token budget
//! (`max_num_batched_tokens`) and at most `max_num_seqs` (`max_batch_size`) running requests;
//! running requests first, in admission order (one token each when decoding, the rest of their
//! prompt when prefilling in chunks), then — only if nobody was preempted — FCFS admissions from
//! the waiting queue with chunked prefill. KV blocks are allocated for `k + n` tokens; when the
//! pool runs out the last running request (the latest admitted, as vLLM does; or the latest
//! arrival, see [`PreemptionPolicy`]) is preempted by recompute: its blocks are freed, `k = 0`, and it goes back to the
//! front of the waiting queue. Prefill chunks and decodes run in one fused step whose duration
//! is the cost model's time for the incrementally built [`perf_model_core::BatchShape`]. The
//! first token comes from the step that completes the prompt.
//!
//! With `enable_prefix_caching`, requests reuse cached KV: requests of a shared-prefix client
//! ([`config::SharedPrefix`]) their system prompt or whole prompt, a conversation's turns
//! ([`ConversationConfig`]) the turns before, a recomputed request its own earlier blocks. At
//! admission the longest cached block-aligned prefix (all but the last token) counts as
//! already computed, so only the rest is prefilled (with the cached part as attention
//! context). Cached blocks no request holds are evicted least recently used when memory is
//! needed, as vLLM's automatic prefix caching and SGLang's radix cache do.
//!
//! Requests that could never be served (`P + O` above `max_model_len`, more KV blocks than the
//! cache holds, or above the token budget without chunked prefill) are `rejected` on arrival;
//! a full waiting queue (`max_queue_size`) `drops` them.
//!
//! # Clusters
//! `cluster.replicas` identical replicas by default; `cluster.pools` ([`pool`]) makes a
//! heterogeneous cluster of pools, each with its own engine, cost model (model, accelerator,
//! TP), KV cache, preemption and overheads, reported per pool in [`Summary::pools`]. Routers:
//! `round_robin`, `random`, `weighted_random` (pool weights), `least_outstanding_requests`,
//! `least_kv_usage`. `cluster.disaggregation` ([`disagg`]) splits each request between a
//! prefill pool and a decode pool, moving its KV over a FIFO link.
//!
//! # Metrics
//! Arrival `a`, first scheduled step start `s`, token times `t₁ < … < t_O`, completion
//! `c = t_O` (specs/simulator.md §7.1), all over **completed** requests:
//! * **TTFT** = `t₁ − a` (queueing included); **E2E** = `c − a`; scheduling delay `s − a`.
//! * **TPOT** = `(c − t₁)/(O − 1)` per request with `O ≥ 2` (weights requests).
//! * **ITL** = every gap `t_{i+1} − t_i`, pooled over all tokens (weights tokens).
//! * **Throughput** = completed requests (and their input/output tokens) divided by the window
//!   from the first arrival (or the end of `warm_up_s`) to the last completion; requests
//!   arriving during the warm-up are simulated and written out but in no statistic.
//! * **Goodput** (with `slo` set, workload-wide or per client): completed requests whose TTFT,
//!   TPOT, longest inter-token gap and E2E all meet their client's objectives, per second of the
//!   same window; **attainment** = their share of the measured requests that arrived (rejected,
//!   dropped and unfinished ones are misses). `requests.csv` marks each in `slo_met`.
//! * **Mean batch size** = requests per step, averaged over steps; **KV usage** = the
//!   time-weighted mean of used/total blocks over the whole simulated time, per replica; over
//!   time, step by step, in `steps.csv` ([`Simulation::run_with_steps`]).
//! * Means, min and max are exact; p50/p90/p95/p99 come from a fixed-size log histogram with
//!   ≤ 0.1 % relative error (numpy-style interpolation), so memory stays flat ([`stats`]).
//!
//! # Analytic cross-check
//! With [`perf_model_core::InfernoStepModel`], fixed lengths and Poisson arrivals the simulator
//! is the system the Inferno analyzer approximates. [`perf_model_core::QueueModel::V7`] matches
//! its semantics best: like the simulator it charges a request's own work once (V3/V6 add
//! the focal request's work on top of `B·δ`, so their ITL is about one `δ` high) and models
//! chunked prefill within the token budget; its iteration time `α + B·δ` is the simulator's
//! step cost averaged over a request's life. Measured (`tests/sim/analyzer.rs`, REST example
//! α 12, β 0.05, γ 5e-4, n 128, m 512, N 48, 6000 requests): mean ITL within 0.6 % of V7 at
//! 1, 2, 3 and 3.5 req/s (V3/V6: about −2 %). TTFT differs by definition: the analyzer's first
//! token comes after the prefill *and one decode iteration*, with service starting at once,
//! while the simulator's comes from the step completing the prompt, after the step in flight
//! (mean residual ≈ ITL/2). So `TTFT + ITL/2` is the comparable figure: within 1.5 % of V7
//! at 1 and 2 req/s (raw TTFT −20 %); once requests queue (≥ 3 req/s) the analyzer's
//! birth–death chain, which treats service as exponential, overstates the wait of this
//! deterministic workload (−9 % at 3 req/s, −52 % at 3.5 req/s).
//!
//! # Randomness
//! One master seed; independent xoshiro256++ streams per purpose (arrivals, lengths, router)
//! and per client ([`rng`]). Same configuration and seed ⇒ byte-identical CSV and summary.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]
#![forbid(unsafe_code)]

pub mod config;
pub mod disagg;
pub mod engine;
pub mod error;
pub mod kv;
pub mod load;
pub mod output;
pub mod pipeline;
pub mod pool;
pub mod rng;
pub mod seed;
pub mod slo;
pub mod stats;
pub mod workload;

mod completion_wheel;
mod conversation;
mod decoders;
mod estimate;
mod events;
mod min_heap;
mod replica;
mod request;
mod router;
mod sim;
mod tape;

pub use config::{
    ArrivalConfig, ClientConfig, ClientLink, ClusterConfig, ConversationConfig, CostModelConfig,
    EngineOverheads, KvCacheConfig, LengthDist, PreemptionPolicy, RateStage, RouterKind,
    SharedPrefix, SimConfig, ThinkTime, TraceRequest, WorkloadConfig,
};
pub use disagg::{DisaggregationConfig, LinkConfig};
pub use engine::{Engine, EngineConfig, EngineKind};
pub use error::{Result, SimError};
pub use output::{CSV_HEADER, Counts, Latencies, ReplicaSummary, Status, Summary, Throughput};
pub use pool::{PoolConfig, PoolSummary};
pub use seed::{Decision, DecisionKind, LoadedConfig, SeedOutputs};
pub use sim::{Percentiles, Progress, ProgressFn, RunOptions, Simulation, SimulationBuilder};
pub use slo::{ClientGoodput, Goodput, Slo};
pub use stats::Stats;
pub use tape::WorkloadTape;

/// A commented starter config (YAML) that runs as it is: one Llama-3.1-8B replica on an H100
/// with the roofline cost model and a Poisson workload. `llm-perf simulate --example-config`
/// prints it and the workbench's Simulate page opens with it.
pub const EXAMPLE_CONFIG_YAML: &str = include_str!("example_config.yaml");
