//! Calibration of the roofline's uncertain physical knobs to the user's measured runs.
//!
//! [`calibrate`] fits, by Nelder–Mead on bounded knobs (argmin's Nelder–Mead in the
//! gonum-compatible form of `perf-fit`, started at the defaults, deterministic: the
//! simulations use fixed seeds), the knobs the roofline leaves uncertain:
//!
//! | knob | scope | range | what it stands for |
//! |---|---|---|---|
//! | `memory_efficiency` | per accelerator | 0.5–1 | achieved fraction of peak HBM bandwidth (weights, KV) |
//! | `compute_scale` | per accelerator | 0.5–1.5 | factor on the measured GEMM efficiency curve |
//! | `all_reduce_latency_us` | per accelerator, when a run uses TP > 1 | 0–60 µs | small all-reduce latency |
//! | `step_us` | shared | 0–5000 µs | per-step CPU time (scheduler, sampling, output processing) |
//! | `pre_schedule_ms` | shared, when a run was measured by an HTTP client | 0–60 ms | HTTP front end before the engine queue |
//! | `frontend_us_per_token` | shared, when a run was measured by an HTTP client | 0–400 µs | front-end time per streamed token (detokenise, stream) |
//!
//! τ_layer stays at its default: in whole serving runs it is collinear with τ_step and η_m
//! (every step has all layers), so fitting it too only buys overfitting; the file format
//! accepts it (`layer_us`) for calibrations made from per-step profiles.
//!
//! The search starts from the best of the defaults and a 3 × 4 grid over the two front-end
//! knobs (the front-end cost has a cliff where the front end saturates, and the fixed delay
//! trades against it, so a local search from the defaults alone can stop in the wrong
//! valley), then runs Nelder–Mead.
//!
//! Device knobs are fitted per accelerator because they are properties of the GPU; the CPU-
//! side knobs are shared by every run because the serving stack's host code does not change
//! with the GPU, which also lets a run on a GPU with no other run borrow them. The objective
//! is the mean over runs of `Σ w·ρ(ln(sim/real))` over `ttft_mean` (w = 1), `itl` and
//! `e2e_mean` (w = ½ each: they carry nearly the same information):
//! relative errors, symmetric in over- and under-prediction, through the Cauchy loss
//! `ρ(e) = δ²·ln(1 + (e/δ)²)`, δ = 0.1, so that one run the model cannot explain does not
//! pull every knob; overloaded runs are left out.
//!
//! The result is a [`Calibration`] file (`--cost-model calibrated.json` for `simulate`,
//! `tune` and `validate`) that also records the leave-one-run-out errors: each run validated
//! with knobs fitted on the *other* runs, the honest measure of how the calibration
//! generalises.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use argmin::core::{CostFunction, Error as ArgminError, Executor};
use perf_fit::{GonumNelderMead, NmState};
use perf_model_core::RooflineCalibration;
use perf_model_core::catalog::Accelerator;
use perf_readers::{MeasuredAt, MeasuredRun};
use perf_sim::{CostModelConfig, SimConfig};
use serde::{Deserialize, Serialize};

use crate::validate::{
    FRONTEND_POST_COMPLETION_MS, RunValidation, Setup, ValidateOptions, accelerator_key,
    failure_fraction, median, parallel_map, real_figures, setup, simulate, validate_run,
};
use crate::{Error, Result};

/// The `format` tag of a calibration file.
pub const CALIBRATION_FORMAT: &str = "llm-perf-calibration";

/// Knobs applied to one run's simulation: the roofline's and the front end's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Knobs {
    /// Roofline knobs.
    pub roofline: RooflineCalibration,
    /// Front-end delay before the engine queue, ms (runs measured by an HTTP client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_schedule_ms: Option<f64>,
    /// Front-end time per streamed token, µs (runs measured by an HTTP client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend_us_per_token: Option<f64>,
}

/// Knobs shared by every accelerator (host-side costs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedKnobs {
    /// τ_step, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_us: Option<f64>,
    /// Front-end delay before the engine queue, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_schedule_ms: Option<f64>,
    /// Front-end time per streamed token, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend_us_per_token: Option<f64>,
}

