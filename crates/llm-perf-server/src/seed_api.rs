//! The queue-analysis and model-trainer REST formats: the body of `/solve`, `/target` and
//! `/optimize` (`RPS, maxBatchSize, avgInputTokens, avgOutputTokens, alpha, beta, gamma,
//! maxQueueSize, targetTTFT, targetITL`), their responses, and the trainer settings of
//! `/train`. `llm-perf analyze|size|optimize --json` print the same responses.
//!
//! Keys are matched case-insensitively, as Go's JSON decoder does, so the upstream examples'
//! `AvgInputTokens` binds to `avgInputTokens`. Unknown keys are an error (a typo must not fall
//! back silently to a default). `maxNumTokens` and `targetTPS` are accepted as extensions.

use llm_perf::fit::{FitError, InfernoTrainer, InfernoTrainerValidParams, Loss};
use llm_perf::model::inferno::{
    Analysis, Analyzer, Arithmetic, OptimalConcurrency, QueueConfig, QueueModel, ReplicaPlan,
    RequestShape, ServiceParams, Sizing, SloTargets,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// A problem that cannot be analysed: a malformed body, a field whose value cannot be used,
/// or what the analyzer rejects. The variants keep the HTTP distinction: a body that is not a
/// problem is the client's 400, well-formed values the model cannot use are its 422.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemError {
    /// The body's shape: malformed JSON, an unknown key, a value of the wrong JSON type, a
    /// missing field.
    #[error("{0}")]
    Body(String),
    /// A well-formed field whose value cannot be used (negative, non-finite, fractional
    /// count); the message names the REST key.
    #[error("{0}")]
    Value(String),
    /// The analyzer rejected the values or cannot meet the load or target.
    #[error(transparent)]
    Model(#[from] llm_perf::model::Error),
}

type Result<T, E = ProblemError> = std::result::Result<T, E>;

macro_rules! body_error {
    ($($arg:tt)*) => { ProblemError::Body(format!($($arg)*)) };
}

macro_rules! bail {
    ($($arg:tt)*) => { return Err(ProblemError::Body(format!($($arg)*))) };
}

macro_rules! bail_value {
    ($($arg:tt)*) => { return Err(ProblemError::Value(format!($($arg)*))) };
}

/// A queue-analysis problem: the REST body of `/solve`, `/target` and `/optimize` (each field
/// optional until a route asks for it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Problem {
    /// Arrival rate, requests per second (`RPS`).
    pub rate: Option<f64>,
    /// Maximum batch size, requests served together (`maxBatchSize`).
    pub max_batch: Option<u32>,
    /// Maximum queue size, requests waiting (`maxQueueSize`); defaults to the max batch size.
    pub max_queue: Option<u32>,
    /// Mean input tokens per request (`avgInputTokens`).
    pub input_tokens: Option<f64>,
    /// Mean output tokens per request (`avgOutputTokens`).
    pub output_tokens: Option<f64>,
    /// Base iteration time α, ms.
    pub alpha: Option<f64>,
    /// Compute time per token β, ms.
    pub beta: Option<f64>,
    /// Memory time per token of context γ, ms.
    pub gamma: Option<f64>,
    /// Max tokens per iteration (chunked prefill budget, V7); default 8192 (`maxNumTokens`).
    pub max_num_tokens: Option<u32>,
    /// TTFT target, ms (`targetTTFT`).
    pub target_ttft: Option<f64>,
    /// ITL target, ms (`targetITL`).
    pub target_itl: Option<f64>,
    /// Throughput target (`targetTPS`); as upstream, only its presence counts: the rate is
    /// then sized at 90 % of the maximum rate.
    pub target_tps: Option<f64>,
}

const KEYS: &str = "RPS, maxBatchSize, avgInputTokens, avgOutputTokens, alpha, beta, gamma, \
                    maxQueueSize, targetTTFT, targetITL, maxNumTokens, targetTPS";

