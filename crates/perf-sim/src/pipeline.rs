//! Pipeline parallelism (`cluster.engine.pipeline_parallel: S`, specs/simulator.md §3.5): a
//! replica's layers are split over `S` stages (each on its own TP group), and a step's batch —
//! a micro-batch — passes through them in turn, its activations sent from stage to stage.
//!
//! * **Stages.** Stage `s` runs `1/S` of the layers: `⌈T/S⌉` ns of a step whose whole-model
//!   time is `T` (the cost model's step time for the batch, with the replica's TP).
//! * **Send/recv.** Between stages the micro-batch's activations move over the stage link:
//!   `latency + tokens · bytes_per_token / bandwidth` (`bytes_per_token` = hidden size × dtype
//!   bytes for the roofline).
//! * **Micro-batches in flight.** As vLLM's pipeline engine does (one scheduler per virtual
//!   engine, `S` of them, each with its share of the KV cache), a replica runs `S` engines whose
//!   steps share the stages: a micro-batch enters stage `s` when it left stage `s − 1` (plus the
//!   transfer) and stage `s` finished the micro-batch before it. A lone micro-batch takes
//!   `S·⌈T/S⌉ + (S − 1)·transfer`; with all `S` engines busy, a stage ideally never idles.
//! * **Bubbles.** Stage idle time shows as `busy_fraction < 1` per stage; the summary reports
//!   the mean over stages (`pipeline_busy_fraction`).
//!
//! Uncertain: real stage times differ (embedding and LM head sit on the first and last stage),
//! and vLLM V1 keeps one scheduler with a shared KV pool and `S` batches in flight rather than
//! `S` partitions; both are approximated as described.

use serde::{Deserialize, Serialize};

use crate::config::{CostModelConfig, roofline_accelerator, roofline_model};
use crate::error::{Result, invalid, non_negative, positive};

/// Default latency of a stage-to-stage send/recv when the accelerator gives none, µs (a small
/// NCCL point-to-point message on NVLink or InfiniBand is a few µs to ~10 µs).
pub const DEFAULT_LINK_LATENCY_US: f64 = 10.0;
/// Default one-way bandwidth when the accelerator gives no interconnect, GB/s (PCIe 4.0 x16).
pub const DEFAULT_LINK_GBS: f64 = 25.0;

/// `cluster.engine.pipeline_link`: the send/recv between two pipeline stages.
///
/// ```
/// use perf_sim::{SimConfig, Simulation};
/// let yaml = |pp: u32| format!("
/// max_requests: 1
/// cluster:
///   engine: {{ pipeline_parallel: {pp},
///             pipeline_link: {{ latency_us: 20.0, bandwidth_gbs: 10.0, bytes_per_token: 8192 }} }}
///   cost_model: {{ kind: inferno, alpha: 8.0, beta: 0.0, gamma: 0.0 }}
///   kv_cache: {{ num_gpu_blocks: 400 }}
/// workload:
///   clients: [ {{ arrival: {{ kind: poisson, rate: 1.0 }},
///                input: {{ kind: fixed, value: 1000 }}, output: {{ kind: fixed, value: 2 }} }} ]
/// ");
/// let one = Simulation::new(SimConfig::from_yaml_str(&yaml(1))?)?.run_summary()?;
/// let two = Simulation::new(SimConfig::from_yaml_str(&yaml(2))?)?.run_summary()?;
/// // The prefill's 1000 tokens of activations cross one link: 20 µs + 8.192 MB / 10 GB/s.
/// let extra = two.latency.ttft_ms.mean - one.latency.ttft_ms.mean;
/// assert!((extra - (0.020 + 0.8192)).abs() < 1e-6, "{extra}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineLink {
    /// Latency of one send/recv, µs (≥ 0).
    pub latency_us: f64,
    /// One-way bandwidth, GB/s (> 0).
    pub bandwidth_gbs: f64,
    /// Activation bytes per token sent (the hidden size × the dtype's bytes). Default: from the
    /// roofline's model; required with another cost model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_token: Option<f64>,
}

/// How a pool's replicas pipeline: stages and the stage link, in engine units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PipelineSetup {
    pub stages: u32,
    pub transfer_ns: u64,
    pub transfer_ns_per_token: f64,
}

