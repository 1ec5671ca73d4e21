//! Fidelity on the user's own runs: simulate each measured run as it ran and compare.
//!
//! [`validate`] takes [`MeasuredRun`]s (read by [`perf_readers::read_runs`] from
//! inference-perf folders, BLIS replays, LLMServingSim folders, GuideLLM reports or `vllm
//! bench serve --save-detailed` files), builds the simulation of each (the run's model,
//! accelerator, engine limits and KV blocks; its per-request arrivals when the tool kept them,
//! else its load stages with the offered lengths and shared-prefix prompt set), runs it on the
//! roofline cost model (or a calibrated one, see [`crate::calibrate`]) and reports, per
//! metric, the measurement, the simulation and the relative error `|sim − real| / real`, then
//! the median error over the runs that were not overloaded.
//!
//! # Metrics and their definitions
//! * `ttft_mean`, `ttft_p99`, `e2e_mean`, `e2e_p99`: as the tool measured them (successful
//!   requests), and the same statistics of the simulated requests.
//! * `itl`: `(E2E_mean − TTFT_mean) / (output − 1)`, the sim-to-real definition, computed the
//!   same way for both sides. `output` is the number of tokens each request *generated*: the
//!   offered length when the client set `ignore_eos` with a fixed length (inference-perf
//!   counts streamed chunks, not tokens, and under-counts: in the Llama-2-7B H100 runs of
//!   BLIS's training set, requests "counted" at 0–50 tokens take as long to decode as those
//!   counted at 248), else the tool's mean count. The tools' own per-chunk ITL fields are not
//!   used. A summary without E2E (older `vllm bench` results) compares its mean TPOT instead.
//!
//! A run with more than [`ValidateOptions::overload_failures`] of its requests failed is
//! *overloaded*: reported, but kept out of the medians.
//!
//! # Examples
//! ```
//! use llm_perf::validate::{ValidateOptions, validate};
//! use llm_perf::readers::read_run;
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/runs/llmservingsim-rtxpro6000-llama-3.1-8b");
//! let run = read_run(&dir)?;
//! let report = validate(&[run], &ValidateOptions::default())?;
//! let e2e = &report.runs[0].metrics["e2e_mean"];
//! assert!(e2e.real > 20_000.0 && e2e.err < 0.15, "{e2e:?}");
//! # Ok::<(), llm_perf::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use perf_readers::{MeasuredRun, RunLayout};
use perf_sim::{Simulation, Summary};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::calibrate::Knobs;

mod setup;
pub(crate) use setup::{
    BLIS_PER_OUTPUT_TOKEN_US, FRONTEND_POST_COMPLETION_MS, FRONTEND_PRE_SCHEDULE_MS, Setup, setup,
};

/// Which serving-stack overheads outside the engine's steps the simulation adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overheads {
    /// Front-end delays when the run was measured by an HTTP client, none when measured in
    /// the engine process (the default).
    #[default]
    Auto,
    /// None.
    None,
    /// Front-end delays always: 15.563 ms from arrival to the engine queue and 0.777 ms from
    /// the last token to the client (BLIS's H100 fit, specs/simulator.md §3.5), and 45.9 µs of
    /// front-end time per streamed token (BLIS's per-output-token cost, charged to the front
    /// end, a FIFO server per replica, where vLLM V1 detokenises and streams).
    Frontend,
    /// BLIS's three overheads: the front-end delays plus 45.9 µs per sampled token.
    Blis,
}

/// Options of [`validate`].
#[derive(Clone, Debug, PartialEq)]
pub struct ValidateOptions {
    /// Accelerator for runs that do not record theirs (catalogue name).
    pub accelerator: Option<String>,
    /// Overheads outside the engine's steps.
    pub overheads: Overheads,
    /// Seeds per run with random arrivals (the metric is the median over seeds); a trace
    /// replay runs once. Default 5.
    pub seeds: u64,
    /// Simulate prefix caching where the run had it and its prompt set is known (default on).
    pub prefix_caching: bool,
    /// Fraction of failed requests above which a run is overloaded (default 0.1).
    pub overload_failures: f64,
    /// Threads simulating runs at once (default: available parallelism).
    pub threads: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            accelerator: None,
            overheads: Overheads::Auto,
            seeds: 5,
            prefix_caching: true,
            overload_failures: 0.1,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// One metric, measured and simulated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Measured, ms.
    pub real: f64,
    /// Simulated, ms.
    pub sim: f64,
    /// `|sim − real| / real`.
    pub err: f64,
}

/// The metrics compared, in report order.
pub const METRICS: [&str; 5] = ["ttft_mean", "ttft_p99", "itl", "e2e_mean", "e2e_p99"];