/// Parses a REST body.
pub fn parse_problem(text: &str) -> Result<Problem> {
    let map: Map<String, Value> = serde_json::from_str(text).map_err(|e| {
        body_error!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let mut p = Problem::default();
    for (key, value) in &map {
        match key.to_ascii_lowercase().as_str() {
            "rps" => p.rate = Some(number(key, value)?),
            "maxbatchsize" => p.max_batch = Some(count(key, value)?),
            "maxqueuesize" => p.max_queue = Some(count(key, value)?),
            "avginputtokens" => p.input_tokens = Some(number(key, value)?),
            "avgoutputtokens" => p.output_tokens = Some(number(key, value)?),
            "alpha" => p.alpha = Some(number(key, value)?),
            "beta" => p.beta = Some(number(key, value)?),
            "gamma" => p.gamma = Some(number(key, value)?),
            "maxnumtokens" => p.max_num_tokens = Some(count(key, value)?),
            "targetttft" => p.target_ttft = Some(number(key, value)?),
            "targetitl" => p.target_itl = Some(number(key, value)?),
            "targettps" => p.target_tps = Some(number(key, value)?),
            _ => bail!("unknown key `{key}`; expected one of {KEYS}"),
        }
    }
    Ok(p)
}

fn number(key: &str, value: &Value) -> Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| body_error!("field `{key}` must be a number, got {value}"))
}

fn count(key: &str, value: &Value) -> Result<u32> {
    let v = number(key, value)?;
    if v.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&v) {
        bail_value!("field `{key}` must be a non-negative integer, got {value}");
    }
    // Exact: v is integral and within u32's range.
    Ok(v as u32)
}

impl Problem {
    /// The value of a required field, or an error naming its key and flag.
    pub fn need<T: Copy>(value: Option<T>, key: &str, flag: &str) -> Result<T> {
        value.ok_or_else(|| body_error!("missing `{key}`: give it in the JSON file or as --{flag}"))
    }

    /// Validates a REST body as the queue-analysis service does: `RPS`, tokens, `alpha`,
    /// `beta`, `gamma`, `maxQueueSize` and targets must be finite and `>= 0`, `maxBatchSize`
    /// `> 0`; the model fields (and `RPS` when `need_rate`) must be present. Errors name the
    /// REST key.
    ///
    /// # Errors
    /// The first missing field ([`ProblemError::Body`]) or invalid value
    /// ([`ProblemError::Value`]).
    pub fn validate_rest(&self, need_rate: bool) -> Result<()> {
        let required = [
            ("maxBatchSize", self.max_batch.map(f64::from)),
            ("avgInputTokens", self.input_tokens),
            ("avgOutputTokens", self.output_tokens),
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
        ];
        if need_rate && self.rate.is_none() {
            bail!("missing field `RPS`");
        }
        for (key, value) in required {
            if value.is_none() {
                bail!("missing field `{key}`");
            }
        }
        let non_negative = [
            ("RPS", self.rate),
            ("avgInputTokens", self.input_tokens),
            ("avgOutputTokens", self.output_tokens),
            ("alpha", self.alpha),
            ("beta", self.beta),
            ("gamma", self.gamma),
            ("maxQueueSize", self.max_queue.map(f64::from)),
            ("targetTTFT", self.target_ttft),
            ("targetITL", self.target_itl),
            ("targetTPS", self.target_tps),
        ];
        for (key, value) in non_negative {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                bail_value!("field `{key}` must be a finite number >= 0, got {v}");
            }
        }
        if self.max_batch == Some(0) {
            bail_value!("field `maxBatchSize` must be > 0, got 0");
        }
        if self.max_num_tokens == Some(0) {
            bail_value!("field `maxNumTokens` must be > 0, got 0");
        }
        Ok(())
    }
}

/// The REST key of a field name the analyzer's errors use (`rate` → `RPS`, `itl_ms` →
/// `targetITL`, …); other names are returned unchanged.
#[must_use]
pub fn rest_key(field: &str) -> &str {
    match field {
        "rate" | "rate_rps" | "request_rate" => "RPS",
        "input_tokens" => "avgInputTokens",
        "output_tokens" => "avgOutputTokens",
        "max_batch_size" | "batch" => "maxBatchSize",
        "max_queue_size" => "maxQueueSize",
        "max_num_tokens" => "maxNumTokens",
        "ttft_ms" => "targetTTFT",
        "itl_ms" => "targetITL",
        "tps" => "targetTPS",
        other => other,
    }
}

