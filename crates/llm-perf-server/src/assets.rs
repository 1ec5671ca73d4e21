//! Static assets, embedded in the binary (debug builds too): the vendored ECharts library,
//! the chart glue, the page script and the stylesheet. Pages link them under `/assets/`;
//! reports inline the same text.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Apache ECharts 6.1.0, common build (`assets/vendor/echarts-6.1.0/SOURCES.md`).
pub const ECHARTS_JS: &str = include_str!("../assets/vendor/echarts-6.1.0/echarts.common.min.js");
/// The chart glue shared by pages and reports.
pub const CHARTS_JS: &str = include_str!("../assets/charts.js");
/// What the pages do in the browser.
pub const APP_JS: &str = include_str!("../assets/app.js");
/// The stylesheet of pages and reports.
pub const APP_CSS: &str = include_str!("../assets/app.css");
/// ECharts' licence, served beside it.
const ECHARTS_LICENSE: &str = include_str!("../assets/vendor/echarts-6.1.0/LICENSE");
/// ECharts' notice file.
const ECHARTS_NOTICE: &str = include_str!("../assets/vendor/echarts-6.1.0/NOTICE");
/// The BSD-3-Clause licence of the d3 code inside ECharts (its `LICENSE` points to it).
const ECHARTS_LICENSE_D3: &str = include_str!("../assets/vendor/echarts-6.1.0/LICENSE-d3");

/// Path, content type, body, and whether the name is versioned (cached forever).
const ASSETS: [(&str, &str, &str, bool); 7] = [
    (
        "echarts-6.1.0.min.js",
        "text/javascript; charset=utf-8",
        ECHARTS_JS,
        true,
    ),
    (
        "echarts-6.1.0-LICENSE.txt",
        "text/plain; charset=utf-8",
        ECHARTS_LICENSE,
        true,
    ),
    (
        "echarts-6.1.0-NOTICE.txt",
        "text/plain; charset=utf-8",
        ECHARTS_NOTICE,
        true,
    ),
    (
        "echarts-6.1.0-LICENSE-d3.txt",
        "text/plain; charset=utf-8",
        ECHARTS_LICENSE_D3,
        true,
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        CHARTS_JS,
        false,
    ),
    ("app.js", "text/javascript; charset=utf-8", APP_JS, false),
    ("app.css", "text/css; charset=utf-8", APP_CSS, false),
];

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, ..)| *n == name) {
        Some((_, content_type, body, versioned)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *content_type),
                (
                    header::CACHE_CONTROL,
                    if *versioned {
                        "public, max-age=31536000, immutable"
                    } else {
                        "no-cache"
                    },
                ),
            ],
            *body,
        )
            .into_response(),
        None => crate::routes::ApiError::new(StatusCode::NOT_FOUND, format!("no asset {name}"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_scripts_cannot_close_their_element() {
        for (name, _, body, _) in ASSETS {
            if name.ends_with(".js") || name.ends_with(".css") {
                assert!(!body.contains("</script"), "{name}");
                assert!(!body.contains("</style"), "{name}");
                assert!(!body.contains("<!--"), "{name}");
            }
        }
    }

    #[test]
    fn the_vendored_library_is_the_recorded_file() {
        assert_eq!(
            crate::store::sha256_hex(ECHARTS_JS.as_bytes()),
            "61f13280aba3161f77fc801bf5f9c786f55f10432153a0683fc5cc0700b013d5"
        );
    }
}
