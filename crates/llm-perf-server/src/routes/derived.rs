//! What only llm-perf does on stored data: fit the Inferno model to a stored sweep, size
//! replicas from a stored fit, keep a model's regression and predictor files.

use std::path::Path as FsPath;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use llm_perf::fit::{DEFAULT_MAX_BATCH_SIZE, Loss, points_from_datasets};
use llm_perf::model::inferno::QueueModel;
use llm_perf::predict::together::{BenchmarkStore, metric_names};
use llm_perf::predict::{PredictorFile, VidurFile};
use serde::Deserialize;

use super::{ApiError, blocking, json_body, json_response, parse_id};
use crate::error::ServerError;
use crate::seed_api::{Problem, TrainerChoice, sizing};
use crate::state::AppState;
use crate::store::{self, DerivedKind};

/// `GET /api/store`: where the database is, its schema version and row counts.
pub(super) async fn store_info(State(state): State<AppState>) -> Result<Response, ApiError> {
    let location = state.store.location().to_owned();
    let (counts, version) = state
        .store
        .call(|c| {
            let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((store::counts(c)?, v))
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({
            "database": location,
            "schema_version": version,
            "counts": counts,
            "read_only": state.options.read_only,
            "auth": state.options.token.is_some(),
            "version": llm_perf::VERSION,
        }),
    ))
}

