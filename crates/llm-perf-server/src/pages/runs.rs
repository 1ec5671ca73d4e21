//! Simulate and Tune: pages whose work comes from the browser (a config to run, a
//! `results.jsonl` to show), with the JSON APIs the pages call.

use std::time::Instant;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use llm_perf::sim::{RunOptions, SimConfig, Simulation, Summary};
use serde::Serialize;

use super::{Layout, html};
use crate::charts::Chart;
use crate::charts::sim::{latency_cdfs, read_requests_csv, read_steps_csv, step_charts};
use crate::charts::tune::{best, read_results_jsonl, tune_charts};
use crate::error::ServerError;
use crate::routes::{ApiError, json_response};
use crate::state::AppState;

/// Requests a simulation run from the web may generate (`max_requests` is capped to it).
pub const SIM_MAX_REQUESTS: u64 = 50_000;

#[derive(Template)]
#[template(path = "simulate.html")]
struct SimulatePage {
    layout: Layout,
    config: &'static str,
    max_requests: String,
}

/// `GET /simulate`: the editor with the starter config.
pub(super) async fn simulate_page(State(state): State<AppState>) -> Response {
    html(&SimulatePage {
        layout: Layout::new(&state, "Simulate", "simulate"),
        config: llm_perf::sim::EXAMPLE_CONFIG_YAML,
        max_requests: "50 000".to_owned(),
    })
}

/// What a simulation run answers.
#[derive(Debug, Serialize)]
pub struct SimulationRun {
    /// The summary (as `summary.json`).
    pub summary: Summary,
    /// CDFs and over-time charts.
    pub charts: Vec<Chart>,
    /// What was changed or ignored in the config (seed configs, the request cap).
    pub notes: Vec<String>,
    /// Wall time of the run, ms.
    pub wall_ms: f64,
}

/// Runs a config given as text (YAML or JSON, native or the seed's), at most
/// [`SIM_MAX_REQUESTS`] requests, and charts its output. Trace-file arrivals are refused (a
/// page must not read the server's files).
///
/// # Errors
/// [`ServerError::Unprocessable`] for a config that does not load or run.
pub fn simulate_text(text: &str) -> Result<SimulationRun, ServerError> {
    let started = Instant::now();
    let bad = |e: &dyn std::fmt::Display| ServerError::Unprocessable(format!("config: {e}"));
    let loaded = SimConfig::load_yaml_str(text).map_err(|e| bad(&e))?;
    let mut notes: Vec<String> = loaded.decisions.iter().map(ToString::to_string).collect();
    let mut config = loaded.config;
    let cap = match config.max_requests {
        Some(n) if n <= SIM_MAX_REQUESTS => n,
        other => {
            notes.push(format!(
                "max_requests {} capped at {SIM_MAX_REQUESTS} for the web page; run `llm-perf simulate` for more",
                other.map_or_else(|| "(unset)".to_owned(), |n| n.to_string())
            ));
            SIM_MAX_REQUESTS
        }
    };
    config.max_requests = Some(cap);
    let sim = Simulation::new(config).map_err(|e| bad(&e))?;
    let mut requests = Vec::new();
    let mut steps = Vec::new();
    let summary = sim
        .run_with(
            &mut requests,
            RunOptions {
                steps: Some(Box::new(&mut steps)),
                ..RunOptions::default()
            },
        )
        .map_err(|e| bad(&e))?;
    let latencies = read_requests_csv(&requests, "requests.csv").map_err(|e| bad(&e))?;
    let step_rows = read_steps_csv(&steps, "steps.csv").map_err(|e| bad(&e))?;
    let mut charts = latency_cdfs(&latencies);
    charts.extend(step_charts(&step_rows));
    Ok(SimulationRun {
        summary,
        charts,
        notes,
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// `POST /api/simulate`: body = the config text.
pub(super) async fn simulate(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::unprocessable(format!("the config is not UTF-8 text: {e}")))?;
    // CPU-bound like a fit: share the fit slots so simulations cannot starve the server.
    let permit = std::sync::Arc::clone(&state.fits)
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(format!("work queue closed: {e}")))?;
    let run = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        simulate_text(&text)
    })
    .await
    .map_err(|e| ApiError::internal(format!("simulation task failed: {e}")))??;
    Ok(json_response(StatusCode::OK, &run))
}

#[derive(Template)]
#[template(path = "tune.html")]
struct TunePage {
    layout: Layout,
}

/// `GET /tune`.
pub(super) async fn tune_page(State(state): State<AppState>) -> Response {
    html(&TunePage {
        layout: Layout::new(&state, "Tune", "tune"),
    })
}

/// What a tuning run's results show.
#[derive(Debug, Serialize)]
pub struct TuneSummary {
    /// Evaluations read.
    pub records: usize,
    /// Iterations.
    pub iterations: usize,
    /// Records on the Pareto front.
    pub pareto: usize,
    /// The lowest-cost record.
    pub best: Option<llm_perf::pso::Record>,
    /// Convergence and Pareto charts.
    pub charts: Vec<Chart>,
}

/// Reads a `results.jsonl` and charts it.
///
/// # Errors
/// [`ServerError::Unprocessable`] naming the line that is not a record, or an empty file.
pub fn tune_summary(text: &str, file: &str) -> Result<TuneSummary, ServerError> {
    let records = read_results_jsonl(text, file).map_err(ServerError::Unprocessable)?;
    if records.is_empty() {
        return Err(ServerError::Unprocessable(format!(
            "{file}: no tuning record (one JSON object per line, as `llm-perf tune --out` writes)"
        )));
    }
    Ok(tune_summary_of(&records))
}

/// The summary and charts of tuning records (as a tuner returns them).
#[must_use]
pub fn tune_summary_of(records: &[llm_perf::pso::Record]) -> TuneSummary {
    let charts = tune_charts(records);
    TuneSummary {
        records: records.len(),
        iterations: records.iter().map(|r| r.iteration).max().unwrap_or(0) + 1,
        pareto: llm_perf::pso::pareto_front(records).len(),
        best: best(records).cloned(),
        charts,
    }
}

/// Query of `POST /api/tune/results`.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct TuneQuery {
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/tune/results[?name=]`: body = `results.jsonl`.
pub(super) async fn tune_results(
    query: Result<axum::extract::Query<TuneQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(q) = query?;
    let body = body?;
    let name = q.name.unwrap_or_else(|| "results.jsonl".to_owned());
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::unprocessable(format!("{name}: not UTF-8 text: {e}")))?;
    let summary = tokio::task::spawn_blocking(move || tune_summary(&text, &name))
        .await
        .map_err(|e| ApiError::internal(format!("tune task failed: {e}")))??;
    Ok(json_response(StatusCode::OK, &summary))
}
