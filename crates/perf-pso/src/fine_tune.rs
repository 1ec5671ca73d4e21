//! Fine-tuning of the load knobs after the swarm, and the final choice (specs/tuning.md §6).
//!
//! Seed: LLMServingTuner `optimizer/experience_fine_tunning.py` (`FineTune`) and
//! `optimizer/optimizer.py` (`refine_optimization_candidates`, `best_params`). For each top-k
//! row ([`crate::TuneReport::seed_top_k`]), with at least one non-zero latency penalty:
//!
//! 1. run the row with `REQUESTRATE` doubled (clamped to its bounds);
//! 2. then up to `max_fine_tune` steps, each from the last run's TPOT and TTFT, with
//!    s = `step_size`, c = `slo_coefficient`, T2 = TPOT SLO, T1 = TTFT SLO:
//!    * **CONCURRENCY** when TPOT is outside (T2·(1 − c), T2]:
//!      ```text
//!      raw = −s·(TPOT − T2)/T2   (TPOT > T2)        raw = +s·(T2 − TPOT)/T2   (TPOT < T2·(1 − c))
//!      f   = clamp(raw, −s, s)
//!      v′  = v·(1 + f),  or  v + f·|v − v_prev|  when raw changed sign since the previous
//!            concurrency step and the concurrency changed in between (v_prev: its value then)
//!      ```
//!      clamped to the knob's bounds (an int knob is then truncated, as the seed's
//!      `field_to_param` does); if it moved by ≥ 0.1, `REQUESTRATE` returns to its value at the
//!      first step and that is the next configuration;
//!    * otherwise **REQUESTRATE** from TTFT (only when the TTFT penalty is non-zero): TTFT > T1
//!      ⇒ f = clamp(−s·(TTFT − T1)/T1, −s, s); TTFT < T1·(1 − c) ⇒ f = +s; the same update (the
//!      sign-flip rule without the "changed" test), its maximum capped at the current
//!      concurrency; next configuration if it moved by ≥ 0.1;
//!    * stop when nothing moved by ≥ 0.1, the next configuration was run before (default and
//!      earlier rows included), a run failed, TPOT (or, with a TTFT penalty, TTFT) is missing,
//!      or after `max_fine_tune` steps.
//!
//! **Choices where the seed is ambiguous or odd (documented deviations):**
//! * A concurrency move under 0.1 is *not* applied. The seed writes it into the configuration
//!   anyway before trying the request rate, where the int truncation can turn 9.95 into 9.
//! * A row whose `REQUESTRATE` has no value (unthrottled) is doubled from the index's measured
//!   `request_rate` when there is one; otherwise it stays unthrottled and only `CONCURRENCY`
//!   moves (the seed would fail on `None·2`).
//! * Without any penalty the seed's `FineTune` raises at construction; we run nothing and
//!   choose among the default run and the rows as measured during the swarm.
//! * Failed runs are not candidates of the final choice (the seed keeps them with speed 0 and
//!   infinite latencies, which only matters when nothing succeeded).
//!
//! **Final choice** among the default run, the doubled runs and the fine-tune runs (missing
//! speed = 0, missing latencies = +∞), [`FineTuneReport::final_choice`]: no penalty → the
//! highest speed; TPOT penalty only → the highest speed with TPOT < T2, else the least
//! (TPOT − T2)/T2; both → the highest speed with both below their SLOs, else the least sum of
//! relative excesses; TTFT penalty only → as TPOT-only with TTFT (the seed returns the first row,
//! the default run: we treat it symmetrically). Ties go to the earlier run; "highest speed"
//! among eligible runs whose speed is 0 picks the first of them (the seed would return run 0,
//! eligible or not).

use perf_model_core::PerformanceIndex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{PsoError, Result};
use crate::evaluator::{Candidate, Evaluation, Evaluator};
use crate::fitness::Fitness;
use crate::space::{DecodedConfig, FieldKind, SearchSpace};
use crate::tuner::Record;

