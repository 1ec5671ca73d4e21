//! The queue-analysis service's routes `POST /solve`, `/target` and `/optimize`, with their
//! request and response formats unchanged, and `GET /healthz`. (The model-trainer's
//! `POST /train` is in `train.rs`.)
//!
//! Errors: 400 for a body that is not a problem (malformed JSON, an unknown key, a value of the
//! wrong JSON type, a missing field or target); 422 for well-formed values the model cannot
//! use (negative, non-finite, a rate above capacity, an unreachable target), naming the REST
//! key.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;

use super::{ApiError, blocking, json_response};
use crate::seed_api::{
    self, Problem, ProblemError, QueueSettings, model_message, parse_problem, rest_key,
};
use crate::state::AppState;

pub(super) async fn health() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// The three queue-analysis routes.
#[derive(Clone, Copy, Debug)]
enum QueueRoute {
    Solve,
    Target,
    Optimize,
}

pub(super) async fn solve(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    queue(&state.options.queue, QueueRoute::Solve, body).await
}

pub(super) async fn target(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    queue(&state.options.queue, QueueRoute::Target, body).await
}

pub(super) async fn optimize(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    queue(&state.options.queue, QueueRoute::Optimize, body).await
}

async fn queue(
    settings: &QueueSettings,
    route: QueueRoute,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let settings = *settings;
    blocking(move || queue_body(&body, settings, route)).await
}

/// Parses, validates and answers one queue-analysis body: the JSON the CLI prints with
/// `--json`.
fn queue_body(body: &[u8], s: QueueSettings, route: QueueRoute) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
    let problem: Problem = parse_problem(text).map_err(|e| queue_error(&e))?;
    problem
        .validate_rest(matches!(route, QueueRoute::Solve))
        .map_err(|e| queue_error(&e))?;
    let has = |v: Option<f64>| v.is_some();
    let latency_target = has(problem.target_ttft) || has(problem.target_itl);
    match route {
        QueueRoute::Target if !latency_target && !has(problem.target_tps) => {
            return Err(ApiError::bad_request(
                "no target: give targetTTFT, targetITL or targetTPS",
            ));
        }
        QueueRoute::Optimize if !latency_target => {
            return Err(ApiError::bad_request(
                "no latency target: give targetTTFT and/or targetITL",
            ));
        }
        _ => {}
    }
    let response = match route {
        QueueRoute::Solve => {
            let data = seed_api::solve_response(&problem, s).map_err(|e| queue_error(&e))?;
            json_response(StatusCode::OK, &data)
        }
        QueueRoute::Target => {
            let data = seed_api::target_response(&problem, s).map_err(|e| queue_error(&e))?;
            json_response(StatusCode::OK, &data)
        }
        QueueRoute::Optimize => {
            let data = seed_api::optimize_response(&problem, s).map_err(|e| queue_error(&e))?;
            json_response(StatusCode::OK, &data)
        }
    };
    Ok(response)
}

/// A body that is not a problem is 400; values the model cannot use (or a load or target it
/// cannot meet) are 422, named by their REST key.
fn queue_error(e: &ProblemError) -> ApiError {
    match e {
        ProblemError::Model(m) => {
            ApiError::unprocessable(model_message(m, |f| rest_key(f).to_owned()))
        }
        ProblemError::Value(message) => ApiError::unprocessable(message.clone()),
        _ => ApiError::bad_request(e.to_string()),
    }
}
