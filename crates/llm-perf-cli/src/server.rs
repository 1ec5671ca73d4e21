//! The HTTP routes of `llm-perf serve`: the model-trainer's `POST /train` and the
//! queue-analysis service's `POST /solve`, `/target` and `/optimize`.
//!
//! Every handler turns its input into a response or a JSON error `{"message": …}`; none
//! panics on input, and the CPU-bound work runs in [`tokio::task::spawn_blocking`] so a slow fit
//! does not stall the other connections (a panic there becomes a 500, not a dead server).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use llm_perf::fit::{FitError, Loss, SeedResponse, points_from_datasets};
use llm_perf::model::Error as ModelError;
use llm_perf::model::inferno::Arithmetic;
use llm_perf::readers::{ReadError, ReadOptions, SelectOptions, TimeUnit, read_inferno};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::fit_cmd::TrainerChoice;
use crate::problem::{Problem, parse_problem};
use crate::queue_cmd::{self, QueueSettings};

/// Name under which a request body appears in reader error messages.
const BODY: &str = "request body";

/// What every handler needs: the model and arithmetic chosen on the command line.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Model and arithmetic of the queue routes (and the model of `/train`).
    pub queue: QueueSettings,
    /// Arithmetic of `/train`; `None`: `go` for seed-compatible fits, else `f64`.
    pub train_arithmetic: Option<Arithmetic>,
    /// Fits allowed to run at once (at least 1); further `/train` requests wait for a slot.
    pub max_concurrent_fits: usize,
}

/// The configuration plus the shared state of the handlers.
struct AppState {
    config: ServerConfig,
    fits: Arc<Semaphore>,
}

/// The application: every route, request logging, and a JSON 404 for unknown paths.
pub fn router(config: ServerConfig) -> Router {
    Router::new()
        .route("/train", post(train))
        .route("/solve", post(solve))
        .route("/target", post(target))
        .route("/optimize", post(optimize))
        .route("/healthz", get(health))
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(Arc::new(AppState {
            fits: Arc::new(Semaphore::new(config.max_concurrent_fits.max(1))),
            config,
        }))
}

/// An error response: a status and `{"message": …}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &Message {
                message: &self.message,
            },
        )
    }
}

/// `value` as a JSON response. Serialised to text directly (not through `serde_json::Value`)
/// so float32 numbers keep their shortest float32 form.
fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            format!(
                r#"{{"message":"cannot serialise the response: {}"}}"#,
                e.to_string().replace('"', "'")
            ),
        )
            .into_response(),
    }
}

/// Runs `work` on the blocking pool; a panic there becomes a 500.
async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!("handler failed: {e}");
        Err(ApiError::internal(format!("internal error: {e}")))
    })
}

/// A body the extractor could not read (too large, connection lost): its own status.
fn body_error(rejection: &BytesRejection) -> ApiError {
    ApiError::new(
        rejection.status(),
        format!("binding error: {}", rejection.body_text()),
    )
}

/// Logs method, path, status and duration of every request.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let status = response.status().as_u16();
    if response.status().is_server_error() {
        tracing::warn!(%method, %path, status, ms, "request");
    } else {
        tracing::info!(%method, %path, status, ms, "request");
    }
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {} {}; routes: POST /train, POST /solve, POST /target, POST /optimize, GET /healthz",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn health() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Query of `POST /train`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainQuery {
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
async fn train(
    State(state): State<Arc<AppState>>,
    query: Result<Query<TrainQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let config = &state.config;
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let body = body.map_err(|e| body_error(&e))?;
    let seed_compatible = query.seed_compatible.unwrap_or(false);
    let init = match (&query.init, seed_compatible) {
        (Some(text), _) => parse_init(text)?,
        // The upstream handler's hard-coded start.
        (None, true) => [1.0, 0.0, 0.0],
        (None, false) => [1.0, 0.01, 1e-4],
    };
    let choice = TrainerChoice {
        model: config.queue.model,
        loss: Loss::RelativeSquared,
        init,
        scaled: true,
        seed_compatible,
        multistart: 8,
        seed: 0,
        arithmetic: config.train_arithmetic,
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

async fn solve(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    queue(&state.config, QueueRoute::Solve, body).await
}

async fn target(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    queue(&state.config, QueueRoute::Target, body).await
}

async fn optimize(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    queue(&state.config, QueueRoute::Optimize, body).await
}

async fn queue(
    config: &ServerConfig,
    route: QueueRoute,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| body_error(&e))?;
    let settings = config.queue;
    blocking(move || queue_body(&body, settings, route)).await
}

/// Parses, validates and answers one queue-analysis body: the JSON the CLI prints with
/// `--json`.
fn queue_body(body: &[u8], s: QueueSettings, route: QueueRoute) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
    let problem: Problem =
        parse_problem(text).map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
    problem
        .validate_rest(matches!(route, QueueRoute::Solve))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
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
            let data = queue_cmd::solve_response(&problem, s).map_err(|e| queue_error(&e))?;
            json_response(StatusCode::OK, &data)
        }
        QueueRoute::Target => {
            let data = queue_cmd::target_response(&problem, s).map_err(|e| queue_error(&e))?;
            json_response(StatusCode::OK, &data)
        }
        QueueRoute::Optimize => {
            let data = queue_cmd::optimize_response(&problem, s).map_err(|e| queue_error(&e))?;
            json_response(StatusCode::OK, &data)
        }
    };
    Ok(response)
}

/// A load or target the model cannot meet is 422; any other error is about the body (400).
fn queue_error(e: &anyhow::Error) -> ApiError {
    let message = format!("{e:#}");
    match e.chain().find_map(|c| c.downcast_ref::<ModelError>()) {
        Some(ModelError::RateAboveCapacity { .. } | ModelError::TargetUnreachable { .. }) => {
            ApiError::unprocessable(message)
        }
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
