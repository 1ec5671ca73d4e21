//! The tuning loop: decode, de-duplicate, evaluate, score, move; with a JSONL results journal
//! and an exact checkpoint after every iteration (specs/tuning.md §7).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use perf_model_core::PerformanceIndex;
use serde::{Deserialize, Serialize};

use crate::error::{PsoError, Result, io_err};
use crate::evaluator::{Candidate, Evaluation, Evaluator};
use crate::fitness::Fitness;
use crate::pso::{PsoParams, SwarmState, de_inf, ser_inf};
use crate::space::{DecodeContext, DecodedConfig, SearchSpace};
use crate::surrogate::{Prefilter, ScreenInput, Screening, SurrogateFilter, SurrogateSettings};

/// Checkpoint format name.
pub const CHECKPOINT_FORMAT: &str = "llm-perf.pso-checkpoint";
/// Checkpoint format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// One line of the results file: a particle's configuration and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// PSO iteration.
    pub iteration: usize,
    /// Particle index.
    pub particle: usize,
    /// Position in the unit cube.
    pub position: Vec<f64>,
    /// Field values, by name.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Performance, if the evaluation succeeded.
    pub index: Option<PerformanceIndex>,
    /// Error text of a failed evaluation or a constraint violation.
    pub error: Option<String>,
    /// Cost (+∞ written as `null`).
    #[serde(serialize_with = "ser_inf", deserialize_with = "de_inf")]
    pub fitness: f64,
    /// Wall time, s (`null` when timing is not recorded).
    pub duration_s: Option<f64>,
    /// Real (not predicted) evaluation: `false` for a particle a [`Prefilter`] skipped (its
    /// `index` then holds the prediction) and for a constraint violation (never run).
    pub real: bool,
    /// Copied from an earlier evaluation of the same configuration (not re-run).
    pub cached: bool,
}

/// A per-iteration progress report.
#[derive(Clone, Debug, PartialEq)]
pub struct IterationSummary {
    /// The iteration just finished (0-based).
    pub iteration: usize,
    /// Best cost so far.
    pub best_cost: f64,
    /// Evaluations run by the evaluator so far in this process.
    pub evaluations: usize,
    /// Configurations of this iteration answered from the cache.
    pub cached: usize,
    /// Particles of this iteration the pre-filter skipped (predicted, not run).
    pub predicted: usize,
}

/// The outcome of [`Tuner::run`].
#[derive(Clone, Debug)]
pub struct TuneReport {
    /// Global-best cost.
    pub best_cost: f64,
    /// Global-best position.
    pub best_position: Vec<f64>,
    /// Global-best configuration.
    pub best_config: DecodedConfig,
    /// Iterations completed overall (resumed ones included).
    pub iterations: usize,
    /// Evaluator calls made by this process (cached and journaled ones excluded).
    pub evaluations: usize,
    /// `false` when stopped early by [`Tuner::stop_after`].
    pub finished: bool,
    /// `true` when `ftol` stopped the run.
    pub converged: bool,
    /// `true` when the evaluation budget stopped the run.
    pub budget_exhausted: bool,
    /// Evaluations over the whole run (resumed ones included; cached, predicted and
    /// constraint-violating candidates excluded).
    pub total_evaluations: usize,
    /// Particles the pre-filter skipped over the whole run (resumed ones included).
    pub predicted: usize,
    /// Every record of the run (from the results file on resume).
    pub records: Vec<Record>,
    /// The final swarm.
    pub state: SwarmState,
}

impl TuneReport {
    /// The `k` measured records of lowest finite cost, distinct configurations, best first.
    #[must_use]
    pub fn top_k(&self, k: usize) -> Vec<&Record> {
        let mut v: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.fitness.is_finite() && !r.cached && r.real)
            .collect();
        v.sort_by(|a, b| a.fitness.total_cmp(&b.fitness));
        let mut seen = Vec::new();
        v.retain(|r| {
            let key = serde_json::Value::Object(r.config.clone()).to_string();
            if seen.contains(&key) {
                false
            } else {
                seen.push(key);
                true
            }
        });
        v.truncate(k);
        v
    }
}

