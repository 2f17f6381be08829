//! The HTTP surface: one file per resource, each with its `router()`, composed here.

mod admin;
mod anthropic;
mod collections;
mod conversations;
mod documents;
pub mod error;
mod health;
mod logging;
mod logs;
mod models;
mod openai;
mod providers;
mod reply;
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
        .merge(anthropic::messages::router())
        .merge(conversations::router())
        .merge(admin::router())
        .merge(providers::router())
        .merge(retrieval::router())
        .merge(settings::router())
        .merge(logs::router())
        .merge(upstreams::router())
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
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn fallback(method: Method, uri: axum::http::Uri) -> impl IntoResponse {
    let error = AppError::NotFound {
        message: format!("Unknown endpoint: {method} {}", uri.path()),
        code: "unknown_url",
    };
    (StatusCode::NOT_FOUND, axum::Json(error.to_json()))
}

/// `axum::Json`, with rejections in OpenAI's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}
