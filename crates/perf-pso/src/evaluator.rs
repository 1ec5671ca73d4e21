//! Evaluators: a batch of candidate configurations → performance indices (specs/tuning.md §4).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use perf_model_core::PerformanceIndex;
use serde::{Deserialize, Serialize};

use crate::space::DecodedConfig;

/// One configuration to evaluate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// PSO iteration (0-based).
    pub iteration: usize,
    /// Particle index.
    pub particle: usize,
    /// Position in the unit cube.
    pub position: Vec<f64>,
    /// The decoded configuration.
    pub config: DecodedConfig,
}

/// The outcome of one evaluation: an index, or an error the tuner records and penalises (+∞).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The measured or simulated performance.
    pub index: Option<PerformanceIndex>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Wall time of the evaluation, s.
    pub duration_s: f64,
    /// `true` for a real (not predicted) evaluation.
    pub real: bool,
}

impl Evaluation {
    /// A successful evaluation.
    #[must_use]
    pub fn ok(index: PerformanceIndex, duration_s: f64) -> Self {
        Self {
            index: Some(index),
            error: None,
            duration_s,
            real: true,
        }
    }
    /// A failed evaluation.
    #[must_use]
    pub fn failed(error: impl Into<String>, duration_s: f64) -> Self {
        Self {
            index: None,
            error: Some(error.into()),
            duration_s,
            real: true,
        }
    }
}

/// Evaluates batches; one batch = one iteration. Results come back in input order whatever the
/// internal parallelism.
pub trait Evaluator {
    /// Evaluates every candidate of `batch`, returning one [`Evaluation`] per candidate, in order.
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation>;

    /// Like [`Evaluator::evaluate`], calling `done(i, &evaluation)` for candidates in index order
    /// as soon as each and all before it are finished (so a results file can grow during the
    /// batch). The default evaluates the whole batch, then reports.
    fn evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Vec<Evaluation> {
        let out = self.evaluate(batch);
        for (i, e) in out.iter().enumerate() {
            done(i, e);
        }
        out
    }

    /// [`Evaluator::evaluate_streaming`] for evaluators whose whole batch can fail for a reason
    /// that is none of the candidates' own: a cluster scheduler that cannot be reached, a shared
    /// results directory that cannot be written. [`crate::Tuner`] calls this method; on `Err` it
    /// stops with [`crate::PsoError::Evaluator`] before the iteration is scored or checkpointed
    /// (candidates already reported through `done` are in the results file and count as the
    /// interrupted iteration's on resume), so a resumed run evaluates the rest of the batch again.
    /// A failing *candidate* is not an error: it is an [`Evaluation::failed`].
    ///
    /// The default calls [`Evaluator::evaluate_streaming`] and never fails.
    ///
    /// # Errors
    /// Whatever stops the whole batch.
    fn try_evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Result<Vec<Evaluation>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.evaluate_streaming(batch, done))
    }
}

/// Runs `f` on every candidate with up to `jobs` scoped threads, reporting in index order.
///
/// Work is handed out one candidate at a time; results are keyed by candidate index, so the
/// output does not depend on `jobs` or on timing. A panic inside `f` is recorded as a failed
/// evaluation.
pub fn evaluate_parallel<F>(
    batch: &[Candidate],
    jobs: usize,
    f: &F,
    done: &mut dyn FnMut(usize, &Evaluation),
) -> Vec<Evaluation>
where
    F: Fn(&Candidate) -> Result<PerformanceIndex, String> + Sync,
{
    let one = |c: &Candidate| {
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c)));
        let dt = t0.elapsed().as_secs_f64();
        match r {
            Ok(Ok(idx)) => Evaluation::ok(idx, dt),
            Ok(Err(e)) => Evaluation::failed(e, dt),
            Err(_) => Evaluation::failed("evaluator panicked", dt),
        }
    };
    let jobs = jobs.max(1).min(batch.len().max(1));
    let mut slots: Vec<Option<Evaluation>> = vec![None; batch.len()];
    let mut next_report = 0;
    let mut flush = |slots: &mut Vec<Option<Evaluation>>, next: &mut usize| {
        while *next < slots.len() {
            match &slots[*next] {
                Some(e) => {
                    done(*next, e);
                    *next += 1;
                }
                None => break,
            }
        }
    };
    if jobs <= 1 {
        for (i, c) in batch.iter().enumerate() {
            slots[i] = Some(one(c));
            flush(&mut slots, &mut next_report);
        }
    } else {
        let counter = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, Evaluation)>();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let tx = tx.clone();
                let (counter, one) = (&counter, &one);
                scope.spawn(move || {
                    loop {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = batch.get(i) else { break };
                        if tx.send((i, one(c))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (i, e) in rx {
                slots[i] = Some(e);
                flush(&mut slots, &mut next_report);
            }
        });
    }
    slots
        .into_iter()
        .map(|s| {
            s.unwrap_or_else(|| Evaluation::failed("evaluation lost (worker thread died)", 0.0))
        })
        .collect()
}

