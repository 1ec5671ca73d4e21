//! Speculative decoding (`cluster.engine.speculative`, `vllm_v1`): each step a decoding
//! request verifies its pending token and `k` proposed tokens in one pass, and keeps the
//! proposals up to the first rejection plus one token of the target model.
//!
//! * **Proposals.** A draft model, an MTP head or n-gram lookup proposes `k` tokens
//!   (`num_speculative_tokens`); fewer near the end of the output (never beyond the request's
//!   last token).
//! * **Acceptance.** Proposal `i` is accepted with probability `a_i` given proposals
//!   `1..i−1` were: one number for every position (`acceptance: 0.7`) or one per position
//!   (`acceptance: [0.9, 0.7, 0.5]`). A step then emits `1 + j` tokens, `j` the accepted
//!   proposals: `E[1 + j] = 1 + Σ_{i≤k} Π_{m≤i} a_m`, e.g. `(1 − a^{k+1})/(1 − a)` for a
//!   constant `a`, and `k + 1` when every proposal is accepted.
//! * **Verification cost.** The pass computes `k + 1` tokens over the request's context: the
//!   step's batch holds it as a chunk of `k + 1` tokens (the same attention and matmul work
//!   as a prefill chunk of that size), so it counts `k + 1` tokens against
//!   `max_num_batched_tokens` and its KV holds them (rejected slots are rewritten next step).
//! * **Draft cost.** `draft_ms + draft_ms_per_seq · S` for each of the `k` proposal rounds of
//!   a step with `S` speculating requests, added to the step (0 by default: n-gram lookup is
//!   nearly free; for a draft model, its decode step time; for MTP, the head's).
//! * **Tokens.** The `1 + j` tokens of a step reach the client together: the first after the
//!   step's gap, the others with no gap (inter-token latency samples of 0, as a per-token
//!   stream shows them), so the mean ITL is the step time over the tokens per step.
//!
//! Uncertain: real engines also skip speculation under large batches or adapt `k`; neither is
//! modelled. The acceptance draws come from the replica's own random stream.

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid, non_negative};

/// Acceptance probability of proposed tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Acceptance {
    /// The same probability at every position, in [0, 1].
    Constant(f64),
    /// Position `i` (from 1) accepted with the `i`-th value given the earlier ones were; as
    /// many values as proposed tokens.
    PerPosition(Vec<f64>),
}

/// `cluster.engine.speculative`: speculative decoding of a `vllm_v1` engine (see the
/// [module docs](self)).
///
/// ```
/// use perf_sim::{SimConfig, Simulation};
/// let yaml = |spec: &str| format!("
/// max_requests: 1
/// cluster:
///   engine: {{ {spec} }}
///   cost_model: {{ kind: inferno, alpha: 10.0, beta: 0.0, gamma: 0.0 }}
///   kv_cache: {{ num_gpu_blocks: 100 }}
/// workload:
///   clients: [ {{ arrival: {{ kind: poisson, rate: 1.0 }},
///                input: {{ kind: fixed, value: 100 }}, output: {{ kind: fixed, value: 41 }} }} ]
/// ");
/// let plain = Simulation::new(SimConfig::from_yaml_str(&yaml(""))?)?.run_summary()?;
/// let spec = "speculative: { num_speculative_tokens: 3, acceptance: 1.0 }";
/// let fast = Simulation::new(SimConfig::from_yaml_str(&yaml(spec))?)?.run_summary()?;
/// // 40 tokens after the first: 40 steps of 10 ms, or 10 steps emitting 4 tokens each.
/// assert!((plain.latency.tpot_ms.mean - 10.0).abs() < 1e-6);
/// assert!((fast.latency.tpot_ms.mean - 2.5).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeculativeConfig {
    /// Tokens proposed per step, `k` ≥ 1 (vLLM's `num_speculative_tokens`).
    pub num_speculative_tokens: u32,
    /// Acceptance of each proposed token.
    pub acceptance: Acceptance,
    /// Fixed time of one proposal round, ms (≥ 0). Default 0.
    #[serde(default)]
    pub draft_ms: f64,
    /// Time of one proposal round per speculating request, ms (≥ 0). Default 0.
    #[serde(default)]
    pub draft_ms_per_seq: f64,
}

