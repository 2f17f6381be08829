//! Anthropic's Messages API (`POST /v1/messages`) on top of the chat
//! pipeline: the request is translated to an OpenAI chat request, answered
//! by [`super::complete`] (models, conversations, retrieval, sources, 画,
//! logs all apply), and the answer translated back: a `message` object, or
//! Anthropic's SSE sequence (`message_start`, `content_block_*`,
//! `message_delta`, `message_stop`). Sources and the conversation id ride
//! along as extra fields (`sources`, `conversation_id`) of the message and
//! of the final `message_delta`.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ChatRequest, Message};
use crate::error::AppError;

/// A Messages API request; fields ragway has no use for are ignored.
#[derive(Debug, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<AnthropicMessage>,
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub system: Option<Value>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub temperature: Option<Value>,
    #[serde(default)]
    pub top_p: Option<Value>,
    #[serde(default)]
    pub stop_sequences: Option<Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// ragway's own: continue this conversation.
    #[serde(default)]
    pub conversation_id: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct AnthropicMessage {
    pub role: String,
    pub content: Value,
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

/// The text of a `system` field or a tool result: a string or text blocks.
fn plain_text(value: &Value) -> Result<String, AppError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => Ok(blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n\n")),
        _ => Err(bad("`system` must be a string or an array of text blocks.")),
    }
}

