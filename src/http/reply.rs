//! What every protocol's face needs to answer: an SSE response, and the
//! conversation named in the `X-Conversation-Id` header both ways.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;

use crate::chat::CONVERSATION_HEADER;
use crate::error::{AppError, AppResult};

/// An SSE response of `frames`.
pub(super) fn sse_response(
    frames: impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    let mut response = Response::new(Body::from_stream(frames));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell nginx-style proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Name the conversation in the `X-Conversation-Id` response header.
pub(super) fn with_conversation_header(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(CONVERSATION_HEADER, value);
    }
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
