//! `POST /v1/chat/completions` and `GET /v1/images/{id}.png` (the pictures
//! 画 answers link to: no key needed, the id is unguessable).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};

use super::ApiJson;
use crate::auth::Caller;
use crate::chat::{self, draw, ChatRequest, CONVERSATION_HEADER};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::usage::LogHandle;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(complete))
        .route("/v1/images/{file}", get(image))
}

async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    log: Option<Extension<LogHandle>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChatRequest>,
) -> AppResult<Response> {
    let conversation = conversation_header(&headers)?;
    let origin = super::server_origin(&state.settings, &headers);
    let log = log.map(|Extension(log)| log).unwrap_or_default();
    chat::complete(&state, &caller, conversation, &origin, &log, request).await
}

/// The conversation the `X-Conversation-Id` header names, if it names one.
pub(super) fn conversation_header(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(value) = headers.get(CONVERSATION_HEADER) else {
        return Ok(None);
    };
    let id = value
        .to_str()
        .map_err(|_| AppError::BadRequest("`X-Conversation-Id` must be plain text.".into()))?
        .trim();
    Ok((!id.is_empty()).then(|| id.to_string()))
}

async fn image(State(state): State<AppState>, Path(file): Path<String>) -> AppResult<Response> {
    draw::image(&state, &file).await
}