/// A run a calibration was fitted on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedRun {
    /// Run name.
    pub name: String,
    /// Accelerator (catalogue spelling).
    pub accelerator: String,
    /// Model.
    pub model: String,
}

/// How the fit went.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitStats {
    /// Objective at the defaults.
    pub objective_default: f64,
    /// Objective at the fitted knobs.
    pub objective: f64,
    /// Objective evaluations (each simulates every training run).
    pub evaluations: u64,
    /// Wall time, s.
    pub wall_s: f64,
}

/// Leave-one-run-out validation: each run simulated with knobs fitted on the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaveOneOut {
    /// Per held-out run.
    pub runs: Vec<RunValidation>,
    /// Median relative error per metric.
    pub median: BTreeMap<String, f64>,
}

/// A calibration file: fitted knobs per accelerator and shared, with its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Always [`CALIBRATION_FORMAT`].
    pub format: String,
    /// File version (1).
    pub version: u32,
    /// Device knobs per accelerator (catalogue spelling).
    pub accelerators: BTreeMap<String, RooflineCalibration>,
    /// Host-side knobs shared by all accelerators.
    pub shared: SharedKnobs,
    /// The runs fitted.
    pub fitted_on: Vec<FittedRun>,
    /// Fit statistics.
    pub fit: FitStats,
    /// Median errors per metric on the fitted runs, with the fitted knobs.
    pub training_median: BTreeMap<String, f64>,
    /// Leave-one-run-out validation, when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave_one_run_out: Option<LeaveOneOut>,
}

impl Calibration {
    /// The knobs for a run on `accelerator` (catalogue spelling): the accelerator's device
    /// knobs (defaults when it was not calibrated) and the shared ones.
    #[must_use]
    pub fn knobs_for(&self, accelerator: &str) -> Knobs {
        let mut roofline = self
            .accelerators
            .get(accelerator)
            .copied()
            .unwrap_or_default();
        roofline.step_us = roofline.step_us.or(self.shared.step_us);
        Knobs {
            roofline,
            pre_schedule_ms: self.shared.pre_schedule_ms,
            frontend_us_per_token: self.shared.frontend_us_per_token,
        }
    }

    /// Reads and checks a calibration file.
    ///
    /// # Errors
    /// [`Error::Run`] naming the file when it cannot be read, is not a calibration (its
    /// `format`), or a knob is out of range.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |field: &str, message: String| Error::Run {
            path: path.display().to_string(),
            field: field.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad("file", e.to_string()))?;
        let cal: Self = serde_json::from_str(&text).map_err(|e| {
            bad(
                "json",
                format!("{e} (expected an `llm-perf calibrate --out` file)"),
            )
        })?;
        if cal.format != CALIBRATION_FORMAT {
            return Err(bad(
                "format",
                format!("{:?}, expected {CALIBRATION_FORMAT:?}", cal.format),
            ));
        }
        for (name, c) in &cal.accelerators {
            c.validate()
                .map_err(|e| bad(&format!("accelerators.{name}"), e.to_string()))?;
        }
        Ok(cal)
    }

    /// Applies the calibration to a simulation config whose cost model is a roofline: the
    /// knobs of its accelerator, and the front-end delay when the config sets no overheads of
    /// its own. Returns the accelerator's catalogue name, or `None` when the cost model is
    /// not a roofline.
    ///
    /// # Errors
    /// [`Error::Model`] for an accelerator the catalogue does not know (and no inline device).
    pub fn apply(&self, config: &mut SimConfig) -> Result<Option<String>> {
        let CostModelConfig::Roofline {
            accelerator,
            device,
            calibration,
            ..
        } = &mut config.cluster.cost_model
        else {
            return Ok(None);
        };
        let name = match device {
            Some(d) => d.name.clone(),
            None => Accelerator::lookup(accelerator)?.name,
        };
        let knobs = self.knobs_for(&name);
        *calibration = Some(knobs.roofline);
        let o = &mut config.cluster.overheads;
        if let Some(ms) = knobs.pre_schedule_ms.filter(|_| o.is_zero()) {
            o.pre_schedule_ms = ms;
            o.post_completion_ms = FRONTEND_POST_COMPLETION_MS;
            o.frontend_us_per_token = knobs.frontend_us_per_token.unwrap_or(0.0);
        }
        Ok(Some(name))
    }
}

