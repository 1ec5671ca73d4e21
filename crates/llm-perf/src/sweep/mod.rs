//! Sweeps: many simulations (a grid of config overrides × seeds) split over the tasks of a
//! cluster scheduler, one result file per item, merged into one table.
//!
//! ```text
//!  sweep file ──► Sweep (items with stable ids) ──► plan.json ─┐
//!                   │                                          │  merge ──► table (CSV, JSON)
//!   task I of N ──► run_shard (items ≡ I mod N) ──► items/<id>.json
//!                   ▲
//!   Scheduler (Slurm: sbatch array │ Kubernetes: Indexed Job) ◄── submit_sweep
//! ```
//!
//! * [`Sweep`] reads a sweep file: a base `perf_sim::SimConfig` (a file or inline), a `grid`
//!   (cartesian product of values per dotted path) and/or a list of override sets (`items`),
//!   and `seeds`. Each [`SweepItem`] has a stable id (`0007-3fa9c2d1`: index and a hash of its
//!   overrides and seed), so reruns find earlier results.
//! * [`run_shard`] simulates the items of one [`Shard`] not yet in the [`ResultStore`] and
//!   writes each result atomically (temporary file, fsync, rename): a retried or duplicated
//!   task never corrupts or double-counts an item.
//! * [`merge`] gathers a results directory in item order and lists missing and failed items.
//!   Item files hold nothing host- or time-dependent, so a sharded run merges to the same
//!   bytes as an unsharded one.
//! * [`Scheduler`] (built-ins [`Slurm`] and [`Kubernetes`]) submits an array of tasks and says
//!   when it has ended; [`submit_sweep`] uses it for a sweep (or only its missing items), and
//!   an ask/tell tuner can use it for one batch of candidates per iteration
//!   ([`crate::distributed`] does, for `llm-perf tune --scheduler`).
//!
//! # Examples
//! ```
//! use llm_perf::sweep::{ResultStore, Sweep, merge, run_shard};
//! let sweep = Sweep::from_yaml_str("
//! base:
//!   max_requests: 40
//!   cluster:
//!     cost_model: { kind: inferno, alpha: 8.0, beta: 0.02, gamma: 2.0e-4 }
//!     kv_cache: { num_gpu_blocks: 100000 }
//!   workload:
//!     rate: 5.0
//!     clients: [ { arrival: { kind: poisson }, input: { kind: fixed, value: 100 },
//!                  output: { kind: fixed, value: 20 } } ]
//! grid: { workload.rate: [5.0, 50.0] }
//! seeds: [1, 2]
//! ", "demo.yaml", std::path::Path::new("."))?;
//! let (one, two) = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let all: Vec<_> = sweep.items().iter().collect();
//! // all at once, or in two shards run separately: the same merged table
//! let store = ResultStore::create(one.path())?;
//! run_shard(&sweep, &store, &all, "0/1".parse()?, 1)?;
//! let sharded = ResultStore::create(two.path())?;
//! for shard in ["1/2", "0/2"] {
//!     run_shard(&sweep, &sharded, &all, shard.parse()?, 1)?;
//! }
//! let (a, b) = (merge(&store)?, merge(&sharded)?);
//! assert!(a.complete && a.rows.len() == 4);
//! assert_eq!(a.to_csv(), b.to_csv());
//! // higher load, longer time to first token
//! assert!(a.rows[2].metrics.ttft_mean_ms > a.rows[0].metrics.ttft_mean_ms);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod file;
mod kubernetes;
mod merge;
mod overrides;
mod run;
mod scheduler;
mod shard;
mod slurm;
mod store;
mod submit;

pub use error::SweepError;
pub use file::{PLAN_FORMAT, Sweep, SweepItem};
pub use kubernetes::{Kubernetes, Volume, dns_label, job_state};
pub use merge::{FailedItem, Merged, MergedRow, Metrics, merge};
pub use overrides::Overrides;
pub(crate) use overrides::fnv1a;
pub use run::{RunReport, run_shard};
pub use scheduler::{ArrayJob, JobState, Scheduler, Submission, TaskArg, submit_array};
pub use shard::Shard;
pub use slurm::Slurm;
pub use store::{FailedRecord, ItemRecord, ItemStatus, ResultStore, read_list, write_atomic};
pub use submit::{SubmitOptions, SubmitOutcome, submit_sweep};
