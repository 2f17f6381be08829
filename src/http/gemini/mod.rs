//! Google's Gemini API as a face of the chat pipeline: `GET /v1beta/models`,
//! `GET /v1beta/models/{model}`, and `POST /v1beta/models/{model}:generateContent`
//! and `:streamGenerateContent` (server-sent events with `?alt=sse`, else a
//! JSON array sent as it grows); the same under `/v1/` (newer SDKs' default,
//! where `GET /v1/models` answers in Gemini's shape to a key sent as
//! Gemini's: `http::models`). The key comes as `x-goog-api-key`, `?key=` or
//! `Authorization: Bearer`; errors take Google's shape
//! (`{"error": {"code", "message", "status"}}`).
//!
//! The request is translated by `ragway-protocol` and answered by
//! `chat::complete`: models, conversations (`X-Conversation-Id`, a
//! `conversationId` field, or the resent history), retrieval, sources, 画,
//! quotas and logs all apply. The sources and the conversation id are in a
//! `ragway` field.

mod render;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};

use super::reply::{conversation_header, sse_response, with_conversation_header};
use crate::auth::Caller;
use crate::chat::{self, Answer, Named, Reply};
use crate::error::AppError;
use crate::state::AppState;
use crate::usage::LogHandle;
use ragway_protocol::gemini::GenerateRequest;
use render::{Chunks, Extras, Piece};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1beta/models", get(list))
        .route("/v1beta/models/{*target}", get(show).post(generate))
        .route_layer(middleware::map_request(google_key))
}

/// Gemini's clients send the key as `x-goog-api-key` or `?key=`: either
/// becomes the `Authorization` header the key check reads (one that is
/// there already wins).
pub(super) async fn google_key(mut request: Request) -> Request {
    if request.headers().contains_key(header::AUTHORIZATION) {
        return request;
    }
    let from_header = request
        .headers()
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let key = from_header.or_else(|| query_value(request.uri().query(), "key"));
    if let Some(value) =
        key.and_then(|k| HeaderValue::from_str(&format!("Bearer {}", k.trim())).ok())
    {
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    request
}

/// Whether a request comes from a Gemini client: its key is sent the
/// Gemini way (`x-goog-api-key` or `?key=`).
pub(super) fn flavoured(headers: &HeaderMap, query: Option<&str>) -> bool {
    headers.contains_key("x-goog-api-key") || query_value(query, "key").is_some()
}

/// The value of `name` in a query string.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Google's status name for an HTTP status.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 415 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Google's error object.
fn error_body(status: StatusCode, message: &str) -> Value {
    json!({"error": {"code": status.as_u16(), "message": message, "status": status_name(status)}})
}

/// An error in Google's shape (its status and `Retry-After` as for every
/// protocol: [`AppError::into_response_shaped`]).
fn error_response(err: AppError) -> Response {
    err.into_response_shaped(|err| error_body(err.status(), &err.public_message()))
}

/// Gemini's model object for a public model.
fn model_object(id: &str) -> Value {
    json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": env!("CARGO_PKG_VERSION"),
        "displayName": id,
        "description": "A ragway model: answers grounded in its knowledge base.",
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
    })
}

#[utoipa::path(get, path = "/v1beta/models", tag = "Gemini", summary = "The public models in Gemini's shape (key in x-goog-api-key, ?key= or Bearer)", responses((status = 200, description = "See docs/api.md")))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
) -> Response {
    let listed = async {
        caller?;
        Ok::<_, AppError>(chat::models::list(state.models()).await?)
    }
    .await;
    match listed {
        Ok(models) => {
            let models: Vec<Value> = models.iter().map(|m| model_object(&m.id)).collect();
            Json(json!({ "models": models })).into_response()
        }
        Err(err) => error_response(err),
    }
}

#[utoipa::path(get, path = "/v1beta/models/{model}", tag = "Gemini", summary = "One public model in Gemini's shape", params(("model" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    Path(target): Path<String>,
) -> Response {
    let shown = async {
        caller?;
        let name = target.strip_prefix("models/").unwrap_or(&target);
        Ok::<_, AppError>(chat::models::resolve(state.models(), name).await?)
    }
    .await;
    match shown {
        Ok(model) => Json(model_object(&model.id)).into_response(),
        Err(err) => error_response(err),
    }
}

/// How a `streamGenerateContent` answer is framed.
#[derive(Clone, Copy)]
enum Framing {
    /// `?alt=sse`: one `data:` event per chunk.
    Sse,
    /// A JSON array, sent as it grows.
    Array,
}