impl TuneReport {
    /// The seed's top-k for fine-tuning (specs/tuning.md §6): among non-cached records with a
    /// finite cost and TTFT, TPOT and output tok/s > 0 (measured, not predicted), the union of the `k` lowest costs and
    /// the `k` highest output tok/s within the SLO slack `c` (TTFT ≤ T1_slo·(1 + c) and
    /// TPOT ≤ T2_slo·(1 + c) when both penalties are non-zero; only the TPOT test when only the
    /// TPOT penalty is; no test otherwise). Lowest-cost picks first.
    #[must_use]
    pub fn seed_top_k(&self, k: usize, fitness: &Fitness, slo_coefficient: f64) -> Vec<&Record> {
        let pos = |v: Option<f64>| v.is_some_and(|v| v > 0.0);
        let rows: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| !r.cached && r.real && r.fitness.is_finite())
            .filter(|r| {
                r.index.as_ref().is_some_and(|i| {
                    pos(i.ttft_ms()) && pos(i.tpot_ms()) && pos(i.output_throughput())
                })
            })
            .collect();
        let mut by_cost = rows.clone();
        by_cost.sort_by(|a, b| a.fitness.total_cmp(&b.fitness));
        by_cost.truncate(k);
        let (k1, k2) = (fitness.ttft_penalty != 0.0, fitness.tpot_penalty != 0.0);
        let within = |r: &&Record| {
            let Some(i) = r.index.as_ref() else {
                return false;
            };
            let ttft_ok = i.ttft_ms().unwrap_or(f64::INFINITY)
                <= fitness.ttft_slo_ms * (1.0 + slo_coefficient);
            let tpot_ok = i.tpot_ms().unwrap_or(f64::INFINITY)
                <= fitness.tpot_slo_ms * (1.0 + slo_coefficient);
            match (k1, k2) {
                (true, true) => ttft_ok && tpot_ok,
                (false, true) => tpot_ok,
                _ => true,
            }
        };
        let mut by_speed: Vec<&Record> = rows.iter().copied().filter(within).collect();
        let g = |r: &Record| {
            r.index
                .as_ref()
                .and_then(PerformanceIndex::output_throughput)
                .unwrap_or(0.0)
        };
        by_speed.sort_by(|a, b| g(b).total_cmp(&g(a)));
        by_speed.truncate(k);
        let mut out = by_cost;
        for r in by_speed {
            if !out.iter().any(|o| std::ptr::eq(*o, r)) {
                out.push(r);
            }
        }
        out
    }
}

/// Indices of the records on the Pareto front of (max output tok/s, min p99 TTFT, min TPOT)
/// among successful, measured, non-cached records (the TTFT statistic of the index where the evaluator
/// gives no p99); missing latencies count as +∞.
#[must_use]
pub fn pareto_front(records: &[Record]) -> Vec<usize> {
    let pts: Vec<(usize, [f64; 3])> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.cached && r.real)
        .filter_map(|(i, r)| {
            let idx = r.index.as_ref()?;
            let g = idx.output_throughput()?;
            Some((
                i,
                [
                    -g,
                    idx.ttft_p99_ms()
                        .or_else(|| idx.ttft_ms())
                        .unwrap_or(f64::INFINITY),
                    idx.tpot_ms().unwrap_or(f64::INFINITY),
                ],
            ))
        })
        .collect();
    let dominates = |a: &[f64; 3], b: &[f64; 3]| {
        a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
    };
    pts.iter()
        .filter(|(_, p)| !pts.iter().any(|(_, q)| dominates(q, p)))
        .map(|(i, _)| *i)
        .collect()
}

