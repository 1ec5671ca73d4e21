//! `llm-perf analyze`, `size` and `optimize`: the Inferno queue analyzer from the command line,
//! with the queue-analysis REST service's request and response formats.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use llm_perf::model::inferno::{
    Analysis, Analyzer, Arithmetic, OptimalConcurrency, QueueConfig, QueueModel, ReplicaPlan,
    RequestShape, ServiceParams, Sizing, SloTargets,
};
use serde::Serialize;

use crate::problem::{Problem, ProblemArgs};
use crate::table::{key_values, num};

/// Options shared by the three queue commands.
#[derive(Args, Clone, Debug)]
pub struct QueueOptions {
    #[command(flatten)]
    problem: ProblemArgs,
    /// Model generation: v3 (queue-analysis v0.3.0), v6 (v0.4–v0.6, the paper), v7 (current).
    #[arg(long, default_value = "v7")]
    model: QueueModel,
    /// Arithmetic: `f64`, or `go` to reproduce the Go reference's float32 results digit for digit.
    #[arg(long, value_enum, default_value_t = Parity::F64)]
    arithmetic: Parity,
    /// Print the queue-analysis REST response JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arithmetic choice on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Parity {
    /// Plain f64.
    F64,
    /// float32 at the Go analyzer's rounding sites.
    Go,
}

/// Arguments of `llm-perf analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    options: QueueOptions,
}

/// Arguments of `llm-perf size`.
#[derive(Args, Debug)]
pub struct SizeArgs {
    #[command(flatten)]
    options: QueueOptions,
    /// Total load to serve, req/s: also print the replicas needed for it.
    #[arg(long, value_name = "REQ_PER_S")]
    total_rate: Option<f64>,
}

/// Arguments of `llm-perf optimize`.
#[derive(Args, Debug)]
pub struct OptimizeArgs {
    #[command(flatten)]
    options: QueueOptions,
}

/// How the queue analyzer runs and prints: shared by the CLI commands and `llm-perf serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// Model generation.
    pub model: QueueModel,
    /// Arithmetic (and printing: `Go` prints float32 values).
    pub arithmetic: Parity,
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

impl QueueOptions {
    fn settings(&self) -> QueueSettings {
        QueueSettings {
            model: self.model,
            arithmetic: self.arithmetic,
        }
    }
}

impl QueueSettings {
    fn num(&self, value: f64) -> Num {
        Num {
            value,
            as_f32: self.arithmetic == Parity::Go,
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
        let arithmetic = match self.arithmetic {
            Parity::F64 => Arithmetic::F64,
            Parity::Go => Arithmetic::GoFloat32,
        };
        Ok(Analyzer::new(self.model, params, shape, config)?.with_arithmetic(arithmetic)?)
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

    fn analysis_data(&self, a: &Analysis) -> AnalysisData {
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

fn analysis_rows(a: &Analysis) -> Vec<(&'static str, String)> {
    vec![
        ("offered rate", num(a.offered_rps, 7) + " req/s"),
        ("throughput", num(a.throughput_rps, 7) + " req/s"),
        ("max rate", num(a.max_rate_rps, 7) + " req/s"),
        ("utilisation (rho)", num(a.rho, 4)),
        ("mean batch (in service)", num(a.in_service, 7)),
        ("mean in system", num(a.in_system, 7)),
        ("TTFT", num(a.ttft_ms, 7) + " ms"),
        ("ITL", num(a.itl_ms, 7) + " ms"),
        ("prefill", num(a.prefill_ms, 7) + " ms"),
        ("wait", num(a.wait_ms, 7) + " ms"),
        ("response", num(a.response_ms, 7) + " ms"),
        ("blocking probability", num(a.blocking, 4)),
    ]
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// Solves one problem at its rate (`/solve`).
fn solve(p: &Problem, s: QueueSettings) -> Result<Analysis> {
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
fn sizing(
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
    fn sizing_data(&self, sizing: &Sizing, plan: Option<&ReplicaPlan>) -> AnalysisData {
        let mut data = self.analysis_data(&sizing.analysis);
        data.rps_target_ttft = self.num(sizing.rate_ttft_rps.unwrap_or(0.0));
        data.rps_target_itl = self.num(sizing.rate_itl_rps.unwrap_or(0.0));
        if let Some(plan) = plan {
            data.replicas = Some(plan.replicas);
            data.per_replica_rps = Some(self.num(plan.per_replica_rps));
        }
        data
    }

    fn optimize_data(&self, best: &OptimalConcurrency) -> OptimizeData {
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
fn best_concurrency(p: &Problem, s: QueueSettings) -> Result<OptimalConcurrency> {
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

/// Runs `llm-perf analyze`.
pub fn analyze(args: &AnalyzeArgs) -> Result<String> {
    let o = &args.options;
    let s = o.settings();
    let p = o.problem.resolve()?;
    let a = solve(&p, s)?;
    if o.json {
        return json(&s.analysis_data(&a));
    }
    let mut rows = vec![("model", o.model.to_string())];
    rows.extend(analysis_rows(&a));
    Ok(key_values(&rows))
}

/// Runs `llm-perf size`.
pub fn size(args: &SizeArgs) -> Result<String> {
    let o = &args.options;
    let s = o.settings();
    let p = o.problem.resolve()?;
    let (sizing, plan) = sizing(&p, s, args.total_rate)?;
    if o.json {
        return json(&s.sizing_data(&sizing, plan.as_ref()));
    }
    let fmt_rate = |r: Option<f64>| r.map_or_else(|| "-".into(), |r| num(r, 7) + " req/s");
    let mut rows = vec![
        ("model", o.model.to_string()),
        ("max rate under SLO", num(sizing.rate_rps, 7) + " req/s"),
        ("  limited by TTFT at", fmt_rate(sizing.rate_ttft_rps)),
        ("  limited by ITL at", fmt_rate(sizing.rate_itl_rps)),
        ("  TPS target rate", fmt_rate(sizing.rate_tps_rps)),
    ];
    rows.extend(analysis_rows(&sizing.analysis));
    if let Some(plan) = &plan {
        rows.push(("replicas", plan.replicas.to_string()));
        rows.push(("rate per replica", num(plan.per_replica_rps, 7) + " req/s"));
        rows.push((
            "TTFT per replica",
            num(plan.per_replica_analysis.ttft_ms, 7) + " ms",
        ));
        rows.push((
            "ITL per replica",
            num(plan.per_replica_analysis.itl_ms, 7) + " ms",
        ));
    }
    Ok(key_values(&rows))
}

/// Runs `llm-perf optimize`.
pub fn optimize(args: &OptimizeArgs) -> Result<String> {
    let o = &args.options;
    let s = o.settings();
    let p = o.problem.resolve()?;
    let best = best_concurrency(&p, s)?;
    if o.json {
        return json(&s.optimize_data(&best));
    }
    let mut rows = vec![
        ("model", o.model.to_string()),
        ("optimal max batch", best.concurrency.to_string()),
        ("feasible", best.feasible.to_string()),
        ("ITL bracket M_ITL", best.m_itl.to_string()),
        ("prefill bracket M_TPF", best.m_tpf.to_string()),
        ("anchor throughput", num(best.anchor_rps, 7) + " req/s"),
        ("oracle calls", best.oracle_calls.to_string()),
    ];
    if let Some(a) = &best.analysis {
        rows.extend(analysis_rows(a));
    }
    Ok(key_values(&rows))
}
