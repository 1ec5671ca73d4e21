//! The workbench: server-rendered pages (askama templates, autoescaped) with charts, on the
//! store. Every name that comes from a file or a form is escaped by the templates; writes go
//! through the JSON API from `assets/app.js` with the token when one is set.

mod capacity;
mod modeling;
mod predictors;
mod runs;
mod store_pages;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::charts::{Chart, script_json};
use crate::error::ServerError;
use crate::routes::ApiError;
use crate::state::AppState;

pub use runs::{
    SIM_MAX_REQUESTS, SimulationRun, TuneSummary, simulate_text, tune_summary, tune_summary_of,
};

/// The pages and the page-only APIs (simulate, tuning results).
pub(crate) fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(store_pages::upload))
        .route("/models", get(store_pages::models))
        .route("/models/{model}", get(store_pages::model))
        .route("/modeling", get(modeling::page))
        .route("/modeling/export.csv", get(modeling::export_csv))
        .route("/predictors", get(predictors::page))
        .route("/capacity", get(capacity::page))
        .route("/simulate", get(runs::simulate_page))
        .route("/tune", get(runs::tune_page))
        .route("/api/simulate", post(runs::simulate))
        .route("/api/tune/results", post(runs::tune_results))
        .route("/assets/{name}", get(crate::assets::asset))
}

/// The navigation bar, in order: label, path, page key.
const NAV: [(&str, &str, &str); 7] = [
    ("Upload", "/", "upload"),
    ("Models", "/models", "models"),
    ("Modeling", "/modeling", "modeling"),
    ("Predictors", "/predictors", "predictors"),
    ("Capacity", "/capacity", "capacity"),
    ("Simulate", "/simulate", "simulate"),
    ("Tune", "/tune", "tune"),
];

/// What the base template needs.
pub(crate) struct Layout {
    /// Page title.
    pub title: String,
    /// Page key (`data-page`, selects the page's script).
    pub page: &'static str,
    /// (label, path, active) of each navigation link.
    pub nav: Vec<(&'static str, &'static str, bool)>,
    /// Whether writes need a token (shows the token field).
    pub auth: bool,
    /// llm-perf version.
    pub version: &'static str,
}

impl Layout {
    pub(crate) fn new(state: &AppState, title: impl Into<String>, page: &'static str) -> Self {
        let active = if page == "model" { "models" } else { page };
        Self {
            title: title.into(),
            page,
            nav: NAV
                .iter()
                .map(|(label, path, key)| (*label, *path, *key == active))
                .collect(),
            auth: state.options.token.is_some(),
            version: llm_perf::VERSION,
        }
    }
}

/// A chart as a template embeds it.
pub(crate) struct ChartView {
    /// Element id.
    pub id: String,
    /// The option as JSON, safe inside a script element.
    pub json: String,
}

impl From<&Chart> for ChartView {
    fn from(c: &Chart) -> Self {
        Self {
            id: c.id.clone(),
            json: script_json(&c.option),
        }
    }
}

pub(crate) fn chart_views(charts: &[Chart]) -> Vec<ChartView> {
    charts.iter().map(ChartView::from).collect()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// An error as a page of the workbench (a stale link, a deleted model), with its status.
pub(crate) fn error_page(state: &AppState, error: ApiError) -> Response {
    let status = error.status();
    let mut response = html(&ErrorPage {
        layout: Layout::new(state, "Not found", "error"),
        heading: if status == StatusCode::NOT_FOUND {
            "Not found".to_owned()
        } else {
            format!("Error {}", status.as_u16())
        },
        message: error.message().to_owned(),
    });
    *response.status_mut() = status;
    response
}

/// Policy of the pages: only our own scripts and styles (JSON data blocks are not scripts).
const PAGE_CSP: &str = "default-src 'self'; img-src 'self' data:";

/// A rendered page with its security headers.
pub(crate) fn html<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(body) => {
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            response
        }
        Err(e) => ApiError::internal(format!("cannot render the page: {e}")).into_response(),
    }
}

/// `text` percent-encoded as one path segment or query value (RFC 3986 unreserved kept).
pub(crate) fn encode(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A form field that holds a number > 0, or nothing (an empty field).
pub(crate) fn optional_positive(field: &str, text: &str) -> Result<Option<f64>, ServerError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(Some)
        .ok_or_else(|| ServerError::invalid(field, text, "must be a number > 0"))
}

/// A number for people: 6 significant digits, no trailing zeros; scientific notation below
/// 1e-4 and from 1e15.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let a = v.abs();
    if (1e-4..1e15).contains(&a) {
        let decimals = usize::try_from((5 - a.log10().floor() as i32).max(0)).unwrap_or(0);
        trim(format!("{v:.decimals$}"))
    } else {
        let text = format!("{v:.5e}");
        match text.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", trim(mantissa.to_owned())),
            None => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_encoding() {
        assert_eq!(num(316.0), "316");
        assert_eq!(num(7212.551724137931), "7212.55");
        assert_eq!(num(0.032066995471003945), "0.032067");
        assert_eq!(num(0.0009840992208323233), "0.000984099");
        assert_eq!(num(8.1556953e-10), "8.1557e-10");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(-12.5), "-12.5");
        assert_eq!(encode("fixture/model-a"), "fixture%2Fmodel-a");
        assert_eq!(encode("<img src=x>"), "%3Cimg%20src%3Dx%3E");
    }
}
