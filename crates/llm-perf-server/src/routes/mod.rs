//! The router: every route, the JSON error shape, request logging and limits.

mod benchmarks;
pub(crate) mod derived;
mod seed;
mod train;

use std::time::Instant;

use axum::Router;
use axum::body::HttpBody;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{cross_origin_protection, require_write_access};
use crate::error::ServerError;
use crate::state::AppState;

/// Every route (see the crate docs for the table), with request logging, the body limit of
/// the options, a JSON 404 for unknown paths (an HTML page for a browser asking for a page
/// outside `/api/`) and a JSON body on every error, a wrong method's 405 included.
pub fn router(state: AppState) -> Router {
    // Routes that change the store: behind the token / read-only check.
    let writes = Router::new()
        .route("/api/benchmarks/upload", post(benchmarks::upload))
        .route(
            "/api/benchmarks/benchmarks/{id}",
            delete(benchmarks::remove),
        )
        .route("/api/benchmarks/benchmarks/{id}/fit", post(derived::fit))
        .route(
            "/api/benchmarks/modeling/regression",
            post(derived::save_regression),
        )
        .route("/api/predictors", post(derived::upload_predictor))
        .route("/api/derived/{id}", delete(derived::remove))
        .route("/api/uploads/{id}", delete(benchmarks::remove_upload))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_write_access,
        ));
    let reads = Router::new()
        .route("/train", post(train::train))
        .route("/solve", post(seed::solve))
        .route("/target", post(seed::target))
        .route("/optimize", post(seed::optimize))
        .route("/healthz", get(seed::health))
        .route("/api/store", get(derived::store_info))
        .route("/api/benchmarks/models", get(benchmarks::models))
        .route(
            "/api/benchmarks/models/{model}/benchmarks",
            get(benchmarks::of_model),
        )
        .route("/api/benchmarks/benchmarks", get(benchmarks::all))
        .route("/api/uploads", get(benchmarks::uploads))
        .route("/api/uploads/{id}/content", get(benchmarks::upload_content))
        .route("/api/benchmarks/benchmarks/{id}", get(benchmarks::one))
        .route(
            "/api/benchmarks/modeling/models",
            get(benchmarks::modeling_models),
        )
        .route(
            "/api/benchmarks/modeling/predict",
            post(benchmarks::predict),
        )
        .route("/api/benchmarks/modeling/export", post(benchmarks::export))
        .route("/api/predictors", get(derived::predictors))
        .route("/api/derived", get(derived::list))
        .route("/api/derived/{id}", get(derived::one))
        .route("/api/derived/{id}/size", post(derived::size));
    let max_body = state.options.max_body_bytes;
    let app = reads
        .merge(writes)
        .merge(crate::pages::pages())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(cross_origin_protection))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(log_request))
        .with_state(state);
    // `Router::layer` wraps each route, inside the method routing that answers a wrong method
    // with an empty 405 and adds `Allow` afterwards; wrapped around the whole router, the
    // JSON rewrite sees the finished answer.
    Router::new()
        .fallback_service(app)
        .layer(middleware::from_fn(json_error_bodies))
}

/// An error answer: a status and `{"message": …}` (plus fields some errors add).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    /// An answer with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            extra: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        let status = e.status();
        if status.is_server_error() {
            // The cause goes to the log; the client gets a generic line.
            tracing::error!("{e}");
            return Self::new(status, format!("internal error: {e}"));
        }
        let mut out = Self::new(status, e.to_string());
        if let ServerError::Duplicate(d) = &e {
            let mut extra = serde_json::Map::new();
            extra.insert("duplicate".into(), true.into());
            extra.insert("upload_id".into(), d.upload_id.into());
            extra.insert("benchmark_ids".into(), d.benchmark_ids.clone().into());
            out.extra = Some(extra);
        }
        out
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    /// A body the extractor could not read (too large, connection lost): its own status.
    fn from(e: BytesRejection) -> Self {
        Self::new(e.status(), format!("binding error: {}", e.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.extra.unwrap_or_default();
        body.insert("message".into(), self.message.into());
        json_response(self.status, &body)
    }
}

/// `value` as a JSON response. Serialised to text directly (not through `serde_json::Value`)
/// so float32 numbers keep their shortest float32 form.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
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

/// A JSON body, whatever its `Content-Type` (as the seed routes take it, so `curl -d` works):
/// 400 naming the line, column and problem when it does not parse into `T`.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body?;
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid JSON body at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// An id from the path: a positive integer, else 404 (as an unknown id would be).
pub(crate) fn parse_id(text: &str, what: &'static str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ServerError::NotFound {
                what,
                id: text.to_owned(),
            }
            .into()
        })
}

/// Runs CPU-bound `work` on the blocking pool; a panic there becomes a 500.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!("handler failed: {e}");
        Err(ApiError::internal(format!("internal error: {e}")))
    })
}

/// A handler that panicked (a bug): 500 with a JSON message, and the server goes on.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!("handler panicked: {detail}");
    ApiError::internal("internal error: the handler panicked (see the server log)").into_response()
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

/// An unknown path: 404 with a JSON message; a browser asking for an HTML page outside
/// `/api/` gets the workbench's HTML 404 instead.
async fn not_found(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    let error = ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route for {} {path}; see GET /api/store and the route table in docs/server.md",
            request.method(),
        ),
    );
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && *request.method() == Method::GET && !path.starts_with("/api/") {
        return crate::pages::error_page(
            &state,
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("There is no page at {path}."),
            ),
        );
    }
    error.into_response()
}

/// Gives every error answer without a body a JSON `{"message": …}` (axum answers a wrong
/// method with an empty 405): the message names the method and path, and for a 405 the
/// methods the path takes. The other headers (`Allow` above all) are kept.
async fn json_error_bodies(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error
        || response.headers().contains_key(header::CONTENT_TYPE)
        || response.body().size_hint().exact() != Some(0)
    {
        return response;
    }
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(", ");
        format!("method {method} is not allowed on {path}; allowed: {allow}")
    } else {
        format!(
            "{method} {path}: {}",
            status.canonical_reason().unwrap_or("error")
        )
    };
    let mut out = ApiError::new(status, message).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}