/// The seed's fine-tuning settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneSettings {
    /// `max_fine_tune`: steps per row (10; the seed caps it at 200).
    pub max_fine_tune: usize,
    /// `step_size` s (0.6).
    pub step_size: f64,
    /// `slo_coefficient` c (0.1): the SLO band is (T·(1 − c), T]; also the top-k slack.
    pub slo_coefficient: f64,
}

impl Default for FineTuneSettings {
    fn default() -> Self {
        Self {
            max_fine_tune: 10,
            step_size: 0.6,
            slo_coefficient: 0.1,
        }
    }
}

impl FineTuneSettings {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`PsoError::InvalidParam`]: `max_fine_tune` > 200, `step_size` not finite and > 0,
    /// `slo_coefficient` not in [0, 1).
    pub fn check(&self) -> Result<()> {
        if self.max_fine_tune > 200 {
            return Err(PsoError::InvalidParam {
                name: "max_fine_tune",
                value: self.max_fine_tune.to_string(),
                reason: "must be in 0..=200".into(),
            });
        }
        if !(self.step_size.is_finite() && self.step_size > 0.0) {
            return Err(PsoError::InvalidParam {
                name: "step_size",
                value: self.step_size.to_string(),
                reason: "must be finite and > 0".into(),
            });
        }
        if !(0.0..1.0).contains(&self.slo_coefficient) {
            return Err(PsoError::InvalidParam {
                name: "slo_coefficient",
                value: self.slo_coefficient.to_string(),
                reason: "must be in [0, 1)".into(),
            });
        }
        Ok(())
    }
}

/// A load knob the fine-tuning moves, with the bounds of the unfrozen field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knob {
    /// Field name (`CONCURRENCY`, `MAXCONCURRENCY`, `REQUESTRATE`).
    pub name: String,
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Truncate to an integer.
    pub int: bool,
}

/// The two knobs; `None` when the configuration has no such field or it is constant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadKnobs {
    /// `CONCURRENCY` (or `MAXCONCURRENCY`).
    pub concurrency: Option<Knob>,
    /// `REQUESTRATE`.
    pub request_rate: Option<Knob>,
}

impl LoadKnobs {
    /// Finds the knobs in a space *before* the load is frozen for the swarm
    /// (`SeedConfig::search_space(…, freeze_load = false, …)`): fields named `CONCURRENCY` or
    /// `MAXCONCURRENCY` and `REQUESTRATE` (upper-cased, trimmed) that are int or float and not
    /// constant (the seed's `update_field` refuses constants and min = max).
    #[must_use]
    pub fn from_space(space: &SearchSpace) -> Self {
        let knob = |names: &[&str]| {
            space.fields().iter().find_map(|f| {
                let n = f.name.trim().to_uppercase();
                let tunable = f.constant.is_none()
                    && f.min < f.max
                    && matches!(f.kind, FieldKind::Int | FieldKind::Float);
                (names.contains(&n.as_str()) && tunable).then(|| Knob {
                    name: f.name.clone(),
                    min: f.min,
                    max: f.max,
                    int: f.kind == FieldKind::Int,
                })
            })
        };
        Self {
            concurrency: knob(&["CONCURRENCY", "MAXCONCURRENCY"]),
            request_rate: knob(&["REQUESTRATE"]),
        }
    }
}

/// Runs one configuration (a benchmark, a simulator, a closure).
pub trait ConfigRunner {
    /// Evaluates `config`.
    fn run(&mut self, config: &DecodedConfig) -> Evaluation;
}

impl<F: FnMut(&DecodedConfig) -> Evaluation> ConfigRunner for F {
    fn run(&mut self, config: &DecodedConfig) -> Evaluation {
        self(config)
    }
}

/// Any [`Evaluator`] as a [`ConfigRunner`]: each configuration is a one-candidate batch with
/// `iteration` as given, `particle` counting the runs, and an empty position (fine-tune runs
/// are outside the swarm).
pub struct EvaluatorRunner<'a> {
    evaluator: &'a mut dyn Evaluator,
    iteration: usize,
    runs: usize,
}