/// Body of `POST /api/benchmarks/benchmarks/{id}/fit` (every field optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FitBody {
    /// `v3`, `v6` or `v7` (default: the server's `--model`).
    #[serde(default)]
    model: Option<String>,
    /// One Nelder–Mead run as the Go trainer (default: multistart).
    #[serde(default)]
    seed_compatible: bool,
    /// Name of the stored fit (default: `<benchmark name> (<model>)`).
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/benchmarks/benchmarks/{id}/fit`: fits α, β, γ to the benchmark's points
/// (each needs a rate, TTFT and ITL means and the max batch size), stores the fit as a
/// derived model and answers `{"derived_id", "alpha", "beta", "gamma", "fit"}` (201).
pub(super) async fn fit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "benchmark")?;
    let body = body?;
    // An empty body takes every default.
    let body: FitBody = if body.iter().all(u8::is_ascii_whitespace) {
        FitBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?
    };
    let queue_model = match body.model.as_deref() {
        None => state.options.queue.model,
        Some(text) => text.parse::<QueueModel>().map_err(|_| {
            ApiError::from(ServerError::invalid("model", text, "expected v3, v6 or v7"))
        })?,
    };
    let dataset = state.store.call(move |c| store::dataset(c, id)).await?;
    let choice = TrainerChoice {
        model: queue_model,
        loss: Loss::RelativeSquared,
        init: if body.seed_compatible {
            [1.0, 0.0, 0.0]
        } else {
            [1.0, 0.01, 1e-4]
        },
        scaled: true,
        seed_compatible: body.seed_compatible,
        multistart: 8,
        seed: 0,
        arithmetic: state.options.train_arithmetic,
    };
    let permit = std::sync::Arc::clone(&state.fits)
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(format!("fit queue closed: {e}")))?;
    let ds = dataset.clone();
    let fitted = blocking(move || {
        let _permit = permit;
        let points = points_from_datasets(std::slice::from_ref(&ds))
            .map_err(|e| ApiError::from(ServerError::from(e)))?;
        let trainer = choice
            .trainer()
            .map_err(|e| ApiError::from(ServerError::from(e)))?;
        trainer
            .fit(&points)
            .map_err(|e| ApiError::from(ServerError::from(e)))
    })
    .await?;
    let model = dataset.meta.model.clone().unwrap_or_default();
    let name = body
        .name
        .unwrap_or_else(|| format!("{} ({queue_model})", dataset.name));
    let content = serde_json::to_value(&fitted)
        .map_err(|e| ApiError::internal(format!("cannot serialise the fit: {e}")))?;
    let stored = content.clone();
    let derived_id = state
        .store
        .call(move |c| {
            store::insert_derived(c, &model, DerivedKind::InfernoFit, &name, Some(id), &stored)
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({
            "derived_id": derived_id,
            "benchmark_id": id,
            "alpha": fitted.alpha(),
            "beta": fitted.beta(),
            "gamma": fitted.gamma(),
            "fit": content,
        }),
    ))
}

/// Body of `POST /api/derived/{id}/size`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SizeBody {
    /// Total load to serve, req/s: the answer adds `replicas` and `perReplicaRPS`.
    #[serde(default)]
    pub total_rate: Option<f64>,
    /// Mean TTFT target, ms.
    #[serde(default)]
    pub target_ttft: Option<f64>,
    /// Mean ITL target, ms.
    #[serde(default)]
    pub target_itl: Option<f64>,
    /// Mean input tokens (default: the mean over the fitted benchmark's points).
    #[serde(default)]
    pub input_tokens: Option<f64>,
    /// Mean output tokens (default: as input).
    #[serde(default)]
    pub output_tokens: Option<f64>,
    /// Max batch size (default: the largest of the fitted benchmark's points, else the fit's
    /// own default, 256).
    #[serde(default)]
    pub max_batch: Option<u32>,
}

/// `POST /api/derived/{id}/size`: the max rate per replica under the targets and the
/// replicas for `total_rate`, from a stored Inferno fit (the `/target` answer).
pub(super) async fn size(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "derived model")?;
    let body: SizeBody = json_body(body)?;
    let fit = load_fit(&state, id).await?;
    let (problem, settings) = fit.problem(&body, &state.options.queue)?;
    let total = body.total_rate;
    let data = blocking(move || {
        let (sizing, plan) = sizing(&problem, settings, total).map_err(|e| match e {
            crate::seed_api::ProblemError::Model(m) => ApiError::unprocessable(m.to_string()),
            other => ApiError::bad_request(other.to_string()),
        })?;
        Ok(settings.sizing_data(&sizing, plan.as_ref()))
    })
    .await?;
    Ok(json_response(StatusCode::OK, &data))
}

/// A stored Inferno fit with the points of the sweep it was fitted to.
pub(crate) struct StoredFit {
    /// The derived model.
    pub derived: crate::store::DerivedModel,
    /// The sweep's points (empty when the benchmark was deleted since).
    pub points: Vec<crate::store::PointRecord>,
}

/// Loads derived model `id`, which must be an Inferno fit.
pub(crate) async fn load_fit(state: &AppState, id: i64) -> Result<StoredFit, ServerError> {
    let (derived, points) = state
        .store
        .call(move |c| {
            let d = store::derived(c, id)?;
            let points = match d.summary.benchmark_id {
                Some(b) => store::benchmark(c, b)?.points,
                None => Vec::new(),
            };
            Ok((d, points))
        })
        .await?;
    if derived.summary.kind != DerivedKind::InfernoFit.as_str() {
        return Err(ServerError::invalid(
            "id",
            id,
            format!(
                "derived model {id} is a {}, not an inferno-fit",
                derived.summary.kind
            ),
        ));
    }
    Ok(StoredFit { derived, points })
}

impl StoredFit {
    /// The fitted α, β, γ, if the content has them.
    pub(crate) fn param(&self, key: &str) -> Option<f64> {
        self.derived
            .content
            .get(key)
            .and_then(serde_json::Value::as_f64)
    }

    /// The queue-analysis problem of this fit under `body`'s targets and shape (defaults:
    /// the sweep's mean tokens and largest max batch), and the fit's model generation.
    pub(crate) fn problem(
        &self,
        body: &SizeBody,
        defaults: &crate::seed_api::QueueSettings,
    ) -> Result<(Problem, crate::seed_api::QueueSettings), ServerError> {
        let points = &self.points;
        let mean = |f: fn(&crate::store::ParsedPoint) -> f64| {
            (!points.is_empty())
                .then(|| points.iter().map(|p| f(&p.point)).sum::<f64>() / points.len() as f64)
        };
        let problem = Problem {
            rate: None,
            max_batch: body.max_batch.or_else(|| {
                points
                    .iter()
                    .filter_map(|p| p.point.max_batch_size)
                    .max()
                    .or(Some(DEFAULT_MAX_BATCH_SIZE))
            }),
            max_queue: None,
            input_tokens: body.input_tokens.or_else(|| mean(|p| p.input_tokens)),
            output_tokens: body.output_tokens.or_else(|| mean(|p| p.output_tokens)),
            alpha: self.param("alpha"),
            beta: self.param("beta"),
            gamma: self.param("gamma"),
            max_num_tokens: None,
            target_ttft: body.target_ttft,
            target_itl: body.target_itl,
            target_tps: None,
        };
        problem
            .validate_rest(false)
            .map_err(|e| ServerError::invalid("fit", "", e.to_string()))?;
        if let Some(t) = body.total_rate
            && !(t.is_finite() && t > 0.0)
        {
            return Err(ServerError::invalid(
                "total_rate",
                t,
                "must be a finite number > 0",
            ));
        }
        let settings = crate::seed_api::QueueSettings {
            model: self
                .derived
                .content
                .get("model")
                .and_then(serde_json::Value::as_str)
                .and_then(|m| m.parse().ok())
                .unwrap_or(defaults.model),
            arithmetic: defaults.arithmetic,
        };
        Ok((problem, settings))
    }
}

/// Body of `POST /api/benchmarks/modeling/regression`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegressionBody {
    model: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/benchmarks/modeling/regression`: stores the model's regression as it stands