/// Options of [`calibrate`].
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrateOptions {
    /// How runs are simulated (accelerator default, overheads, prefix caching, threads).
    pub validate: ValidateOptions,
    /// Seeds per run with random arrivals during the fit (fixed, so the objective is
    /// deterministic). Default 1.
    pub fit_seeds: u64,
    /// Nelder–Mead major iterations per fit. Default 60.
    pub max_iterations: u64,
    /// Compute the leave-one-run-out validation (one more fit per run). Default true.
    pub leave_one_out: bool,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        Self {
            validate: ValidateOptions::default(),
            fit_seeds: 1,
            max_iterations: 60,
            leave_one_out: true,
        }
    }
}

/// One fitted knob: where it goes and its bounds.
#[derive(Clone, Debug)]
struct Knob {
    /// Accelerator (device knob) or `None` (shared).
    device: Option<String>,
    name: &'static str,
    lo: f64,
    hi: f64,
    default: f64,
}

impl Knob {
    /// `lo + (hi − lo)·σ(x)`: every real `x` maps inside the bounds.
    fn value(&self, x: f64) -> f64 {
        self.lo + (self.hi - self.lo) / (1.0 + (-x).exp())
    }

    /// The `x` whose value is `v` (clamped just inside the bounds).
    fn unvalue(&self, v: f64) -> f64 {
        let p = ((v - self.lo) / (self.hi - self.lo)).clamp(1e-3, 1.0 - 1e-3);
        (p / (1.0 - p)).ln()
    }
}

/// A training run: its simulation and measured figures.
struct Training {
    name: String,
    setup: Setup,
    real: BTreeMap<String, f64>,
    client: bool,
}

/// Scale of the robust loss: log errors below it count quadratically, above it
/// logarithmically.
const ROBUST_SCALE: f64 = 0.1;

/// Cauchy loss of a log error `e`: `δ²·ln(1 + (e/δ)²)` with δ = [`ROBUST_SCALE`]. Like `e²`
/// for small errors, but a run the roofline cannot explain (a 50 % TTFT miss near
/// saturation) does not drag every knob towards itself.
fn robust(e: f64) -> f64 {
    let d = ROBUST_SCALE;
    d * d * (e / d).mul_add(e / d, 1.0).ln()
}

/// The metrics the objective weighs, with their weights: ITL and E2E carry nearly the same
/// information (E2E ≈ TTFT + (n − 1)·ITL), so they share one weight and the first token
/// gets as much say as the decode speed.
const FIT_METRICS: [(&str, f64); 3] = [("ttft_mean", 1.0), ("itl", 0.5), ("e2e_mean", 0.5)];

