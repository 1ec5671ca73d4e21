//! Roofline step-time model (specs/simulator.md §4.2): how long one engine step takes on `t`
//! tensor-parallel devices, from FLOPs, bytes moved, all-reduces and fixed overheads.
//!
//! A [`RooflineModel`] combines a [`ModelSpec`] and an [`Accelerator`] with calibratable
//! efficiencies. It implements [`StepTimeModel`] for the simulator, gives the 100 %-efficiency
//! [`RooflineModel::lower_bound`] (specs/simulator.md §10) that no cost model may beat, and a
//! [`RooflineModel::breakdown`] of every term.
//!
//! # Formula
//! Per step, with the [`BatchShape`] aggregates (T_tok tokens, S sequences, N_logits sampling
//! requests; n new and k cached tokens per request):
//! ```text
//! F_gemm = 2·N_lin·T_tok + 2·d·V·N_logits              (MoE: N_lin counts active experts)
//! F_attn = A·[ Σ_prefill (n·k + n(n+1)/2) + Σ_decode (k + 1) ],   A = 4·L·h_q·d_h
//! W      = (N_lin,shared + L_moe·U(T_tok)·W_expert + V·d)·b_w      U = expected unique experts
//! KV     = kv_bytes_per_token · Σ_r (k_r + n_r)
//! ACT    = L·d·b_act·T_tok
//! T = max( 2·N_lin·T_tok/(t·P·η_c(T_tok)) + 2·d·V·N_logits/(t·P·η_c(N_logits))
//!            + F_attn/(t·P·η_attn),
//!          (W/t + KV/t_kv + ACT)/(BW·η_m) )
//!     + 2·L·AR(t, T_tok·d·b_act) + L·τ_layer + S·τ_seq + τ_step
//! AR(t, s) = α_ar + 2(t−1)/t · s/BW_bus      (0 at t = 1)
//! t_kv = min(t, h_kv)   (KV heads replicate when t > h_kv; MLA's latent replicates: t_kv = 1)
//! ```
//! P is the dense peak of the compute dtype, BW the peak memory bandwidth. The LM-head GEMM has
//! N_logits rows, so it gets its own efficiency η_c(N_logits); this keeps the model monotone in
//! every aggregate. Heads need not divide by t: the model assumes perfect sharding of FLOPs and
//! weights (an optimistic but monotone choice).
//!
//! # Defaults
//! | device | η_c(tokens) curve | η_m | η_attn |
//! |---|---|---|---|
//! | H100 SXM, H200 | H100 Llama-2-7B profile (§4.2) | 0.85 ([`H100_MEMORY_EFFICIENCY`]) | 0.77 |
//! | A100-80GB, A100-40GB | A100 Llama-3-8B profile (§4.2) | 0.78 | 0.73 |
//! | any other | pointwise minimum of the two (conservative) | 0.75 | 0.73 |
//!
//! η_attn is the ceiling of the curve until calibrated (§4.2). Overheads default to BLIS's fit
//! on real H100 steps (τ_layer 32.1 µs, τ_seq 4.42 µs, τ_step 126 µs), which the spec ships
//! until our calibration replaces them; [`Overheads::ZERO`] turns them off. All-reduce latency
//! and bus bandwidth come from the H100 DGX medians (TP2 7 µs / 274 GB/s, TP4 38 µs /
//! 317 GB/s, TP8 23 µs / 365 GB/s; other t use the next larger anchor, above 8 the TP8 one);
//! the bus bandwidth is scaled by the device's interconnect bandwidth over NVLink4's 900 GB/s,
//! and by 64/900 (PCIe Gen4 x16) when the device has no catalogued interconnect. On
//! NVLink-class devices (interconnect ≥ 300 GB/s) the latency is
//! [`NVLINK_SMALL_ALL_REDUCE_US`] instead: serving engines run decode all-reduces as one
//! custom kernel inside a CUDA graph, which the eager NCCL medians overstate (a 70B TP4 decode
//! step has 160 all-reduces, so 38 µs each would add 6 ms).
//!
//! [`RooflineCalibration`] overrides any of these knobs with values fitted to measured runs.
//!
//! # Examples
//! ```
//! use perf_model_core::catalog::{Accelerator, ModelSpec};
//! use perf_model_core::roofline::RooflineModel;
//! use perf_model_core::{BatchShape, Dtype, StepTimeModel};
//!
//! let model = ModelSpec::lookup("Llama-2-7B")?;
//! let gpu = Accelerator::lookup("H100")?;
//! let roofline = RooflineModel::new(model, gpu, Dtype::Bf16, 1)?;
//! // specs/simulator.md §10: a 2048-token prefill takes at least 27.9 ms on an H100.
//! let prefill = BatchShape::prefill(2048);
//! assert!((roofline.lower_bound(&prefill) - 27.9).abs() < 0.05);
//! assert!(roofline.step_time(&prefill) >= roofline.lower_bound(&prefill));
//! # Ok::<(), perf_model_core::Error>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::catalog::{Accelerator, ModelSpec};
use crate::dtype::Dtype;
use crate::error::Result;
use crate::step::{BatchShape, StepTimeModel};
use crate::validate::{
    at_least_one, ensure_finite, non_negative, out_of_range, positive, unit_interval,
};

