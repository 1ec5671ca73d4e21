//! The LLM profiler's `webview`: pick a stored predictor file and a configuration, predict
//! prefill and decode, and plot latency against batch size and input length with the
//! training points of a stored profile.

use std::path::Path as FsPath;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use llm_perf::predict::{PredictorFile, ProfileData, Stage, VidurFile};
use serde::Deserialize;

use super::{ChartView, Layout, chart_views, html, num};
use crate::charts::predictor::{AnyPredictor, predictor_charts};
use crate::error::ServerError;
use crate::routes::ApiError;
use crate::state::AppState;
use crate::store::{self, DerivedKind};

#[derive(Debug, Default, Deserialize)]
pub(super) struct PredictorQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    config: String,
    #[serde(default)]
    bs: String,
    #[serde(default)]
    input: String,
    #[serde(default)]
    profile: String,
}

#[derive(Template)]
#[template(path = "predictors.html")]
struct PredictorsPage {
    layout: Layout,
    predictors: Vec<(i64, String, bool)>,
    configs: Vec<(String, bool)>,
    profiles: Vec<(i64, String, bool)>,
    bs: String,
    input: String,
    error: Option<String>,
    rows: Vec<(String, String, String)>,
    charts: Vec<ChartView>,
}

/// A stored predictor file of either kind.
enum Loaded {
    Step(PredictorFile),
    Vidur(VidurFile),
}

impl Loaded {
    fn parse(content: &serde_json::Value, name: &str) -> Result<Self, ServerError> {
        let text = content.to_string();
        let path = FsPath::new(name);
        if content.get("format").and_then(serde_json::Value::as_str) == Some(VidurFile::FORMAT) {
            Ok(Self::Vidur(VidurFile::from_json_str(&text, path)?))
        } else {
            Ok(Self::Step(PredictorFile::from_json_str(&text, path)?))
        }
    }

    fn configs(&self) -> Vec<String> {
        match self {
            Self::Step(f) => f.configs.keys().cloned().collect(),
            Self::Vidur(f) => f.configs.keys().cloned().collect(),
        }
    }

    fn get(&self, config: &str) -> Result<AnyPredictor<'_>, ServerError> {
        Ok(match self {
            Self::Step(f) => AnyPredictor::Step(f.get(config)?),
            Self::Vidur(f) => AnyPredictor::Vidur(f.get(config)?),
        })
    }
}

fn whole(field: &str, text: &str, default: u32, least: u32) -> Result<u32, ServerError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(default);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| *v >= least)
        .ok_or_else(|| {
            ServerError::invalid(field, text, format!("must be a whole number >= {least}"))
        })
}

/// `GET /predictors[?id=&config=&bs=&input=&profile=]`.
pub(super) async fn page(
    State(state): State<AppState>,
    query: Result<Query<PredictorQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let (predictors, profiles) = state
        .store
        .call(|c| {
            let p = store::derived_list(c, None, Some(DerivedKind::Predictor.as_str()))?;
            let u: Vec<_> = store::uploads(c)?
                .into_iter()
                .filter(|u| u.kind == "profile" && u.format == "llm-profiler-sweep")
                .collect();
            Ok((p, u))
        })
        .await?;
    let chosen_id: Option<i64> = q.id.parse().ok().or(predictors.last().map(|p| p.id));
    let chosen_profile: Option<i64> = q.profile.parse().ok();
    let mut page = PredictorsPage {
        layout: Layout::new(&state, "Predictors", "predictors"),
        predictors: predictors
            .iter()
            .map(|p| {
                (
                    p.id,
                    format!("#{} {} — {}", p.id, p.model, p.name),
                    Some(p.id) == chosen_id,
                )
            })
            .collect(),
        configs: Vec::new(),
        profiles: profiles
            .iter()
            .map(|u| {
                (
                    u.upload_id,
                    format!("#{} {}", u.upload_id, u.file_name),
                    Some(u.upload_id) == chosen_profile,
                )
            })
            .collect(),
        bs: if q.bs.is_empty() {
            "8".into()
        } else {
            q.bs.clone()
        },
        input: if q.input.is_empty() {
            "1024".into()
        } else {
            q.input.clone()
        },
        error: None,
        rows: Vec::new(),
        charts: Vec::new(),
    };
    let Some(id) = chosen_id else {
        return Ok(html(&page));
    };
    let result = async {
        let derived = state.store.call(move |c| store::derived(c, id)).await?;
        if derived.summary.kind != DerivedKind::Predictor.as_str() {
            return Err(ServerError::invalid("id", id, "not a predictor file"));
        }
        let training = match chosen_profile {
            Some(upload) => {
                let (name, _, bytes) = state
                    .store
                    .call(move |c| store::upload_content(c, upload))
                    .await?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                ProfileData::from_json_str(&text, FsPath::new(&name))?.results
            }
            None => Vec::new(),
        };
        let bs = whole("batch size", &q.bs, 8, 1)?;
        let input = whole("input length", &q.input, 1024, 0)?;
        let name = derived.summary.name.clone();
        let config = q.config.clone();
        tokio::task::spawn_blocking(move || {
            let loaded = Loaded::parse(&derived.content, &name)?;
            let configs = loaded.configs();
            let config = if config.is_empty() {
                configs.first().cloned().unwrap_or_default()
            } else {
                config
            };
            let predictor = loaded.get(&config)?;
            let mut rows = Vec::new();
            for (label, stage) in [("prefill", Stage::Prefill), ("decode step", Stage::Decode)] {
                if let Some(ms) = predictor.ms(stage, bs, input) {
                    rows.push((format!("{label}, ms"), num(ms), ms.to_string()));
                }
            }
            let charts = predictor_charts(predictor, bs, input, &training);
            Ok::<_, ServerError>((configs, config, rows, charts))
        })
        .await
        .map_err(|e| ServerError::Internal(format!("predictor task failed: {e}")))?
    }
    .await;
    match result {
        Ok((configs, config, rows, charts)) => {
            page.configs = configs
                .into_iter()
                .map(|c| {
                    let on = c == config;
                    (c, on)
                })
                .collect();
            page.rows = rows;
            page.charts = chart_views(&charts);
        }
        Err(e) => page.error = Some(ApiError::from(e).message().to_owned()),
    }
    Ok(html(&page))
}