impl<'a> EvaluatorRunner<'a> {
    /// Wraps `evaluator`; candidates carry `iteration` (e.g. the swarm's iteration count).
    pub fn new(evaluator: &'a mut dyn Evaluator, iteration: usize) -> Self {
        Self {
            evaluator,
            iteration,
            runs: 0,
        }
    }
}

impl ConfigRunner for EvaluatorRunner<'_> {
    fn run(&mut self, config: &DecodedConfig) -> Evaluation {
        let c = Candidate {
            iteration: self.iteration,
            particle: self.runs,
            position: Vec::new(),
            config: config.clone(),
        };
        self.runs += 1;
        self.evaluator
            .evaluate(std::slice::from_ref(&c))
            .into_iter()
            .next()
            .unwrap_or_else(|| Evaluation::failed("evaluator returned no result", 0.0))
    }
}

/// A configuration with its measurement: the default run or a top-k row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneRow {
    /// The configuration.
    pub config: DecodedConfig,
    /// What was measured (`None` if nothing).
    pub index: Option<PerformanceIndex>,
}

impl FineTuneRow {
    /// A tuner record as a row of `space` (see [`SearchSpace::config_from_map`]).
    #[must_use]
    pub fn from_record(record: &Record, space: &SearchSpace) -> Self {
        Self {
            config: space.config_from_map(&record.config),
            index: record.index,
        }
    }
}

/// Which run of the fine-tuning phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RunOrigin {
    /// The default run (given, not re-run).
    Default,
    /// Top-k row `row` as measured during the swarm (given, not re-run; no-penalty case).
    Pso {
        /// Index into the rows.
        row: usize,
    },
    /// Top-k row `row` re-run with `REQUESTRATE` doubled.
    TopK {
        /// Index into the rows.
        row: usize,
    },
    /// Fine-tuning step `step` (1-based) of row `row`.
    FineTune {
        /// Index into the rows.
        row: usize,
        /// Step, 1-based.
        step: usize,
    },
}

/// One run and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneRun {
    /// Where it comes from.
    pub origin: RunOrigin,
    /// The configuration run.
    pub config: DecodedConfig,
    /// The measurement.
    pub index: Option<PerformanceIndex>,
    /// Error text of a failed run.
    pub error: Option<String>,
    /// Cost (+∞ for a failure).
    pub fitness: f64,
    /// Wall time, s.
    pub duration_s: f64,
}

/// Which knob a step moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjusted {
    /// `CONCURRENCY` from TPOT.
    Concurrency,
    /// `REQUESTRATE` from TTFT.
    RequestRate,
}

/// One fine-tuning step: what it started from and what it changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneStep {
    /// Step number, 1-based.
    pub step: usize,
    /// Concurrency of the run the step starts from.
    pub concurrency: Option<f64>,
    /// Request rate of that run.
    pub request_rate: Option<f64>,
    /// Its TPOT, ms.
    pub tpot_ms: f64,
    /// Its TTFT, ms.
    pub ttft_ms: Option<f64>,
    /// The knob moved.
    pub adjusted: Adjusted,
    /// The factor before clamping to ±s.
    pub raw_factor: f64,
    /// The factor applied.
    pub factor: f64,
    /// The earlier value used by the sign-flip rule, if it applied.
    pub previous: Option<f64>,
    /// Concurrency of the next configuration.
    pub new_concurrency: Option<f64>,
    /// Request rate of the next configuration.
    pub new_request_rate: Option<f64>,
}