mod calibration;
pub use calibration::RooflineCalibration;

/// All-reduce latency α on NVLink-class devices (interconnect ≥ 300 GB/s), µs: vLLM's custom
/// all-reduce (vllm-project/vllm PR #2192) and NCCL under CUDA graphs finish a small
/// all-reduce in a single kernel; NCCL issue #1259 measures about 6 µs on two H100s with CUDA
/// graphs. Decode-step payloads (tokens · d · 2 bytes, well under vLLM's 8 MiB custom
/// all-reduce limit) are in that regime; the DGX NCCL medians (7–38 µs) are for NCCL launched
/// eagerly.
pub const NVLINK_SMALL_ALL_REDUCE_US: f64 = 8.0;

/// η_m on H100 SXM and H200: the achieved fraction of peak HBM bandwidth in a whole decode
/// step of vLLM (weights and KV streamed under CUDA graphs). Vidur's per-operator GEMV
/// profiles give 0.77 (specs/simulator.md §4.2), but they time each small GEMM alone, with its
/// launch and tail; BLIS's trained weight factor (1.363, i.e. 0.73) was fitted to per-token
/// times derived from inference-perf's chunk counts, which under-count the generated tokens by
/// about a fifth. Refitted on generated tokens (`llm-perf calibrate` on the BLIS H100 training
/// runs: Llama-2-7B TP1, CodeLlama-34B TP2, Llama-2-70B TP4) the memory term is 0.85, in line
/// with the 0.85–0.9 of peak that bandwidth-bound kernels sustain on HBM3.
pub const H100_MEMORY_EFFICIENCY: f64 = 0.85;

/// The compute efficiency η_c as a function of tokens per step: piecewise linear in log₂ tokens
/// through measured points, flat beyond both ends.
///
/// [`ComputeEfficiency::effective`] is what the roofline uses: the smallest upper envelope of
/// the curve that keeps `tokens / η` (compute time per FLOP of a token) non-decreasing, so
/// adding tokens never makes a step faster. It equals the curve wherever the curve already has
/// that property (from the knee on for the measured profiles).
///
/// # Examples
/// ```
/// use perf_model_core::roofline::ComputeEfficiency;
/// let h100 = ComputeEfficiency::h100();
/// assert!((h100.at(512.0) - 0.64).abs() < 1e-12);
/// assert!((h100.at(1024.0) - 0.705).abs() < 1e-12); // halfway in log2 between 512 and 2048
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(f64, f64)>", into = "Vec<(f64, f64)>")]
pub struct ComputeEfficiency {
    points: Vec<(f64, f64)>,
    /// Precomputed from `points` (the simulator asks for η every step, so the logarithms and
    /// the envelope's candidate minima are computed once): log₂ of each point's tokens.
    log_tokens: Vec<f64>,
    /// Token counts where `T/η` may reach its minimum over `T' ≥ T` (segment ends and the
    /// interior turning points), sorted, with `T/η` there.
    candidates: Vec<(f64, f64)>,
    /// `suffix_min[i]` = smallest `T/η` among `candidates[i..]` (`+∞` past the end).
    suffix_min: Vec<f64>,
    /// [`ComputeEfficiency::effective`] at integer token counts, filled on first use.
    memo: EffectiveMemo,
}

/// Token counts below this have their effective efficiency memoised (a step's token and
/// logit counts are integers, and the same ones recur every step).
const MEMO_LEN: usize = 8192;

/// η_eff at the integer token counts `0..MEMO_LEN`, each stored bit for bit the first time the
/// formula computes it, so a memoised answer is identical to a computed one. Entries are `f64`
/// bits in atomics (`0` = not yet: η_eff is never 0), so a model shared between threads fills
/// it without locks (two threads computing one entry store the same bits). Not part of the
/// curve's identity: clones start empty, equality ignores it.
struct EffectiveMemo(Box<[AtomicU64]>);

impl EffectiveMemo {
    fn new() -> Self {
        Self((0..MEMO_LEN).map(|_| AtomicU64::new(0)).collect())
    }
}

impl Clone for EffectiveMemo {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl PartialEq for EffectiveMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for EffectiveMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EffectiveMemo")
    }
}

impl TryFrom<Vec<(f64, f64)>> for ComputeEfficiency {
    type Error = crate::Error;

    fn try_from(points: Vec<(f64, f64)>) -> Result<Self> {
        Self::new(&points)
    }
}

impl From<ComputeEfficiency> for Vec<(f64, f64)> {
    fn from(curve: ComputeEfficiency) -> Self {
        curve.points
    }
}

