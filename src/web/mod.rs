//! The web admin, served by the binary itself: one HTML page, its native ES
//! modules and one stylesheet (plain files under `src/web/assets/`: `main.js`
//! the entry, `lib/` the helpers, `pages/` one module per page, `i18n/` the
//! texts). The whole folder is embedded at build time with `include_dir`; no
//! Node at build or run time and no reads from disk. The page is a small
//! single-page app over the `/api/admin/*` and `/v1/*` routes.
//!
//! `GET /admin` and every path below it answer the page (the app routes by
//! the URL's hash); `GET /admin/assets/{*path}` any embedded `.js` or `.css`
//! file (404 for anything else, `..` included); `GET /` redirects to
//! `/admin`.
//!
//! Cargo rebuilds when an embedded file changes; a new file is picked up by
//! the next build of this crate (in practice, with the import that uses it).

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

use crate::error::AppError;
use crate::state::AppState;

/// Everything under `src/web/assets/`, in the binary.
static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/src/web/assets");

/// Only this server's own script, styles and API; images also from data:
/// and blob: URLs (previews) and anywhere (pictures in answers); no framing.
/// `script-src 'self'` covers the page's modules, all same-origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: https: http:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/admin") }))
        .route("/admin", get(page))
        .route("/admin/", get(page))
        .route("/admin/assets/{*path}", get(asset))
        .route("/admin/{*rest}", get(page))
}

async fn page() -> Response {
    let index = ASSETS
        .get_file("index.html")
        .expect("src/web/assets/index.html is embedded");
    with_headers(index.contents(), "text/html; charset=utf-8")
}

async fn asset(Path(path): Path<String>) -> Result<Response, AppError> {
    match embedded(&path) {
        Some((body, content_type)) => Ok(with_headers(body, content_type)),
        None => Err(AppError::NotFound {
            message: format!("No admin asset {path:?}."),
            code: "not_found",
        }),
    }
}

/// The embedded file at `path` (relative to the assets folder) and its
/// content type: only scripts and stylesheets, never a path with an empty,
/// `.` or `..` segment (the extractor has already percent-decoded it).
fn embedded(path: &str) -> Option<(&'static [u8], &'static str)> {
    if path
        .split(['/', '\\'])
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return None;
    }
    let content_type = content_type(path)?;
    let file = ASSETS.get_file(path)?;
    Some((file.contents(), content_type))
}

/// The content type of an asset served by name; None for what is not
/// served (the page itself, the type checker's config).
fn content_type(path: &str) -> Option<&'static str> {
    let (_, extension) = path.rsplit_once('.')?;
    match extension {
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "json" if !path.ends_with("jsconfig.json") && !path.ends_with("tsconfig.json") => {
            Some("application/json")
        }
        _ => None,
    }
}

fn with_headers(body: &'static [u8], content_type: &'static str) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    async fn get_asset(path: &str) -> Response {
        match asset(Path(path.to_string())).await {
            Ok(response) => response,
            Err(err) => err.into_response(),
        }
    }

    fn content_type_of(response: &Response) -> &str {
        response.headers()[header::CONTENT_TYPE].to_str().unwrap()
    }

    #[tokio::test]
    async fn serves_the_modules_and_the_stylesheet() {
        for (path, content_type) in [
            ("main.js", "text/javascript; charset=utf-8"),
            ("lib/router.js", "text/javascript; charset=utf-8"),
            ("pages/dashboard.js", "text/javascript; charset=utf-8"),
            ("i18n/zh.js", "text/javascript; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
        ] {
            let response = get_asset(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(content_type_of(&response), content_type, "{path}");
            let headers = response.headers();
            assert!(headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"));
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        }
    }

    #[tokio::test]
    async fn the_page_loads_the_entry_module() {
        let response = page().await;
        assert_eq!(content_type_of(&response), "text/html; charset=utf-8");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.contains(r#"<script type="module" src="/admin/assets/main.js"></script>"#));
    }

    #[tokio::test]
    async fn unknown_hidden_and_escaping_paths_are_404() {
        for path in [
            "app.js",
            "nope.js",
            "lib/nope.js",
            "index.html",
            "jsconfig.json",
            "../mod.rs",
            "../../../Cargo.toml",
            "lib/../main.js",
            "./main.js",
            "lib//dom.js",
            "..",
            "",
        ] {
            let response = get_asset(path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path:?}");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["error"]["code"], "not_found", "{path:?}");
        }
    }
}
