//! The HTTP surface: one file per resource, each with its `router()`, composed here.

mod admin;
mod anthropic;
mod collections;
mod conversations;
mod documents;
pub mod error;
mod gemini;
mod health;
mod logging;
mod logs;
mod mcp;
mod models;
mod openai;
pub mod openapi;
mod providers;
mod reply;
pub mod request_id;
mod retrieval;
pub mod server;
mod settings;
mod upstreams;

use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use serde::de::DeserializeOwned;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::state::AppState;
// Where clients reach this server; the auth layer reads it too.
pub use crate::auth::origin::server_origin;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    Router::new()
        .merge(health::router())
        .merge(models::router())
        .merge(documents::router())
        .merge(collections::router())
        .merge(openai::chat::router())
        .merge(openai::embeddings::router())
        .merge(openai::responses::router())
        .merge(openai::files::router())
        .merge(openai::vector_stores::router())
        .merge(anthropic::messages::router())
        .merge(gemini::router())
        .merge(openapi::router())
        .merge(conversations::router())
        .merge(admin::router())
        .merge(providers::router())
        .merge(retrieval::router())
        .merge(settings::router())
        .merge(logs::router())
        .merge(upstreams::router())
        .merge(mcp::router(state.clone()))
        .merge(crate::web::router())
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            logging::record,
        ))
        .layer(DefaultBodyLimit::max(limit))
        // Browser-based clients (LobeChat, ChatBox web, …) call the API from
        // their own origin with a bearer key; no cookies are involved.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any)
                .expose_headers(Any),
        )
        .layer(TraceLayer::new_for_http().make_span_with(request_id::span))
        // Outermost: the id is there for the span, the log and every response.
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}

async fn fallback(method: Method, uri: axum::http::Uri) -> impl IntoResponse {
    let error = AppError::NotFound {
        message: format!("Unknown endpoint: {method} {}", uri.path()),
        code: "unknown_url",
    };
    (StatusCode::NOT_FOUND, axum::Json(error.to_json()))
}

/// `axum::Json`, with rejections in OpenAI's error shape. A body of
/// [`PARSE_APART_BYTES`] or more is parsed on the blocking pool: parsing
/// tens of megabytes takes a core for a tenth of a second or more, which
/// on a request-serving thread would stall every other request on it.
pub struct ApiJson<T>(pub T);

/// Bodies at least this large are parsed apart from the request threads
/// (the size from which the chat pipeline works apart too).
const PARSE_APART_BYTES: usize = crate::chat::APART_BYTES;

impl<T: DeserializeOwned + Send + 'static, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_json);
        if !json {
            return Err(AppError::UnsupportedMediaType(
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::from(axum::extract::rejection::JsonRejection::from(e)))?;
        let large = bytes.len() >= PARSE_APART_BYTES;
        let parse = move || axum::Json::<T>::from_bytes(&bytes).map(|axum::Json(value)| value);
        let value = if large {
            tokio::task::spawn_blocking(parse)
                .await
                .map_err(|e| AppError::Internal(e.into()))?
        } else {
            parse()
        };
        Ok(ApiJson(value?))
    }
}

/// Whether a `Content-Type` is JSON's: `application/json` or
/// `application/…+json`, with any parameters (as axum's `Json` takes).
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}