impl ComputeEfficiency {
    /// A curve through `(tokens, η)` points.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] (field `compute_efficiency`) for no points, tokens not
    /// strictly increasing or below 1, η outside (0, 1]; [`crate::Error::NonFinite`] for NaN.
    pub fn new(points: &[(f64, f64)]) -> Result<Self> {
        if points.is_empty() {
            return Err(out_of_range(
                "compute_efficiency",
                "[]",
                "needs at least one (tokens, efficiency) point",
            ));
        }
        for (i, &(tokens, eta)) in points.iter().enumerate() {
            let field = format!("compute_efficiency[{i}]");
            ensure_finite(&field, &[tokens, eta])?;
            if tokens < 1.0 {
                return Err(out_of_range(&field, tokens, "tokens must be >= 1"));
            }
            if !(eta > 0.0 && eta <= 1.0) {
                return Err(out_of_range(
                    &field,
                    eta,
                    "efficiency must be within (0, 1]",
                ));
            }
            if i > 0 && tokens <= points[i - 1].0 {
                return Err(out_of_range(
                    &field,
                    tokens,
                    "tokens must be strictly increasing",
                ));
            }
        }
        Ok(Self::from_points(points.to_vec()))
    }

    /// Builds the curve and its precomputed envelope from validated points.
    fn from_points(points: Vec<(f64, f64)>) -> Self {
        let log_tokens: Vec<f64> = points.iter().map(|p| p.0.log2()).collect();
        let mut curve = Self {
            points,
            log_tokens,
            candidates: Vec::new(),
            suffix_min: Vec::new(),
            memo: EffectiveMemo::new(),
        };
        let g = |c: &Self, x: f64| x / c.at(x);
        let mut candidates = Vec::new();
        for (i, w) in curve.points.windows(2).enumerate() {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let (l0, l1) = (curve.log_tokens[i], curve.log_tokens[i + 1]);
            candidates.push((x1, g(&curve, x1)));
            // Inside a segment T/η is quasi-convex; its minimum is where η = slope/ln 2.
            let slope = (y1 - y0) / (l1 - l0);
            if slope > 0.0 {
                let turn = l0 + (slope / std::f64::consts::LN_2 - y0) / slope;
                let t_turn = turn.exp2();
                if t_turn > x0 && t_turn < x1 {
                    candidates.push((t_turn, g(&curve, t_turn)));
                }
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut suffix_min = vec![f64::INFINITY; candidates.len() + 1];
        for i in (0..candidates.len()).rev() {
            suffix_min[i] = suffix_min[i + 1].min(candidates[i].1);
        }
        curve.candidates = candidates;
        curve.suffix_min = suffix_min;
        curve
    }

    /// H100 SXM, Llama-2-7B, TP1 (Vidur profiles, specs/simulator.md §4.2), of 989 TFLOPS.
    #[must_use]
    pub fn h100() -> Self {
        Self::from_points(vec![
            (1.0, 0.003),
            (64.0, 0.16),
            (256.0, 0.40),
            (512.0, 0.64),
            (2048.0, 0.77),
            (4096.0, 0.76),
        ])
    }

    /// A100 80GB, Llama-3-8B, TP1 (Vidur profiles, specs/simulator.md §4.2), of 312 TFLOPS.
    #[must_use]
    pub fn a100() -> Self {
        Self::from_points(vec![
            (1.0, 0.005),
            (64.0, 0.28),
            (256.0, 0.65),
            (512.0, 0.72),
            (2048.0, 0.70),
            (4096.0, 0.73),
        ])
    }

    /// Default for unprofiled devices: the pointwise minimum of [`Self::h100`] and
    /// [`Self::a100`], i.e. the more conservative measurement at each point.
    #[must_use]
    pub fn generic() -> Self {
        let a = Self::a100();
        Self::from_points(
            Self::h100()
                .points
                .iter()
                .zip(&a.points)
                .map(|(&(n, x), &(_, y))| (n, x.min(y)))
                .collect(),
        )
    }

    /// The `(tokens, η)` points.
    #[must_use]
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The largest efficiency of the curve (its ceiling).
    #[must_use]
    pub fn ceiling(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// The curve at `tokens`: linear in log₂ tokens between points, flat outside.
    #[must_use]
    pub fn at(&self, tokens: f64) -> f64 {
        let pts = &self.points;
        let (first, last) = (pts[0], pts[pts.len() - 1]);
        // NaN falls to the first point, like a count of zero.
        if tokens.is_nan() || tokens <= first.0 {
            return first.1;
        }
        if tokens >= last.0 {
            return last.1;
        }
        let i = pts.partition_point(|p| p.0 <= tokens);
        let (y0, y1) = (pts[i - 1].1, pts[i].1);
        let (l0, l1) = (self.log_tokens[i - 1], self.log_tokens[i]);
        let f = (tokens.log2() - l0) / (l1 - l0);
        y0 + f * (y1 - y0)
    }

    /// The efficiency the roofline uses at `tokens`: `tokens / g*(tokens)` with
    /// `g*(T) = min over T' ≥ T of T'/η(T')`, never below the curve nor above its ceiling.
    #[must_use]
    pub fn effective(&self, tokens: f64) -> f64 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if (0.0..MEMO_LEN as f64).contains(&tokens) && tokens.fract() == 0.0 {
            let slot = &self.memo.0[tokens as usize];
            let bits = slot.load(Ordering::Relaxed);
            if bits != 0 {
                return f64::from_bits(bits);
            }
            let value = self.effective_computed(tokens);
            slot.store(value.to_bits(), Ordering::Relaxed);
            return value;
        }
        self.effective_computed(tokens)
    }

    /// [`ComputeEfficiency::effective`] at a whole count of tokens, bit for bit, without
    /// converting it to test that it is whole (the simulator's counts always are).
    #[must_use]
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    pub fn effective_count(&self, tokens: u64) -> f64 {
        match self.memo.0.get(tokens as usize) {
            Some(slot) if tokens < MEMO_LEN as u64 => {
                let bits = slot.load(Ordering::Relaxed);
                if bits != 0 {
                    return f64::from_bits(bits);
                }
                let value = self.effective_computed(tokens as f64);
                slot.store(value.to_bits(), Ordering::Relaxed);
                value
            }
            _ => self.effective(tokens as f64),
        }
    }

    /// [`ComputeEfficiency::effective`] without the memo.
    fn effective_computed(&self, tokens: f64) -> f64 {
        if tokens.is_nan() || tokens <= 0.0 {
            return self.points[0].1;
        }
        // Candidates strictly beyond `tokens` (the suffix after the last one at or below it).
        let from = self.candidates.partition_point(|c| c.0 <= tokens);
        let best = (tokens / self.at(tokens)).min(self.suffix_min[from]);
        tokens / best
    }
}

/// Fixed per-step costs, in microseconds: per layer, per scheduled sequence and per step.
///
/// Deserialising validates as [`Overheads::new`] does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawOverheads")]
pub struct Overheads {
    /// τ_layer, µs per layer (kernel launches, norms, residuals).
    pub layer_us: f64,
    /// τ_seq, µs per scheduled sequence.
    pub seq_us: f64,
    /// τ_step, µs per step (scheduler, sampling, CPU).
    pub step_us: f64,
}

impl Overheads {
    /// No overheads.
    pub const ZERO: Self = Self {
        layer_us: 0.0,
        seq_us: 0.0,
        step_us: 0.0,
    };

    /// BLIS's fit on real H100 vLLM steps (specs/simulator.md §4.2): 32.1 µs per layer, 4.42 µs
    /// per sequence, 126 µs per step; the shipped default.
    pub const BLIS_H100: Self = Self {
        layer_us: 32.1,
        seq_us: 4.42,
        step_us: 126.0,
    };

    /// Validated overheads.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::OutOfRange`] for a negative value.
    pub fn new(layer_us: f64, seq_us: f64, step_us: f64) -> Result<Self> {
        Ok(Self {
            layer_us: non_negative("overheads.layer_us", layer_us)?,
            seq_us: non_negative("overheads.seq_us", seq_us)?,
            step_us: non_negative("overheads.step_us", step_us)?,
        })
    }
}

/// Unvalidated form of [`Overheads`] used by serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverheads {
    layer_us: f64,
    seq_us: f64,
    step_us: f64,
}

impl TryFrom<RawOverheads> for Overheads {
    type Error = crate::Error;
    fn try_from(r: RawOverheads) -> Result<Self> {
        Self::new(r.layer_us, r.seq_us, r.step_us)
    }
}

/// All-reduce cost: `α + 2(t−1)/t · bytes / bus bandwidth`.
///
/// Deserialising validates as [`AllReduce::new`] does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawAllReduce")]
pub struct AllReduce {
    /// α_ar, the small-message latency, µs.
    pub latency_us: f64,
    /// Bus bandwidth, GB/s (10⁹ bytes/s), in NCCL's `busbw` sense.
    pub bus_gbs: f64,
}

/// Unvalidated form of [`AllReduce`] used by serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllReduce {
    latency_us: f64,
    bus_gbs: f64,
}

