//! The tuner's real-benchmark mode: a [`perf_pso::Evaluator`] that benchmarks each candidate on
//! a live (or fake) service through a [`BenchmarkEvaluation`].

use std::time::Instant;

use perf_pso::{Candidate, Evaluation, Evaluator, Placement};

use crate::config::{DecodedConfig, Field};
use crate::evaluation::BenchmarkEvaluation;

/// Evaluates candidates one at a time (there is one service to restart per candidate): write the
/// configuration, start the engine, wait until healthy, benchmark, stop, restore. Any failure
/// (unhealthy engine, crash, unreadable results) becomes a failed [`Evaluation`] carrying the
/// error text, which the tuner records with cost +∞ before it goes on.
///
/// Use it wherever the tuner takes an evaluator:
/// `perf_pso::Tuner::new(space, params, fitness).run(&mut BenchmarkEvaluator::new(evaluation))`
/// (`tests/e2e.rs` runs whole swarms this way against the fake engine and benchmark, and
/// `tests/fine_tune_e2e.rs` runs `perf_pso::FineTuner` through it with
/// `perf_pso::fine_tune::EvaluatorRunner`).
///
/// The load of each run follows the candidate's `CONCURRENCY` / `REQUESTRATE` env fields (see
/// [`BenchmarkEvaluation::run`]): the swarm's candidates, with `REQUESTRATE` frozen without a
/// value, get the two-phase protocol; fine-tuning runs, with an explicit `REQUESTRATE`, one
/// pass at that rate and concurrency.
#[derive(Debug)]
pub struct BenchmarkEvaluator {
    evaluation: BenchmarkEvaluation,
}

impl BenchmarkEvaluator {
    /// Wraps an engine + benchmark pair.
    #[must_use]
    pub fn new(evaluation: BenchmarkEvaluation) -> Self {
        Self { evaluation }
    }
}

/// The engine-side configuration of a tuner candidate: each field at its dotted path, or as an
/// environment variable.
#[must_use]
pub fn backend_config(candidate: &perf_pso::DecodedConfig) -> DecodedConfig {
    DecodedConfig {
        fields: candidate
            .entries
            .iter()
            .map(|e| Field {
                name: e.name.clone(),
                config_position: match &e.placement {
                    Placement::Path(path) => path.clone(),
                    Placement::Env => "env".to_owned(),
                },
                value: e.value.clone(),
            })
            .collect(),
    }
}

impl Evaluator for BenchmarkEvaluator {
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation> {
        batch
            .iter()
            .map(|candidate| {
                let started = Instant::now();
                let result = self.evaluation.run(&backend_config(&candidate.config));
                let seconds = started.elapsed().as_secs_f64();
                match result {
                    Ok((index, _point)) => Evaluation::ok(index, seconds),
                    Err(e) => {
                        tracing::warn!(error = %e, particle = candidate.particle, "evaluation failed");
                        Evaluation::failed(e.to_string(), seconds)
                    }
                }
            })
            .collect()
    }
}