/// A number for a one-line message: as Rust prints it, but with an exponent when it is very
/// large or very small (`1e300`, not three hundred digits).
#[must_use]
pub fn short_num(x: f64) -> String {
    let a = x.abs();
    if a.is_finite() && a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A value the analyzer formatted (`OutOfRange::value`), shortened like [`short_num`] when it
/// is a number.
fn short_text(value: &str) -> String {
    value
        .parse::<f64>()
        .map_or_else(|_| value.to_owned(), short_num)
}

/// The analyzer's error `e` in the REST body's terms: fields by their key (`key` maps an
/// analyzer field name to it), numbers short.
#[must_use]
pub fn model_message(e: &llm_perf::model::Error, key: impl Fn(&str) -> String) -> String {
    use llm_perf::model::Error as E;
    match e {
        E::NonFinite { field, value } => {
            format!("field `{}` = {value}: must be a finite number", key(field))
        }
        E::OutOfRange {
            field,
            value,
            expected,
        } => format!("field `{}` = {}: {expected}", key(field), short_text(value)),
        E::RateAboveCapacity { rate, max_rate } => format!(
            "field `{}` = {}: above the maximum rate the model can serve with these parameters, {} req/s",
            key("rate"),
            short_num(*rate),
            short_num(*max_rate)
        ),
        E::TargetUnreachable {
            metric,
            target,
            achieved,
            min_rate,
        } => format!(
            "field `{}` = {} ms cannot be met: at the lowest rate ({} req/s) the model gives {} ms",
            key(&format!("{}_ms", metric.to_ascii_lowercase())),
            short_num(*target),
            short_num(*min_rate),
            short_num(*achieved)
        ),
        other => other.to_string(),
    }
}

/// How the queue analyzer runs and prints: shared by the CLI commands and `llm-perf serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// Model generation.
    pub model: QueueModel,
    /// Arithmetic (and printing: `GoFloat32` prints float32 values).
    pub arithmetic: Arithmetic,
}

/// A number printed as the Go service prints it (float32) or in full (f64).
#[derive(Clone, Copy, Debug)]
pub struct Num {
    value: f64,
    as_f32: bool,
}

impl Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.as_f32 {
            // The value already went through float32 arithmetic; print its shortest f32 form.
            s.serialize_f32(self.value as f32)
        } else {
            s.serialize_f64(self.value)
        }
    }
}

/// The metrics every REST response carries, in the service's key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    throughput: Num,
    avg_resp_time: Num,
    avg_wait_time: Num,
    avg_num_in_serv: Num,
    #[serde(rename = "avgTTFT")]
    avg_ttft: Num,
    #[serde(rename = "avgITL")]
    avg_itl: Num,
    #[serde(rename = "maxRPS")]
    max_rps: Num,
}

/// The REST `AnalysisData` response of `/solve` and `/target` (plus replica fields for `size
/// --total-rate`).
#[derive(Serialize)]
pub struct AnalysisData {
    #[serde(rename = "offeredRPS")]
    offered_rps: Num,
    #[serde(flatten)]
    metrics: Metrics,
    #[serde(rename = "RPSTargetTTFT")]
    rps_target_ttft: Num,
    #[serde(rename = "RPSTargetITL")]
    rps_target_itl: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<u64>,
    #[serde(rename = "perReplicaRPS", skip_serializing_if = "Option::is_none")]
    per_replica_rps: Option<Num>,
}

/// The REST `OptimizeData` response of `/optimize`.
#[derive(Serialize)]
pub struct OptimizeData {
    concurrency: u32,
    #[serde(flatten)]
    metrics: Metrics,
    #[serde(rename = "M_ITL")]
    m_itl: u32,
    #[serde(rename = "M_TPF")]
    m_tpf: u32,
    #[serde(rename = "oracleCalls")]
    oracle_calls: u32,
    feasible: bool,
}

impl QueueSettings {
    fn num(&self, value: f64) -> Num {
        Num {
            value,
            as_f32: self.arithmetic == Arithmetic::GoFloat32,
        }
    }

    /// Builds the analyzer from the merged problem.
    ///
    /// # Errors
    /// A missing field, or a value the analyzer rejects.
    pub fn analyzer(&self, p: &Problem) -> Result<Analyzer> {
        let params = ServiceParams::new(
            Problem::need(p.alpha, "alpha", "alpha")?,
            Problem::need(p.beta, "beta", "beta")?,
            Problem::need(p.gamma, "gamma", "gamma")?,
        )?;
        let shape = RequestShape::new(
            Problem::need(p.input_tokens, "avgInputTokens", "input-tokens")?,
            Problem::need(p.output_tokens, "avgOutputTokens", "output-tokens")?,
        )?;
        let max_batch = Problem::need(p.max_batch, "maxBatchSize", "max-batch")?;
        let mut config = QueueConfig::new(max_batch, p.max_queue.unwrap_or(max_batch))?;
        if let Some(m) = p.max_num_tokens {
            config = config.with_max_num_tokens(m)?;
        }
        Ok(Analyzer::new(self.model, params, shape, config)?.with_arithmetic(self.arithmetic)?)
    }