impl TryFrom<RawAllReduce> for AllReduce {
    type Error = crate::Error;
    fn try_from(r: RawAllReduce) -> Result<Self> {
        Self::new(r.latency_us, r.bus_gbs)
    }
}

impl AllReduce {
    /// Validated all-reduce parameters.
    ///
    /// # Errors
    /// [`crate::Error::NonFinite`] or [`crate::Error::OutOfRange`]: latency < 0, bus ≤ 0.
    pub fn new(latency_us: f64, bus_gbs: f64) -> Result<Self> {
        Ok(Self {
            latency_us: non_negative("all_reduce.latency_us", latency_us)?,
            bus_gbs: positive("all_reduce.bus_gbs", bus_gbs)?,
        })
    }

    /// H100 DGX medians (specs/simulator.md §4.2) for `tp` ranks: TP2 7 µs / 274 GB/s, TP4
    /// 38 µs / 317 GB/s, TP8 23 µs / 365 GB/s; other degrees take the next larger anchor
    /// (TP8 above 8).
    #[must_use]
    pub fn h100_dgx(tp: u32) -> Self {
        let (latency_us, bus_gbs) = match tp {
            0..=2 => (7.0, 274.0),
            3..=4 => (38.0, 317.0),
            _ => (23.0, 365.0),
        };
        Self {
            latency_us,
            bus_gbs,
        }
    }

    /// Time of one all-reduce of `bytes` over `tp` ranks, ms (0 at `tp` = 1).
    #[must_use]
    pub fn time_ms(&self, tp: u32, bytes: f64) -> f64 {
        if tp <= 1 {
            return 0.0;
        }
        let t = f64::from(tp);
        self.latency_us / 1e3 + 2.0 * (t - 1.0) / t * bytes / (self.bus_gbs * 1e9) * 1e3
    }
}

