//! `POST /v1/chat/completions`, OpenAI's face of the chat pipeline: the
//! pipeline's [`Answer`] as OpenAI's JSON (`sources` and `conversation_id`
//! added) or as its SSE stream, and `GET /v1/images/{id}.png` (the pictures
//! 画 answers link to: no key needed, the id is unguessable).
//!
//! Streams relay every chunk the moment it arrives; after the last one
//! comes one extra chunk with empty `choices`, the sources and the
//! conversation id (the shape of OpenAI's usage chunk, which SDKs skip),
//! then `[DONE]`. A stream that breaks off ends with an error event.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::chat::{self, draw, Answer, ChatRequest, Event, Reply};
use crate::error::AppResult;
use crate::http::reply::{conversation_header, sse_response, with_conversation_header};
use crate::http::ApiJson;
use crate::retrieval::Source;
use crate::state::AppState;
use crate::usage::LogHandle;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(complete))
        .route("/v1/images/{file}", get(image))
}

#[utoipa::path(post, path = "/v1/chat/completions", tag = "OpenAI", summary = "Chat completion, whole or streamed (SSE), grounded in the knowledge base", request_body = ragway_protocol::chat::ChatRequest, responses((status = 200, description = "See docs/api.md")))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    log: LogHandle,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChatRequest>,
) -> AppResult<Response> {
    let conversation = conversation_header(&headers)?.map(chat::Named::Id);
    let origin = crate::http::server_origin(&state.settings, &headers);
    let answer = chat::complete(&state, &caller, conversation, &origin, &log, request).await?;
    render(answer)
}

/// The answer as OpenAI's clients read it.
fn render(answer: Answer) -> AppResult<Response> {
    let Answer {
        conversation_id,
        sources,
        reply,
        ..
    } = answer;
    let mut response = match reply {
        Reply::Whole(mut completion) => {
            if let Some(object) = completion.as_object_mut() {
                object.insert(
                    "sources".into(),
                    serde_json::to_value(&sources).map_err(anyhow::Error::from)?,
                );
                object.insert(
                    "conversation_id".into(),
                    Value::String(conversation_id.clone()),
                );
            }
            axum::Json(completion).into_response()
        }
        Reply::Stream(events) => {
            let conversation = conversation_id.clone();
            let frames = events.flat_map(move |event| {
                futures::stream::iter(frames(event, &sources, &conversation).into_iter().map(Ok))
            });
            sse_response(frames)
        }
    };
    with_conversation_header(&mut response, &conversation_id);
    Ok(response)
}

/// The SSE frames of one event.
fn frames(event: Event, sources: &[Source], conversation_id: &str) -> Vec<Bytes> {
    match event {
        Event::Chunk(chunk) => vec![data_event(&chunk)],
        Event::Raw(data) => vec![Bytes::from(format!("data: {data}\n\n"))],
        Event::Done { mut last } => {
            last["sources"] = serde_json::to_value(sources).unwrap_or_else(|_| json!([]));
            last["conversation_id"] = Value::String(conversation_id.to_string());
            vec![data_event(&last), Bytes::from_static(b"data: [DONE]\n\n")]
        }
        Event::Failed {
            upstream: Some(error),
            ..
        } => vec![data_event(&error)],
        Event::Failed { message, .. } => vec![data_event(&json!({
            "error": { "message": message, "type": "upstream_error", "param": null, "code": "stream_interrupted" }
        }))],
    }
}

fn data_event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// A stored picture, with long cache headers: the bytes behind an id never change.
#[utoipa::path(get, path = "/v1/images/{file}", tag = "OpenAI", summary = "A picture 画 made (the id is unguessable; no key)", params(("file" = String, Path)), security(()), responses((status = 200, description = "See docs/api.md")))]
async fn image(State(state): State<AppState>, Path(file): Path<String>) -> AppResult<Response> {
    let (kind, bytes) = draw::image(&state.blobs, &file).await?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}
