//! Running a shard of a sweep: simulate each of its items not yet in the results directory
//! and write one file per item.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use perf_sim::Simulation;

use super::file::{Sweep, SweepItem};
use super::shard::Shard;
use super::store::{FailedRecord, ItemRecord, ItemStatus, ResultStore};
use crate::Result;

/// What one `run` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Items of the shard.
    pub assigned: usize,
    /// Items simulated now (finished or failed).
    pub ran: usize,
    /// Items skipped because their result was already there.
    pub skipped: usize,
    /// Items that failed now: id and error, in sweep order.
    pub failed: Vec<(String, String)>,
}

/// Simulates the items of `shard` (positions in `items` ≡ I mod N) that have no result in
/// `store` yet, on up to `jobs` threads, writing `items/<id>.json` (or `<id>.failed.json`)
/// for each. Writes (or checks) the store's plan first. Items whose result is present are
/// skipped, so a retried or duplicated task never repeats or double-counts one.
///
/// `items` is the whole sweep, or the subset a re-submission runs (see
/// [`super::store::read_list`]); the shard applies to positions in it.
///
/// # Examples
/// ```
/// use llm_perf::sweep::{ResultStore, Shard, Sweep, run_shard};
/// let sweep = Sweep::from_yaml_str("
/// base:
///   max_requests: 30
///   cluster:
///     cost_model: { kind: inferno, alpha: 8.0, beta: 0.02, gamma: 2.0e-4 }
///     kv_cache: { num_gpu_blocks: 100000 }
///   workload:
///     rate: 5.0
///     clients: [ { arrival: { kind: poisson }, input: { kind: fixed, value: 100 },
///                  output: { kind: fixed, value: 20 } } ]
/// seeds: [1, 2, 3]
/// ", "demo.yaml", std::path::Path::new("."))?;
/// let dir = tempfile::tempdir()?;
/// let store = ResultStore::create(dir.path())?;
/// let all: Vec<_> = sweep.items().iter().collect();
/// let first = run_shard(&sweep, &store, &all, "0/2".parse()?, 1)?;
/// assert_eq!((first.assigned, first.ran), (2, 2)); // items 0 and 2
/// let again = run_shard(&sweep, &store, &all, Shard::ALL, 2)?;
/// assert_eq!((again.ran, again.skipped), (1, 2));
/// assert_eq!(store.read_item(&sweep.items()[1].id)?.summary.requests.completed, 30);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`super::SweepError::Store`] when the plan or an item's file cannot be written (a failed
/// *simulation* is not an error: it is recorded and reported in [`RunReport::failed`]).
pub fn run_shard(
    sweep: &Sweep,
    store: &ResultStore,
    items: &[&SweepItem],
    shard: Shard,
    jobs: usize,
) -> Result<RunReport> {
    store.write_plan(sweep)?;
    let mine: Vec<&SweepItem> = items
        .iter()
        .enumerate()
        .filter(|(p, _)| shard.contains(*p))
        .map(|(_, i)| *i)
        .collect();
    let todo: Vec<&SweepItem> = mine
        .iter()
        .copied()
        .filter(|i| store.status(i) != ItemStatus::Done)
        .collect();
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    let work = || {
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = todo.get(k) else { break };
            if let Err(e) = run_item(sweep, store, item, &failed) {
                // a store that cannot be written: stop handing out items
                next.store(todo.len(), Ordering::Relaxed);
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(e);
                }
                break;
            }
        }
    };
    let threads = jobs.clamp(1, todo.len().max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut failed: Vec<(usize, String, String)> = failed.into_inner().unwrap_or_default();
    failed.sort();
    Ok(RunReport {
        assigned: mine.len(),
        ran: todo.len(),
        skipped: mine.len() - todo.len(),
        failed: failed.into_iter().map(|(_, id, e)| (id, e)).collect(),
    })
}

/// Simulates one item and writes its file; a simulation error becomes its failure file.
fn run_item(
    sweep: &Sweep,
    store: &ResultStore,
    item: &SweepItem,
    failed: &Mutex<Vec<(usize, String, String)>>,
) -> Result<()> {
    let started = std::time::Instant::now();
    let outcome = sweep
        .config(item)
        .and_then(|c| Ok(Simulation::new(c)?.run_summary()?));
    match outcome {
        Ok(summary) => {
            tracing::info!(
                id = %item.id,
                ms = started.elapsed().as_secs_f64() * 1e3,
                "sweep item done"
            );
            store.write_item(&ItemRecord {
                id: item.id.clone(),
                index: item.index,
                seed: item.seed,
                overrides: item.overrides.clone(),
                summary,
            })
        }
        Err(e) => {
            let error = e.to_string();
            tracing::warn!(id = %item.id, "sweep item failed: {error}");
            store.write_failure(&FailedRecord {
                id: item.id.clone(),
                index: item.index,
                seed: item.seed,
                overrides: item.overrides.clone(),
                error: error.clone(),
            })?;
            if let Ok(mut f) = failed.lock() {
                f.push((item.index, item.id.clone(), error));
            }
            Ok(())
        }
    }
}