/// Why a row's fine-tuning stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum StopReason {
    /// Both latency penalties are 0: nothing to tune against.
    NoPenalty,
    /// The doubled-rate run failed.
    StartFailed(String),
    /// The last run has no TPOT.
    MissingTpot,
    /// The last run has no TTFT while the TTFT penalty is non-zero.
    MissingTtft,
    /// No knob moved by ≥ 0.1 (in the SLO band, or at a bound).
    NothingMoved,
    /// The next configuration was run before.
    Repeated,
    /// A fine-tune run failed.
    RunFailed(String),
    /// `max_fine_tune` steps done.
    MaxSteps,
}

/// The fine-tuning of one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuneSession {
    /// Index into the rows.
    pub row: usize,
    /// The steps taken (a step whose configuration repeated is included; its run is not).
    pub steps: Vec<FineTuneStep>,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Everything the fine-tuning phase ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FineTuneReport {
    /// The runs in order: the default run first (if given), then per row the doubled run and
    /// its steps.
    pub runs: Vec<FineTuneRun>,
    /// One session per row.
    pub sessions: Vec<FineTuneSession>,
}

/// The rule that made the final choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceRule {
    /// No penalty: the highest output tok/s.
    MaxSpeed,
    /// The highest output tok/s among runs below their SLOs.
    MaxSpeedWithinSlo,
    /// No run meets the SLOs: the least relative excess (summed over TTFT and TPOT when both
    /// penalties are non-zero).
    LeastExcess,
}

/// The final choice.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalChoice {
    /// Index into [`FineTuneReport::runs`].
    pub run: usize,
    /// The rule that chose it.
    pub rule: ChoiceRule,
}

/// The per-row step history (the seed's `last_value` and `last_signed_factor`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepHistory {
    concurrency: Vec<Option<f64>>,
    request_rate: Vec<Option<f64>>,
    concurrency_factors: Vec<f64>,
    request_rate_factors: Vec<f64>,
}

/// What a step decided.
#[derive(Clone, Debug, PartialEq)]
pub enum StepDecision {
    /// Run this configuration next.
    Next(DecodedConfig, FineTuneStep),
    /// Stop the row.
    Stop(StopReason),
}

/// The fine-tuning driver.
#[derive(Clone, Debug, PartialEq)]
pub struct FineTuner {
    settings: FineTuneSettings,
    fitness: Fitness,
    knobs: LoadKnobs,
}

fn set_value(cfg: &mut DecodedConfig, name: &str, v: Option<f64>, int: bool) {
    if let Some(e) = cfg.entries.iter_mut().find(|e| e.name == name) {
        e.value = match v {
            None => Value::Null,
            #[allow(clippy::cast_possible_truncation)]
            Some(x) if int => Value::from(x.trunc() as i64),
            Some(x) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
        };
    }
}

/// `max(lo, min(hi, v))`, the seed's clamp (no panic when `hi < lo`).
fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    v.min(hi).max(lo)
}

impl FineTuner {
    /// A driver with `settings`, the run's `fitness` (penalties, SLOs, cost) and the `knobs`.
    ///
    /// # Errors
    /// As [`FineTuneSettings::check`] and [`Fitness::check`].
    pub fn new(settings: FineTuneSettings, fitness: Fitness, knobs: LoadKnobs) -> Result<Self> {
        settings.check()?;
        fitness.check()?;
        Ok(Self {
            settings,
            fitness,
            knobs,
        })
    }

    fn run_one(
        &self,
        runner: &mut dyn ConfigRunner,
        origin: RunOrigin,
        config: &DecodedConfig,
    ) -> FineTuneRun {
        let e = runner.run(config);
        let fitness = if e.error.is_some() {
            f64::INFINITY
        } else {
            self.fitness.cost_of(e.index.as_ref())
        };
        FineTuneRun {
            origin,
            config: config.clone(),
            index: e.index,
            error: e.error,
            fitness,
            duration_s: e.duration_s,
        }
    }

    fn given(&self, origin: RunOrigin, row: &FineTuneRow) -> FineTuneRun {
        FineTuneRun {
            origin,
            config: row.config.clone(),
            index: row.index,
            error: None,
            fitness: self.fitness.cost_of(row.index.as_ref()),
            duration_s: 0.0,
        }
    }

