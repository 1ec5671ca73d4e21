//! A workload's request stream sampled once and replayed by many simulations.
//!
//! A client's arrival times and request lengths come from its own random streams, which no
//! serving decision touches (`crate::rng`): every simulation of one workload under one seed
//! draws the same sequence, whatever the cluster. A tuner simulates thousands of cluster
//! configurations on one workload and spent about a tenth of each run sampling it again;
//! a [`WorkloadTape`] holds the sequence, and a simulation built with
//! [`crate::SimulationBuilder::tape`] reads it instead of sampling.
//!
//! Results are bit-identical with and without a tape: a simulation reading past the end of
//! the tape goes on sampling from the streams' state where the recording stopped, and a tape
//! recorded for another workload or seed is ignored. Taped: the arrival times of open-loop
//! clients (Poisson, Gamma, constant) and the lengths (and prompt identities) of every client
//! but trace replays; the rest (closed-loop think times, stages, traces, conversation turns)
//! is sampled as usual.

use std::sync::Arc;

use crate::config::{SimConfig, WorkloadConfig};
use crate::error::Result;
use crate::workload::{ClientStream, PromptKey, Source};

/// At most this many arrivals and lengths are recorded per client.
const MAX_PER_CLIENT: usize = 1 << 18;

/// One client's recorded draws.
#[derive(Debug)]
pub(crate) struct ClientTape {
    /// Successive results of `ClientStream::advance` (open-loop clients only).
    pub arrivals: Vec<f64>,
    /// Successive results of `ClientStream::sample_lengths` with the prompt identity each
    /// left in `last_key`.
    pub lengths: Vec<(u32, u32, PromptKey)>,
    /// The stream once recorded: where a replay past either list goes on sampling.
    pub after: ClientStream,
}

/// A workload's request stream, recorded once for a seed (see the module docs).
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use perf_sim::{SimConfig, Simulation, WorkloadTape};
/// let cfg: SimConfig = serde_json::from_str(r#"{ "seed": 7, "max_requests": 300,
///   "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
///                "kv_cache": { "num_gpu_blocks": 20000 } },
///   "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
///       "input": { "kind": "lognormal", "mean": 300, "std": 100 },
///       "output": { "kind": "fixed", "value": 20 } } ] } }"#)?;
/// let tape = Arc::new(WorkloadTape::record(&cfg)?);
/// // Another cluster, the same workload: the tape fits.
/// let mut v = serde_json::to_value(&cfg)?;
/// v["cluster"]["engine"] = serde_json::json!({ "max_batch_size": 8 });
/// let small: SimConfig = serde_json::from_value(v)?;
/// assert!(tape.fits(&small));
/// for c in [cfg, small] {
///     let taped = Simulation::builder(c.clone()).tape(Arc::clone(&tape)).build()?.run_summary()?;
///     let sampled = Simulation::new(c)?.run_summary()?;
///     assert_eq!(taped.to_json()?, sampled.to_json()?);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WorkloadTape {
    seed: u64,
    workload: WorkloadConfig,
    clients: Vec<Arc<ClientTape>>,
}

