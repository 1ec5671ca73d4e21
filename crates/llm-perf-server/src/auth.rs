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