#[derive(Serialize, Deserialize)]
struct CheckpointFile {
    format: String,
    version: u32,
    fingerprint: Fingerprint,
    journal_lines: usize,
    /// Evaluations so far (for the budget).
    #[serde(default)]
    evaluations: usize,
    /// Memoised outcomes by configuration key.
    #[serde(default)]
    cache: Cache,
    state: SwarmState,
}

type Cache = BTreeMap<String, (Option<PerformanceIndex>, Option<String>)>;

struct Start {
    state: SwarmState,
    records: Vec<Record>,
    pending: Vec<Record>,
    cache: Cache,
    evaluations: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Fingerprint {
    space: String,
    pso: String,
    fitness: String,
    memoise: bool,
    /// The pre-filter's description; empty without one (and in older checkpoints).
    #[serde(default)]
    prefilter: String,
}

fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A configured tuning run. Build with [`Tuner::new`], set options, then [`Tuner::run`].
///
/// # Examples
/// ```
/// use perf_model_core::{PerformanceIndex, PerformanceIndexData};
/// use perf_pso::{FieldSpec, Fitness, FnEvaluator, PsoParams, SearchSpace, SeedCompat, Tuner};
/// let space = SearchSpace::new(&[FieldSpec::int("n", "engine.n", 1, 64)], SeedCompat::Fixed)?;
/// let mut eval = FnEvaluator::new(|c: &perf_pso::Candidate| {
///     let n = c.config.get_f64("n").ok_or("no n")?;
///     PerformanceIndex::new(PerformanceIndexData { output_throughput: Some(100.0 * n),
///         success_rate: Some(1.0), ..Default::default() }).map_err(|e| e.to_string())
/// });
/// let params = PsoParams { n_particles: 6, iters: 8, seed: 1, ..PsoParams::default() };
/// let report = Tuner::new(space, params, Fitness::default()).run(&mut eval)?;
/// assert_eq!(report.best_config.get_f64("n"), Some(64.0));
/// # Ok::<(), perf_pso::PsoError>(())
/// ```
pub struct Tuner {
    space: SearchSpace,
    params: PsoParams,
    fitness: Fitness,
    results: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    resume: bool,
    record_timing: bool,
    memoise: bool,
    stop_after: Option<usize>,
    max_evaluations: Option<usize>,
    prefilter: Option<Mutex<Box<dyn Prefilter>>>,
}

impl Tuner {
    /// A run over `space` with `params`, scored by `fitness`; no files, memoisation on.
    #[must_use]
    pub fn new(space: SearchSpace, params: PsoParams, fitness: Fitness) -> Self {
        Self {
            space,
            params,
            fitness,
            results: None,
            checkpoint: None,
            resume: false,
            record_timing: true,
            memoise: true,
            stop_after: None,
            max_evaluations: None,
            prefilter: None,
        }
    }
    /// Screens every batch with `prefilter` before it is evaluated; skipped particles are
    /// recorded as predicted (`real = false`) and never become a best (specs/tuning.md §2.3).
    #[must_use]
    pub fn prefilter(mut self, prefilter: impl Prefilter + 'static) -> Self {
        self.prefilter = Some(Mutex::new(Box::new(prefilter)));
        self
    }
    /// [`Tuner::prefilter`] with the Gaussian-process [`SurrogateFilter`] judging feasibility
    /// by this tuner's fitness SLOs.
    ///
    /// # Errors
    /// Invalid settings ([`SurrogateSettings::check`]).
    pub fn surrogate(self, settings: SurrogateSettings) -> Result<Self> {
        let filter = SurrogateFilter::new(settings, &self.fitness)?;
        Ok(self.prefilter(filter))
    }
    /// Evaluation budget: stop before an iteration whose new (non-cached) evaluations would
    /// take the run's total above `max` (resumed evaluations included).
    #[must_use]
    pub fn max_evaluations(mut self, max: usize) -> Self {
        self.max_evaluations = Some(max);
        self
    }
    /// Appends every evaluation to this JSONL file (truncated at the start of a fresh run).
    #[must_use]
    pub fn results_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.results = Some(path.into());
        self
    }
    /// Writes a checkpoint here after every iteration (atomically: temp file, fsync, rename).
    #[must_use]
    pub fn checkpoint_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
    /// Continue from the checkpoint if it exists (else start fresh).
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }
    /// Whether records carry wall times (default true; off for byte-comparable files).
    #[must_use]
    pub fn record_timing(mut self, yes: bool) -> Self {
        self.record_timing = yes;
        self
    }
    /// Reuse the result of an identical configuration (default true; off for noisy benchmarks).
    #[must_use]
    pub fn memoise(mut self, yes: bool) -> Self {
        self.memoise = yes;
        self
    }
    /// Stop after this many iterations in this process (as if killed after the checkpoint).
    #[must_use]
    pub fn stop_after(mut self, iterations: usize) -> Self {
        self.stop_after = Some(iterations);
        self
    }
    /// The search space.
    #[must_use]
    pub fn space(&self) -> &SearchSpace {
        &self.space
    }

    fn fingerprint(&self) -> Fingerprint {
        // the iteration limit may grow on resume, unless the inertia schedule depends on it
        let iters = if self.params.schedules_depend_on_iters() {
            self.params.iters
        } else {
            0
        };
        let pso = PsoParams {
            iters,
            ..self.params.clone()
        };
        Fingerprint {
            space: fnv(&serde_json::to_string(&self.space).unwrap_or_default()),
            pso: fnv(&serde_json::to_string(&pso).unwrap_or_default()),
            fitness: fnv(&serde_json::to_string(&self.fitness).unwrap_or_default()),
            memoise: self.memoise,
            prefilter: self
                .prefilter
                .as_ref()
                .map(|p| lock(p).describe())
                .unwrap_or_default(),
        }
    }

    /// Runs (or resumes) the optimisation.
    ///
    /// # Errors
    /// Invalid parameters, I/O errors on the results or checkpoint file, a checkpoint of another
    /// run, an evaluator returning the wrong number of results. A failing evaluation is not an
    /// error: it is recorded with cost +∞.
    pub fn run(&self, evaluator: &mut dyn Evaluator) -> Result<TuneReport> {
        self.run_observed(evaluator, &mut |_| {})
    }

    /// [`Tuner::run`], calling `observer` after every iteration.
    ///
    /// # Errors
    /// As [`Tuner::run`].
    #[allow(clippy::too_many_lines)]
    pub fn run_observed(
        &self,
        evaluator: &mut dyn Evaluator,
        observer: &mut dyn FnMut(&IterationSummary),
    ) -> Result<TuneReport> {
        self.params.check()?;
        self.fitness.check()?;
        let dims = self.space.dimensions();
        let fp = self.fingerprint();
        let Start {
            mut state,
            mut records,
            pending,
            mut cache,
            evaluations: mut total_evaluations,
        } = self.start(&fp, dims)?;
        let mut journal = match &self.results {
            Some(p) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(io_err(p))?,
            ),
            None => None,
        };
        let evaluated = |r: &Record| {
            !r.cached
                && r.error
                    .as_deref()
                    .is_none_or(|e| !e.starts_with("constraint"))
        };
        // The pre-filter learns from measurements only, replayed in order on resume so that it
        // makes the decisions it made then.
        let observe = |filter: &mut Box<dyn Prefilter>, rs: &[Record]| {
            for r in rs.iter().filter(|r| r.real && evaluated(r)) {
                let index = if r.error.is_none() {
                    r.index.as_ref()
                } else {
                    None
                };
                filter.observe(&r.position, index);
            }
        };
        if let Some(p) = &self.prefilter {
            let mut filter = lock(p);
            filter.reset();
            let mut it = 0;
            while it < state.iteration {
                let of_it: Vec<Record> = records
                    .iter()
                    .filter(|r| r.iteration == it)
                    .cloned()
                    .collect();
                observe(&mut filter, &of_it);
                filter.update();
                it += 1;
            }
        }
        let mut predicted_total = records.iter().filter(|r| is_predicted(r)).count();
        // outcomes journaled in the interrupted iteration join the cache as they did then
        if self.memoise {
            for r in pending.iter().filter(|r| evaluated(r)) {
                let ctx = DecodeContext {
                    particle: r.particle,
                    n_particles: self.params.n_particles,
                    iteration: Some(r.iteration),
                };
                if let Ok(cfg) = self.space.decode_in(&r.position, Some(&ctx)) {
                    cache.entry(cfg.key()).or_insert((r.index, r.error.clone()));
                }
            }
        }
        let mut budget_exhausted = false;
        let mut evaluations = 0;
        let mut done_here = 0;
        let mut finished = true;
        while state.iteration < self.params.iters && !state.converged {
            if self.stop_after == Some(done_here) {
                finished = false;
                break;
            }
            let it = state.iteration;
            let n = state.particles.len();
            let configs: Vec<DecodedConfig> = state
                .particles
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    // the particle decides the repair order of `ternary_factories` fields
                    let ctx = DecodeContext {
                        particle: i,
                        n_particles: n,
                        iteration: Some(it),
                    };
                    self.space.decode_in(&p.position, Some(&ctx))
                })
                .collect::<Result<_>>()?;
            let mut slots: Vec<Option<Record>> = vec![None; n];
            let mut journaled = vec![false; n];
            for r in pending
                .iter()
                .filter(|r| r.iteration == it && r.particle < n)
            {
                journaled[r.particle] = true;
                slots[r.particle] = Some(r.clone());
            }
            let mk = |i: usize,
                      index: Option<PerformanceIndex>,
                      error: Option<String>,
                      duration: f64,
                      real: bool,
                      cached: bool| {
                let fitness = if error.is_some() {
                    f64::INFINITY
                } else {
                    self.fitness.cost_of(index.as_ref())
                };
                Record {
                    iteration: it,
                    particle: i,
                    position: state.particles[i].position.clone(),
                    config: configs[i].to_map(),
                    index,
                    error,
                    fitness,
                    duration_s: self.record_timing.then_some(duration),
                    real,
                    cached,
                }
            };
            let mut to_eval: Vec<usize> = Vec::new();
            let mut dup_of: Vec<Option<usize>> = vec![None; n];
            let mut first_with_key: HashMap<String, usize> = HashMap::new();
            let mut cached_count = 0;
            for i in 0..n {
                if slots[i].is_some() {
                    continue;
                }
                let cfg = &configs[i];
                if !cfg.is_valid() {
                    slots[i] = Some(mk(
                        i,
                        None,
                        Some(format!(
                            "constraint violated: {}",
                            cfg.violations.join("; ")
                        )),
                        0.0,
                        false,
                        false,
                    ));
                    continue;
                }
                if self.memoise {
                    let key = cfg.key();
                    if let Some((idx, err)) = cache.get(&key) {
                        slots[i] = Some(mk(i, *idx, err.clone(), 0.0, true, true));
                        cached_count += 1;
                        continue;
                    }
                    if let Some(&j) = first_with_key.get(&key) {
                        dup_of[i] = Some(j);
                        cached_count += 1;
                        continue;
                    }
                    first_with_key.insert(key, i);
                }
                to_eval.push(i);
            }
            let mut predicted_count = 0;
            if let Some(p) = &self.prefilter
                && !to_eval.is_empty()
            {
                let filter = lock(p);
                let inputs: Vec<ScreenInput<'_>> = to_eval
                    .iter()
                    .map(|&i| ScreenInput {
                        position: &state.particles[i].position,
                        personal_best_cost: state.particles[i].best_cost,
                    })
                    .collect();
                let decisions = filter.screen(&inputs);
                drop(filter);
                let mut kept = Vec::with_capacity(to_eval.len());
                for (k, &i) in to_eval.iter().enumerate() {
                    match decisions.get(k) {
                        Some(Screening::Skip { predicted, reason }) => {
                            tracing::debug!(iteration = it, particle = i, %reason, "skipped");
                            for j in
                                std::iter::once(i).chain((0..n).filter(|&j| dup_of[j] == Some(i)))
                            {
                                let mut r = mk(j, *predicted, None, 0.0, false, false);
                                if predicted.is_none() {
                                    r.fitness = f64::INFINITY;
                                }
                                slots[j] = Some(r);
                                predicted_count += 1;
                            }
                        }
                        _ => kept.push(i),
                    }
                }
                to_eval = kept;
            }
            let pending_here = pending
                .iter()
                .filter(|r| r.iteration == it && evaluated(r))
                .count();
            let needed = to_eval.len() + pending_here;
            if self
                .max_evaluations
                .is_some_and(|max| total_evaluations + needed > max)
            {
                budget_exhausted = true;
                break;
            }
            total_evaluations += needed;
            let batch: Vec<Candidate> = to_eval
                .iter()
                .map(|&i| Candidate {
                    iteration: it,
                    particle: i,
                    position: state.particles[i].position.clone(),
                    config: configs[i].clone(),
                })
                .collect();
            let mut next_write = 0;
            let mut io_failure: Option<PsoError> = None;
            let results_path = self.results.clone().unwrap_or_default();
            let mut flush =
                |slots: &Vec<Option<Record>>, next: &mut usize, journal: &mut Option<File>| {
                    while *next < n {
                        let Some(r) = &slots[*next] else { break };
                        if !journaled[*next]
                            && let Some(f) = journal.as_mut()
                        {
                            let line = serde_json::to_string(r).unwrap_or_default();
                            if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
                                io_failure.get_or_insert(PsoError::Io {
                                    path: results_path.clone(),
                                    source: e,
                                });
                            }
                        }
                        *next += 1;
                    }
                };
            let fill = |slots: &mut Vec<Option<Record>>, k: usize, e: &Evaluation| {
                let i = to_eval[k];
                slots[i] = Some(mk(i, e.index, e.error.clone(), e.duration_s, e.real, false));
                for (j, d) in dup_of.iter().enumerate() {
                    if *d == Some(i) {
                        slots[j] = Some(mk(j, e.index, e.error.clone(), 0.0, e.real, true));
                    }
                }
            };
            flush(&slots, &mut next_write, &mut journal);
            let evals = evaluator
                .try_evaluate_streaming(&batch, &mut |k, e| {
                    fill(&mut slots, k, e);
                    flush(&slots, &mut next_write, &mut journal);
                })
                .map_err(|source| PsoError::Evaluator {
                    iteration: it,
                    source,
                })?;
            if evals.len() != batch.len() {
                return Err(PsoError::EvaluatorContract {
                    expected: batch.len(),
                    got: evals.len(),
                });
            }
            // in case the evaluator did not stream
            for (k, e) in evals.iter().enumerate() {
                if slots[to_eval[k]].is_none() {
                    fill(&mut slots, k, e);
                }
            }
            flush(&slots, &mut next_write, &mut journal);
            if let Some(e) = io_failure {
                return Err(e);
            }
            evaluations += batch.len();
            for (k, e) in evals.iter().enumerate() {
                if self.memoise {
                    cache
                        .entry(configs[to_eval[k]].key())
                        .or_insert((e.index, e.error.clone()));
                }
            }
            let iter_records: Vec<Record> = slots.into_iter().flatten().collect();
            // a prediction never becomes a personal or global best
            let costs: Vec<f64> = iter_records
                .iter()
                .map(|r| {
                    if is_predicted(r) {
                        f64::INFINITY
                    } else {
                        r.fitness
                    }
                })
                .collect();
            if let Some(p) = &self.prefilter {
                let mut filter = lock(p);
                observe(&mut filter, &iter_records);
                filter.update();
            }
            predicted_total += iter_records.iter().filter(|r| is_predicted(r)).count();
            state.tell(&self.params, &costs)?;
            state.step(&self.params);
            records.extend(iter_records);
            if let Some(cp) = &self.checkpoint {
                write_checkpoint(
                    cp,
                    &CheckpointFile {
                        format: CHECKPOINT_FORMAT.into(),
                        version: CHECKPOINT_VERSION,
                        fingerprint: fp.clone(),
                        journal_lines: records.len(),
                        evaluations: total_evaluations,
                        cache: cache.clone(),
                        state: state.clone(),
                    },
                )?;
            }
            done_here += 1;
            tracing::debug!(iteration = it, best = state.best_cost, "pso iteration");
            observer(&IterationSummary {
                iteration: it,
                best_cost: state.best_cost,
                evaluations,
                cached: cached_count,
                predicted: predicted_count,
            });
        }
        let best_position = match state.best_particle() {
            Some(b) if state.best_cost.is_finite() => state.particles[b].best_position.clone(),
            _ => state.best_position.clone(),
        };
        Ok(TuneReport {
            best_cost: state.best_cost,
            best_config: self.space.decode(&best_position)?,
            best_position,
            iterations: state.iteration,
            evaluations,
            finished,
            converged: state.converged,
            budget_exhausted,
            total_evaluations,
            predicted: predicted_total,
            records,
            state,
        })
    }

    /// Fresh state, or the checkpoint's with the committed records and the journaled records of
    /// the interrupted iteration.
    fn start(&self, fp: &Fingerprint, dims: usize) -> Result<Start> {
        let fresh = || -> Result<Start> {
            if let Some(p) = &self.results {
                File::create(p).map_err(io_err(p))?;
            }
            Ok(Start {
                state: SwarmState::init(&self.params, dims),
                records: Vec::new(),
                pending: Vec::new(),
                cache: Cache::new(),
                evaluations: 0,
            })
        };
        let Some(cp) = self
            .checkpoint
            .as_ref()
            .filter(|p| self.resume && p.exists())
        else {
            return fresh();
        };
        let text = std::fs::read_to_string(cp).map_err(io_err(cp))?;
        let file: CheckpointFile = serde_json::from_str(&text).map_err(|e| PsoError::Json {
            path: cp.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        let refuse = |reason: String| PsoError::CheckpointMismatch {
            path: cp.clone(),
            reason,
        };
        if file.format != CHECKPOINT_FORMAT || file.version != CHECKPOINT_VERSION {
            return Err(refuse(format!(
                "format {} v{} is not {CHECKPOINT_FORMAT} v{CHECKPOINT_VERSION}",
                file.format, file.version
            )));
        }
        let mut diffs = Vec::new();
        if file.fingerprint.space != fp.space {
            diffs.push("search space");
        }
        if file.fingerprint.pso != fp.pso {
            diffs.push("PSO parameters (seed, swarm, coefficients)");
        }
        if file.fingerprint.fitness != fp.fitness {
            diffs.push("fitness settings");
        }
        if file.fingerprint.memoise != fp.memoise {
            diffs.push("memoisation");
        }
        if file.fingerprint.prefilter != fp.prefilter {
            diffs.push("pre-filter settings");
        }
        if !diffs.is_empty() {
            return Err(refuse(format!("{} differ from this run", diffs.join(", "))));
        }
        let mut records = Vec::new();
        let mut pending = Vec::new();
        if let Some(rp) = &self.results {
            let (all, ends) = read_journal(rp)?;
            if all.len() < file.journal_lines {
                return Err(refuse(format!(
                    "results file {} has {} records, the checkpoint expects {}",
                    rp.display(),
                    all.len(),
                    file.journal_lines
                )));
            }
            let mut keep_bytes = ends.last().copied().unwrap_or(0);
            for (k, r) in all.into_iter().enumerate() {
                if k < file.journal_lines {
                    records.push(r);
                } else if r.iteration == file.state.iteration && r.particle == pending.len() {
                    pending.push(r);
                } else {
                    keep_bytes = ends[k];
                    break;
                }
            }
            let f = OpenOptions::new()
                .write(true)
                .open(rp)
                .map_err(io_err(rp))?;
            f.set_len(keep_bytes as u64).map_err(io_err(rp))?;
        }
        Ok(Start {
            state: file.state,
            records,
            pending,
            cache: file.cache,
            evaluations: file.evaluations,
        })
    }
}

/// Whether a record holds a pre-filter's prediction rather than a measurement.
#[must_use]
pub fn is_predicted(r: &Record) -> bool {
    !r.real && !r.cached && r.error.is_none()
}

fn lock<T: ?Sized>(m: &Mutex<Box<T>>) -> std::sync::MutexGuard<'_, Box<T>> {
    // a panicking prefilter leaves no half-written state worth refusing
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parses a JSONL journal; returns the complete records and `ends`, where `ends[k]` is the byte
/// offset after the first `k` records. A torn last line is ignored.
fn read_journal(path: &Path) -> Result<(Vec<Record>, Vec<usize>)> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::new(f);
    let mut records = Vec::new();
    let mut ends = vec![0usize];
    let mut offset = 0usize;
    let mut line = String::new();
    let mut lineno = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io_err(path))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        lineno += 1;
        offset += n;
        match serde_json::from_str::<Record>(line.trim_end()) {
            Ok(r) => {
                records.push(r);
                ends.push(offset);
            }
            Err(e) => {
                return Err(PsoError::Json {
                    path: path.to_owned(),
                    line: lineno,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok((records, ends))
}

fn write_checkpoint(path: &Path, file: &CheckpointFile) -> Result<()> {
    let text = serde_json::to_string(file).map_err(|e| PsoError::Json {
        path: path.to_owned(),
        line: 0,
        message: e.to_string(),
    })?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_model_core::PerformanceIndexData;

    fn record(g: f64, ttft: f64, p99: Option<f64>, tpot: f64, cached: bool) -> Record {
        Record {
            iteration: 0,
            particle: 0,
            position: Vec::new(),
            config: serde_json::Map::new(),
            index: Some(
                PerformanceIndex::new(PerformanceIndexData {
                    output_throughput: Some(g),
                    ttft_ms: Some(ttft),
                    ttft_p99_ms: p99,
                    tpot_ms: Some(tpot),
                    success_rate: Some(1.0),
                    ..PerformanceIndexData::default()
                })
                .unwrap(),
            ),
            error: None,
            fitness: 1.0,
            duration_s: None,
            real: true,
            cached,
        }
    }

    #[test]
    fn pareto_front_trades_throughput_against_p99_ttft_and_tpot() {
        let records = vec![
            record(1000.0, 20.0, Some(40.0), 10.0, false), // 0: front
            record(900.0, 10.0, Some(50.0), 10.0, false),  // 1: dominated by 0 on p99
            record(900.0, 30.0, Some(30.0), 10.0, false),  // 2: front (best p99)
            record(1200.0, 50.0, Some(90.0), 12.0, false), // 3: front (fastest)
            record(800.0, 5.0, Some(25.0), 9.0, true),     // 4: cached, ignored
            record(700.0, 15.0, None, 8.0, false),         // 5: front (TTFT used, best TPOT)
        ];
        assert_eq!(pareto_front(&records), vec![0, 2, 3, 5]);
        // Not cached, record 4 joins the front: nobody beats its p99 TTFT and TPOT together.
        let mut all = records.clone();
        all[4].cached = false;
        assert_eq!(pareto_front(&all), vec![0, 2, 3, 4, 5]);
    }
}
