//! Relaying an upstream SSE stream chunk by chunk: each chunk becomes an
//! [`Event`] as soon as it arrives, with the public model name. The answer
//! is gathered as it passes and saved before [`Event::Done`]. A stream that
//! breaks off ends with [`Event::Failed`], and what came until then is
//! saved, marked incomplete (also when the client leaves).

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::answer::{Event, Events};
use super::{Exchange, Message};
use crate::upstream::bounded;

/// The events of `upstream`'s answer; `client_usage` says whether the
/// client asked for the usage chunk (ragway always does, to save it). A
/// stream that sends more than `max_bytes` in all ends there, failed.
pub fn relay(
    upstream: reqwest::Response,
    exchange: Exchange,
    client_usage: bool,
    idle: Duration,
    max_bytes: usize,
) -> Events {
    Box::pin(async_stream::stream! {
        let mut events = std::pin::pin!(bounded::stream(upstream, max_bytes).eventsource());
        let mut answer = Gathered::new(exchange, client_usage);
        loop {
            let event = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => {
                    let why = format!("The chat upstream sent nothing for {} s.", idle.as_secs());
                    answer.fail(&why).await;
                    yield failed(why, None);
                    break;
                }
                // Some providers end after the final chunk without `[DONE]`.
                Ok(None) if answer.finished => {
                    yield answer.close().await;
                    break;
                }
                Ok(None) => {
                    let why = "The chat upstream closed the stream before the answer was complete.";
                    answer.fail(why).await;
                    yield failed(why.to_string(), None);
                    break;
                }
                Ok(Some(Err(err))) => {
                    let why = format!("The chat upstream stream failed: {err}");
                    answer.fail(&why).await;
                    yield failed(why, None);
                    break;
                }
                Ok(Some(Ok(event))) => event,
            };
            let data = event.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                yield answer.close().await;
                break;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(data) else {
                // Not JSON: pass it on as it came rather than drop it.
                yield Event::Raw(data.to_string());
                continue;
            };
            if let Some(error) = chunk.get("error") {
                let why = error["message"].as_str().unwrap_or("The chat upstream sent an error.");
                answer.fail(&format!("The chat upstream sent an error: {why}")).await;
                yield failed(why.to_string(), Some(chunk));
                break;
            }
            for chunk in answer.observe(chunk) {
                yield Event::Chunk(chunk);
            }
        }
    })
}

fn failed(message: String, upstream: Option<Value>) -> Event {
    Event::Failed { message, upstream }
}

/// The answer as it streams past, and the exchange it ends. Dropped before
/// it was saved (the client went away), it saves what it has as incomplete.
struct Gathered {
    /// Taken when saved.
    exchange: Option<Exchange>,
    /// The public model name.
    model: String,
    client_usage: bool,
    content: String,
    tool_calls: Vec<Value>,
    usage: Option<Value>,
    /// A choice reported its `finish_reason`.
    finished: bool,
    /// `id` and `created` of the upstream's chunks, for the chunks ragway adds.
    id: Value,
    created: Value,
}

impl Gathered {
    fn new(exchange: Exchange, client_usage: bool) -> Self {
        Self {
            model: exchange.model.clone(),
            exchange: Some(exchange),
            client_usage,
            content: String::new(),
            tool_calls: Vec::new(),
            usage: None,
            finished: false,
            id: Value::Null,
            created: Value::Null,
        }
    }

    /// Take in one upstream chunk; the chunks to send for it.
    fn observe(&mut self, mut chunk: Value) -> Vec<Value> {
        let mut out = Vec::with_capacity(1);
        let Some(object) = chunk.as_object_mut() else {
            return vec![chunk];
        };
        if self.id.is_null() {
            self.id = object.get("id").cloned().unwrap_or(Value::Null);
            self.created = object.get("created").cloned().unwrap_or(Value::Null);
        }
        object.insert("model".into(), Value::String(self.model.clone()));
        let usage = object.get("usage").filter(|u| u.is_object()).cloned();
        let has_usage = usage.is_some();
        if has_usage {
            self.usage = usage;
        }
        let choices: &[Value] = object
            .get("choices")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        if choices.is_empty() && has_usage && !self.client_usage {
            return out; // the usage chunk ragway asked for on its own behalf
        }
        for choice in choices
            .iter()
            .filter(|c| c["index"].as_u64().unwrap_or(0) == 0)
        {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str() {
                self.content.push_str(text);
            }
            if let Some(calls) = delta["tool_calls"].as_array() {
                for call in calls {
                    self.add_tool_call(call);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finished = true;
                let footer = self
                    .exchange
                    .as_ref()
                    .and_then(|e| e.footer.as_deref())
                    .filter(|_| reason != "tool_calls");
                if let Some(footer) = footer {
                    self.content.push_str(footer);
                    out.push(self.chunk(json!([{
                        "index": 0, "delta": {"content": footer}, "finish_reason": null
                    }])));
                }
            }
        }
        out.push(chunk);
        out
    }

    /// Merge one streamed tool-call fragment (they arrive piece by piece, by index).
    fn add_tool_call(&mut self, fragment: &Value) {
        let index = fragment["index"].as_u64().unwrap_or(0) as usize;
        while self.tool_calls.len() <= index {
            self.tool_calls.push(json!({
                "id": "", "type": "function", "function": {"name": "", "arguments": ""}
            }));
        }
        let call = &mut self.tool_calls[index];
        for field in ["id", "type"] {
            if let Some(value) = fragment[field].as_str() {
                call[field] = Value::String(value.to_string());
            }
        }
        for field in ["name", "arguments"] {
            if let Some(piece) = fragment["function"][field].as_str() {
                let so_far = call["function"][field].as_str().unwrap_or_default();
                call["function"][field] = Value::String(format!("{so_far}{piece}"));
            }
        }
    }

    /// A chunk ragway adds, in the upstream's id and time.
    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    fn message(&self) -> Message {
        let mut rest = Map::new();
        if !self.tool_calls.is_empty() {
            rest.insert("tool_calls".into(), Value::Array(self.tool_calls.clone()));
        }
        let content = if self.content.is_empty() && !self.tool_calls.is_empty() {
            Value::Null
        } else {
            Value::String(self.content.clone())
        };
        Message {
            role: "assistant".into(),
            content,
            rest,
        }
    }

    /// Save the answer; the event that ends the stream.
    async fn close(&mut self) -> Event {
        if let Some(exchange) = self.exchange.take() {
            exchange
                .save(self.message(), self.usage.clone(), !self.finished)
                .await;
        }
        Event::Done {
            last: self.chunk(json!([])),
        }
    }

    /// Save what came before the stream failed (`why`), marked incomplete.
    async fn fail(&mut self, why: &str) {
        if let Some(exchange) = self.exchange.take() {
            exchange.log.set_error(why);
            exchange
                .save(self.message(), self.usage.clone(), true)
                .await;
        }
    }
}

impl Drop for Gathered {
    fn drop(&mut self) {
        if let Some(exchange) = self.exchange.take() {
            let message = self.message();
            let usage = self.usage.take();
            let tasks = exchange.state.tasks.clone();
            tasks.spawn(async move { exchange.save(message, usage, true).await });
        }
    }
}