/// The knobs of `trainings`, grouped as the module docs say, at their defaults.
fn knobs_of(trainings: &[Training]) -> Result<Vec<Knob>> {
    let mut knobs = Vec::new();
    let mut devices: Vec<String> = trainings
        .iter()
        .map(|t| t.setup.accelerator.clone())
        .collect();
    devices.sort();
    devices.dedup();
    for d in devices {
        let runs: Vec<&Training> = trainings
            .iter()
            .filter(|t| t.setup.accelerator == d)
            .collect();
        let Some(first) = runs.first() else { continue };
        let defaults = default_roofline(&first.setup)?;
        let dev = Some(d.clone());
        knobs.push(Knob {
            device: dev.clone(),
            name: "memory_efficiency",
            lo: 0.5,
            hi: 1.0,
            default: defaults.memory_efficiency(),
        });
        knobs.push(Knob {
            device: dev.clone(),
            name: "compute_scale",
            lo: 0.5,
            hi: 1.5,
            default: 1.0,
        });
        if let Some(tp_run) = runs
            .iter()
            .find(|t| t.setup.config.cluster.engine.tensor_parallel() > 1)
        {
            let tp = default_roofline(&tp_run.setup)?;
            knobs.push(Knob {
                device: dev,
                name: "all_reduce_latency_us",
                lo: 0.0,
                hi: 60.0,
                default: tp.all_reduce().latency_us,
            });
        }
    }
    let any = trainings
        .first()
        .map(|t| default_roofline(&t.setup))
        .transpose()?;
    knobs.push(Knob {
        device: None,
        name: "step_us",
        lo: 0.0,
        hi: 5000.0,
        default: any.map_or(126.0, |r| r.overheads().step_us),
    });
    if trainings.iter().any(|t| t.client) {
        knobs.push(Knob {
            device: None,
            name: "pre_schedule_ms",
            lo: 0.0,
            hi: 60.0,
            default: crate::validate::FRONTEND_PRE_SCHEDULE_MS,
        });
        knobs.push(Knob {
            device: None,
            name: "frontend_us_per_token",
            lo: 0.0,
            hi: 400.0,
            default: crate::validate::BLIS_PER_OUTPUT_TOKEN_US,
        });
    }
    Ok(knobs)
}

/// The uncalibrated roofline of a setup (for the knobs' defaults).
fn default_roofline(setup: &Setup) -> Result<perf_model_core::RooflineModel> {
    let CostModelConfig::Roofline {
        spec: Some(spec),
        device: Some(device),
        dtype,
        ..
    } = &setup.config.cluster.cost_model
    else {
        return Err(Error::Run {
            path: String::new(),
            field: "cost_model".into(),
            message: "calibration needs a roofline cost model".into(),
        });
    };
    Ok(perf_model_core::RooflineModel::new(
        (**spec).clone(),
        (**device).clone(),
        *dtype,
        setup.config.cluster.engine.tensor_parallel(),
    )?)
}

/// The calibration (device and shared knobs) at the knob values `values`.
fn assemble(
    knobs: &[Knob],
    values: &[f64],
) -> (BTreeMap<String, RooflineCalibration>, SharedKnobs) {
    let mut devices: BTreeMap<String, RooflineCalibration> = BTreeMap::new();
    let mut shared = SharedKnobs::default();
    for (k, &v) in knobs.iter().zip(values) {
        match &k.device {
            Some(d) => {
                let c = devices.entry(d.clone()).or_default();
                match k.name {
                    "memory_efficiency" => c.memory_efficiency = Some(v),
                    "compute_scale" => c.compute_scale = Some(v),
                    "layer_us" => c.layer_us = Some(v),
                    _ => c.all_reduce_latency_us = Some(v),
                }
            }
            None => match k.name {
                "step_us" => shared.step_us = Some(v),
                "pre_schedule_ms" => shared.pre_schedule_ms = Some(v),
                _ => shared.frontend_us_per_token = Some(v),
            },
        }
    }
    (devices, shared)
}

/// `setup` with `knobs` applied (roofline calibration, front-end delay of a client run).
fn with_knobs(setup: &Setup, knobs: &Knobs, client: bool) -> Setup {
    let mut s = setup.clone();
    if let CostModelConfig::Roofline { calibration, .. } = &mut s.config.cluster.cost_model {
        *calibration = Some(knobs.roofline);
    }
    let o = &mut s.config.cluster.overheads;
    if client && o.pre_schedule_ms > 0.0 {
        if let Some(ms) = knobs.pre_schedule_ms {
            o.pre_schedule_ms = ms;
        }
        if let Some(us) = knobs.frontend_us_per_token {
            o.frontend_us_per_token = us;
        }
    }
    s
}

/// The objective of the problem at one point.
struct Objective<'a> {
    trainings: &'a [Training],
    knobs: &'a [Knob],
    seeds: u64,
    threads: usize,
    evaluations: &'a AtomicU64,
}

