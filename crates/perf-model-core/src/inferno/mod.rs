//! The Inferno queueing analyzer: latency and throughput of an LLM inference server from three
//! parameters (α, β, γ), a mean request shape and the server's batch and queue limits.
//!
//! # The model
//! One engine iteration with `B` requests in the batch costs `α + B·δ` ms, where `δ` is the
//! average work one request adds (β per token computed, γ per token × context token read).
//! From it come a request's service time `S(B)` and the state-dependent departure rate
//! `μ(B) = B/S(B)`. Requests arrive at rate λ; the number in the system is a birth–death chain
//! on `0..=K`, `K = N + Q` (max batch plus max queue), with departure rate `μ(min(k, N))` in
//! state `k`. Its stationary distribution gives the mean batch `B̄`, throughput, response and
//! wait (Little's law); prefill time, ITL and TTFT follow from the primitives at `B̄`.
//! ([`ServiceTimes`] has the primitives, [`Analyzer`] the chain, [`Analyzer::size`] the
//! largest rate meeting latency targets, [`Analyzer::optimal_concurrency`] the smallest batch
//! limit reaching near-peak throughput, [`InfernoStepModel`] the per-step cost for the
//! simulator.)
//!
//! # Three generations ([`QueueModel`])
//! * **V3** (queue-analysis v0.3.0): `S(B) = Prefill(B) + m·Decode(B)` with decode memory term
//!   `γ·(n + m/2)`; rates above `0.999·μ(N)` are an error. Used by the model-trainer README
//!   headline.
//! * **V6** (v0.4.0–v0.6.0): the same with `γ·(n + (m+1)/2)`, which makes
//!   `S(B) = (1+m)·(α + (B+1)·δ)` exact; no rate guard (overload shows as blocking `p_K`).
//!   Used by the paper's Table 1.
//! * **V7** (v0.7.0/v0.8.0, current): chunked prefill — a prompt takes `nc(B)` iterations when
//!   the token budget `M` is shared by `B` requests — and `τ(B) = (c + m)·(α + B·δ(c))`,
//!   without the double count of the request's own work.
//!
//! # Speed and batches
//! [`Analyzer::solve`] evaluates the chain in blocks of 8 states with per-analyzer products
//! of `μ(N)/μ(i)` and sums the queue states in closed form (binary doubling), about
//! `N/8 + log₂ Q` dependent steps; on V7 with N = 256, K = 512 it is ~9× the
//! state-by-state loop (≈ 5·10⁶ solves/s on one core) and [`Analyzer::size`] ~11×
//! (≈ 1.5·10⁵/s). For many evaluations at once:
//! * [`Analyzer::solve_rates`] — many arrival rates for one analyzer (an autoscaler's sweep of
//!   per-replica loads), four rates interleaved;
//! * [`ParamSweep`] — many parameter sets for one request shape and configuration (a fitter's
//!   loss, a bootstrap), refilling the analyzer's tables in place.
//!
//! Both return bit for bit what the single calls return. `cargo run --release -p
//! perf-model-core --example inferno_speed` prints the figures, old implementation vs new.
//!
//! # Precision
//! The Go reference computes service quantities in `float32`. [`Arithmetic::F64`] (default)
//! agrees with it to about 1e-6 relative except the mean wait (and so TTFT), which Go gets as
//! a `float32` difference of two large numbers; [`Arithmetic::GoFloat32`] reproduces the
//! published REST examples to 1e-5 (see [`Arithmetic`]).
//!
//! # References
//! `llm-inferno/queue-analysis` (Apache-2.0), `pkg/analyzer`, `pkg/queue`; spec
//! `specs/inferno.md` §2.

mod analyzer;
mod batch;
mod optimize;
mod params;
#[cfg(test)]
mod prop_tests;
mod queue;
mod real;
#[cfg(test)]
mod reference;
mod service;
mod sizing;
mod step_model;
#[cfg(test)]
mod tests;

pub use analyzer::{Analysis, Analyzer, RateRange};
pub use batch::ParamSweep;
pub use optimize::{ONSET_EPSILON, ONSET_MAX_PROBES, OptimalConcurrency};
pub use params::{
    Arithmetic, DEFAULT_MAX_NUM_TOKENS, MAX_BATCH_SIZE_LIMIT, MAX_QUEUE_SIZE_LIMIT, QueueConfig,
    QueueModel, RequestShape, ServiceParams,
};
pub use service::{Primitives, ServiceTimes};
pub use sizing::{ReplicaPlan, Sizing, SloTargets};
pub use step_model::InfernoStepModel;