/// A closure evaluator for custom tuners: `f(candidate)` → index or error text, run on up to
/// `jobs` threads.
///
/// # Examples
/// ```
/// use perf_model_core::{PerformanceIndex, PerformanceIndexData};
/// use perf_pso::FnEvaluator;
/// let eval = FnEvaluator::new(|c: &perf_pso::Candidate| {
///     let n = c.config.get_f64("n").ok_or("no n")?;
///     PerformanceIndex::new(PerformanceIndexData {
///         output_throughput: Some(100.0 * n), success_rate: Some(1.0), ..Default::default()
///     }).map_err(|e| e.to_string())
/// }).jobs(2);
/// # let _ = eval;
/// ```
pub struct FnEvaluator<F> {
    f: F,
    jobs: usize,
}

impl<F> FnEvaluator<F>
where
    F: Fn(&Candidate) -> Result<PerformanceIndex, String> + Sync,
{
    /// Wraps `f`; one thread.
    pub fn new(f: F) -> Self {
        Self { f, jobs: 1 }
    }
    /// Evaluates with up to `jobs` threads (results identical to one thread).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }
}

impl<F> Evaluator for FnEvaluator<F>
where
    F: Fn(&Candidate) -> Result<PerformanceIndex, String> + Sync,
{
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation> {
        evaluate_parallel(batch, self.jobs, &self.f, &mut |_, _| {})
    }
    fn evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Vec<Evaluation> {
        evaluate_parallel(batch, self.jobs, &self.f, done)
    }
}

type SharedFn = dyn Fn(&Candidate) -> Result<PerformanceIndex, String> + Send + Sync;

/// A closure evaluator with a wall-clock limit per evaluation, for evaluators that may hang
/// (benchmarks, external processes).
///
/// Each evaluation runs on its own detached thread (at most `jobs` at once); one that has not
/// finished after `timeout` is recorded as failed (`timed out after … s`) and the batch goes on.
/// The abandoned thread is not killed (Rust threads cannot be): its late result is discarded,
/// and it no longer counts against `jobs`. Results are in candidate order and, when nothing times
/// out, identical to [`FnEvaluator`]'s.
pub struct TimeoutEvaluator {
    f: std::sync::Arc<SharedFn>,
    jobs: usize,
    timeout: std::time::Duration,
}

impl TimeoutEvaluator {
    /// Wraps `f` with a limit of `timeout` per evaluation; one job at a time.
    pub fn new<F>(f: F, timeout: std::time::Duration) -> Self
    where
        F: Fn(&Candidate) -> Result<PerformanceIndex, String> + Send + Sync + 'static,
    {
        Self {
            f: std::sync::Arc::new(f),
            jobs: 1,
            timeout,
        }
    }
    /// Runs up to `jobs` evaluations at once.
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }
}

impl Evaluator for TimeoutEvaluator {
    fn evaluate(&mut self, batch: &[Candidate]) -> Vec<Evaluation> {
        self.evaluate_streaming(batch, &mut |_, _| {})
    }

    fn evaluate_streaming(
        &mut self,
        batch: &[Candidate],
        done: &mut dyn FnMut(usize, &Evaluation),
    ) -> Vec<Evaluation> {
        let (tx, rx) = mpsc::channel::<(usize, Evaluation)>();
        let mut slots: Vec<Option<Evaluation>> = vec![None; batch.len()];
        let mut running: Vec<(usize, Instant)> = Vec::new();
        let mut next_start = 0;
        let mut next_report = 0;
        while next_report < batch.len() {
            while running.len() < self.jobs && next_start < batch.len() {
                let (i, c, f, tx) = (
                    next_start,
                    batch[next_start].clone(),
                    self.f.clone(),
                    tx.clone(),
                );
                let started = Instant::now();
                let spawned = std::thread::Builder::new()
                    .name(format!("pso-eval-{i}"))
                    .spawn(move || {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&c)));
                        let dt = started.elapsed().as_secs_f64();
                        let e = match r {
                            Ok(Ok(idx)) => Evaluation::ok(idx, dt),
                            Ok(Err(e)) => Evaluation::failed(e, dt),
                            Err(_) => Evaluation::failed("evaluator panicked", dt),
                        };
                        let _ = tx.send((i, e));
                    });
                match spawned {
                    Ok(_) => running.push((i, started)),
                    Err(e) => {
                        slots[i] = Some(Evaluation::failed(
                            format!("cannot start evaluation thread: {e}"),
                            0.0,
                        ))
                    }
                }
                next_start += 1;
            }
            let now = Instant::now();
            let wait = running
                .iter()
                .map(|(_, t)| (*t + self.timeout).saturating_duration_since(now))
                .min()
                .unwrap_or(std::time::Duration::ZERO);
            match rx.recv_timeout(wait) {
                Ok((i, e)) => {
                    if let Some(k) = running.iter().position(|(j, _)| *j == i) {
                        running.swap_remove(k);
                        slots[i] = Some(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
            }
            let now = Instant::now();
            running.retain(|(i, t)| {
                let expired = now.duration_since(*t) >= self.timeout;
                if expired {
                    let secs = self.timeout.as_secs_f64();
                    slots[*i] = Some(Evaluation::failed(
                        format!("timed out after {secs} s"),
                        secs,
                    ));
                }
                !expired
            });
            while next_report < batch.len() {
                let Some(e) = &slots[next_report] else { break };
                done(next_report, e);
                next_report += 1;
            }
        }
        slots
            .into_iter()
            .map(|s| s.unwrap_or_else(|| Evaluation::failed("evaluation lost", 0.0)))
            .collect()
    }
}
