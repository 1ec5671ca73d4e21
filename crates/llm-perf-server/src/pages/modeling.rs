//! The Benchmark Modeling Tool's page: pick a model and a request shape, predict with a
//! confidence, see the fitted surface against the measured points, export a CSV.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use llm_perf::predict::together::{BenchmarkStore, Estimate, EstimateQuery, Method};
use serde::Deserialize;

use super::{ChartView, Layout, chart_views, encode, html, num, optional_positive};
use crate::charts::modeling::modeling_charts;
use crate::error::ServerError;
use crate::export::{PredictionResult, prediction_csv, safe_file_stem};
use crate::routes::ApiError;
use crate::state::AppState;
use crate::store;

/// The form, as the browser sends it (empty fields are empty strings).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ModelingQuery {
    #[serde(default)]
    model: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    output: String,
    #[serde(default)]
    traffic_level: String,
    #[serde(default)]
    method: String,
}

impl ModelingQuery {
    /// The estimate query, or `None` before a model is chosen.
    fn estimate_query(&self) -> Result<Option<EstimateQuery>, ServerError> {
        if self.model.is_empty() {
            return Ok(None);
        }
        let number = optional_positive;
        let need = |field: &str, text: &str| -> Result<f64, ServerError> {
            number(field, text)?
                .ok_or_else(|| ServerError::invalid(field, "(empty)", "give a number > 0"))
        };
        let method = if self.method.is_empty() {
            Method::AutoDetect
        } else {
            self.method
                .parse::<Method>()
                .map_err(|e| ServerError::invalid("method", &self.method, e.to_string()))?
        };
        Ok(Some(EstimateQuery {
            input_tokens: need("input tokens", &self.input)?,
            output_tokens: need("output tokens", &self.output)?,
            traffic_level: number("traffic level", &self.traffic_level)?,
            method,
        }))
    }
}

