//! The web admin, served by the binary itself: one HTML page, one script and
//! one stylesheet (plain files under `src/web/assets/`, embedded at build
//! time; no Node at build or run time). The page is a small single-page app
//! over the `/api/admin/*` and `/v1/*` routes.
//!
//! `GET /admin` and every path below it answer the page (the app routes by
//! the URL's hash); `GET /admin/assets/{app.js,style.css}` the rest; `GET /`
//! redirects to `/admin`.

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::error::AppError;
use crate::state::AppState;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// Only this server's own script, styles and API; images also from data:
/// and blob: URLs (previews) and anywhere (pictures in answers); no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: https: http:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/admin") }))
        .route("/admin", get(page))
        .route("/admin/", get(page))
        .route("/admin/assets/{file}", get(asset))
        .route("/admin/{*rest}", get(page))
}

async fn page() -> Response {
    with_headers(INDEX, "text/html; charset=utf-8")
}

async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    match file.as_str() {
        "app.js" => Ok(with_headers(APP_JS, "text/javascript; charset=utf-8")),
        "style.css" => Ok(with_headers(STYLE, "text/css; charset=utf-8")),
        other => Err(AppError::NotFound {
            message: format!("No admin asset {other:?}."),
            code: "not_found",
        }),
    }
}

fn with_headers(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small, and changed by every release: always revalidated.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