/// (R² of the linear and quadratic TTFT fits, and the linear fit `a + b·in + c·out` of every
/// metric the points have), 201 with the derived model.
pub(super) async fn save_regression(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: RegressionBody = json_body(body)?;
    let model = body.model.clone();
    let rows = state
        .store
        .call(move |c| store::together_rows(c, &model))
        .await?;
    let model = body.model.clone();
    let content = blocking(move || {
        let points = rows.len();
        let mut regression = BenchmarkStore::new();
        regression.add_rows(rows);
        let quality = regression
            .ttft_r_squared(&model)
            .map_err(|e| ApiError::from(ServerError::from(e)))?;
        let mut linear = serde_json::Map::new();
        for metric in metric_names() {
            if let Ok(fit) = regression.linear_fit(&model, &metric) {
                linear.insert(
                    metric,
                    serde_json::to_value(fit).map_err(|e| ApiError::internal(e.to_string()))?,
                );
            }
        }
        Ok(serde_json::json!({
            "rows": points,
            "ttft_r_squared": quality,
            "linear": linear,
        }))
    })
    .await?;
    let name = body.name.unwrap_or_else(|| "regression".to_owned());
    let model = body.model;
    let stored = content.clone();
    let id = state
        .store
        .call(move |c| {
            store::insert_derived(
                c,
                &model,
                DerivedKind::TogetherRegression,
                &name,
                None,
                &stored,
            )
        })
        .await?;
    let derived = state.store.call(move |c| store::derived(c, id)).await?;
    Ok(json_response(StatusCode::CREATED, &derived))
}

/// Query of `POST /api/predictors`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PredictorQuery {
    /// The model the predictors are for.
    model: String,
    /// Name (default: `predictors`).
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/predictors?model=M&name=N`: stores a predictor file (`llm-perf predict train`
/// output, step or Vidur envelope) after reading it; 201 with its id and configurations.
pub(super) async fn upload_predictor(
    State(state): State<AppState>,
    query: Result<Query<PredictorQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let body = body?;
    let name = query.name.unwrap_or_else(|| "predictors".to_owned());
    let shown = name.clone();
    let (content, configs) = blocking(move || {
        let text = std::str::from_utf8(&body)
            .map_err(|e| ApiError::unprocessable(format!("{shown}: not UTF-8 text: {e}")))?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ApiError::unprocessable(format!(
                "{shown}: malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let path = FsPath::new(&shown);
        let is_vidur =
            value.get("format").and_then(serde_json::Value::as_str) == Some(VidurFile::FORMAT);
        let configs: Vec<String> = if is_vidur {
            VidurFile::from_json_str(text, path)
                .map_err(|e| ApiError::from(ServerError::from(e)))?
                .configs
                .into_keys()
                .collect()
        } else {
            PredictorFile::from_json_str(text, path)
                .map_err(|e| ApiError::from(ServerError::from(e)))?
                .configs
                .into_keys()
                .collect()
        };
        Ok((value, configs))
    })
    .await?;
    let model = query.model;
    let id = state
        .store
        .call(move |c| {
            store::insert_derived(c, &model, DerivedKind::Predictor, &name, None, &content)
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "id": id, "configs": configs }),
    ))
}

/// `GET /api/predictors`: stored predictor files (without content).
pub(super) async fn predictors(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state
        .store
        .call(|c| store::derived_list(c, None, Some(DerivedKind::Predictor.as_str())))
        .await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// Query of `GET /api/derived`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    model: Option<String>,
    kind: Option<String>,
}

/// `GET /api/derived[?model=M][&kind=K]`.
pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    if let Some(kind) = &q.kind {
        kind.parse::<DerivedKind>().map_err(ApiError::from)?;
    }
    let list = state
        .store
        .call(move |c| store::derived_list(c, q.model.as_deref(), q.kind.as_deref()))
        .await?;
    Ok(json_response(StatusCode::OK, &list))
}

/// `GET /api/derived/{id}`: with its content.
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "derived model")?;
    let d = state.store.call(move |c| store::derived(c, id)).await?;
    Ok(json_response(StatusCode::OK, &d))
}

/// `DELETE /api/derived/{id}`.
pub(super) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "derived model")?;
    state
        .store
        .call(move |c| store::delete_derived(c, id))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "success": true }),
    ))
}