    /// The REST metrics of `a`; all zero when there is no analysis (an infeasible optimum).
    fn metrics(&self, a: Option<&Analysis>) -> Metrics {
        let f = |get: fn(&Analysis) -> f64| self.num(a.map_or(0.0, get));
        Metrics {
            throughput: f(|a| a.throughput_rps),
            avg_resp_time: f(|a| a.response_ms),
            avg_wait_time: f(|a| a.wait_ms),
            avg_num_in_serv: f(|a| a.in_service),
            avg_ttft: f(|a| a.ttft_ms),
            avg_itl: f(|a| a.itl_ms),
            max_rps: f(|a| a.max_rate_rps),
        }
    }

    /// The `/solve` answer of an analysis.
    pub fn analysis_data(&self, a: &Analysis) -> AnalysisData {
        AnalysisData {
            offered_rps: self.num(a.offered_rps),
            metrics: self.metrics(Some(a)),
            rps_target_ttft: self.num(0.0),
            rps_target_itl: self.num(0.0),
            replicas: None,
            per_replica_rps: None,
        }
    }
}

fn targets(p: &Problem) -> SloTargets {
    SloTargets {
        ttft_ms: p.target_ttft,
        itl_ms: p.target_itl,
        tps: p.target_tps,
    }
}

/// Solves one problem at its rate (`/solve`).
pub fn solve(p: &Problem, s: QueueSettings) -> Result<Analysis> {
    let analyzer = s.analyzer(p)?;
    let rate = Problem::need(p.rate, "RPS", "rate")?;
    Ok(analyzer.solve(rate)?)
}

/// The `/solve` response of a problem: what `analyze --json` prints.
///
/// # Errors
/// A missing or invalid field, or a rate the model cannot serve.
pub fn solve_response(p: &Problem, s: QueueSettings) -> Result<AnalysisData> {
    Ok(s.analysis_data(&solve(p, s)?))
}

/// Max rate under the targets (`/target`), and the replica plan for `total_rate`.
pub fn sizing(
    p: &Problem,
    s: QueueSettings,
    total_rate: Option<f64>,
) -> Result<(Sizing, Option<ReplicaPlan>)> {
    let analyzer = s.analyzer(p)?;
    let t = targets(p);
    if t == SloTargets::default() {
        bail!(
            "no target: give targetTTFT, targetITL or targetTPS (or --target-ttft, --target-itl, --target-tps)"
        );
    }
    let sizing = analyzer.size(&t)?;
    let plan = total_rate
        .map(|total| analyzer.replicas_for(total, &t))
        .transpose()?;
    Ok((sizing, plan))
}

impl QueueSettings {
    /// The `/target` answer of a sizing (plus `replicas` and `perReplicaRPS` with a plan).
    pub fn sizing_data(&self, sizing: &Sizing, plan: Option<&ReplicaPlan>) -> AnalysisData {
        let mut data = self.analysis_data(&sizing.analysis);
        data.rps_target_ttft = self.num(sizing.rate_ttft_rps.unwrap_or(0.0));
        data.rps_target_itl = self.num(sizing.rate_itl_rps.unwrap_or(0.0));
        if let Some(plan) = plan {
            data.replicas = Some(plan.replicas);
            data.per_replica_rps = Some(self.num(plan.per_replica_rps));
        }
        data
    }

    /// The `/optimize` answer.
    pub fn optimize_data(&self, best: &OptimalConcurrency) -> OptimizeData {
        OptimizeData {
            concurrency: best.concurrency,
            metrics: self.metrics(best.analysis.as_ref()),
            m_itl: best.m_itl,
            m_tpf: best.m_tpf,
            oracle_calls: best.oracle_calls,
            feasible: best.feasible,
        }
    }
}

/// The `/target` response of a problem: what `size --json` prints without `--total-rate`.
///
/// # Errors
/// A missing or invalid field, no target, or a target the model cannot meet.
pub fn target_response(p: &Problem, s: QueueSettings) -> Result<AnalysisData> {
    let (sizing, plan) = sizing(p, s, None)?;
    Ok(s.sizing_data(&sizing, plan.as_ref()))
}

