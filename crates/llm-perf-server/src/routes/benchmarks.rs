//! The Benchmark Modeling Tool's API (`/api/benchmarks/…`), same paths and JSON shapes, on
//! the SQLite store and with any format the readers detect.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use llm_perf::predict::together::{BenchmarkStore, EstimateQuery, Method};
use serde::Deserialize;

use super::{ApiError, blocking, json_body, json_response, parse_id};
use crate::error::ServerError;
use crate::export::prediction_csv;
use crate::state::AppState;
use crate::store::{self, UploadRequest, parse_upload};

/// Query of a raw-body upload (the page's `fetch` sends the file as the body).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadQuery {
    /// File name (used for messages and format hints).
    name: Option<String>,
    /// Model, when the file names none.
    model: Option<String>,
    /// Accelerator, when the file names none.
    accelerator: Option<String>,
    /// Engine, when the file names none.
    engine: Option<String>,
}

/// `POST /api/benchmarks/upload`: multipart (field `file`, optional `model`, `accelerator`,
/// `engine`) as the seed tool takes it, or the raw file as the body with
/// `?name=&model=&accelerator=&engine=`. 201 with what was stored; 409 for bytes stored
/// already; 422 with the reader's message (nothing stored).
pub(super) async fn upload(
    State(state): State<AppState>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = state.options.max_body_bytes;
    let too_large = |e: ApiError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the upload is larger than this server's limit of {} (llm-perf serve --max-body-mib)",
                    human_bytes(limit)
                ),
            )
        } else {
            e
        }
    };
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut upload = UploadRequest {
        file_name: query.name.unwrap_or_default(),
        bytes: Vec::new(),
        model: query.model,
        accelerator: query.accelerator,
        engine: query.engine,
    };
    if is_multipart {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| too_large(ApiError::new(e.status(), e.body_text())))?;
        let mut saw_file = false;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| too_large(ApiError::new(e.status(), e.body_text())))?
        {
            let name = field.name().unwrap_or("").to_owned();
            match name.as_str() {
                "file" => {
                    if let Some(f) = field.file_name() {
                        upload.file_name = f.to_owned();
                    }
                    upload.bytes = field
                        .bytes()
                        .await
                        .map_err(|e| too_large(ApiError::new(e.status(), e.body_text())))?
                        .to_vec();
                    saw_file = true;
                }
                "model" | "accelerator" | "engine" => {
                    let text = field
                        .text()
                        .await
                        .map_err(|e| too_large(ApiError::new(e.status(), e.body_text())))?;
                    let value = Some(text).filter(|t| !t.trim().is_empty());
                    match name.as_str() {
                        "model" => upload.model = value.or(upload.model),
                        "accelerator" => upload.accelerator = value.or(upload.accelerator),
                        _ => upload.engine = value.or(upload.engine),
                    }
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown form field `{other}`; expected file, model, accelerator, engine"
                    )));
                }
            }
        }
        if !saw_file {
            return Err(ApiError::bad_request("no `file` field in the form"));
        }
    } else {
        upload.bytes = Bytes::from_request(request, &state)
            .await
            .map_err(|e| too_large(e.into()))?
            .to_vec();
    }
    let parsed = blocking(move || parse_upload(upload).map_err(ApiError::from)).await?;
    let stored = state
        .store
        .call(move |c| store::insert_upload(c, &parsed))
        .await?;
    tracing::info!(
        upload = stored.upload_id,
        file = %stored.file_name,
        format = %stored.format,
        points = stored.points,
        "stored"
    );
    let body = serde_json::json!({
        "success": true,
        "kind": stored.kind,
        "summary": stored.summary,
        "benchmark_id": stored.benchmarks.first().map(|b| b.benchmark_id),
        "rows_inserted": stored.points,
        "upload_id": stored.upload_id,
        "file_name": stored.file_name,
        "format": stored.format,
        "sha256": stored.sha256,
        "benchmarks": stored.benchmarks,
        "warnings": stored.warnings,
    });
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `n` bytes as MiB or KiB.
fn human_bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// `GET /api/benchmarks/models`.
pub(super) async fn models(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.call(|c| store::models(c)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `GET /api/benchmarks/models/{model}/benchmarks` (404 for a model with none).
pub(super) async fn of_model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Response, ApiError> {
    let list = state
        .store
        .call(move |c| store::benchmarks_of(c, &model))
        .await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `GET /api/benchmarks/benchmarks`: every benchmark.
pub(super) async fn all(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.call(|c| store::all_benchmarks(c)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `GET /api/benchmarks/benchmarks/{id}`: the benchmark and its points with every statistic.
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "benchmark")?;
    let detail = state.store.call(move |c| store::benchmark(c, id)).await?;
    Ok(json_response(StatusCode::OK, &detail))
}

/// `DELETE /api/benchmarks/benchmarks/{id}`: `{"success": true, "deleted": points}`.
pub(super) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "benchmark")?;
    let deleted = state
        .store
        .call(move |c| store::delete_benchmark(c, id))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "success": true, "deleted": deleted }),
    ))
}