impl MessagesRequest {
    /// The same request in OpenAI's chat shape.
    pub fn into_chat(self) -> Result<ChatRequest, AppError> {
        let max_tokens = self
            .max_tokens
            .ok_or_else(|| bad("`max_tokens` is required."))?;
        if self.messages.is_empty() {
            return Err(bad("`messages` must not be empty."));
        }
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            let text = plain_text(system)?;
            if !text.is_empty() {
                messages.push(Message::new("system", Value::String(text)));
            }
        }
        for (i, message) in self.messages.into_iter().enumerate() {
            translate_message(i, message, &mut messages)?;
        }
        let mut rest = Map::new();
        rest.insert("max_tokens".into(), json!(max_tokens));
        for (name, value) in [
            ("temperature", self.temperature),
            ("top_p", self.top_p),
            ("stop", self.stop_sequences),
        ] {
            if let Some(value) = value.filter(|v| !v.is_null()) {
                rest.insert(name.into(), value);
            }
        }
        if let Some(user) = self.metadata.as_ref().and_then(|m| m["user_id"].as_str()) {
            rest.insert("user".into(), json!(user));
        }
        if let Some(tools) = self.tools.filter(|t| !t.is_empty()) {
            let tools = tools
                .iter()
                .map(|tool| {
                    let name = tool["name"]
                        .as_str()
                        .ok_or_else(|| bad("Every tool needs a `name`."))?;
                    let mut function = json!({
                        "name": name,
                        "parameters": tool.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
                    });
                    if let Some(description) = tool.get("description") {
                        function["description"] = description.clone();
                    }
                    Ok(json!({"type": "function", "function": function}))
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            rest.insert("tools".into(), Value::Array(tools));
        }
        if let Some(choice) = self.tool_choice.filter(|c| !c.is_null()) {
            let translated = match choice["type"].as_str() {
                Some("auto") => json!("auto"),
                Some("any") => json!("required"),
                Some("none") => json!("none"),
                Some("tool") => json!({"type": "function", "function": {"name": choice["name"]}}),
                _ => return Err(bad("`tool_choice.type` must be auto, any, tool or none.")),
            };
            rest.insert("tool_choice".into(), translated);
            if choice["disable_parallel_tool_use"] == json!(true) {
                rest.insert("parallel_tool_calls".into(), json!(false));
            }
        }
        if let Some(id) = self.conversation_id.filter(|v| !v.is_null()) {
            rest.insert("conversation_id".into(), id);
        }
        let stream = self.stream.unwrap_or(false);
        if stream {
            // The usage goes into `message_delta`.
            rest.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Ok(ChatRequest {
            model: self.model,
            messages,
            stream,
            rest,
        })
    }
}

/// One Anthropic message as OpenAI messages: tool results become `tool`
/// messages, tool uses an assistant's `tool_calls`, images `image_url`
/// parts; text-only content becomes a plain string (so a resent history
/// matches the stored one).
fn translate_message(
    i: usize,
    message: AnthropicMessage,
    out: &mut Vec<Message>,
) -> Result<(), AppError> {
    let role = match message.role.as_str() {
        "user" | "assistant" => message.role,
        other => {
            return Err(bad(format!(
                "messages[{i}].role must be user or assistant, not {other:?} (the system prompt goes in `system`)."
            )))
        }
    };
    let blocks = match message.content {
        Value::String(text) => {
            out.push(Message::new(&role, Value::String(text)));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(bad(format!(
                "messages[{i}].content must be a string or an array of content blocks."
            )))
        }
    };
    let mut parts: Vec<Value> = Vec::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => parts.push(json!({"type": "text", "text": block["text"]})),
            Some("image") => {
                let source = &block["source"];
                let url = match source["type"].as_str() {
                    Some("base64") => format!(
                        "data:{};base64,{}",
                        source["media_type"].as_str().unwrap_or("image/png"),
                        source["data"].as_str().unwrap_or_default()
                    ),
                    Some("url") => source["url"].as_str().unwrap_or_default().to_string(),
                    _ => return Err(bad(format!("messages[{i}]: an image's source must be base64 or url."))),
                };
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            Some("tool_use") => tool_calls.push(json!({
                "id": block["id"],
                "type": "function",
                "function": {
                    "name": block["name"],
                    "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                },
            })),
            Some("tool_result") => {
                let mut text = plain_text(&block["content"]).unwrap_or_default();
                if block["is_error"] == json!(true) {
                    text = format!("Error: {text}");
                }
                let mut result = Message::new("tool", Value::String(text));
                result.rest.insert("tool_call_id".into(), block["tool_use_id"].clone());
                out.push(result);
            }
            // Thinking and other blocks are the model's own notes: not sent back.
            _ => {}
        }
    }
    let text_only = parts.iter().all(|p| p["type"] == "text");
    let content = if parts.is_empty() {
        Value::Null
    } else if text_only {
        Value::String(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
        )
    } else {
        Value::Array(parts)
    };
    if content.is_null() && tool_calls.is_empty() {
        return Ok(()); // only tool results (already added) or nothing
    }
    let mut translated = Message::new(&role, content);
    if !tool_calls.is_empty() {
        translated
            .rest
            .insert("tool_calls".into(), Value::Array(tool_calls));
    }
    out.push(translated);
    Ok(())
}

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

/// An error response (ragway's OpenAI-shaped one) in Anthropic's shape,
/// keeping its status and headers (`Retry-After`).
pub async fn error_response(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    let body = json!({
        "type": "error",
        "error": {"type": error_type(parts.status), "message": message},
    });
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// An answer of the chat pipeline as the Messages API gives it.
pub async fn answer(response: Response, stream: bool) -> Response {
    if !response.status().is_success() {
        return error_response(response).await;
    }
    if !stream {
        let (mut parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => bytes,
            Err(err) => {
                return error_response(AppError::Internal(anyhow::anyhow!(err)).into_response())
                    .await
            }
        };
        let completion: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(
            parts,
            Body::from(message_from_completion(&completion).to_string()),
        );
    }
    let (parts, body) = response.into_parts();
    let events = translate_stream(body);
    Response::from_parts(parts, Body::from_stream(events))
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
}

impl StreamState {
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

/// Anthropic's event sequence for the chat pipeline's OpenAI SSE body.
fn translate_stream(
    body: Body,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    async_stream::stream! {
        let mut events = std::pin::pin!(body.into_data_stream().eventsource());
        let mut state = StreamState {
            id: message_id(),
            started: false,
            next_block: 0,
            open: None,
            finish: None,
            usage: json!({"input_tokens": 0, "output_tokens": 0}),
            extras: Map::new(),
        };
        while let Some(next) = events.next().await {
            let Ok(sse) = next else {
                yield Ok(event("error", &json!({"type": "error", "error": {"type": "api_error", "message": "The answer stream broke off."}})));
                return;
            };
            let data = sse.data.trim();
            if data == "[DONE]" {
                for bytes in state.end() {
                    yield Ok(bytes);
                }
                return;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(data) else { continue };
            if let Some(error) = chunk.get("error") {
                let message = error["message"].as_str().unwrap_or("The upstream failed.");
                yield Ok(event("error", &json!({"type": "error", "error": {"type": "api_error", "message": message}})));
                return;
            }
            for bytes in state.chunk(&chunk) {
                yield Ok(bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value::<MessagesRequest>(body)
            .unwrap()
            .into_chat()
            .unwrap()
    }

    #[test]
    fn requests_become_openai_chat_requests() {
        let chat = request(json!({
            "model": "ragway",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "Be brief."}],
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"},
                    {"type": "text", "text": "And tomorrow?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}}
                ]}
            ],
            "tools": [{"name": "weather", "description": "Forecast", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
        }));
        assert_eq!(chat.model, "ragway");
        assert!(!chat.stream);
        let roles: Vec<&str> = chat.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        assert_eq!(chat.messages[0].content, "Be brief.");
        assert_eq!(chat.messages[1].content, "Weather?");
        assert_eq!(chat.messages[2].content, "Let me look.");
        let call = &chat.messages[2].rest["tool_calls"][0];
        assert_eq!(call["function"]["name"], "weather");
        assert_eq!(call["function"]["arguments"], r#"{"city":"Oslo"}"#);
        assert_eq!(chat.messages[3].rest["tool_call_id"], "toolu_1");
        assert_eq!(chat.messages[3].content, "rain");
        assert_eq!(
            chat.messages[4].content[1]["image_url"]["url"],
            "data:image/jpeg;base64,AAAA"
        );
        assert_eq!(chat.rest["max_tokens"], 64);
        assert_eq!(chat.rest["stop"], json!(["END"]));
        assert_eq!(chat.rest["user"], "u-1");
        assert_eq!(chat.rest["tool_choice"], "required");
        assert_eq!(
            chat.rest["tools"][0]["function"]["parameters"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let refused = |body: Value| {
            serde_json::from_value::<MessagesRequest>(body)
                .unwrap()
                .into_chat()
                .unwrap_err()
                .to_string()
        };
        assert!(
            refused(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
                .contains("max_tokens")
        );
        assert!(refused(json!({"model": "m", "max_tokens": 5, "messages": []})).contains("empty"));
        assert!(refused(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]})
        )
        .contains("`system`"));
    }

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
        let mut state = StreamState {
            id: "msg_1".into(),
            started: false,
            next_block: 0,
            open: None,
            finish: None,
            usage: json!({}),
            extras: Map::new(),
        };
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