/// Every term of one step's cost ([`RooflineModel::breakdown`]).
///
/// FLOPs are totals over the `t` devices; bytes are per device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepCost {
    /// F_gemm: linear layers and LM head, FLOPs.
    pub gemm_flops: f64,
    /// F_attn: attention scores and weighted sums, FLOPs.
    pub attention_flops: f64,
    /// W/t: weights streamed per device, bytes.
    pub weight_bytes: f64,
    /// KV/t_kv: KV cache read and written per device, bytes.
    pub kv_bytes: f64,
    /// ACT: activations written per device, bytes.
    pub activation_bytes: f64,
    /// Compute-side time at the calibrated efficiencies, ms.
    pub compute_ms: f64,
    /// Memory-side time at the calibrated efficiency, ms.
    pub memory_ms: f64,
    /// Tensor-parallel all-reduces, ms.
    pub comm_ms: f64,
    /// Fixed overheads (layers, sequences, step), ms.
    pub overhead_ms: f64,
    /// `max(compute_ms, memory_ms) + comm_ms + overhead_ms`, ms.
    pub total_ms: f64,
}

/// Roofline step-time model of one model on `t` tensor-parallel accelerators.
///
/// Built with [`RooflineModel::new`]; efficiencies, dtypes, all-reduce and overheads have
/// defaults (see the [module docs](crate::roofline)) and builder setters. See the module docs
/// for the formula.
///
/// # Examples
/// ```
/// use perf_model_core::catalog::{Accelerator, ModelSpec};
/// use perf_model_core::roofline::{Overheads, RooflineModel};
/// use perf_model_core::{BatchShape, Dtype, StepTimeModel};
///
/// let roofline = RooflineModel::new(
///     ModelSpec::lookup("Llama-3.1-8B")?,
///     Accelerator::lookup("H100 SXM")?,
///     Dtype::Bf16,
///     2,
/// )?
/// .with_memory_efficiency(0.8)?
/// .with_overheads(Overheads::ZERO)?;
/// let decode = BatchShape::decode(32, 1024);
/// let cost = roofline.breakdown(&decode);
/// assert!(cost.memory_ms > cost.compute_ms); // decode is memory-bound
/// assert!(cost.comm_ms > 0.0);               // TP2 all-reduces
/// assert!((roofline.step_time(&decode) - cost.total_ms).abs() < 1e-12);
/// # Ok::<(), perf_model_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RooflineModel {
    model: ModelSpec,
    accelerator: Accelerator,
    weight_dtype: Dtype,
    kv_dtype: Dtype,
    compute_dtype: Dtype,
    activation_dtype: Dtype,
    tp: u32,
    compute_eff: ComputeEfficiency,
    memory_eff: f64,
    attention_eff: f64,
    all_reduce: AllReduce,
    overheads: Overheads,
    // Derived, refreshed by `refresh`.
    peak_flops: f64,
    bandwidth: f64,
    n_lin_active: f64,
    n_lin_shared: f64,
    expert_params: f64,
    moe_layers: f64,
    lm_head: f64,
    attn_pair: f64,
    kv_per_token: f64,
    t_kv: f64,
    /// Constant factors of [`StepTimeModel::step_time`], refreshed by `refresh`.
    fast: FastTerms,
}

/// The batch-independent factors of a step's total time, computed once with exactly the
/// operations [`RooflineModel::breakdown`] applies per step, so the per-step arithmetic left
/// is the same and [`StepTimeModel::step_time`] equals `breakdown(..).total_ms` bit for bit
/// (a simulator calls it every step; the breakdown's other terms are not needed there).
#[derive(Clone, Copy, Debug, Default)]
struct FastTerms {
    /// `t · P_peak`.
    tp_peak: f64,
    /// `t · P_peak · η_attn`.
    attn_denominator: f64,
    /// `2 · N_lin,active`.
    two_lin: f64,
    /// `2 · N_lm_head`.
    two_lm_head: f64,
    /// `W / t` of a dense model (no experts).
    dense_weights: f64,
    /// `BW · η_m`.
    memory_denominator: f64,
    /// `L · d · b_act`.
    activation_per_token: f64,
    /// `L · τ_layer`.
    layer_overhead: f64,
}