/// `GET /api/uploads`: every stored file (benchmarks, traces, profiles, documents).
pub(super) async fn uploads(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.call(|c| store::uploads(c)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `GET /api/uploads/{id}/content`: the file as uploaded.
pub(super) async fn upload_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "upload")?;
    let (name, _format, bytes) = state
        .store
        .call(move |c| store::upload_content(c, id))
        .await?;
    let stem = crate::export::safe_file_stem(
        std::path::Path::new(&name)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload"),
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `DELETE /api/uploads/{id}`: the file with its benchmarks.
pub(super) async fn remove_upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "upload")?;
    let deleted = state
        .store
        .call(move |c| store::delete_upload(c, id))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "success": true, "deleted": deleted }),
    ))
}

/// `GET /api/benchmarks/modeling/models`: models with at least two points of different
/// (input, output) shapes.
pub(super) async fn modeling_models(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.call(|c| store::modeling_models(c)).await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// Body of `POST /api/benchmarks/modeling/predict`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PredictBody {
    model: String,
    input_tokens: f64,
    output_tokens: f64,
    #[serde(default)]
    traffic_level: Option<f64>,
    #[serde(default)]
    method: Option<Method>,
}

/// `POST /api/benchmarks/modeling/predict`: the Together regression over every stored point
/// of the model; the answer is what `llm-perf estimate --json` prints for the same files.
pub(super) async fn predict(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: PredictBody = json_body(body)?;
    for (field, v) in [
        ("input_tokens", body.input_tokens),
        ("output_tokens", body.output_tokens),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(ServerError::invalid(field, v, "must be a finite number > 0").into());
        }
    }
    if let Some(t) = body.traffic_level
        && !(t.is_finite() && t > 0.0)
    {
        return Err(ServerError::invalid("traffic_level", t, "must be a finite number > 0").into());
    }
    let model = body.model.clone();
    let rows = state
        .store
        .call(move |c| store::together_rows(c, &model))
        .await?;
    let estimate = blocking(move || {
        let mut regression = BenchmarkStore::new();
        regression.add_rows(rows);
        let query = EstimateQuery {
            input_tokens: body.input_tokens,
            output_tokens: body.output_tokens,
            traffic_level: body.traffic_level,
            method: body.method.unwrap_or_default(),
        };
        regression
            .estimate(&body.model, &query)
            .map_err(|e| ApiError::from(ServerError::from(e)))
    })
    .await?;
    Ok(json_response(StatusCode::OK, &estimate))
}

/// Body of `POST /api/benchmarks/modeling/export`: a predict answer under `result`.
#[derive(Debug, Deserialize)]
pub(super) struct ExportBody {
    result: crate::export::PredictionResult,
}

/// `POST /api/benchmarks/modeling/export`: the prediction as a one-row CSV in the upload
/// schema (`provider_name` "predicted", `traffic_mode` "prediction").
pub(super) async fn export(body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body: ExportBody = json_body(body)?;
    let csv = prediction_csv(&body.result).map_err(ApiError::from)?;
    let file = format!(
        "prediction-{}.csv",
        crate::export::safe_file_stem(&body.result.model)
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        csv,
    )
        .into_response())
}
