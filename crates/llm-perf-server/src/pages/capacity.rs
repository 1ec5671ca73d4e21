//! Capacity: fit the Inferno model to a stored sweep, then size replicas under SLOs.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use llm_perf::fit::FittedInferno;
use serde::Deserialize;

use super::{ChartView, Layout, chart_views, html, num, optional_positive};
use crate::charts::capacity::{fit_charts, rate_curves};
use crate::error::ServerError;
use crate::routes::ApiError;
use crate::routes::derived::{SizeBody, load_fit};
use crate::seed_api::sizing;
use crate::state::AppState;
use crate::store::{self, DerivedKind};

#[derive(Debug, Default, Deserialize)]
pub(super) struct CapacityQuery {
    #[serde(default)]
    fit: String,
    #[serde(default)]
    target_ttft: String,
    #[serde(default)]
    target_itl: String,
    #[serde(default)]
    total_rate: String,
}

struct FitView {
    id: i64,
    name: String,
    params: Vec<(String, String, String)>,
    target_ttft: String,
    target_itl: String,
    total_rate: String,
    sizing: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "capacity.html")]
struct CapacityPage {
    layout: Layout,
    benchmarks: Vec<(i64, String, String, i64)>,
    fits: Vec<(i64, String, String, String)>,
    error: Option<String>,
    fit: Option<FitView>,
    charts: Vec<ChartView>,
}

fn row(label: &str, value: f64, unit: &str) -> (String, String, String) {
    (
        label.to_owned(),
        if unit.is_empty() {
            num(value)
        } else {
            format!("{} {unit}", num(value))
        },
        value.to_string(),
    )
}

/// `GET /capacity[?fit=&target_ttft=&target_itl=&total_rate=]`.
pub(super) async fn page(
    State(state): State<AppState>,
    query: Result<Query<CapacityQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let (benchmarks, fits) = state
        .store
        .call(|c| {
            Ok((
                store::all_benchmarks(c)?,
                store::derived_list(c, None, Some(DerivedKind::InfernoFit.as_str()))?,
            ))
        })
        .await?;
    let mut page = CapacityPage {
        layout: Layout::new(&state, "Capacity", "capacity"),
        benchmarks: benchmarks
            .into_iter()
            .map(|b| (b.benchmark_id, b.provider_model, b.name, b.num_runs))
            .collect(),
        fits: fits
            .into_iter()
            .map(|f| (f.id, f.model, f.name, f.created_at))
            .collect(),
        error: None,
        fit: None,
        charts: Vec::new(),
    };
    if q.fit.is_empty() {
        return Ok(html(&page));
    }
    let result = async {
        let id: i64 = q
            .fit
            .parse()
            .map_err(|_| ServerError::invalid("fit", &q.fit, "not a fit id"))?;
        let body = SizeBody {
            total_rate: optional_positive("total rate", &q.total_rate)?,
            target_ttft: optional_positive("TTFT target", &q.target_ttft)?,
            target_itl: optional_positive("ITL target", &q.target_itl)?,
            ..SizeBody::default()
        };
        let fit = load_fit(&state, id).await?;
        let fitted: FittedInferno = serde_json::from_value(fit.derived.content.clone())
            .map_err(|e| ServerError::Internal(format!("stored fit {id}: {e}")))?;
        let (problem, settings) = fit.problem(&body, &state.options.queue)?;
        let name = fit.derived.summary.name.clone();
        tokio::task::spawn_blocking(move || {
            let mut charts = fit_charts(fitted.report());
            let analyzer = settings
                .analyzer(&problem)
                .map_err(|e| ServerError::Unprocessable(e.to_string()))?;
            let mut sizing_rows = Vec::new();
            let mut sized_rate = None;
            if body.target_ttft.is_some() || body.target_itl.is_some() {
                let (s, plan) = sizing(&problem, settings, body.total_rate)
                    .map_err(|e| ServerError::Unprocessable(e.to_string()))?;
                sized_rate = Some(s.rate_rps);
                sizing_rows.push(row(
                    "max rate per replica under the SLO",
                    s.rate_rps,
                    "req/s",
                ));
                sizing_rows.push(row("TTFT at that rate", s.analysis.ttft_ms, "ms"));
                sizing_rows.push(row("ITL at that rate", s.analysis.itl_ms, "ms"));
                if let Some(p) = plan {
                    sizing_rows.push(row("replicas", p.replicas as f64, ""));
                    sizing_rows.push(row("rate per replica", p.per_replica_rps, "req/s"));
                    sizing_rows.push(row(
                        "TTFT per replica",
                        p.per_replica_analysis.ttft_ms,
                        "ms",
                    ));
                    sizing_rows.push(row("ITL per replica", p.per_replica_analysis.itl_ms, "ms"));
                }
            }
            charts.extend(
                rate_curves(&analyzer, body.target_ttft, body.target_itl, sized_rate)
                    .map_err(|e| ServerError::Unprocessable(e.to_string()))?,
            );
            let params = vec![
                row("α (base iteration time)", fitted.alpha(), "ms"),
                row("β (compute per token)", fitted.beta(), "ms/token"),
                row(
                    "γ (memory per token of context)",
                    fitted.gamma(),
                    "ms/token²",
                ),
                row("mean input tokens", problem.input_tokens.unwrap_or(0.0), ""),
                row(
                    "mean output tokens",
                    problem.output_tokens.unwrap_or(0.0),
                    "",
                ),
                row(
                    "max batch size",
                    f64::from(problem.max_batch.unwrap_or(0)),
                    "",
                ),
                row(
                    "mean relative error TTFT",
                    100.0 * fitted.report().summary.mean_rel_err_ttft,
                    "%",
                ),
                row(
                    "mean relative error ITL",
                    100.0 * fitted.report().summary.mean_rel_err_itl,
                    "%",
                ),
            ];
            Ok::<_, ServerError>(FitView {
                id,
                name,
                params,
                target_ttft: q.target_ttft.clone(),
                target_itl: q.target_itl.clone(),
                total_rate: q.total_rate.clone(),
                sizing: sizing_rows,
            })
            .map(|v| (v, charts))
        })
        .await
        .map_err(|e| ServerError::Internal(format!("capacity task failed: {e}")))?
    }
    .await;
    match result {
        Ok((view, charts)) => {
            page.fit = Some(view);
            page.charts = chart_views(&charts);
        }
        Err(e) => page.error = Some(ApiError::from(e).message().to_owned()),
    }
    Ok(html(&page))
}
