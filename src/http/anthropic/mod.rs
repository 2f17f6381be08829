//! Anthropic's Messages API as a renderer of the chat pipeline: the
//! request is translated to a chat request by `ragway-protocol`, answered by
//! `chat::complete` (models, conversations, retrieval, sources, 画, logs all
//! apply), and its [`Answer`] rendered here: a `message` object, or
//! Anthropic's SSE sequence (`message_start`, `content_block_*`,
//! `message_delta`, `message_stop`). Sources and the conversation id ride
//! along as extra fields (`sources`, `conversation_id`) of the message and
//! of the final `message_delta`. Errors take Anthropic's shape.

pub mod messages;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::reply::{sse_response, with_conversation_header};
use crate::chat::{Answer, Event, Reply};
use crate::error::AppError;

/// Anthropic's name for why an answer ended.
fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls") | Some("function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

fn usage_of(usage: &Value) -> Value {
    json!({
        "input_tokens": usage["prompt_tokens"].as_u64().unwrap_or(0),
        "output_tokens": usage["completion_tokens"].as_u64().unwrap_or(0),
    })
}

/// A tool call's arguments as the object Anthropic's `input` is.
fn tool_input(arguments: &Value) -> Value {
    arguments
        .as_str()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

/// An OpenAI chat completion as an Anthropic message.
pub fn message_from_completion(completion: &Value) -> Value {
    let choice = &completion["choices"][0];
    let answer = &choice["message"];
    let mut content = Vec::new();
    if let Some(text) = answer["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in answer["tool_calls"].as_array().into_iter().flatten() {
        content.push(json!({
            "type": "tool_use",
            "id": call["id"],
            "name": call["function"]["name"],
            "input": tool_input(&call["function"]["arguments"]),
        }));
    }
    let mut message = json!({
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": completion["model"],
        "content": content,
        "stop_reason": stop_reason(choice["finish_reason"].as_str()),
        "stop_sequence": null,
        "usage": usage_of(&completion["usage"]),
    });
    for extra in ["sources", "conversation_id"] {
        if let Some(value) = completion.get(extra) {
            message[extra] = value.clone();
        }
    }
    message
}

/// Anthropic's error type for an HTTP status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 409 | 415 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An error in Anthropic's shape (its status and `Retry-After` as for
/// every protocol: [`AppError::into_response_shaped`]).
pub fn error_response(err: AppError) -> Response {
    err.into_response_shaped(|err| error_body(error_type(err.status()), &err.public_message()))
}

/// Anthropic's error object, as a response's body and as a stream's
/// `error` event.
fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// An answer of the chat pipeline as the Messages API gives it.
pub fn answer(answer: Answer) -> Response {
    let Answer {
        conversation_id,
        sources,
        reply,
        ..
    } = answer;
    let sources = serde_json::to_value(&sources).unwrap_or_else(|_| json!([]));
    let mut response = match reply {
        Reply::Whole(mut completion) => {
            completion["sources"] = sources;
            completion["conversation_id"] = Value::String(conversation_id.clone());
            axum::Json(message_from_completion(&completion)).into_response()
        }
        Reply::Stream(events) => {
            let mut state = StreamState::new(message_id());
            state.extras.insert("sources".into(), sources);
            state.extras.insert(
                "conversation_id".into(),
                Value::String(conversation_id.clone()),
            );
            sse_response(events.flat_map(move |event| {
                futures::stream::iter(state.event(event).into_iter().map(Ok))
            }))
        }
    };
    with_conversation_header(&mut response, &conversation_id);
    response
}

/// One SSE event of Anthropic's stream.
fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// What the translated stream has open and has learnt so far.
struct StreamState {
    id: String,
    started: bool,
    /// The index of the next content block, and the open one (with the
    /// OpenAI tool-call index it stands for, if it is a tool use).
    next_block: usize,
    open: Option<(usize, Option<u64>)>,
    finish: Option<String>,
    usage: Value,
    extras: Map<String, Value>,
    /// The stream ended (done or failed): nothing more is sent.
    ended: bool,
}

impl StreamState {
    fn new(id: String) -> Self {
        Self {
            id,
            started: false,
            next_block: 0,
            open: None,
            finish: None,
            usage: json!({"input_tokens": 0, "output_tokens": 0}),
            extras: Map::new(),
            ended: false,
        }
    }

    /// The Anthropic events for one event of the pipeline's stream.
    fn event(&mut self, happened: Event) -> Vec<Bytes> {
        if self.ended {
            return Vec::new();
        }
        match happened {
            Event::Chunk(chunk) => self.chunk(&chunk),
            // Anthropic's stream has no place for data that is not JSON.
            Event::Raw(_) => Vec::new(),
            Event::Done { .. } => {
                self.ended = true;
                self.end()
            }
            Event::Failed { message, .. } => {
                self.ended = true;
                vec![event("error", &error_body("api_error", &message))]
            }
        }
    }

    fn start(&mut self, model: &Value, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push(event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }}),
        ));
    }

    fn close_block(&mut self, out: &mut Vec<Bytes>) {
        if let Some((index, _)) = self.open.take() {
            out.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    fn open_block(&mut self, block: Value, tool: Option<u64>, out: &mut Vec<Bytes>) -> usize {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, tool));
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        index
    }

    /// The Anthropic events for one OpenAI chunk.
    fn chunk(&mut self, chunk: &Value) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.start(&chunk["model"], &mut out);
        if chunk.get("usage").is_some_and(Value::is_object) {
            self.usage = usage_of(&chunk["usage"]);
        }
        for extra in ["sources", "conversation_id"] {
            if let Some(value) = chunk.get(extra) {
                self.extras.insert(extra.into(), value.clone());
            }
        }
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            let index = match self.open {
                Some((index, None)) => index,
                _ => self.open_block(json!({"type": "text", "text": ""}), None, &mut out),
            };
            out.push(event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let tool = call["index"].as_u64().unwrap_or(0);
            let index = match self.open {
                Some((index, Some(open))) if open == tool => index,
                _ => self.open_block(
                    json!({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": {}}),
                    Some(tool),
                    &mut out,
                ),
            };
            if let Some(fragment) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                out.push(event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": fragment}}),
                ));
            }
        }
        if let Some(finish) = choice["finish_reason"].as_str() {
            self.finish = Some(finish.to_string());
        }
        out
    }

    /// The events that end a complete answer.
    fn end(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.start(&Value::Null, &mut out);
        self.close_block(&mut out);
        let mut delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
            "usage": self.usage,
        });
        for (name, value) in &self.extras {
            delta[name] = value.clone();
        }
        out.push(event("message_delta", &delta));
        out.push(event("message_stop", &json!({"type": "message_stop"})));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_become_messages() {
        let message = message_from_completion(&json!({
            "model": "ragway",
            "choices": [{"message": {"role": "assistant", "content": "Hi", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}
            ]}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2},
            "sources": [],
            "conversation_id": "c1",
        }));
        assert_eq!(message["type"], "message");
        assert_eq!(message["content"][0], json!({"type": "text", "text": "Hi"}));
        assert_eq!(message["content"][1]["input"], json!({"a": 1}));
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(
            message["usage"],
            json!({"input_tokens": 10, "output_tokens": 2})
        );
        assert_eq!(message["conversation_id"], "c1");
    }

    #[test]
    fn stream_chunks_become_anthropic_events() {
        let mut state = StreamState::new("msg_1".into());
        let names = |events: Vec<Bytes>| -> Vec<String> {
            events
                .iter()
                .map(|e| {
                    String::from_utf8_lossy(e)
                        .lines()
                        .next()
                        .unwrap()
                        .trim_start_matches("event: ")
                        .to_string()
                })
                .collect()
        };
        let first = state.chunk(&json!({"model": "ragway", "choices": [{"delta": {"role": "assistant", "content": "He"}}]}));
        assert_eq!(
            names(first),
            [
                "message_start",
                "content_block_start",
                "content_block_delta"
            ]
        );
        let tool = state.chunk(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}}]}));
        assert_eq!(
            names(tool),
            [
                "content_block_stop",
                "content_block_start",
                "content_block_delta"
            ]
        );
        state.chunk(&json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}));
        state.chunk(&json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}));
        state.chunk(&json!({"choices": [], "sources": [], "conversation_id": "c9"}));
        let end = state.end();
        let delta: Value = serde_json::from_str(
            String::from_utf8_lossy(&end[1])
                .lines()
                .nth(1)
                .unwrap()
                .trim_start_matches("data: "),
        )
        .unwrap();
        assert_eq!(
            names(end),
            ["content_block_stop", "message_delta", "message_stop"]
        );
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta["usage"]["output_tokens"], 4);
        assert_eq!(delta["conversation_id"], "c9");
    }
}