impl SpeculativeConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`crate::SimError::InvalidConfig`] naming `cluster.engine.speculative.<key>`.
    pub fn validate(&self) -> Result<()> {
        let p = "cluster.engine.speculative";
        let k = self.num_speculative_tokens;
        if k == 0 || k > 64 {
            return Err(invalid(
                format!("{p}.num_speculative_tokens"),
                k,
                "must be in 1..=64",
            ));
        }
        let probs: &[f64] = match &self.acceptance {
            Acceptance::Constant(a) => std::slice::from_ref(a),
            Acceptance::PerPosition(v) => {
                if v.len() != k as usize {
                    return Err(invalid(
                        format!("{p}.acceptance"),
                        format!("{} values", v.len()),
                        format!("give one value, or one per proposed token ({k})"),
                    ));
                }
                v
            }
        };
        if let Some(a) = probs.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(invalid(format!("{p}.acceptance"), a, "must be in [0, 1]"));
        }
        non_negative(format!("{p}.draft_ms"), self.draft_ms)?;
        non_negative(format!("{p}.draft_ms_per_seq"), self.draft_ms_per_seq)?;
        Ok(())
    }

    /// Acceptance probability of proposal `i` (from 1).
    #[must_use]
    pub fn acceptance_at(&self, i: u32) -> f64 {
        match &self.acceptance {
            Acceptance::Constant(a) => *a,
            Acceptance::PerPosition(v) => {
                v.get(i.saturating_sub(1) as usize).copied().unwrap_or(0.0)
            }
        }
    }

    /// Expected tokens a step emits per speculating request with `k` proposals:
    /// `1 + Σ_{i≤k} Π_{m≤i} a_m`.
    #[must_use]
    pub fn expected_tokens(&self, k: u32) -> f64 {
        let mut run = 1.0;
        let mut total = 1.0;
        for i in 1..=k {
            run *= self.acceptance_at(i);
            total += run;
        }
        total
    }

    /// Accepted proposals out of `k`: each in turn with its probability, up to the first
    /// rejection.
    pub(crate) fn draw_accepted(&self, k: u32, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let mut j = 0;
        while j < k {
            let a = self.acceptance_at(j + 1);
            if a < 1.0 && (a <= 0.0 || rng.random::<f64>() >= a) {
                break;
            }
            j += 1;
        }
        j
    }

    /// Draft time of a step with `seqs` speculating requests, ms.
    #[must_use]
    pub fn draft_time_ms(&self, seqs: u32) -> f64 {
        if seqs == 0 {
            return 0.0;
        }
        f64::from(self.num_speculative_tokens)
            * (self.draft_ms + self.draft_ms_per_seq * f64::from(seqs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, stream};

    fn spec(k: u32, a: Acceptance) -> SpeculativeConfig {
        SpeculativeConfig {
            num_speculative_tokens: k,
            acceptance: a,
            draft_ms: 0.0,
            draft_ms_per_seq: 0.0,
        }
    }

    #[test]
    fn expected_tokens_follow_the_closed_form_and_draws_agree() {
        let s = spec(4, Acceptance::Constant(0.6));
        let closed = (1.0 - 0.6_f64.powi(5)) / (1.0 - 0.6);
        assert!((s.expected_tokens(4) - closed).abs() < 1e-12);
        let mut rng = stream(7, Purpose::Speculation, 0);
        let n = 200_000;
        let total: u64 = (0..n)
            .map(|_| u64::from(1 + s.draw_accepted(4, &mut rng)))
            .sum();
        #[allow(clippy::cast_precision_loss)]
        let mean = total as f64 / f64::from(n);
        assert!((mean - closed).abs() < 0.01, "{mean} vs {closed}");
        // Per position: [1, 0] accepts exactly one proposal.
        let s = spec(2, Acceptance::PerPosition(vec![1.0, 0.0]));
        assert!((s.expected_tokens(2) - 2.0).abs() < 1e-12);
        assert!((0..100).all(|_| s.draw_accepted(2, &mut rng) == 1));
        // Fewer proposals near the end of an output.
        assert_eq!(
            spec(4, Acceptance::Constant(1.0)).draw_accepted(2, &mut rng),
            2
        );
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = spec(0, Acceptance::Constant(0.5)).validate().unwrap_err();
        assert!(e.to_string().contains("num_speculative_tokens"), "{e}");
        let e = spec(3, Acceptance::PerPosition(vec![0.5]))
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("one per proposed token (3)"), "{e}");
        let e = spec(1, Acceptance::Constant(1.5)).validate().unwrap_err();
        assert!(e.to_string().contains("acceptance"), "{e}");
    }
}