/// The best max batch size under the latency targets (`/optimize`).
pub fn best_concurrency(p: &Problem, s: QueueSettings) -> Result<OptimalConcurrency> {
    let analyzer = s.analyzer(p)?;
    let t = targets(p);
    if t.ttft_ms.is_none() && t.itl_ms.is_none() {
        bail!(
            "no latency target: give targetTTFT and/or targetITL (or --target-ttft, --target-itl)"
        );
    }
    Ok(analyzer.optimal_concurrency(&t)?)
}

/// The `/optimize` response of a problem: what `optimize --json` prints.
///
/// # Errors
/// A missing or invalid field, or no latency target.
pub fn optimize_response(p: &Problem, s: QueueSettings) -> Result<OptimizeData> {
    Ok(s.optimize_data(&best_concurrency(p, s)?))
}

/// The trainer settings a fit is run with: shared by `llm-perf fit` and `POST /train`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainerChoice {
    /// Model generation.
    pub model: QueueModel,
    /// Loss function.
    pub loss: Loss,
    /// Initial α, β, γ.
    pub init: [f64; 3],
    /// Nelder–Mead on variables scaled by their initial values.
    pub scaled: bool,
    /// One run exactly as the Go trainer.
    pub seed_compatible: bool,
    /// Extra starts of the improved mode.
    pub multistart: usize,
    /// Seed of the multistart design.
    pub seed: u64,
    /// Arithmetic; `None` means `GoFloat32` when seed-compatible, else `F64`.
    pub arithmetic: Option<Arithmetic>,
}

impl TrainerChoice {
    /// The arithmetic actually used.
    #[must_use]
    pub fn arithmetic(&self) -> Arithmetic {
        match self.arithmetic {
            Some(a) => a,
            None if self.seed_compatible => Arithmetic::GoFloat32,
            None => Arithmetic::F64,
        }
    }

    /// The validated trainer.
    ///
    /// # Errors
    /// [`FitError::InvalidParam`] for a NaN, infinite or negative initial value.
    pub fn trainer(&self) -> Result<InfernoTrainerValidParams, FitError> {
        let [a, b, g] = self.init;
        InfernoTrainer::params()
            .model(self.model)
            .loss(self.loss)
            .init(a, b, g)
            .scaled(self.scaled)
            .seed_compatible(self.seed_compatible)
            .multistart(self.multistart)
            .seed(self.seed)
            .arithmetic(self.arithmetic())
            .check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let p = parse_problem(r#"{"RPS": 3, "AvgInputTokens": 128, "MAXBATCHSIZE": 48}"#).unwrap();
        assert_eq!(p.rate, Some(3.0));
        assert_eq!(p.input_tokens, Some(128.0));
        assert_eq!(p.max_batch, Some(48));
    }

    #[test]
    fn unknown_key_is_error() {
        let err = parse_problem(r#"{"alpah": 1}"#).unwrap_err();
        assert!(err.to_string().contains("alpah"), "{err}");
    }

    #[test]
    fn wrong_type_names_field() {
        let err = parse_problem(r#"{"beta": "fast"}"#).unwrap_err();
        assert!(err.to_string().contains("`beta`"), "{err}");
        let err = parse_problem(r#"{"maxBatchSize": 4.5}"#).unwrap_err();
        assert!(err.to_string().contains("`maxBatchSize`"), "{err}");
    }

    #[test]
    fn rest_validation_names_field() {
        let ok = r#"{"RPS": 3, "maxBatchSize": 48, "avgInputTokens": 128,
            "avgOutputTokens": 512, "alpha": 12, "beta": 0.05, "gamma": 0.0005}"#;
        let p = parse_problem(ok).unwrap();
        p.validate_rest(true).unwrap();
        let mut bad = p.clone();
        bad.alpha = Some(-1.0);
        let err = bad.validate_rest(true).unwrap_err();
        assert!(err.to_string().contains("`alpha`"), "{err}");
        let mut bad = p.clone();
        bad.max_batch = Some(0);
        let err = bad.validate_rest(true).unwrap_err();
        assert!(err.to_string().contains("`maxBatchSize`"), "{err}");
        let mut no_rate = p;
        no_rate.rate = None;
        no_rate.validate_rest(false).unwrap();
        let err = no_rate.validate_rest(true).unwrap_err();
        assert!(err.to_string().contains("`RPS`"), "{err}");
    }

    #[test]
    fn malformed_json_says_where() {
        let err = parse_problem("{\"RPS\": 3,\n \"alpha\": }").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
