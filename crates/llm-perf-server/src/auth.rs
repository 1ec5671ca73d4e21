//! Who may write. Reads and computations (GET, and POSTs that only compute, like `/solve` or
//! `/modeling/predict`) are open; the routes that change the store sit behind
//! [`require_write_access`]: refused on a `--read-only` server, and when a token is set they
//! need `Authorization: Bearer <token>` (compared in constant time).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::routes::ApiError;
use crate::state::AppState;

/// Middleware of the write routes.
pub async fn require_write_access(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.options.read_only {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "this server is read-only (--read-only): the store cannot be changed",
        )
        .into_response();
    }
    if let Some(token) = state.options.token.as_deref() {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.as_bytes())));
        if !ok {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                if given.is_some() {
                    "wrong bearer token"
                } else {
                    "this route changes the store: send `Authorization: Bearer <token>`"
                },
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Cross-site request forgery protection for every route (a page on another site must not
/// make a browser POST to a loopback server with no token). The rule of Go 1.25's
/// `net/http.CrossOriginProtection` (Filippo Valsorda, "CSRF"): GET, HEAD and OPTIONS pass;
/// `Sec-Fetch-Site: same-origin` or `none` passes, any other value is refused; without that
/// header, a request with no `Origin` passes (not a browser: curl, scripts, tests), and one
/// whose `Origin` host and port equal `Host` passes; the rest are refused with 403.
pub async fn cross_origin_protection(request: Request, next: Next) -> Response {
    if is_cross_origin(&request) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-origin request refused: this server only takes writes from its own pages and from non-browser clients",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_cross_origin(request: &Request) -> bool {
    use axum::http::Method;
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    !matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder()
            .method(method)
            .uri("/api/benchmarks/upload");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn cross_origin_rule() {
        assert!(!is_cross_origin(&request(
            "GET",
            &[("sec-fetch-site", "cross-site")]
        )));
        assert!(!is_cross_origin(&request("POST", &[])));
        assert!(!is_cross_origin(&request(
            "POST",
            &[("sec-fetch-site", "same-origin")]
        )));
        assert!(is_cross_origin(&request(
            "POST",
            &[("sec-fetch-site", "cross-site")]
        )));
        assert!(is_cross_origin(&request(
            "DELETE",
            &[("sec-fetch-site", "same-site")]
        )));
        let same = [
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(!is_cross_origin(&request("POST", &same)));
        let other = [
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(is_cross_origin(&request("POST", &other)));
        assert!(is_cross_origin(&request("POST", &[("origin", "null")])));
    }
}
