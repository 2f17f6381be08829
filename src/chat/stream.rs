//! Relaying an upstream SSE stream chunk by chunk: each event is forwarded as
//! soon as it arrives, with the public model name and, on the final chunk,
//! the sources. A stream that breaks off ends with an OpenAI error event.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::retrieval::Source;

/// The SSE response that relays `upstream`.
pub fn relay(
    upstream: reqwest::Response,
    public_model: String,
    sources: Vec<Source>,
    idle: Duration,
) -> Response {
    let body = async_stream::stream! {
        let mut events = std::pin::pin!(upstream.bytes_stream().eventsource());
        let sources = serde_json::to_value(&sources).unwrap_or_else(|_| json!([]));
        let mut finished = false;
        let mut sources_sent = false;
        loop {
            let event = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => {
                    yield Ok::<Bytes, Infallible>(error_event(&format!(
                        "The chat upstream sent nothing for {} s.", idle.as_secs()
                    )));
                    break;
                }
                Ok(None) if finished => {
                    // Some providers end after the final chunk without `[DONE]`.
                    yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
                    break;
                }
                Ok(None) => {
                    yield Ok(error_event("The chat upstream closed the stream before the answer was complete."));
                    break;
                }
                Ok(Some(Err(err))) => {
                    yield Ok(error_event(&format!("The chat upstream stream failed: {err}")));
                    break;
                }
                Ok(Some(Ok(event))) => event,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                if !sources_sent {
                    yield Ok(data_event(&json!({
                        "object": "chat.completion.chunk",
                        "model": public_model,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": null}],
                        "sources": sources,
                    })));
                }
                yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
                break;
            }
            let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
                // Not JSON: pass it on as it came rather than drop it.
                yield Ok(Bytes::from(format!("data: {data}\n\n")));
                continue;
            };
            if chunk.get("error").is_some() {
                yield Ok(data_event(&chunk));
                break;
            }
            if let Some(object) = chunk.as_object_mut() {
                object.insert("model".into(), Value::String(public_model.clone()));
                let final_chunk = object
                    .get("choices")
                    .and_then(Value::as_array)
                    .is_some_and(|choices| choices.iter().any(|c| !c["finish_reason"].is_null()));
                if final_chunk && !sources_sent {
                    object.insert("sources".into(), sources.clone());
                    sources_sent = true;
                    finished = true;
                }
            }
            yield Ok(data_event(&chunk));
        }
    };
    let mut response = Response::new(Body::from_stream(body));
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

fn data_event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn error_event(message: &str) -> Bytes {
    data_event(&json!({
        "error": { "message": message, "type": "upstream_error", "param": null, "code": "stream_interrupted" }
    }))
}
