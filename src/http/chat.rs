//! `POST /v1/chat/completions` and `GET /v1/images/{id}.png` (the pictures
//! 画 answers link to: no key needed, the id is unguessable).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::ApiJson;
use crate::auth::Caller;
use crate::chat::{self, draw, ChatRequest, CONVERSATION_HEADER};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(complete))
        .route("/v1/images/{file}", get(image))
}

async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChatRequest>,
) -> AppResult<Response> {
    let conversation = match headers.get(CONVERSATION_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| {
                    AppError::BadRequest("`X-Conversation-Id` must be plain text.".into())
                })?
                .trim()
                .to_string(),
        )
        .filter(|id| !id.is_empty()),
    };
    let origin = origin(&state, &headers);
    chat::complete(&state, &caller, conversation, &origin, request).await
}

/// Where clients reach this server: `RAGWAY_PUBLIC_URL`, or the request's
/// `X-Forwarded-Proto`/`X-Forwarded-Host` (behind a proxy) or `Host`.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.settings.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = header_text("x-forwarded-host")
        .or_else(|| header_text(header::HOST.as_str()))
        .unwrap_or(&state.settings.listen);
    let scheme = header_text("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}")
}

async fn image(State(state): State<AppState>, Path(file): Path<String>) -> AppResult<Response> {
    draw::image(&state, &file).await
}
