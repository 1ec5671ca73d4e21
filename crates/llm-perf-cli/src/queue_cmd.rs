//! `llm-perf analyze`, `size` and `optimize`: the Inferno queue analyzer from the command line,
//! with the queue-analysis REST service's request and response formats.

use anyhow::Result;
use clap::{Args, ValueEnum};
use llm_perf::model::inferno::{Analysis, Arithmetic, QueueModel};
pub use llm_perf_server::seed_api::QueueSettings;
use llm_perf_server::seed_api::{best_concurrency, sizing, solve};
use serde::Serialize;

use crate::problem::ProblemArgs;
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

impl QueueOptions {
    fn settings(&self) -> QueueSettings {
        QueueSettings {
            model: self.model,
            arithmetic: match self.arithmetic {
                Parity::F64 => Arithmetic::F64,
                Parity::Go => Arithmetic::GoFloat32,
            },
        }
    }
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