    /// Fine-tunes every row in turn (see the module documentation) and returns all runs and
    /// the step sequences. `default` is the default run (not re-run; it joins the final choice
    /// and the repeat check).
    pub fn run(
        &self,
        default: Option<&FineTuneRow>,
        rows: &[FineTuneRow],
        runner: &mut dyn ConfigRunner,
    ) -> FineTuneReport {
        let mut report = FineTuneReport::default();
        if let Some(d) = default {
            report.runs.push(self.given(RunOrigin::Default, d));
        }
        let no_penalty = self.fitness.ttft_penalty == 0.0 && self.fitness.tpot_penalty == 0.0;
        for (k, row) in rows.iter().enumerate() {
            if no_penalty {
                report.runs.push(self.given(RunOrigin::Pso { row: k }, row));
                report.sessions.push(FineTuneSession {
                    row: k,
                    steps: Vec::new(),
                    stop: StopReason::NoPenalty,
                });
                continue;
            }
            let mut start = row.config.clone();
            if let Some(r) = &self.knobs.request_rate {
                let r0 = row
                    .config
                    .get_f64(&r.name)
                    .or_else(|| row.index.and_then(|i| i.request_rate()));
                if let Some(r0) = r0 {
                    set_value(
                        &mut start,
                        &r.name,
                        Some(clamp(2.0 * r0, r.min, r.max)),
                        r.int,
                    );
                }
            }
            let first = self.run_one(runner, RunOrigin::TopK { row: k }, &start);
            let failed = first.error.clone();
            let (mut cfg, mut index) = (first.config.clone(), first.index);
            report.runs.push(first);
            if let Some(err) = failed {
                report.sessions.push(FineTuneSession {
                    row: k,
                    steps: Vec::new(),
                    stop: StopReason::StartFailed(err),
                });
                continue;
            }
            let mut history = StepHistory::default();
            let mut steps = Vec::new();
            let mut stop = StopReason::MaxSteps;
            for step in 1..=self.settings.max_fine_tune {
                let (next, info) = match self.next_step(step, &cfg, index.as_ref(), &mut history) {
                    StepDecision::Stop(reason) => {
                        stop = reason;
                        break;
                    }
                    StepDecision::Next(next, info) => (next, info),
                };
                steps.push(info);
                let key = next.key();
                if report.runs.iter().any(|r| r.config.key() == key) {
                    stop = StopReason::Repeated;
                    break;
                }
                let run = self.run_one(runner, RunOrigin::FineTune { row: k, step }, &next);
                let failed = run.error.clone();
                index = run.index;
                report.runs.push(run);
                if let Some(err) = failed {
                    stop = StopReason::RunFailed(err);
                    break;
                }
                cfg = next;
            }
            report.sessions.push(FineTuneSession {
                row: k,
                steps,
                stop,
            });
        }
        report
    }

