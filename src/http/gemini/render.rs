//! The chat pipeline's answer as Gemini's `GenerateContentResponse`: one
//! whole, or a chunk per piece of a streamed answer (text as it comes,
//! function calls whole once their arguments are, the finish reason and
//! usage on the last). The sources are the candidate's `citationMetadata`
//! (each with its title and its document's URL, at the `[n]` that cites
//! it, else over the whole text; Gemini's SDKs read only known fields) and,
//! with the conversation id, a `ragway` field, on the whole response and
//! on the last chunk.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::chat::Event;
use crate::retrieval::Source;

/// Gemini's name for why an answer ended.
fn finish_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "MAX_TOKENS",
        Some("content_filter") => "SAFETY",
        _ => "STOP",
    }
}

/// The chat API's usage as Gemini's `usageMetadata`.
fn usage_metadata(usage: &Value) -> Value {
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let (prompt, answer) = (
        count(&usage["prompt_tokens"]),
        count(&usage["completion_tokens"]),
    );
    json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": usage["total_tokens"].as_u64().unwrap_or(prompt + answer),
    })
}

/// A tool call's arguments as the object Gemini's `args` is.
fn args(arguments: &str) -> Value {
    serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

fn function_call(id: &Value, name: &Value, arguments: &str) -> Value {
    json!({"functionCall": {"id": id, "name": name, "args": args(arguments)}})
}

/// What ragway adds to a response: the conversation and the sources.
pub(super) struct Extras {
    pub model: String,
    pub conversation_id: String,
    pub sources: Vec<Source>,
    /// This server's address as the client reaches it (for document URLs).
    pub origin: String,
}

impl Extras {
    fn value(&self) -> Value {
        json!({"conversation_id": self.conversation_id, "sources": self.sources})
    }

    /// The sources as Gemini's `citationMetadata` of an answer's `text`
    /// (byte offsets, as Gemini gives them); none without sources.
    fn citations(&self, text: &str) -> Option<Value> {
        if self.sources.is_empty() {
            return None;
        }
        let cited: Vec<Value> = self
            .sources
            .iter()
            .map(|source| {
                let cited = source.cited_in(text).unwrap_or(0..text.len());
                json!({
                    "startIndex": cited.start,
                    "endIndex": cited.end,
                    "uri": format!("{}/v1/documents/{}", self.origin, source.document_id),
                    "title": source.title,
                })
            })
            .collect();
        Some(json!({ "citationSources": cited }))
    }

    /// A response (or chunk) of `parts`, ending with `finish` when it ends.
    fn response(&self, parts: Vec<Value>, finish: Option<&'static str>) -> Value {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        json!({"candidates": [candidate], "modelVersion": self.model})
    }

    /// A whole chat completion as a `GenerateContentResponse`.
    pub fn whole(&self, completion: &Value) -> Value {
        let choice = &completion["choices"][0];
        let message = &choice["message"];
        let mut parts = Vec::new();
        let text = message["content"].as_str().unwrap_or_default();
        if !text.is_empty() {
            parts.push(json!({"text": text}));
        }
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
            parts.push(function_call(
                &call["id"],
                &call["function"]["name"],
                arguments,
            ));
        }
        let finish = finish_reason(choice["finish_reason"].as_str());
        let mut response = self.response(parts, Some(finish));
        if let Some(citations) = self.citations(text) {
            response["candidates"][0]["citationMetadata"] = citations;
        }
        response["usageMetadata"] = usage_metadata(&completion["usage"]);
        response["responseId"] = completion["id"].clone();
        response["ragway"] = self.value();
        response
    }
}

/// A streamed answer as Gemini's chunks, as far as it has come.
pub(super) struct Chunks {
    extras: Extras,
    /// Tool calls by the chat API's index: id, name, arguments so far.
    calls: BTreeMap<u64, (Value, Value, String)>,
    /// The answer's text so far (for the citations' offsets).
    text: String,
    finish: Option<String>,
    usage: Value,
}

/// What one pipeline event comes to.
pub(super) enum Piece {
    Chunk(Value),
    /// The last chunk (or the error that ends the stream).
    Last(Value),
}

impl Chunks {
    pub fn new(extras: Extras) -> Self {
        Self {
            extras,
            calls: BTreeMap::new(),
            text: String::new(),
            finish: None,
            usage: Value::Null,
        }
    }