impl RooflineModel {
    /// A roofline of `model` with weights in `weight_dtype` on `tp` devices of `accelerator`.
    ///
    /// The KV cache defaults to `weight_dtype`; the compute dtype to `weight_dtype` when the
    /// device has a peak for it, else BF16 (weight-only quantisation computes in 16 bits);
    /// activations to BF16 (FP32 with FP32 weights). Efficiencies, all-reduce and overheads
    /// take the defaults of the module docs; the device family is found by looking
    /// `accelerator.name` up in the catalogue (an unknown name gets the generic defaults).
    ///
    /// # Errors
    /// Whatever [`ModelSpec::validate`] or [`Accelerator::validate`] reports;
    /// [`crate::Error::OutOfRange`] for `tp` = 0 (field `tp`) or a device without a published
    /// memory bandwidth (field `memory_bandwidth_gbs`).
    pub fn new(
        model: ModelSpec,
        accelerator: Accelerator,
        weight_dtype: Dtype,
        tp: u32,
    ) -> Result<Self> {
        model.validate()?;
        accelerator.validate()?;
        at_least_one("tp", u64::from(tp))?;
        if accelerator.memory_bandwidth_gbs.is_none() {
            return Err(out_of_range(
                "memory_bandwidth_gbs",
                "None",
                &format!(
                    "{} has no published memory bandwidth; set it on the Accelerator",
                    accelerator.name
                ),
            ));
        }
        let compute_dtype = match weight_dtype {
            Dtype::Fp16 | Dtype::Bf16 | Dtype::Fp8 | Dtype::Int8
                if accelerator.peak_tflops(weight_dtype).is_some() =>
            {
                weight_dtype
            }
            _ => Dtype::Bf16,
        };
        let activation_dtype = if weight_dtype == Dtype::Fp32 {
            Dtype::Fp32
        } else {
            Dtype::Bf16
        };
        let family = crate::catalog::Accelerator::lookup_ref(&accelerator.name)
            .map(|a| a.name.as_str())
            .unwrap_or("");
        let (compute_eff, memory_eff, attention_eff) = match family {
            "H100 SXM" | "H200" => (ComputeEfficiency::h100(), H100_MEMORY_EFFICIENCY, 0.77),
            "A100-80GB" | "A100-40GB" => (ComputeEfficiency::a100(), 0.78, 0.73),
            _ => (ComputeEfficiency::generic(), 0.75, 0.73),
        };
        let mut all_reduce = AllReduce::h100_dgx(tp);
        all_reduce.bus_gbs *= accelerator.interconnect_gbs.unwrap_or(64.0) / 900.0;
        if accelerator.interconnect_gbs.is_some_and(|g| g >= 300.0) {
            all_reduce.latency_us = NVLINK_SMALL_ALL_REDUCE_US;
        }
        let mut m = Self {
            model,
            accelerator,
            weight_dtype,
            kv_dtype: weight_dtype,
            compute_dtype,
            activation_dtype,
            tp,
            compute_eff,
            memory_eff,
            attention_eff,
            all_reduce,
            overheads: Overheads::BLIS_H100,
            peak_flops: 0.0,
            bandwidth: 0.0,
            n_lin_active: 0.0,
            n_lin_shared: 0.0,
            expert_params: 0.0,
            moe_layers: 0.0,
            lm_head: 0.0,
            attn_pair: 0.0,
            kv_per_token: 0.0,
            t_kv: 1.0,
            fast: FastTerms::default(),
        };
        m.refresh();
        Ok(m)
    }

    /// Recomputes the derived constants after a field changed.
    fn refresh(&mut self) {
        let m = &self.model;
        self.peak_flops = self
            .accelerator
            .peak_flops(self.compute_dtype)
            .unwrap_or(0.0);
        self.bandwidth = self
            .accelerator
            .memory_bandwidth_bytes_per_s()
            .unwrap_or(0.0);
        self.n_lin_active = m.active_linear_params() as f64;
        self.expert_params = m.expert_params() as f64;
        self.moe_layers = f64::from(m.moe_layers());
        let active = m.moe.as_ref().map_or(0.0, |x| f64::from(x.active));
        self.n_lin_shared = self.n_lin_active - self.moe_layers * active * self.expert_params;
        self.lm_head = m.lm_head_params() as f64;
        self.attn_pair = m.attention_flops_per_pair();
        self.kv_per_token = m.kv_bytes_per_token(self.kv_dtype);
        self.t_kv = if m.mla.is_some() {
            1.0
        } else {
            f64::from(self.tp.min(m.kv_heads))
        };
        // As `work` and `breakdown` compute them (left to right), so results are identical.
        let t = f64::from(self.tp);
        let tp_peak = t * self.peak_flops;
        let no_experts = 0.0;
        self.fast = FastTerms {
            tp_peak,
            attn_denominator: tp_peak * self.attention_eff,
            two_lin: 2.0 * self.n_lin_active,
            two_lm_head: 2.0 * self.lm_head,
            dense_weights: (self.n_lin_shared
                + self.moe_layers * no_experts * self.expert_params
                + self.lm_head)
                * self.weight_dtype.bytes()
                / t,
            memory_denominator: self.bandwidth * self.memory_eff,
            activation_per_token: f64::from(self.model.layers)
                * f64::from(self.model.hidden)
                * self.activation_dtype.bytes(),
            layer_overhead: f64::from(self.model.layers) * self.overheads.layer_us,
        };
    }

    /// Stores the KV cache in `dtype` (default: the weight dtype).
    #[must_use]
    pub fn with_kv_dtype(mut self, dtype: Dtype) -> Self {
        self.kv_dtype = dtype;
        self.refresh();
        self
    }

    /// Computes GEMMs and attention at the peak of `dtype`.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] (field `compute_dtype`) when the device has no peak for it.
    pub fn with_compute_dtype(mut self, dtype: Dtype) -> Result<Self> {
        if self.accelerator.peak_tflops(dtype).is_none() {
            return Err(out_of_range(
                "compute_dtype",
                dtype,
                &format!("{} has no known {dtype} peak", self.accelerator.name),
            ));
        }
        self.compute_dtype = dtype;
        self.refresh();
        Ok(self)
    }

