//! OpenAI's Responses API as a face of the chat pipeline:
//! `POST /v1/responses` (whole, or as the typed event stream),
//! `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`.
//!
//! A request is translated into a chat request (`ragway-protocol`) and
//! answered by `chat::complete`: models, conversations, retrieval, sources,
//! 画, quotas and logs all apply. `previous_response_id` continues the
//! conversation of that response (`chat::responses`); `conversation` names a
//! ragway conversation to continue. The sources are `file_citation`
//! annotations on the output text and, whole, in the `ragway` field, with
//! the conversation id (also in `X-Conversation-Id`). With `store` (the
//! default) the response is kept for its key: another key's ids are 404s.

mod render;
mod stream;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::chat::responses::{self, Continuation, NewResponse};
use crate::chat::{self, Events, Named, Reply};
use crate::error::{AppError, AppResult};
use crate::http::reply::{conversation_header, sse_response, with_conversation_header};
use crate::http::ApiJson;
use crate::state::AppState;
use crate::usage::LogHandle;
use ragway_protocol::responses::{Continues, ResponsesRequest};
use render::Shell;
use stream::{Relay, Step};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/responses", post(create))
        .route("/v1/responses/{id}", get(show).delete(delete))
        .route("/v1/responses/{id}/input_items", get(input_items))
}

#[utoipa::path(post, path = "/v1/responses", tag = "OpenAI", summary = "OpenAI Responses API: a response, whole or as typed events", request_body = ragway_protocol::responses::ResponsesRequest, responses((status = 200, description = "See docs/api.md")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    log: LogHandle,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ResponsesRequest>,
) -> AppResult<Response> {
    // Before the translation, which grows with the request.
    if let Some(Value::Array(items)) = &request.input {
        chat::caps::check_count(items.len(), &state.settings)?;
    }
    let translated = request.into_chat()?;
    let mut chat = translated.chat;
    let named = match translated.continues {
        Continues::Nothing | Continues::Named(_) => conversation_header(&headers)?.map(Named::Id),
        Continues::Conversation(id) => Some(Named::After(id)),
        Continues::Response(id) => {
            let room = state
                .settings
                .max_request_messages
                .saturating_sub(chat.messages.len());
            match responses::continuing(&state.db, &state.saver, &caller.key_id, &id, room).await? {
                Continuation::After(named) => Some(named),
                Continuation::Fork(history) => {
                    let at = chat
                        .messages
                        .iter()
                        .take_while(|m| m.role == "system")
                        .count();
                    chat.messages.splice(at..at, history);
                    None
                }
            }
        }
    };
    let origin = crate::http::server_origin(&state.settings, &headers);
    let answer = chat::complete(&state, &caller, named, &origin, &log, chat).await?;
    let shell = Shell {
        id: format!("resp_{}", uuid::Uuid::now_v7().simple()),
        created_at: crate::domain::clock::now_ms() / 1000,
        model: answer.model.clone(),
        echo: translated.echo,
        conversation_id: answer.conversation_id.clone(),
        sources: answer.sources.clone(),
        file_search: answer
            .file_search
            .as_ref()
            .map(|run| render::file_search_item(run, translated.include_results)),
        filenames: answer
            .file_search
            .iter()
            .flat_map(|run| &run.results)
            .map(|r| (r.file_id.clone(), r.filename.clone()))
            .collect(),
    };
    let keep = translated.store.then(|| Keep {
        state: state.clone(),
        key_id: caller.key_id.clone(),
        conversation_id: answer.conversation_id.clone(),
        message_count: answer.stored_messages,
        input_messages: translated.input_messages,
    });
    let mut response = match answer.reply {
        Reply::Whole(completion) => {
            let object = shell.of_completion(&completion);
            if let Some(keep) = &keep {
                keep.save(&shell.id, &object).await;
            }
            Json(object).into_response()
        }
        Reply::Stream(events) => relay(shell, events, keep),
    };
    with_conversation_header(&mut response, &answer.conversation_id);
    Ok(response)
}

/// Where a kept response goes.
struct Keep {
    state: AppState,
    key_id: String,
    conversation_id: String,
    message_count: usize,
    input_messages: usize,
}