    /// The chunks for one event of the pipeline.
    pub fn event(&mut self, event: Event) -> Vec<Piece> {
        match event {
            Event::Chunk(chunk) => self.chunk(&chunk).into_iter().map(Piece::Chunk).collect(),
            Event::Raw(_) => Vec::new(),
            Event::Done { .. } => vec![Piece::Last(self.last())],
            Event::Failed { message, .. } => vec![Piece::Last(super::error_body(
                axum::http::StatusCode::BAD_GATEWAY,
                &message,
            ))],
        }
    }

    fn chunk(&mut self, chunk: &Value) -> Option<Value> {
        if chunk.get("usage").is_some_and(Value::is_object) {
            self.usage = chunk["usage"].clone();
        }
        let choice = &chunk["choices"][0];
        if let Some(finish) = choice["finish_reason"].as_str() {
            self.finish = Some(finish.to_string());
        }
        let delta = &choice["delta"];
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let entry = self
                .calls
                .entry(call["index"].as_u64().unwrap_or(0))
                .or_insert_with(|| (Value::Null, Value::Null, String::new()));
            if !call["id"].is_null() {
                entry.0 = call["id"].clone();
            }
            if !call["function"]["name"].is_null() {
                entry.1 = call["function"]["name"].clone();
            }
            entry
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
        let text = delta["content"].as_str().filter(|t| !t.is_empty())?;
        self.text.push_str(text);
        Some(self.extras.response(vec![json!({"text": text})], None))
    }

    /// The chunk that ends a complete answer: its function calls, why it
    /// ended, the usage and ragway's extras.
    fn last(&mut self) -> Value {
        let mut parts: Vec<Value> = std::mem::take(&mut self.calls)
            .into_values()
            .map(|(id, name, arguments)| function_call(&id, &name, &arguments))
            .collect();
        if parts.is_empty() {
            parts.push(json!({"text": ""}));
        }
        let finish = finish_reason(self.finish.as_deref());
        let mut last = self.extras.response(parts, Some(finish));
        if let Some(citations) = self.extras.citations(&self.text) {
            last["candidates"][0]["citationMetadata"] = citations;
        }
        if self.usage.is_object() {
            last["usageMetadata"] = usage_metadata(&self.usage);
        }
        last["ragway"] = self.extras.value();
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extras() -> Extras {
        Extras {
            model: "ragway".into(),
            conversation_id: "c1".into(),
            sources: Vec::new(),
            origin: "http://h".into(),
        }
    }

    #[test]
    fn a_completion_becomes_a_generate_content_response() {
        let response = extras().whole(&json!({
            "id": "chatcmpl-1",
            "choices": [{"message": {"content": "Hi", "tool_calls": [
                {"id": "call_1", "function": {"name": "f", "arguments": "{\"a\":1}"}}
            ]}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        }));
        let candidate = &response["candidates"][0];
        assert_eq!(candidate["content"]["role"], "model");
        assert_eq!(candidate["content"]["parts"][0]["text"], "Hi");
        assert_eq!(
            candidate["content"]["parts"][1]["functionCall"],
            json!({"id": "call_1", "name": "f", "args": {"a": 1}})
        );
        assert_eq!(candidate["finishReason"], "MAX_TOKENS");
        assert_eq!(response["usageMetadata"]["totalTokenCount"], 7);
        assert_eq!(response["ragway"]["conversation_id"], "c1");
    }

    #[test]
    fn text_streams_and_calls_come_whole_at_the_end() {
        let mut chunks = Chunks::new(extras());
        let first = chunks.event(Event::Chunk(
            json!({"choices": [{"delta": {"content": "He"}}]}),
        ));
        let [Piece::Chunk(first)] = first.as_slice() else {
            panic!("one chunk")
        };
        assert_eq!(first["candidates"][0]["content"]["parts"][0]["text"], "He");
        for piece in ["{\"a\"", ":1}"] {
            let none = chunks.event(Event::Chunk(json!({"choices": [{"delta": {"tool_calls": [
                {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": piece}}
            ]}}]})));
            assert!(none.is_empty());
        }
        chunks.event(Event::Chunk(
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        ));
        chunks.event(Event::Chunk(
            json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
        ));
        let last = chunks.event(Event::Done { last: json!({}) });
        let [Piece::Last(last)] = last.as_slice() else {
            panic!("the last chunk")
        };
        let candidate = &last["candidates"][0];
        assert_eq!(
            candidate["content"]["parts"][0]["functionCall"]["args"],
            json!({"a": 1})
        );
        assert_eq!(candidate["finishReason"], "STOP");
        assert_eq!(last["usageMetadata"]["totalTokenCount"], 2);
        assert_eq!(last["ragway"]["sources"], json!([]));
    }
}