    /// One step from the run of `config` that measured `index` (the seed's
    /// `fine_tune_with_concurrency_and_request_rate`); `history` carries the row's earlier
    /// values and factors.
    #[allow(clippy::too_many_lines)]
    pub fn next_step(
        &self,
        step: usize,
        config: &DecodedConfig,
        index: Option<&PerformanceIndex>,
        history: &mut StepHistory,
    ) -> StepDecision {
        let f = &self.fitness;
        let (s, c) = (self.settings.step_size, self.settings.slo_coefficient);
        if f.ttft_penalty == 0.0 && f.tpot_penalty == 0.0 {
            return StepDecision::Stop(StopReason::NoPenalty);
        }
        let Some(tpot) = index.and_then(PerformanceIndex::tpot_ms) else {
            return StepDecision::Stop(StopReason::MissingTpot);
        };
        let ttft = index.and_then(PerformanceIndex::ttft_ms);
        if f.ttft_penalty != 0.0 && ttft.is_none() {
            return StepDecision::Stop(StopReason::MissingTtft);
        }
        let c_knob = self
            .knobs
            .concurrency
            .as_ref()
            .filter(|k| config.get(&k.name).is_some());
        let r_knob = self
            .knobs
            .request_rate
            .as_ref()
            .filter(|k| config.get(&k.name).is_some());
        let cv = c_knob.and_then(|k| config.get_f64(&k.name));
        let rv = r_knob.and_then(|k| config.get_f64(&k.name));
        if c_knob.is_some() {
            history.concurrency.push(cv);
        }
        if r_knob.is_some() {
            history.request_rate.push(rv);
        }
        let info = |adjusted, raw_factor, factor, previous, new_c, new_r| FineTuneStep {
            step,
            concurrency: cv,
            request_rate: rv,
            tpot_ms: tpot,
            ttft_ms: ttft,
            adjusted,
            raw_factor,
            factor,
            previous,
            new_concurrency: new_c,
            new_request_rate: new_r,
        };
        // CONCURRENCY from TPOT
        if let (Some(k), Some(v)) = (c_knob, cv) {
            let t2 = f.tpot_slo_ms;
            let raw = if tpot > t2 {
                Some(-((tpot - t2) / t2) * s)
            } else if tpot < t2 * (1.0 - c) {
                Some((t2 - tpot) / t2 * s)
            } else {
                None
            };
            if let Some(raw) = raw.filter(|r| *r != 0.0) {
                history.concurrency_factors.push(raw);
                let factor = raw.clamp(-s, s);
                let h = &history.concurrency_factors;
                let vals = &history.concurrency;
                let previous = if h.len() >= 2 && h[h.len() - 2] * h[h.len() - 1] < 0.0 {
                    match (vals[vals.len() - 2], vals[vals.len() - 1]) {
                        // the seed compares the recorded values exactly
                        (Some(a), Some(b)) if a.to_bits() != b.to_bits() => Some(a),
                        _ => None,
                    }
                } else {
                    None
                };
                let new = previous.map_or(v * (1.0 + factor), |p| v + factor * (v - p).abs());
                if new.is_finite() {
                    let new = clamp(new, k.min, k.max);
                    if (new - v).abs() >= 0.1 {
                        let mut next = config.clone();
                        set_value(&mut next, &k.name, Some(new), k.int);
                        let first_rate = history.request_rate.first().copied().flatten();
                        if let Some(r) = r_knob {
                            set_value(&mut next, &r.name, first_rate, r.int);
                        }
                        let new_c = next.get_f64(&k.name);
                        let new_r = r_knob.and_then(|r| next.get_f64(&r.name));
                        return StepDecision::Next(
                            next,
                            info(Adjusted::Concurrency, raw, factor, previous, new_c, new_r),
                        );
                    }
                }
            }
        }
        // REQUESTRATE from TTFT, capped at the concurrency
        if let (Some(k), Some(v), Some(ttft)) = (r_knob, rv, ttft)
            && f.ttft_penalty != 0.0
        {
            let mut max = k.max;
            if let Some(cc) = cv
                && cc < max
            {
                max = cc;
            }
            let t1 = f.ttft_slo_ms;
            let raw = if ttft > t1 {
                Some((-((ttft - t1) / t1) * s).clamp(-s, s))
            } else if ttft < t1 * (1.0 - c) {
                Some(s)
            } else {
                None
            };
            if let Some(factor) = raw.filter(|r| *r != 0.0) {
                history.request_rate_factors.push(factor);
                let h = &history.request_rate_factors;
                let vals = &history.request_rate;
                let previous = if h.len() >= 2 && h[h.len() - 2] * h[h.len() - 1] < 0.0 {
                    vals[vals.len() - 2]
                } else {
                    None
                };
                let new = previous.map_or(v * (1.0 + factor), |p| v + factor * (v - p).abs());
                if new.is_finite() {
                    let new = clamp(new, k.min, max);
                    if (new - v).abs() >= 0.1 {
                        let mut next = config.clone();
                        set_value(&mut next, &k.name, Some(new), k.int);
                        let new_r = next.get_f64(&k.name);
                        return StepDecision::Next(
                            next,
                            info(Adjusted::RequestRate, factor, factor, previous, cv, new_r),
                        );
                    }
                }
            }
        }
        StepDecision::Stop(StopReason::NothingMoved)
    }
}