    /// Activations (and all-reduce payloads) in `dtype` (default BF16).
    #[must_use]
    pub fn with_activation_dtype(mut self, dtype: Dtype) -> Self {
        self.activation_dtype = dtype;
        self.refresh();
        self
    }

    /// Replaces the GEMM efficiency curve η_c.
    #[must_use]
    pub fn with_compute_efficiency(mut self, curve: ComputeEfficiency) -> Self {
        self.compute_eff = curve;
        self
    }

    /// Sets η_m, the achieved fraction of peak memory bandwidth.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] outside (0, 1].
    pub fn with_memory_efficiency(mut self, eta: f64) -> Result<Self> {
        self.memory_eff = unit_interval("memory_efficiency", eta)?;
        self.refresh();
        Ok(self)
    }

    /// Sets η_attn, the achieved fraction of peak FLOPS in attention.
    ///
    /// # Errors
    /// [`crate::Error::OutOfRange`] outside (0, 1].
    pub fn with_attention_efficiency(mut self, eta: f64) -> Result<Self> {
        self.attention_eff = unit_interval("attention_efficiency", eta)?;
        self.refresh();
        Ok(self)
    }

    /// Sets the all-reduce latency and bus bandwidth.
    ///
    /// # Errors
    /// As [`AllReduce::new`] (a struct built by hand is re-checked).
    pub fn with_all_reduce(mut self, all_reduce: AllReduce) -> Result<Self> {
        self.all_reduce = AllReduce::new(all_reduce.latency_us, all_reduce.bus_gbs)?;
        Ok(self)
    }

    /// Sets τ_layer, τ_seq, τ_step.
    ///
    /// # Errors
    /// As [`Overheads::new`] (a struct built by hand is re-checked).
    pub fn with_overheads(mut self, overheads: Overheads) -> Result<Self> {
        self.overheads = Overheads::new(overheads.layer_us, overheads.seq_us, overheads.step_us)?;
        self.refresh();
        Ok(self)
    }

    /// The model.
    #[must_use]
    pub fn model(&self) -> &ModelSpec {
        &self.model
    }

    /// The accelerator.
    #[must_use]
    pub fn accelerator(&self) -> &Accelerator {
        &self.accelerator
    }

    /// Tensor-parallel degree t.
    #[must_use]
    pub fn tp(&self) -> u32 {
        self.tp
    }

    /// Weight dtype.
    #[must_use]
    pub fn weight_dtype(&self) -> Dtype {
        self.weight_dtype
    }

    /// KV-cache dtype.
    #[must_use]
    pub fn kv_dtype(&self) -> Dtype {
        self.kv_dtype
    }

    /// Dtype whose peak bounds compute.
    #[must_use]
    pub fn compute_dtype(&self) -> Dtype {
        self.compute_dtype
    }

    /// Activation dtype.
    #[must_use]
    pub fn activation_dtype(&self) -> Dtype {
        self.activation_dtype
    }

    /// The GEMM efficiency curve η_c.
    #[must_use]
    pub fn compute_efficiency(&self) -> &ComputeEfficiency {
        &self.compute_eff
    }

    /// η_m.
    #[must_use]
    pub fn memory_efficiency(&self) -> f64 {
        self.memory_eff
    }

    /// η_attn.
    #[must_use]
    pub fn attention_efficiency(&self) -> f64 {
        self.attention_eff
    }

    /// All-reduce parameters.
    #[must_use]
    pub fn all_reduce(&self) -> AllReduce {
        self.all_reduce
    }

    /// Fixed overheads.
    #[must_use]
    pub fn overheads(&self) -> Overheads {
        self.overheads
    }

    /// KV-sharding degree t_kv = min(t, h_kv) (1 for MLA).
    #[must_use]
    pub fn kv_shards(&self) -> f64 {
        self.t_kv
    }

    /// FLOPs and per-device bytes of a step: (F_gemm, F_attn, W/t, KV/t_kv).
    fn work(&self, b: &BatchShape) -> (f64, f64, f64, f64) {
        let tokens = b.total_tokens() as f64;
        let logits = f64::from(b.logits);
        let gemm = 2.0 * self.n_lin_active * tokens + 2.0 * self.lm_head * logits;
        let pairs = b.prefill_cross as f64
            + (b.prefill_tokens_sq as f64 + b.prefill_tokens as f64) / 2.0
            + b.decode_context as f64
            + f64::from(b.decode_seqs);
        let attn = self.attn_pair * pairs;
        let experts = self
            .model
            .moe
            .as_ref()
            .map_or(0.0, |m| m.expected_unique_experts(tokens));
        let weights =
            (self.n_lin_shared + self.moe_layers * experts * self.expert_params + self.lm_head)
                * self.weight_dtype.bytes();
        let kv = self.kv_per_token * b.kv_tokens() as f64;
        let t = f64::from(self.tp);
        (gemm, attn, weights / t, kv / self.t_kv)
    }