impl Keep {
    /// Keep response `id`; a failure is logged (the client has its answer,
    /// and its conversation is saved either way).
    async fn save(&self, id: &str, body: &Value) {
        let kept = responses::save(
            &self.state.db,
            &self.state.saver,
            NewResponse {
                id,
                key_id: &self.key_id,
                conversation_id: &self.conversation_id,
                message_count: self.message_count,
                input_messages: self.input_messages,
                body,
            },
        )
        .await;
        if let Err(err) = kept {
            tracing::error!(response = %id, error = %err, "could not keep the response");
        }
    }
}

/// The pipeline's events as the Responses API's; the response is queued
/// for keeping before its last event (reads of it settle the queue first),
/// so that a client may continue from it at once.
fn relay(shell: Shell, mut events: Events, keep: Option<Keep>) -> Response {
    let id = shell.id.clone();
    let frames = async_stream::stream! {
        let mut relay = Relay::new(shell);
        for frame in relay.start() {
            yield Ok(frame);
        }
        let mut ended = None;
        while let Some(event) = events.next().await {
            match relay.event(event) {
                Step::Frames(frames) => {
                    for frame in frames {
                        yield Ok(frame);
                    }
                }
                step @ Step::Ended { .. } => {
                    ended = Some(step);
                    break;
                }
            }
        }
        // A stream that stopped without its end is a failed one.
        let ended = ended.unwrap_or_else(|| relay.failed("The answer stream ended early."));
        if let Step::Ended { frames, kind, response } = ended {
            for frame in frames {
                yield Ok(frame);
            }
            if let Some(keep) = &keep {
                keep.save(&id, &response).await;
            }
            yield Ok(relay.frame(kind, json!({"response": response})));
        }
    };
    sse_response(frames)
}

#[utoipa::path(get, path = "/v1/responses/{id}", tag = "OpenAI", summary = "A kept response, as it was returned", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        responses::get(&state.db, &state.saver, &caller.key_id, &id).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/responses/{id}", tag = "OpenAI", summary = "Forget a kept response (its conversation stays)", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    responses::delete(&state.db, &state.saver, &caller.key_id, &id).await?;
    Ok(Json(
        json!({"id": id, "object": "response", "deleted": true}),
    ))
}

#[derive(Deserialize)]
struct ItemsQuery {
    limit: Option<i64>,
    order: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

/// Items a page of input items holds by default, and at most.
const ITEMS_PAGE: i64 = 20;
const MAX_ITEMS_PAGE: i64 = 100;

/// `GET /v1/responses/{id}/input_items`: OpenAI's list page (`data`,
/// `first_id`, `last_id`, `has_more`), newest first unless `order=asc`,
/// from after (or before) the item an id names.
#[utoipa::path(get, path = "/v1/responses/{id}/input_items", tag = "OpenAI", summary = "The input items of a kept response, paged", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn input_items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<ItemsQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Value>> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(ITEMS_PAGE);
    if !(1..=MAX_ITEMS_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_ITEMS_PAGE}."
        )));
    }
    let ascending = match query.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(AppError::BadRequest("`order` must be asc or desc.".into())),
    };
    let messages = responses::input(&state.db, &state.saver, &caller.key_id, &id).await?;
    let mut items = render::input_items(&id, &messages);
    if !ascending {
        items.reverse();
    }
    let position = |cursor: &str| {
        items
            .iter()
            .position(|item| item["id"] == cursor)
            .ok_or_else(|| {
                AppError::BadRequest(format!("No input item `{cursor}` in response `{id}`."))
            })
    };
    let (from, to) = match (query.after.as_deref(), query.before.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest(
                "Give `after` or `before`, not both.".into(),
            ))
        }
        (Some(after), None) => (position(after)? + 1, items.len()),
        (None, Some(before)) => {
            let end = position(before)?;
            (end.saturating_sub(limit as usize), end)
        }
        (None, None) => (0, items.len()),
    };
    let page: Vec<Value> = items[from..to]
        .iter()
        .take(limit as usize)
        .cloned()
        .collect();
    let has_more = from + page.len() < to || (query.before.is_some() && from > 0);
    Ok(Json(json!({
        "object": "list",
        "data": page,
        "first_id": page.first().map(|i| i["id"].clone()),
        "last_id": page.last().map(|i| i["id"].clone()),
        "has_more": has_more,
    })))
}
