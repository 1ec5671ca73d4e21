//! Upload, Models and a model's page.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::{ChartView, Layout, chart_views, encode, html, num};
use crate::charts::sweep::{Sweep, sweep_charts};
use crate::routes::ApiError;
use crate::state::AppState;
use crate::store::{self, UploadSummary};

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    layout: Layout,
    uploads: Vec<UploadSummary>,
}

/// `GET /`: upload files; what is stored.
pub(super) async fn upload(State(state): State<AppState>) -> Result<Response, ApiError> {
    let uploads = state.store.call(|c| store::uploads(c)).await?;
    Ok(html(&UploadPage {
        layout: Layout::new(&state, "Upload", "upload"),
        uploads,
    }))
}

struct ModelRow {
    name: String,
    href: String,
    benchmarks: i64,
    points: i64,
    input_range: String,
    output_range: String,
}

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    layout: Layout,
    models: Vec<ModelRow>,
}

/// `GET /models`: every model with its counts.
pub(super) async fn models(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.call(|c| store::models(c)).await?;
    let range = |r: &store::TokenRange| {
        if (r.max - r.min).abs() < f64::EPSILON * r.max.abs().max(1.0) {
            num(r.min)
        } else {
            format!("{} – {}", num(r.min), num(r.max))
        }
    };
    let models = list
        .iter()
        .map(|m| ModelRow {
            name: m.provider_model.clone(),
            href: format!("/models/{}", encode(&m.provider_model)),
            benchmarks: m.num_benchmarks,
            points: m.num_runs,
            input_range: range(&m.input_token_range),
            output_range: range(&m.output_token_range),
        })
        .collect();
    Ok(html(&ModelsPage {
        layout: Layout::new(&state, "Models", "models"),
        models,
    }))
}

struct BenchmarkRow {
    id: i64,
    name: String,
    points: i64,
    input: String,
    output: String,
    format: String,
    file: String,
    uploaded: String,
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage {
    layout: Layout,
    model: String,
    modeling_href: String,
    benchmarks: Vec<BenchmarkRow>,
    charts: Vec<ChartView>,
}

/// `GET /models/{model}`: its benchmarks (delete with confirmation) and their sweeps charted.
pub(super) async fn model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Response, ApiError> {
    let name = model.clone();
    let found = state
        .store
        .call(move |c| {
            let list = store::benchmarks_of(c, &name)?;
            let mut sweeps = Vec::with_capacity(list.len());
            for b in list.iter().rev() {
                let detail = store::benchmark(c, b.benchmark_id)?;
                sweeps.push(Sweep {
                    name: format!("#{} {}", b.benchmark_id, b.name),
                    points: detail.points.into_iter().map(|p| p.point).collect(),
                });
            }
            Ok((list, sweeps))
        })
        .await;
    let (list, sweeps) = match found {
        Ok(found) => found,
        Err(e) => return Ok(super::error_page(&state, e.into())),
    };
    let charts = sweep_charts("sweep", &sweeps);
    Ok(html(&ModelPage {
        layout: Layout::new(&state, model.clone(), "model"),
        modeling_href: format!("/modeling?model={}", encode(&model)),
        model,
        benchmarks: list
            .into_iter()
            .map(|b| BenchmarkRow {
                id: b.benchmark_id,
                name: b.name,
                points: b.num_runs,
                input: num(b.avg_input_tokens),
                output: num(b.avg_output_tokens),
                format: b.format,
                file: b.file_name,
                uploaded: b.upload_date,
            })
            .collect(),
        charts: chart_views(&charts),
    }))
}