/// A table cell: metric name, value shown, value in full.
type Cell = (String, String, String);
/// A row of the predictions table: its label and a cell per statistic.
type Family = (&'static str, Vec<Option<Cell>>);
/// A metric outside the families: name, shown, full, unit.
type Other = (String, String, String, &'static str);

struct ResultView {
    confidence: String,
    method: String,
    points: usize,
    distance: String,
    /// Statistic column titles.
    stats: Vec<&'static str>,
    /// Per family (TTFT ms, user tok/s, E2E ms): a cell per statistic (metric, shown, raw).
    families: Vec<Family>,
    /// Metrics outside the families (throughput): metric, shown, raw, unit.
    others: Vec<Other>,
    export_href: String,
}

/// The predictions laid out as the seed's CSV groups them.
fn layout_predictions(p: &std::collections::BTreeMap<String, f64>) -> (Vec<Family>, Vec<Other>) {
    use llm_perf::predict::together::STATS;
    let families = [
        ("ttft", "TTFT, ms"),
        ("user_tps", "tokens/s per user"),
        ("e2e", "E2E, ms"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let cells = STATS
            .iter()
            .map(|s| {
                let metric = format!("{key}_{s}");
                p.get(&metric).map(|v| (metric, num(*v), v.to_string()))
            })
            .collect();
        (label, cells)
    })
    .collect();
    let others = p
        .iter()
        .filter(|(k, _)| {
            !["ttft_", "user_tps_", "e2e_"]
                .iter()
                .any(|f| k.starts_with(f))
        })
        .map(|(k, v)| {
            let unit = if k == "throughput" {
                "output tok/s"
            } else {
                ""
            };
            (k.clone(), num(*v), v.to_string(), unit)
        })
        .collect();
    (families, others)
}

#[derive(Template)]
#[template(path = "modeling.html")]
struct ModelingPage {
    layout: Layout,
    models: Vec<(String, bool)>,
    methods: Vec<(&'static str, bool)>,
    input: String,
    output: String,
    traffic_level: String,
    error: Option<String>,
    result: Option<ResultView>,
    charts: Vec<ChartView>,
}

/// The estimate and charts for `q`, from the store.
async fn estimate(
    state: &AppState,
    model: String,
    q: EstimateQuery,
) -> Result<(Estimate, Vec<crate::charts::Chart>), ServerError> {
    let name = model.clone();
    let rows = state
        .store
        .call(move |c| store::together_rows(c, &name))
        .await?;
    tokio::task::spawn_blocking(move || {
        let mut regression = BenchmarkStore::new();
        regression.add_rows(rows.iter().cloned());
        let e = regression.estimate(&model, &q)?;
        let charts = modeling_charts(&rows, &model, &q)?;
        Ok((e, charts))
    })
    .await
    .map_err(|e| ServerError::Internal(format!("modeling task failed: {e}")))?
}

/// `GET /modeling[?model=&input=&output=&traffic_level=&method=]`.
pub(super) async fn page(
    State(state): State<AppState>,
    query: Result<Query<ModelingQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let modelable = state.store.call(|c| store::modeling_models(c)).await?;
    let chosen = if q.model.is_empty() {
        modelable.first().cloned().unwrap_or_default()
    } else {
        q.model.clone()
    };
    let mut page = ModelingPage {
        layout: Layout::new(&state, "Modeling", "modeling"),
        models: modelable
            .iter()
            .map(|m| (m.clone(), *m == chosen))
            .collect(),
        methods: ["auto_detect", "linear", "polynomial", "average"]
            .into_iter()
            .map(|m| {
                (
                    m,
                    m == q.method || (q.method.is_empty() && m == "auto_detect"),
                )
            })
            .collect(),
        input: if q.input.is_empty() {
            "1000".into()
        } else {
            q.input.clone()
        },
        output: if q.output.is_empty() {
            "400".into()
        } else {
            q.output.clone()
        },
        traffic_level: q.traffic_level.clone(),
        error: None,
        result: None,
        charts: Vec::new(),
    };
    if modelable.is_empty() {
        page.error = Some(
            "No model has two benchmark points of different shapes yet: upload benchmarks first."
                .into(),
        );
    }
    match q.estimate_query() {
        Err(e) => page.error = Some(e.to_string()),
        Ok(None) => {}
        Ok(Some(eq)) => match estimate(&state, q.model.clone(), eq).await {
            Err(e) => page.error = Some(ApiError::from(e).message().to_owned()),
            Ok((e, charts)) => {
                let export_href = format!(
                    "/modeling/export.csv?model={}&input={}&output={}&traffic_level={}&method={}",
                    encode(&q.model),
                    encode(&q.input),
                    encode(&q.output),
                    encode(&q.traffic_level),
                    encode(&q.method)
                );
                let (families, others) = layout_predictions(&e.predictions);
                page.result = Some(ResultView {
                    confidence: format!("{:?}", e.confidence).to_lowercase(),
                    method: e.interpolation_method.to_string(),
                    points: e.num_benchmarks_used,
                    distance: num(e.nearest_distance),
                    stats: llm_perf::predict::together::STATS.to_vec(),
                    families,
                    others,
                    export_href,
                });
                page.charts = chart_views(&charts);
            }
        },
    }
    Ok(html(&page))
}

/// `GET /modeling/export.csv?…`: the prediction as a one-row CSV download.
pub(super) async fn export_csv(
    State(state): State<AppState>,
    query: Result<Query<ModelingQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let Some(eq) = q.estimate_query()? else {
        return Err(ServerError::invalid("model", "(empty)", "choose a model").into());
    };
    let (e, _) = estimate(&state, q.model.clone(), eq).await?;
    let csv = prediction_csv(&PredictionResult {
        model: e.model.clone(),
        input_tokens: e.input_tokens,
        output_tokens: e.output_tokens,
        predictions: e.predictions.clone(),
        traffic_level: eq.traffic_level,
    })?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"prediction-{}.csv\"",
                    safe_file_stem(&e.model)
                ),
            ),
        ],
        csv,
    )
        .into_response())
}
