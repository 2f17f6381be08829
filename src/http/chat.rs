//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::ApiJson;
use crate::auth::Caller;
use crate::chat::{self, ChatRequest};
use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/chat/completions", post(complete))
}

async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ChatRequest>,
) -> AppResult<Response> {
    chat::complete(&state, &caller, request).await
}