    /// The 100 %-efficiency lower bound of a step, ms (specs/simulator.md §10): no overheads,
    /// no all-reduce, peak FLOPS and bandwidth. The all-reduce is left out as in §10's table
    /// (its GPT-3 TP8 row is per GPU without collectives); [`StepTimeModel::step_time`] adds
    /// `2·L` all-reduces for `t > 1` on top, so it never falls below this bound.
    ///
    /// # Formula
    /// ```text
    /// max( (F_gemm + F_attn)/(t·P_peak),  (W/t + KV/t_kv)/BW_peak )
    /// ```
    #[must_use]
    pub fn lower_bound(&self, batch: &BatchShape) -> f64 {
        if batch.is_empty() {
            return 0.0;
        }
        let (gemm, attn, w, kv) = self.work(batch);
        let t = f64::from(self.tp);
        let compute = (gemm + attn) / (t * self.peak_flops);
        let memory = (w + kv) / self.bandwidth;
        compute.max(memory) * 1e3
    }

    /// Every term of a step's cost (all zero for an empty batch).
    #[must_use]
    pub fn breakdown(&self, batch: &BatchShape) -> StepCost {
        if batch.is_empty() {
            return StepCost::default();
        }
        let (gemm, attn, w, kv) = self.work(batch);
        let tokens = batch.total_tokens() as f64;
        let logits = f64::from(batch.logits);
        let t = f64::from(self.tp);
        let l = f64::from(self.model.layers);
        let d = f64::from(self.model.hidden);
        let b_act = self.activation_dtype.bytes();
        let tp_peak = t * self.peak_flops;
        let mut compute_s = attn / (tp_peak * self.attention_eff);
        if tokens > 0.0 {
            compute_s +=
                2.0 * self.n_lin_active * tokens / (tp_peak * self.compute_eff.effective(tokens));
        }
        if logits > 0.0 {
            compute_s +=
                2.0 * self.lm_head * logits / (tp_peak * self.compute_eff.effective(logits));
        }
        let act = l * d * b_act * tokens;
        let memory_s = (w + kv + act) / (self.bandwidth * self.memory_eff);
        let comm_ms = 2.0 * l * self.all_reduce.time_ms(self.tp, tokens * d * b_act);
        let o = self.overheads;
        let overhead_ms =
            (l * o.layer_us + f64::from(batch.num_seqs()) * o.seq_us + o.step_us) / 1e3;
        let compute_ms = compute_s * 1e3;
        let memory_ms = memory_s * 1e3;
        StepCost {
            gemm_flops: gemm,
            attention_flops: attn,
            weight_bytes: w,
            kv_bytes: kv,
            activation_bytes: act,
            compute_ms,
            memory_ms,
            comm_ms,
            overhead_ms,
            total_ms: compute_ms.max(memory_ms) + comm_ms + overhead_ms,
        }
    }
}

impl StepTimeModel for RooflineModel {
    /// [`RooflineModel::breakdown`]'s total, ms, bit for bit; 0 for an empty batch.
    fn step_time(&self, batch: &BatchShape) -> f64 {
        if batch.is_empty() {
            return 0.0;
        }
        if self.model.moe.is_some() {
            return self.breakdown(batch).total_ms;
        }
        // `breakdown` with its batch-independent factors precomputed (`FastTerms`).
        let f = &self.fast;
        let b = batch;
        let tokens = b.total_tokens() as f64;
        let logits = f64::from(b.logits);
        // `effective` of these whole counts, without testing that they are whole.
        let eff = |n: u64| self.compute_eff.effective_count(n);
        let pairs = b.prefill_cross as f64
            + (b.prefill_tokens_sq as f64 + b.prefill_tokens as f64) / 2.0
            + b.decode_context as f64
            + f64::from(b.decode_seqs);
        let attn = self.attn_pair * pairs;
        let kv = self.kv_per_token * b.kv_tokens() as f64;
        // x / 1 is x exactly: no division in the common unsharded case (a shorter chain).
        #[allow(clippy::float_cmp)]
        let kv = if self.t_kv == 1.0 { kv } else { kv / self.t_kv };
        let mut compute_s = attn / f.attn_denominator;
        if tokens > 0.0 {
            compute_s += f.two_lin * tokens / (f.tp_peak * eff(b.total_tokens()));
        }
        if logits > 0.0 {
            compute_s += f.two_lm_head * logits / (f.tp_peak * eff(u64::from(b.logits)));
        }
        let act = f.activation_per_token * tokens;
        let memory_s = (f.dense_weights + kv + act) / f.memory_denominator;
        let comm_ms = if self.tp > 1 {
            let d = f64::from(self.model.hidden);
            2.0 * f64::from(self.model.layers)
                * self
                    .all_reduce
                    .time_ms(self.tp, tokens * d * self.activation_dtype.bytes())
        } else {
            0.0
        };
        let o = self.overheads;
        let overhead_ms = (f.layer_overhead + f64::from(b.num_seqs()) * o.seq_us + o.step_us) / 1e3;
        (compute_s * 1e3).max(memory_s * 1e3) + comm_ms + overhead_ms
    }
}

#[cfg(test)]
mod tests;
