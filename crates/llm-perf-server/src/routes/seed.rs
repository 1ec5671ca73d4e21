//! The seed services' routes: the model-trainer's `POST /train` and the queue-analysis
//! service's `POST /solve`, `/target` and `/optimize`, with their request and response
//! formats unchanged; and `GET /healthz`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use llm_perf::fit::{FitError, Loss, SeedResponse, points_from_datasets};
use llm_perf::model::Error as ModelError;
use llm_perf::readers::{ReadError, ReadOptions, SelectOptions, TimeUnit, read_inferno};
use serde::Deserialize;

use super::{ApiError, blocking, json_response};
use crate::seed_api::{self, Problem, ProblemError, QueueSettings, TrainerChoice, parse_problem};
use crate::state::AppState;

/// Name under which a request body appears in reader error messages.
const BODY: &str = "request body";

pub(super) async fn health() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Query of `POST /train`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrainQuery {
    /// One Nelder–Mead run exactly as the Go trainer (default: improved multistart).
    seed_compatible: Option<bool>,
    /// Initial `α,β,γ` (default: `1,0,0` when seed-compatible, as upstream `/train`; else the
    /// trainer's `1,0.01,1e-4`).
    init: Option<String>,
    /// The data set's times are in seconds (the `qm_*` samples), not ms.
    seconds: Option<bool>,
}

fn parse_init(text: &str) -> Result<[f64; 3], ApiError> {
    let values: Vec<&str> = text.split(',').map(str::trim).collect();
    let [a, b, g] = values[..] else {
        return Err(ApiError::bad_request(format!(
            "query `init` takes three comma-separated values alpha,beta,gamma, got `{text}`"
        )));
    };
    let mut out = [0.0; 3];
    for ((slot, value), name) in out
        .iter_mut()
        .zip([a, b, g])
        .zip(["alpha", "beta", "gamma"])
    {
        match value.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => *slot = v,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "query `init`: initial {name} must be a finite number >= 0, got `{value}`"
                )));
            }
        }
    }
    Ok(out)
}

/// `POST /train`: fits α, β, γ to the DataSet body and answers with the model-trainer's
/// response `{"OptimizedParms", "AnalysisResults"}`.
pub(super) async fn train(
    State(state): State<AppState>,
    query: Result<Query<TrainQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let options = &state.options;
    let Query(query) = query?;
    let body = body?;
    let seed_compatible = query.seed_compatible.unwrap_or(false);
    let init = match (&query.init, seed_compatible) {
        (Some(text), _) => parse_init(text)?,
        // The upstream handler's hard-coded start.
        (None, true) => [1.0, 0.0, 0.0],
        (None, false) => [1.0, 0.01, 1e-4],
    };
    let choice = TrainerChoice {
        model: options.queue.model,
        loss: Loss::RelativeSquared,
        init,
        scaled: true,
        seed_compatible,
        multistart: 8,
        seed: 0,
        arithmetic: options.train_arithmetic,
    };
    let unit = if query.seconds.unwrap_or(false) {
        TimeUnit::Seconds
    } else {
        TimeUnit::Milliseconds
    };
    // Fits are CPU-bound: at most `max_concurrent_fits` at once, the rest queue here.
    let permit = Arc::clone(&state.fits)
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(format!("fit queue closed: {e}")))?;
    let response = blocking(move || {
        let _permit = permit;
        train_body(&body, &choice, unit)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &response))
}

/// Reads and fits a DataSet body.
fn train_body(
    body: &[u8],
    choice: &TrainerChoice,
    unit: TimeUnit,
) -> Result<SeedResponse, ApiError> {
    let opts = ReadOptions {
        select: SelectOptions::all(),
        inferno_time_unit: unit,
    };
    let dataset = read_inferno(body, BODY, &opts).map_err(|e| read_error(&e))?;
    if dataset.points.is_empty() {
        return Err(ApiError::unprocessable(
            "degenerate data set: `data` holds no data points",
        ));
    }
    let points = points_from_datasets(std::slice::from_ref(&dataset)).map_err(|e| fit_error(&e))?;
    let trainer = choice.trainer().map_err(|e| fit_error(&e))?;
    let fitted = trainer.fit(&points).map_err(|e| fit_error(&e))?;
    Ok(fitted.seed_response())
}

/// A body that is not a DataSet is a binding error (400); one whose values fail validation is
/// a degenerate data set (422).
fn read_error(e: &ReadError) -> ApiError {
    match e {
        ReadError::Invalid { .. } | ReadError::NoPoints { .. } => {
            ApiError::unprocessable(format!("invalid data set: {e}"))
        }
        _ => ApiError::bad_request(format!("binding error: {e}")),
    }
}

/// Data the model cannot be fitted to is 422; a bad setting 400; the rest 500 (as upstream's
/// "optimization failed").
fn fit_error(e: &FitError) -> ApiError {
    match e {
        FitError::InvalidPoint { .. }
        | FitError::NotEnoughPoints { .. }
        | FitError::Degenerate(_) => ApiError::unprocessable(format!("degenerate data set: {e}")),
        FitError::InvalidParam { .. } => ApiError::bad_request(e.to_string()),
        _ => ApiError::internal(format!("optimization failed: {e}")),
    }
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

/// A load or target the model cannot meet is 422; any other error is about the body (400).
fn queue_error(e: &ProblemError) -> ApiError {
    let message = e.to_string();
    match e {
        ProblemError::Model(
            ModelError::RateAboveCapacity { .. } | ModelError::TargetUnreachable { .. },
        ) => ApiError::unprocessable(message),
        _ => ApiError::bad_request(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_parses_and_rejects() {
        let init = parse_init("1, 0,0.5").unwrap();
        assert!(
            init.iter()
                .zip([1.0, 0.0, 0.5])
                .all(|(a, b)| (a - b).abs() < 1e-12)
        );
        assert!(parse_init("1,0").is_err());
        assert!(parse_init("1,-1,0").unwrap_err().message.contains("beta"));
        assert!(parse_init("1,NaN,0").is_err());
    }

    #[test]
    fn empty_data_is_unprocessable() {
        let choice = TrainerChoice {
            model: llm_perf::model::inferno::QueueModel::V7,
            loss: Loss::RelativeSquared,
            init: [1.0, 0.01, 1e-4],
            scaled: true,
            seed_compatible: false,
            multistart: 8,
            seed: 0,
            arithmetic: None,
        };
        let err = train_body(
            br#"{"name":"x","data":[]}"#,
            &choice,
            TimeUnit::Milliseconds,
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{err:?}");
        let err = train_body(b"{\"name\":", &choice, TimeUnit::Milliseconds).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{err:?}");
        assert!(err.message.starts_with("binding error: "), "{err:?}");
    }
}