#[utoipa::path(post, path = "/v1beta/models/{model}:generateContent", tag = "Gemini", summary = "Gemini generateContent; `:streamGenerateContent` (SSE with ?alt=sse, else a JSON array) and `:countTokens` are the same handler, as are all three under /v1/models/", request_body = ragway_protocol::gemini::GenerateRequest, params(("model" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
pub(super) async fn generate(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    log: LogHandle,
    headers: HeaderMap,
    Path(target): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let outcome = async {
        let caller = caller?;
        let (model, method) = target.rsplit_once(':').ok_or_else(|| {
            AppError::not_found(
                "method",
                &format!("{target} (POST models/{{model}}:generateContent)"),
            )
        })?;
        let model = model.strip_prefix("models/").unwrap_or(model);
        let stream = match method {
            "generateContent" => false,
            "streamGenerateContent" => true,
            "countTokens" => return count_tokens(&state, model, &body).await,
            _ => {
                return Err(AppError::NotFound {
                    message: format!(
                        "`{method}` is not served here: ragway serves generateContent, \
                         streamGenerateContent and countTokens."
                    ),
                    code: "not_found",
                })
            }
        };
        let chat = parse(&body, &state)?.into_chat(model, stream)?;
        let conversation = conversation_header(&headers)?.map(Named::Id);
        let origin = super::server_origin(&state.settings, &headers);
        let answer = chat::complete(&state, &caller, conversation, &origin, &log, chat).await?;
        let framing = match query_value(query.as_deref(), "alt").as_deref() {
            Some("sse") => Framing::Sse,
            _ => Framing::Array,
        };
        Ok::<_, AppError>(render(answer, origin, framing))
    }
    .await;
    outcome.unwrap_or_else(error_response)
}

/// A `generateContent` body, its turns counted against the cap before
/// anything grows with them.
fn parse(body: &[u8], state: &AppState) -> Result<GenerateRequest, AppError> {
    checked(serde_json::from_slice(body), state)
}

/// A parsed `generateContent` body, refused in the caller's terms when it
/// does not parse, or its turns counted against the cap.
fn checked(
    parsed: serde_json::Result<GenerateRequest>,
    state: &AppState,
) -> Result<GenerateRequest, AppError> {
    let parsed = parsed.map_err(|e| {
        AppError::BadRequest(format!("The body is not a generateContent request: {e}"))
    })?;
    if let Some(contents) = &parsed.contents {
        chat::caps::check_count(contents.len(), &state.settings)?;
    }
    Ok(parsed)
}

/// `:countTokens`: the request's tokens as the chat upstream would get
/// them, estimated with cl100k (ragway's own token count), for the model
/// named; its `contents`, or a whole `generateContentRequest`. Nothing is
/// sent upstream, nothing is stored.
async fn count_tokens(state: &AppState, model: &str, body: &[u8]) -> Result<Response, AppError> {
    chat::models::resolve(state.models(), model).await?;
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("The body is not a countTokens request: {e}")))?;
    let request = match value.get_mut("generateContentRequest") {
        Some(Value::Object(request)) => {
            request.remove("model");
            Value::Object(std::mem::take(request))
        }
        _ => value,
    };
    let chat = checked(serde_json::from_value(request), state)?.into_chat(model, false)?;
    let tokens: usize = crate::chat::apart(body.len(), || {
        chat.messages
            .iter()
            .map(|m| 4 + bpe_openai::cl100k_base().count(&m.text()))
            .sum()
    });
    Ok(Json(json!({ "totalTokens": tokens })).into_response())
}

/// The answer as Gemini's clients read it.
fn render(answer: Answer, origin: String, framing: Framing) -> Response {
    let Answer {
        conversation_id,
        model,
        sources,
        reply,
        ..
    } = answer;
    let extras = Extras {
        model,
        conversation_id: conversation_id.clone(),
        sources,
        origin,
    };
    let mut response = match reply {
        Reply::Whole(completion) => Json(extras.whole(&completion)).into_response(),
        Reply::Stream(events) => {
            let mut chunks = Chunks::new(extras);
            let mut first = true;
            let frames = events.flat_map(move |event| {
                let pieces = chunks.event(event);
                let frames: Vec<Result<Bytes, std::convert::Infallible>> = pieces
                    .into_iter()
                    .map(|piece| Ok(frame(piece, framing, &mut first)))
                    .collect();
                futures::stream::iter(frames)
            });
            match framing {
                Framing::Sse => sse_response(frames),
                Framing::Array => {
                    let mut response = Response::new(axum::body::Body::from_stream(frames));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    response
                }
            }
        }
    };
    with_conversation_header(&mut response, &conversation_id);
    response
}

/// One piece of a streamed answer, framed.
fn frame(piece: Piece, framing: Framing, first: &mut bool) -> Bytes {
    let (value, last) = match piece {
        Piece::Chunk(value) => (value, false),
        Piece::Last(value) => (value, true),
    };
    match framing {
        Framing::Sse => Bytes::from(format!("data: {value}\r\n\r\n")),
        Framing::Array => {
            let open = if std::mem::take(first) { "[" } else { ",\r\n" };
            let close = if last { "]" } else { "" };
            Bytes::from(format!("{open}{value}{close}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_query() {
        assert_eq!(
            query_value(Some("alt=sse&key=sk-a%2Bb"), "key").as_deref(),
            Some("sk-a+b")
        );
        assert_eq!(query_value(Some("alt=sse"), "key"), None);
        assert_eq!(query_value(None, "key"), None);
    }

    #[test]
    fn errors_take_googles_shape() {
        assert_eq!(
            error_body(StatusCode::TOO_MANY_REQUESTS, "slow down"),
            json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
        );
    }

    #[test]
    fn arrays_open_once_and_close_at_the_end() {
        let mut first = true;
        let a = frame(Piece::Chunk(json!(1)), Framing::Array, &mut first);
        let b = frame(Piece::Last(json!(2)), Framing::Array, &mut first);
        assert_eq!(
            format!(
                "{}{}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ),
            "[1,\r\n2]"
        );
    }
}