impl PipelineSetup {
    /// The pipeline of a pool whose engine is `engine` and cost model `cost` (`None` without
    /// pipeline parallelism). `path` names the engine block in errors.
    pub fn of(
        engine: &crate::engine::EngineConfig,
        cost: &CostModelConfig,
        path: &str,
    ) -> Result<Option<Self>> {
        let stages = engine.pipeline_parallel();
        if stages <= 1 {
            return Ok(None);
        }
        if stages > 64 {
            return Err(invalid(
                format!("{path}.pipeline_parallel"),
                stages,
                "must be in 1..=64",
            ));
        }
        let link = engine.pipeline_link;
        let roofline = match cost {
            CostModelConfig::Roofline {
                model,
                accelerator,
                dtype,
                device,
                spec,
                ..
            } => Some((
                roofline_model(model, spec.as_deref())?,
                roofline_accelerator(accelerator, device.as_deref())?,
                *dtype,
            )),
            CostModelConfig::Inferno { .. } => None,
        };
        let field = format!("{path}.pipeline_link");
        let bytes = match (link.and_then(|l| l.bytes_per_token), &roofline) {
            (Some(b), _) => non_negative(format!("{field}.bytes_per_token"), b)?,
            (None, Some((m, _, dtype))) => f64::from(m.hidden) * dtype.bytes(),
            (None, None) => {
                return Err(invalid(
                    field,
                    "null",
                    "the cost model names no model: give pipeline_link with bytes_per_token",
                ));
            }
        };
        let (latency_us, gbs) = match link {
            Some(l) => (
                non_negative(format!("{field}.latency_us"), l.latency_us)?,
                positive(format!("{field}.bandwidth_gbs"), l.bandwidth_gbs)?,
            ),
            // The accelerator's interconnect is quoted for both directions.
            None => (
                DEFAULT_LINK_LATENCY_US,
                roofline
                    .as_ref()
                    .and_then(|(_, a, _)| a.interconnect_gbs)
                    .map_or(DEFAULT_LINK_GBS, |g| g / 2.0),
            ),
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Some(Self {
            stages,
            transfer_ns: (latency_us * 1e3).round() as u64,
            transfer_ns_per_token: bytes / gbs,
        }))
    }
}

/// The stages of one pipelined replica and when each is next free.
#[derive(Clone, Debug)]
pub(crate) struct Pipeline {
    /// When each stage is next free, ns.
    free: Vec<u64>,
    /// Time each stage has worked, ns.
    busy: Vec<u64>,
    /// Send/recv between two stages: fixed part, ns, and per token of the micro-batch.
    transfer_ns: u64,
    transfer_ns_per_token: f64,
}

impl Pipeline {
    /// The stages of `setup`.
    pub fn of(setup: &PipelineSetup) -> Self {
        Self::new(setup.stages, setup.transfer_ns, setup.transfer_ns_per_token)
    }

    /// `stages` ≥ 2 stages joined by a link of `transfer_ns + transfer_ns_per_token · tokens`.
    pub fn new(stages: u32, transfer_ns: u64, transfer_ns_per_token: f64) -> Self {
        Self {
            free: vec![0; stages as usize],
            busy: vec![0; stages as usize],
            transfer_ns,
            transfer_ns_per_token,
        }
    }

    /// A micro-batch of `tokens` tokens, ready at `start`, whose whole-model step takes
    /// `step_ns`: runs it through the stages and returns when the last one finishes.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn run(&mut self, start: u64, step_ns: u64, tokens: u64) -> u64 {
        let stages = self.free.len() as u64;
        let stage_ns = step_ns.div_ceil(stages).max(1);
        #[allow(clippy::cast_precision_loss)]
        let transfer = self
            .transfer_ns
            .saturating_add((self.transfer_ns_per_token * tokens as f64).ceil() as u64);
        let mut t = start;
        let last = self.free.len() - 1;
        for (s, (free, busy)) in self.free.iter_mut().zip(&mut self.busy).enumerate() {
            let begin = t.max(*free);
            let end = begin.saturating_add(stage_ns);
            *free = end;
            *busy += stage_ns;
            t = if s < last {
                end.saturating_add(transfer)
            } else {
                end
            };
        }
        t
    }

    /// Mean over stages of the fraction of `[0, end]` each stage worked.
    #[allow(clippy::cast_precision_loss)]
    pub fn busy_fraction(&self, end: u64) -> f64 {
        if end == 0 {
            return 0.0;
        }
        let total: u64 = self.busy.iter().sum();
        total as f64 / (self.busy.len() as f64 * end as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_micro_batch_crosses_every_stage_and_link() {
        // 4 stages, step 1000 ns → 250 ns per stage; links 10 ns + 0.5 ns/token × 20 tokens.
        let mut p = Pipeline::new(4, 10, 0.5);
        assert_eq!(p.run(0, 1000, 20), 4 * 250 + 3 * 20);
        // Stage 0 was free again at 250: a second micro-batch at 100 waits for it, then
        // follows the first one stage by stage.
        let mut p = Pipeline::new(2, 0, 0.0);
        assert_eq!(p.run(0, 1000, 1), 1000); // stages busy [0,500], [500,1000]
        assert_eq!(p.run(100, 1000, 1), 1500); // [500,1000] on stage 0, [1000,1500] on 1
        // Two micro-batches kept the two stages busy 2 × 500 ns each over 1500 ns.
        assert!((p.busy_fraction(1500) - 2000.0 / 3000.0).abs() < 1e-12);
    }

    #[test]
    fn with_s_micro_batches_in_flight_a_new_step_ends_every_stage_time() {
        // Steady state: S engines, each issuing its next step when the previous ends; after the
        // fill, steps end every T/S.
        let (stages, step) = (4u64, 800u64);
        let mut p = Pipeline::new(4, 0, 0.0);
        let mut ready = [0u64; 4];
        let mut ends = Vec::new();
        for round in 0..10 {
            for r in &mut ready {
                *r = p.run(*r, step, 1);
                if round >= 5 {
                    ends.push(*r);
                }
            }
        }
        ends.sort_unstable();
        for w in ends.windows(2) {
            assert_eq!(w[1] - w[0], step / stages);
        }
        assert!(p.busy_fraction(*ends.last().unwrap()) > 0.9);
    }
}