impl WorkloadTape {
    /// Records the request stream of `config`'s workload under its seed: per client, the
    /// arrivals and lengths of `max_requests` requests (or up to the horizon, or 2¹⁸).
    ///
    /// # Errors
    /// What building the workload's clients reports for an invalid workload.
    pub fn record(config: &SimConfig) -> Result<Self> {
        let wanted = config
            .max_requests
            .map_or(MAX_PER_CLIENT, |m| usize::try_from(m).unwrap_or(usize::MAX))
            .min(MAX_PER_CLIENT);
        let horizon_s = config.horizon_s.unwrap_or(f64::INFINITY);
        let clients = config
            .workload
            .clients
            .iter()
            .enumerate()
            .map(|(i, cc)| {
                let mut s = ClientStream::new(i, cc, config.client_rate(i), config.seed)?;
                let mut arrivals = Vec::new();
                if matches!(s.source, Source::Open(_)) {
                    // One more than the requests: the run looks ahead to the next arrival.
                    while arrivals.len() <= wanted {
                        let t = s.advance();
                        arrivals.push(t);
                        if !(t.is_finite() && t <= horizon_s) {
                            break;
                        }
                    }
                }
                let mut lengths = Vec::new();
                if !matches!(s.source, Source::Trace { .. }) {
                    let n = if arrivals.is_empty() {
                        wanted
                    } else {
                        arrivals.len()
                    };
                    lengths.reserve(n);
                    for _ in 0..n {
                        let (p, o) = s.sample_lengths();
                        lengths.push((p, o, s.last_key));
                    }
                }
                Ok(Arc::new(ClientTape {
                    arrivals,
                    lengths,
                    after: s,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            seed: config.seed,
            workload: config.workload.clone(),
            clients,
        })
    }

    /// Whether this tape holds `config`'s stream (same seed and workload).
    #[must_use]
    pub fn fits(&self, config: &SimConfig) -> bool {
        self.seed == config.seed && self.workload == config.workload
    }

    /// Client `i`'s recording.
    pub(crate) fn client(&self, i: usize) -> Option<&Arc<ClientTape>> {
        self.clients.get(i)
    }
}

/// A client stream's place in its tape.
#[derive(Clone, Debug)]
pub(crate) struct Replay {
    tape: Arc<ClientTape>,
    arrival: usize,
    length: usize,
}

impl Replay {
    /// From the start of `tape`.
    pub fn new(tape: Arc<ClientTape>) -> Self {
        Self {
            tape,
            arrival: 0,
            length: 0,
        }
    }

    /// The next recorded arrival; `None` once past the end (the first time, `stream`'s
    /// arrival state becomes the recording's last, so sampling goes on from there).
    #[inline]
    pub fn next_arrival(&mut self, stream: &mut ClientStream) -> Option<f64> {
        if let Some(&t) = self.tape.arrivals.get(self.arrival) {
            self.arrival += 1;
            return Some(t);
        }
        if self.arrival == self.tape.arrivals.len() {
            self.arrival += 1;
            let after = &self.tape.after;
            stream.source = after.source.clone();
            stream.arrival_rng = after.arrival_rng.clone();
            stream.next_s = after.next_s;
        }
        None
    }

    /// The next recorded lengths and prompt identity; `None` once past the end (then as
    /// [`Replay::next_arrival`], for the length state).
    #[inline]
    pub fn next_lengths(&mut self, stream: &mut ClientStream) -> Option<(u32, u32, PromptKey)> {
        if let Some(&l) = self.tape.lengths.get(self.length) {
            self.length += 1;
            return Some(l);
        }
        if self.length == self.tape.lengths.len() {
            self.length += 1;
            let after = &self.tape.after;
            stream.length_rng = after.length_rng.clone();
            stream.prompts = after.prompts.clone();
            stream.last_key = after.last_key;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_requests: u64) -> SimConfig {
        serde_json::from_value(serde_json::json!({
            "seed": 5, "max_requests": max_requests,
            "cluster": { "cost_model": { "kind": "inferno", "alpha": 8.0, "beta": 0.02, "gamma": 2e-4 },
                         "kv_cache": { "num_gpu_blocks": 20000 } },
            "workload": { "clients": [ { "arrival": { "kind": "poisson", "rate": 5.0 },
                "input": { "kind": "lognormal", "mean": 300, "std": 100 },
                "output": { "kind": "lognormal", "mean": 30, "std": 10 },
                "shared_prefix": { "groups": 2, "prompts_per_group": 3, "system_prompt_len": 20 } } ] }
        }))
        .unwrap()
    }

    fn live(c: &SimConfig) -> ClientStream {
        ClientStream::new(0, &c.workload.clients[0], c.client_rate(0), c.seed).unwrap()
    }

    #[test]
    #[allow(clippy::float_cmp)]
    fn a_replay_reads_the_recording_then_samples_on_exactly() {
        let c = config(10);
        let tape = WorkloadTape::record(&c).unwrap();
        let recorded = Arc::clone(tape.client(0).unwrap());
        assert_eq!((recorded.arrivals.len(), recorded.lengths.len()), (11, 11));
        let mut replayed = live(&c).replaying(Arc::clone(&recorded));
        let mut sampled = live(&c);
        // Past both ends of the recording.
        for _ in 0..40 {
            assert_eq!(replayed.advance(), sampled.advance());
            assert_eq!(replayed.sample_lengths(), sampled.sample_lengths());
            assert_eq!(replayed.last_key, sampled.last_key);
        }
    }

    #[test]
    fn a_replay_returns_what_the_tape_holds() {
        // A doctored recording shows the values come from the tape, not from sampling.
        let c = config(3);
        let after = live(&c);
        let doctored = Arc::new(ClientTape {
            arrivals: vec![1.0, 2.5],
            lengths: vec![(7, 8, PromptKey::default())],
            after,
        });
        let mut s = live(&c).replaying(doctored);
        assert_eq!(s.advance().to_bits(), 1.0f64.to_bits());
        assert_eq!(s.sample_lengths(), (7, 8));
        assert_eq!(s.advance().to_bits(), 2.5f64.to_bits());
        // Then sampling from the recording's state (here: a fresh stream's first draws).
        let mut fresh = live(&c);
        assert_eq!(s.advance().to_bits(), fresh.advance().to_bits());
        assert_eq!(s.sample_lengths(), fresh.sample_lengths());
    }
}