impl Objective<'_> {
    fn loss(&self, values: &[f64]) -> f64 {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let (devices, shared) = assemble(self.knobs, values);
        let cal = calibration_of(devices, shared);
        let per_run = parallel_map(self.trainings, self.threads, |t| {
            let knobs = cal.knobs_for(&t.setup.accelerator);
            let s = with_knobs(&t.setup, &knobs, t.client);
            let Ok((sim, _)) = simulate(&s, self.seeds.min(s.seeds)) else {
                return f64::INFINITY;
            };
            FIT_METRICS
                .iter()
                .filter_map(|(m, w)| Some((t.real.get(*m)?, sim.get(*m)?, w)))
                .map(|(r, s, w)| w * robust((s.max(1e-9) / r).ln()))
                .sum::<f64>()
        });
        #[allow(clippy::cast_precision_loss)]
        let n = per_run.len().max(1) as f64;
        let total: f64 = per_run.iter().sum::<f64>() / n;
        if total.is_finite() {
            total
        } else {
            f64::INFINITY
        }
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, ArgminError> {
        let values: Vec<f64> = self.knobs.iter().zip(x).map(|(k, &x)| k.value(x)).collect();
        Ok(self.loss(&values))
    }
}

fn calibration_of(
    accelerators: BTreeMap<String, RooflineCalibration>,
    shared: SharedKnobs,
) -> Calibration {
    Calibration {
        format: CALIBRATION_FORMAT.to_owned(),
        version: 1,
        accelerators,
        shared,
        fitted_on: Vec::new(),
        fit: FitStats {
            objective_default: f64::NAN,
            objective: f64::NAN,
            evaluations: 0,
            wall_s: 0.0,
        },
        training_median: BTreeMap::new(),
        leave_one_run_out: None,
    }
}

/// The front-end grid of the search's start: pre-schedule delays, ms …
const FRONTEND_GRID_PRE_MS: [f64; 3] = [10.0, 14.0, 18.0];
/// … and front-end times per streamed token, µs.
const FRONTEND_GRID_TOKEN_US: [f64; 4] = [0.0, 60.0, 120.0, 180.0];

/// Fits the knobs to `trainings`.
fn fit(trainings: &[Training], opts: &CalibrateOptions) -> Result<Calibration> {
    let t0 = Instant::now();
    let knobs = knobs_of(trainings)?;
    let evaluations = AtomicU64::new(0);
    let objective = Objective {
        trainings,
        knobs: &knobs,
        seeds: opts.fit_seeds,
        threads: opts.validate.threads,
        evaluations: &evaluations,
    };
    let defaults: Vec<f64> = knobs.iter().map(|k| k.default).collect();
    let objective_default = objective.loss(&defaults);
    // The start: the defaults, or better, a point of a grid over the front end's two knobs
    // (the others at their defaults). The front-end cost has a cliff where the front end
    // saturates, and the pre-schedule delay trades against it, so a local search from the
    // defaults alone stops in the wrong valley.
    let mut start = (objective_default, defaults.clone());
    let pre = knobs.iter().position(|k| k.name == "pre_schedule_ms");
    let tok = knobs.iter().position(|k| k.name == "frontend_us_per_token");
    if let (Some(p), Some(t)) = (pre, tok) {
        for &pre_ms in &FRONTEND_GRID_PRE_MS {
            for &token_us in &FRONTEND_GRID_TOKEN_US {
                let mut point = defaults.clone();
                point[p] = pre_ms;
                point[t] = token_us;
                let loss = objective.loss(&point);
                if loss < start.0 {
                    start = (loss, point);
                }
            }
        }
    }
    let x0: Vec<f64> = knobs
        .iter()
        .zip(&start.1)
        .map(|(k, &v)| k.unvalue(v))
        .collect();
    let solver = GonumNelderMead::new()
        .with_simplex_size(0.5)
        .with_max_major_iterations(opts.max_iterations)
        .with_function_converge(1e-6, 10);
    let guard = opts.max_iterations.saturating_add(10);
    let res = Executor::new(objective, solver)
        .configure(|s: NmState| s.param(x0).max_iters(guard))
        .run()
        .map_err(|e| Error::Run {
            path: String::new(),
            field: "calibration".into(),
            message: format!("the optimiser failed: {e}"),
        })?;
    let (vertices, values) = res.solver().simplex();
    let best_x = vertices.first().cloned().unwrap_or_default();
    let best = values.first().copied().unwrap_or(f64::INFINITY);
    let best_values: Vec<f64> = knobs
        .iter()
        .zip(&best_x)
        .map(|(k, &x)| k.value(x))
        .collect();
    // Never return something worse than the defaults.
    let (chosen, objective_value) = if best <= objective_default {
        (best_values, best)
    } else {
        (defaults, objective_default)
    };
    let (devices, shared) = assemble(&knobs, &chosen);
    let mut cal = calibration_of(devices, shared);
    cal.fitted_on = trainings
        .iter()
        .map(|t| FittedRun {
            name: t.name.clone(),
            accelerator: t.setup.accelerator.clone(),
            model: t.setup.model.clone(),
        })
        .collect();
    cal.fit = FitStats {
        objective_default,
        objective: objective_value,
        evaluations: evaluations.load(Ordering::Relaxed),
        wall_s: t0.elapsed().as_secs_f64(),
    };
    Ok(cal)
}

