//! Tuning serving configurations with particle swarm optimisation.
//!
//! This crate owns search spaces over mixed parameters (int, float, bool, enum, ratio, range,
//! derived, environment variables, dotted config paths), a seeded parallel PSO with coefficient
//! schedules, SLO-weighted fitness over `perf_model_core::PerformanceIndex`, the `Evaluator`
//! trait, checkpoint and resume, a result journal (JSONL) and the seed-compatible results CSV,
//! the theory-guided `max_batch_size` bound, top-k fine-tuning with the final choice, and a
//! simulator-backed evaluator behind the `sim` feature (default). Engine processes live in
//! `npu-backends`; the `llm-perf tune` command in the CLI.
//!
//! ```
//! use perf_model_core::{PerformanceIndex, PerformanceIndexData};
//! use perf_pso::{Candidate, FieldSpec, Fitness, FnEvaluator, PsoParams, SearchSpace, SeedCompat, Tuner};
//! use serde_json::json;
//!
//! // two knobs: a batch size and a scheduling policy
//! let space = SearchSpace::new(&[
//!     FieldSpec::int("max_num_seqs", "engine.max_num_seqs", 8, 256),
//!     FieldSpec::choice("policy", "engine.policy", vec![json!("fcfs"), json!("priority")]),
//! ], SeedCompat::Fixed)?;
//! // a toy evaluator: throughput grows with the batch, TTFT too
//! let mut eval = FnEvaluator::new(|c: &Candidate| {
//!     let b = c.config.get_f64("max_num_seqs").ok_or("missing")?;
//!     PerformanceIndex::new(PerformanceIndexData {
//!         output_throughput: Some(40.0 * b), ttft_ms: Some(2.0 * b), tpot_ms: Some(30.0),
//!         success_rate: Some(1.0), ..Default::default() }).map_err(|e| e.to_string())
//! }).jobs(2);
//! let params = PsoParams { n_particles: 8, iters: 10, seed: 7, ..PsoParams::default() };
//! let report = Tuner::new(space, params, Fitness::default()).run(&mut eval)?;
//! assert!(report.best_cost.is_finite());
//! assert_eq!(report.records.len(), 80);
//! # Ok::<(), perf_pso::PsoError>(())
//! ```
//!
//! # The big picture
//! ```text
//! FieldSpec (TOML / code) ─► SearchSpace ─decode─► DecodedConfig ─► Evaluator ─► PerformanceIndex
//!        ▲                       ▲                                  (closure, SimEvaluator)   │
//!   SeedConfig (seed TOML)   SwarmState (positions in [0,1]^d, RNG) ◄── Fitness (cost) ◄──────┘
//!                            Tuner: results.jsonl per evaluation, checkpoint.json per iteration
//! ```
//! * [`space`]: field kinds and the position ↔ configuration codec (specs/tuning.md §1).
//! * [`fitness`]: the seed's cost with weights 0.4/0.2/0.3/0.1 (§3.3).
//! * [`pso`]: the swarm, its options and RNG discipline (§2); [`schedule`]: how `w`, `c1`, `c2`
//!   vary over the iterations (the seed's `[pso_strategy]`, pyswarms' formulas).
//! * [`evaluator`]: the `Evaluator` trait, parallel evaluation with scoped threads.
//! * [`tuner`]: the loop, de-duplication, results file, exact resume (§7).
//! * [`surrogate`]: the optional Gaussian-process pre-filter ([`gaussian_process`]) that skips
//!   particles predicted to miss the SLOs, recorded as predicted (§2.3).
//! * [`theory_bound`]: the KV-cache bound on MindIE's `max_batch_size` (§5), with
//!   [`device_memory`] parsing recorded `npu-smi` / `nvidia-smi` output.
//! * [`store`]: the seed-compatible `data_storage_<time>.csv`, written and read back (§6, §7).
//! * [`fine_tune`]: CONCURRENCY / REQUESTRATE fine-tuning of the top-k rows and the final
//!   choice (§6).
//! * [`seed_config`]: the seed's `config.toml` (§8); [`tune_config`]: our own tuning TOML.
//! * `sim` (feature `sim`): [`SimEvaluator`] over `perf-sim`.
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]
#![forbid(unsafe_code)]

pub mod device_memory;
#[cfg(feature = "sim")]
mod equivalent_runs;
pub mod error;
pub mod evaluator;
pub mod fine_tune;
pub mod fitness;
pub mod gaussian_process;
pub mod pso;
pub mod schedule;
pub mod seed_config;
#[cfg(feature = "sim")]
pub mod sim;
pub mod space;
pub mod store;
pub mod surrogate;
pub mod theory_bound;
pub mod tune_config;
pub mod tuner;

pub use device_memory::{DeviceMemory, MemorySource};
pub use error::{PsoError, Result};
pub use evaluator::{
    Candidate, Evaluation, Evaluator, FnEvaluator, TimeoutEvaluator, evaluate_parallel,
};
pub use fine_tune::{
    FinalChoice, FineTuneReport, FineTuneRow, FineTuneSettings, FineTuner, LoadKnobs, final_choice,
};
pub use fitness::Fitness;
pub use pso::{Boundary, InertiaSchedule, Particle, PsoParams, SwarmState, Topology, VelocityInit};
pub use schedule::{Coefficient, Schedule};
pub use seed_config::SeedConfig;
#[cfg(feature = "sim")]
pub use sim::{SimEvaluator, default_sim_mapping, index_from_summary};
pub use space::{
    ConfigEntry, Constraint, ConstraintMode, DecodeContext, DecodedConfig, Field, FieldKind,
    FieldSpec, Placement, PriorityPolicy, SearchSpace, SeedCompat,
};
pub use store::{ResultStore, StoreRow, StoreSettings};
pub use surrogate::{
    Prefilter, ScreenInput, Screening, SurrogateFilter, SurrogateSettings, SurrogateStrategy,
};
pub use theory_bound::{TheoryBound, TheoryInput, TheorySettings, WeightEstimate};
pub use tune_config::{RunOptions, TuneConfig};
pub use tuner::{IterationSummary, Record, TuneReport, Tuner, is_predicted, pareto_front};