/// One run's validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunValidation {
    /// Run name.
    pub name: String,
    /// Where it was read from.
    pub source: PathBuf,
    /// Its layout.
    pub layout: RunLayout,
    /// Model simulated.
    pub model: String,
    /// Accelerator simulated (catalogue spelling).
    pub accelerator: String,
    /// More than [`ValidateOptions::overload_failures`] of the requests failed.
    pub overloaded: bool,
    /// Fraction of requests that failed in the measurement.
    pub failure_fraction: f64,
    /// Per metric of [`METRICS`] the run has.
    pub metrics: BTreeMap<String, Comparison>,
    /// Seeds simulated.
    pub seeds: u64,
    /// Preemptions in the simulation (last seed).
    pub preemptions: u64,
    /// Decisions taken building the simulation and the reader's notes.
    pub notes: Vec<String>,
    /// Wall time of the simulations, ms.
    pub wall_ms: f64,
}

/// The validation of several runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Every run, in the order given.
    pub runs: Vec<RunValidation>,
    /// Median relative error per metric over the runs that were not overloaded.
    pub median: BTreeMap<String, f64>,
    /// Runs in [`ValidationReport::median`].
    pub median_runs: usize,
    /// Median relative error per metric over the overloaded runs (reported apart).
    pub overloaded_median: BTreeMap<String, f64>,
    /// What `itl` means here.
    pub itl_definition: String,
    /// Wall time, ms.
    pub wall_ms: f64,
}

/// The ITL definition [`validate`] uses, in words.
pub const ITL_DEFINITION: &str = "(E2E_mean - TTFT_mean) / (output - 1), output = tokens generated \
     (the offered length under ignore_eos, else the tool's count), the same for sim and real";

/// The median of the finite values of `xs` (NaN when there are none).
pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        f64::midpoint(xs[n / 2 - 1], xs[n / 2])
    }
}

/// Measured figures of `run` per metric of [`METRICS`] (those it has).
pub(crate) fn real_figures(run: &MeasuredRun, setup: &Setup) -> BTreeMap<String, f64> {
    let o = &run.measured.overall;
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| v.is_finite() && *v > 0.0) {
            out.insert(k.to_owned(), v);
        }
    };
    put("ttft_mean", o.ttft.mean());
    put("ttft_p99", o.ttft.p99());
    put("e2e_mean", o.e2e.mean());
    put("e2e_p99", o.e2e.p99());
    let tokens = setup.generated_output.or(o.output_tokens_mean);
    if let (Some(e), Some(t), Some(n)) = (o.e2e.mean(), o.ttft.mean(), tokens)
        && n > 1.0
    {
        put("itl", Some((e - t) / (n - 1.0)));
    } else if o.e2e.mean().is_none() {
        // A summary without E2E (older `vllm bench` results): its mean TPOT, the per-request
        // (E2E − TTFT)/(output − 1), is the closest figure.
        put("itl", o.tpot.mean());
    }
    out
}

/// Simulated figures of one summary, per metric of [`METRICS`].
#[allow(clippy::cast_precision_loss)]
fn sim_figures(s: &Summary) -> BTreeMap<String, f64> {
    let l = &s.latency;
    let out = s.output_tokens as f64 / s.requests.completed.max(1) as f64;
    let mut m = BTreeMap::new();
    m.insert("ttft_mean".to_owned(), l.ttft_ms.mean);
    m.insert("ttft_p99".to_owned(), l.ttft_ms.p99);
    m.insert("e2e_mean".to_owned(), l.e2e_ms.mean);
    m.insert("e2e_p99".to_owned(), l.e2e_ms.p99);
    m.insert(
        "itl".to_owned(),
        (l.e2e_ms.mean - l.ttft_ms.mean) / (out - 1.0).max(1.0),
    );
    m
}

/// Runs `setup` over `seeds` seeds (0, 1, …) and returns the per-metric medians over seeds
/// and the last summary's preemptions.
pub(crate) fn simulate(setup: &Setup, seeds: u64) -> Result<(BTreeMap<String, f64>, u64)> {
    let mut per_seed: Vec<BTreeMap<String, f64>> = Vec::new();
    let mut preemptions = 0;
    for seed in 0..seeds.max(1) {
        let mut cfg = setup.config.clone();
        cfg.seed = seed;
        let summary = Simulation::new(cfg)?.run(std::io::sink())?;
        preemptions = summary.preemptions;
        per_seed.push(sim_figures(&summary));
    }
    let mut out = BTreeMap::new();
    for k in METRICS {
        out.insert(
            k.to_owned(),
            median(per_seed.iter().filter_map(|m| m.get(k).copied()).collect()),
        );
    }
    Ok((out, preemptions))
}

/// The failed fraction of `run`'s requests.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn failure_fraction(run: &MeasuredRun) -> f64 {
    let o = &run.measured.overall;
    let total = o.successes + o.failures;
    if total == 0 {
        0.0
    } else {
        o.failures as f64 / total as f64
    }
}