/// Fits the knobs of the module docs to `runs` (overloaded runs are left out) and, with
/// [`CalibrateOptions::leave_one_out`], validates each run with knobs fitted on the others.
///
/// # Errors
/// What [`crate::validate::validate`] reports for a run that cannot be simulated;
/// [`Error::Run`] when fewer than one run is left after removing the overloaded ones.
pub fn calibrate(runs: &[MeasuredRun], opts: &CalibrateOptions) -> Result<Calibration> {
    let t0 = Instant::now();
    let v = &opts.validate;
    let mut kept: Vec<&MeasuredRun> = Vec::new();
    let mut trainings = Vec::new();
    for run in runs {
        let s = setup(run, v, None)?;
        if failure_fraction(run) > v.overload_failures {
            continue;
        }
        let real = real_figures(run, &s);
        trainings.push(Training {
            name: run.name.clone(),
            real,
            client: run.measured_at == MeasuredAt::Client,
            setup: s,
        });
        kept.push(run);
    }
    if trainings.is_empty() {
        return Err(Error::Run {
            path: runs
                .first()
                .map(|r| r.source.display().to_string())
                .unwrap_or_default(),
            field: "runs".into(),
            message: "no run left to calibrate on (all overloaded or none given)".into(),
        });
    }
    let mut cal = fit(&trainings, opts)?;
    let fitted: Vec<RunValidation> = kept
        .iter()
        .map(|run| {
            let knobs = cal.knobs_for(&accelerator_key(run, v));
            validate_run(run, v, Some(&knobs))
        })
        .collect::<Result<_>>()?;
    cal.training_median = medians_of(&fitted);
    if opts.leave_one_out && trainings.len() > 1 {
        let mut held = Vec::new();
        for (i, run) in kept.iter().enumerate() {
            let others: Vec<Training> = trainings
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, t)| Training {
                    name: t.name.clone(),
                    setup: t.setup.clone(),
                    real: t.real.clone(),
                    client: t.client,
                })
                .collect();
            let sub = fit(&others, opts)?;
            let knobs = sub.knobs_for(&accelerator_key(run, v));
            held.push(validate_run(run, v, Some(&knobs))?);
        }
        cal.leave_one_run_out = Some(LeaveOneOut {
            median: medians_of(&held),
            runs: held,
        });
    }
    cal.fit.wall_s = t0.elapsed().as_secs_f64();
    Ok(cal)
}

fn medians_of(runs: &[RunValidation]) -> BTreeMap<String, f64> {
    crate::validate::METRICS
        .iter()
        .filter_map(|k| {
            let errs: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.metrics.get(*k).map(|c| c.err))
                .collect();
            (!errs.is_empty()).then(|| ((*k).to_owned(), median(errs)))
        })
        .collect()
}