impl FineTuneReport {
    /// The final choice among the successful runs (see the module documentation); `None` when
    /// no run succeeded.
    #[must_use]
    pub fn final_choice(&self, fitness: &Fitness) -> Option<FinalChoice> {
        final_choice(&self.runs, fitness)
    }

    /// The run the final choice picked.
    #[must_use]
    pub fn chosen(&self, fitness: &Fitness) -> Option<&FineTuneRun> {
        self.final_choice(fitness).map(|c| &self.runs[c.run])
    }
}

/// A candidate of the final choice: run index, output tok/s (0 if missing), TTFT and TPOT in
/// ms (+∞ if missing).
type Candidate4 = (usize, f64, f64, f64);

/// The final choice among `runs` (failed runs and runs without an index are skipped).
#[must_use]
pub fn final_choice(runs: &[FineTuneRun], fitness: &Fitness) -> Option<FinalChoice> {
    let ok: Vec<Candidate4> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.error.is_none())
        .filter_map(|(k, r)| {
            let i = r.index.as_ref()?;
            Some((
                k,
                i.output_throughput().unwrap_or(0.0),
                i.ttft_ms().unwrap_or(f64::INFINITY),
                i.tpot_ms().unwrap_or(f64::INFINITY),
            ))
        })
        .collect();
    let first_max_speed = |set: &[Candidate4]| {
        set.iter()
            .fold(None::<(usize, f64)>, |best, &(k, g, _, _)| match best {
                Some((_, bg)) if g <= bg => best,
                _ => Some((k, g)),
            })
            .map(|(k, _)| k)
    };
    let least = |score: &dyn Fn(&Candidate4) -> f64| {
        ok.iter()
            .fold(None::<(usize, f64)>, |best, t| {
                let v = score(t);
                match best {
                    Some((_, bv)) if v.partial_cmp(&bv) != Some(std::cmp::Ordering::Less) => best,
                    _ => Some((t.0, v)),
                }
            })
            .map(|(k, _)| k)
    };
    let (k1, k2) = (fitness.ttft_penalty != 0.0, fitness.tpot_penalty != 0.0);
    let (t1, t2) = (fitness.ttft_slo_ms, fitness.tpot_slo_ms);
    let excess1 = |t: &Candidate4| (t.2 - t1) / t1;
    let excess2 = |t: &Candidate4| (t.3 - t2) / t2;
    let pick = |within: Vec<Candidate4>, score: &dyn Fn(&Candidate4) -> f64| {
        if within.is_empty() {
            least(score).map(|run| FinalChoice {
                run,
                rule: ChoiceRule::LeastExcess,
            })
        } else {
            first_max_speed(&within).map(|run| FinalChoice {
                run,
                rule: ChoiceRule::MaxSpeedWithinSlo,
            })
        }
    };
    match (k1, k2) {
        (false, false) => first_max_speed(&ok).map(|run| FinalChoice {
            run,
            rule: ChoiceRule::MaxSpeed,
        }),
        (false, true) => pick(
            ok.iter().copied().filter(|t| excess2(t) < 0.0).collect(),
            &excess2,
        ),
        (true, false) => pick(
            ok.iter().copied().filter(|t| excess1(t) < 0.0).collect(),
            &excess1,
        ),
        (true, true) => pick(
            ok.iter()
                .copied()
                .filter(|t| excess1(t) < 0.0 && excess2(t) < 0.0)
                .collect(),
            &|t| excess2(t) + excess1(t),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // knob values are integers or exact binary fractions
mod tests;