/// The simulation configuration that replays `run` (seed 0), as [`validate`] builds it: run
/// it with `llm-perf simulate` or [`perf_sim::Simulation`] to look at it request by request.
///
/// # Errors
/// As [`validate`].
pub fn simulation_config(
    run: &MeasuredRun,
    opts: &ValidateOptions,
    knobs: Option<&Knobs>,
) -> Result<perf_sim::SimConfig> {
    Ok(setup(run, opts, knobs)?.config)
}

/// Validates one run with the given calibrated knobs (none: the roofline's defaults).
///
/// # Errors
/// As [`validate`].
pub fn validate_run(
    run: &MeasuredRun,
    opts: &ValidateOptions,
    knobs: Option<&Knobs>,
) -> Result<RunValidation> {
    let t0 = Instant::now();
    let setup = setup(run, opts, knobs)?;
    let real = real_figures(run, &setup);
    let seeds = setup.seeds;
    let (sim, preemptions) = simulate(&setup, seeds)?;
    let metrics = real
        .iter()
        .filter_map(|(k, &r)| {
            sim.get(k).map(|&s| {
                (
                    k.clone(),
                    Comparison {
                        real: r,
                        sim: s,
                        err: (s - r).abs() / r,
                    },
                )
            })
        })
        .collect();
    let failure_fraction = failure_fraction(run);
    let mut notes = setup.notes.clone();
    notes.extend(run.notes.iter().cloned());
    Ok(RunValidation {
        name: run.name.clone(),
        source: run.source.clone(),
        layout: run.layout,
        model: setup.model.clone(),
        accelerator: setup.accelerator.clone(),
        overloaded: failure_fraction > opts.overload_failures,
        failure_fraction,
        metrics,
        seeds,
        preemptions,
        notes,
        wall_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

/// Runs `f` on every item of `items` on up to `threads` threads, keeping the order.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(r);
                    }
                }
            });
        }
    });
    slots.into_iter().flatten().collect()
}

/// Medians per metric over `runs`.
fn medians<'a>(runs: impl Iterator<Item = &'a RunValidation> + Clone) -> BTreeMap<String, f64> {
    METRICS
        .iter()
        .filter_map(|k| {
            let errs: Vec<f64> = runs
                .clone()
                .filter_map(|r| r.metrics.get(*k).map(|c| c.err))
                .collect();
            (!errs.is_empty()).then(|| ((*k).to_owned(), median(errs)))
        })
        .collect()
}

/// Simulates every run as it ran and compares (see the module docs). With `knobs`, each run
/// gets the calibrated knobs of its accelerator.
///
/// # Errors
/// [`crate::Error::Run`] naming the run's file and the field that is missing or wrong (no model, an
/// unknown model, no accelerator, a model that does not fit in the accelerator's memory);
/// [`crate::Error::Sim`] when the simulation cannot be built.
pub fn validate(runs: &[MeasuredRun], opts: &ValidateOptions) -> Result<ValidationReport> {
    validate_with(runs, opts, None)
}

/// [`validate`] with a calibration applied per accelerator.
///
/// # Errors
/// As [`validate`].
pub fn validate_with(
    runs: &[MeasuredRun],
    opts: &ValidateOptions,
    calibration: Option<&crate::calibrate::Calibration>,
) -> Result<ValidationReport> {
    let t0 = Instant::now();
    // Resolve every run first so that a bad one fails before minutes of simulation.
    for run in runs {
        setup(run, opts, None)?;
    }
    let results = parallel_map(runs, opts.threads, |run| {
        let knobs = calibration.map(|c| c.knobs_for(&accelerator_key(run, opts)));
        validate_run(run, opts, knobs.as_ref())
    });
    let runs: Vec<RunValidation> = results.into_iter().collect::<Result<_>>()?;
    let ok = runs.iter().filter(|r| !r.overloaded);
    let bad = runs.iter().filter(|r| r.overloaded);
    Ok(ValidationReport {
        median: medians(ok.clone()),
        median_runs: ok.count(),
        overloaded_median: medians(bad),
        itl_definition: ITL_DEFINITION.to_owned(),
        wall_ms: t0.elapsed().as_secs_f64() * 1e3,
        runs,
    })
}

/// The catalogue spelling of `run`'s accelerator, the key of a [`crate::calibrate::Calibration`]
/// (empty when unknown; [`validate`] reports it).
#[must_use]
pub fn accelerator_of_run(run: &MeasuredRun, opts: &ValidateOptions) -> String {
    accelerator_key(run, opts)
}

/// See [`accelerator_of_run`].
pub(crate) fn accelerator_key(run: &MeasuredRun, opts: &ValidateOptions) -> String {
    run.serving
        .accelerator
        .as_deref()
        .or(opts.accelerator.as_deref())
        .and_then(|a| perf_model_core::catalog::Accelerator::lookup(a).ok())
        .map(|a| a.name)
        .unwrap_or_default()
}
