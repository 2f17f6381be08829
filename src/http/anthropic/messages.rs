//! `POST /v1/messages`: Anthropic's Messages API (key in `x-api-key` or
//! `Authorization: Bearer`), through the same chat pipeline as
//! `/v1/chat/completions`; every error in Anthropic's shape.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super as anthropic;
use crate::auth::Caller;
use crate::error::AppError;
use crate::state::AppState;
use crate::usage::LogHandle;
use ragway_protocol::anthropic::MessagesRequest;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/messages", post(messages))
}

#[utoipa::path(post, path = "/v1/messages", tag = "Anthropic", summary = "Anthropic's Messages API (key in x-api-key or Bearer)", request_body = ragway_protocol::anthropic::MessagesRequest, responses((status = 200, description = "See docs/api.md")))]
async fn messages(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    log: LogHandle,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let caller = caller?;
        let request: MessagesRequest = serde_json::from_slice(&body).map_err(|e| {
            AppError::BadRequest(format!("The body is not a Messages API request: {e}"))
        })?;
        // Before the translation, which grows with the request.
        crate::chat::caps::check_count(request.messages.len(), &state.settings)?;
        let chat = request.into_chat()?;
        let conversation =
            crate::http::reply::conversation_header(&headers)?.map(crate::chat::Named::Id);
        let origin = crate::http::server_origin(&state.settings, &headers);
        crate::chat::complete(&state, &caller, conversation, &origin, &log, chat).await
    }
    .await;
    match outcome {
        Ok(answer) => anthropic::answer(answer),
        // The error note the log reads stays on the response's extensions.
        Err(err) => anthropic::error_response(err),
    }
}
