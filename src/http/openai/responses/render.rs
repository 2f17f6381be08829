//! The Responses API's objects, built from the chat pipeline's answer: the
//! `response` object, its output items (an assistant `message` with
//! `output_text` and `file_citation` annotations for the sources, and
//! `function_call`s), its usage, and the input items read back.

use serde_json::{json, Map, Value};

use crate::chat::file_search::FileSearchRun;
use crate::chat::Message;
use crate::retrieval::Source;

/// What every rendering of one response repeats: its id, time, model, the
/// request's settings, and what ragway adds (conversation and sources).
pub(super) struct Shell {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub model: String,
    pub echo: Map<String, Value>,
    pub conversation_id: String,
    pub sources: Vec<Source>,
    /// The `file_search_call` item, when the request had the tool.
    pub file_search: Option<Value>,
    /// The file names of the files a file search found, by id.
    pub filenames: std::collections::HashMap<String, String>,
}

/// The `file_search_call` item of a file search: its queries, and its
/// results when the request asked for them (`include`).
pub(super) fn file_search_item(run: &FileSearchRun, with_results: bool) -> Value {
    let results = with_results.then(|| {
        run.results
            .iter()
            .map(|r| {
                json!({
                    "file_id": r.file_id,
                    "filename": r.filename,
                    "score": r.score,
                    "attributes": r.attributes,
                    "text": r.content.first().and_then(|c| c["text"].as_str()).unwrap_or_default(),
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "id": item_id("fs"),
        "type": "file_search_call",
        "status": "completed",
        "queries": run.queries,
        "results": results,
    })
}

/// How a response ended, as its `status` and `incomplete_details` say.
pub(super) struct Ending {
    pub status: &'static str,
    pub incomplete: Value,
}

impl Ending {
    pub const IN_PROGRESS: Ending = Ending {
        status: "in_progress",
        incomplete: Value::Null,
    };

    /// The ending the chat API's `finish_reason` stands for.
    pub fn of(finish: Option<&str>) -> Ending {
        let incomplete = |reason: &str| Ending {
            status: "incomplete",
            incomplete: json!({"reason": reason}),
        };
        match finish {
            Some("length") => incomplete("max_output_tokens"),
            Some("content_filter") => incomplete("content_filter"),
            _ => Ending {
                status: "completed",
                incomplete: Value::Null,
            },
        }
    }
}

impl Shell {
    /// The response object: ended as `ending`, with `output`, `usage` and
    /// `error` (a failed response's).
    pub fn object(&self, ending: &Ending, output: Vec<Value>, usage: Value, error: Value) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        object.insert("object".into(), json!("response"));
        object.insert("created_at".into(), json!(self.created_at));
        object.insert("status".into(), json!(ending.status));
        object.insert("error".into(), error);
        object.insert("incomplete_details".into(), ending.incomplete.clone());
        object.insert("model".into(), json!(self.model));
        object.insert("output".into(), Value::Array(output));
        object.insert("usage".into(), usage);
        object.extend(self.echo.clone());
        object.insert("conversation".into(), json!({"id": self.conversation_id}));
        object.insert(
            "ragway".into(),
            json!({"conversation_id": self.conversation_id, "sources": self.sources}),
        );
        Value::Object(object)
    }

    /// The annotations of an answer's text: a `file_citation` per source,
    /// where the text first cites it (`[n]`), or at its end.
    pub fn annotations(&self, text: &str) -> Vec<Value> {
        let end = text.chars().count();
        self.sources
            .iter()
            .map(|source| {
                let index = source
                    .cited_in(text)
                    .map_or(end, |marker| text[..marker.end].chars().count());
                let filename = self
                    .filenames
                    .get(&source.document_id)
                    .unwrap_or(&source.title);
                json!({
                    "type": "file_citation",
                    "file_id": source.document_id,
                    "filename": filename,
                    "index": index,
                })
            })
            .collect()
    }

    /// A whole chat completion as the response object.
    pub fn of_completion(&self, completion: &Value) -> Value {
        let choice = &completion["choices"][0];
        let message = &choice["message"];
        let mut output: Vec<Value> = self.file_search.iter().cloned().collect();
        if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
            output.push(message_item(
                &item_id("msg"),
                "completed",
                vec![text_part(text, self.annotations(text))],
            ));
        } else if let Some(refusal) = message["refusal"].as_str() {
            output.push(message_item(
                &item_id("msg"),
                "completed",
                vec![json!({"type": "refusal", "refusal": refusal})],
            ));
        }
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            output.push(call_item(
                &item_id("fc"),
                "completed",
                call,
                &call["function"]["arguments"],
            ));
        }
        let ending = Ending::of(choice["finish_reason"].as_str());
        self.object(&ending, output, usage(&completion["usage"]), Value::Null)
    }
}

/// A new output item id (`msg_…`, `fc_…`).
pub(super) fn item_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// An assistant `message` item.
pub(super) fn message_item(id: &str, status: &str, content: Vec<Value>) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

/// An `output_text` part.
pub(super) fn text_part(text: &str, annotations: Vec<Value>) -> Value {
    json!({"type": "output_text", "text": text, "annotations": annotations, "logprobs": []})
}

/// A `function_call` item for a chat tool call (`call`: its `id` and
/// `function.name`), with `arguments`.
pub(super) fn call_item(id: &str, status: &str, call: &Value, arguments: &Value) -> Value {
    json!({
        "type": "function_call",
        "id": id,
        "call_id": call["id"],
        "name": call["function"]["name"],
        "arguments": arguments.as_str().unwrap_or("{}"),
        "status": status,
    })
}

/// The chat API's usage as the Responses API counts it.
pub(super) fn usage(usage: &Value) -> Value {
    if !usage.is_object() {
        return Value::Null;
    }
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    let input = count(&usage["prompt_tokens"]);
    let output = count(&usage["completion_tokens"]);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": count(&usage["prompt_tokens_details"]["cached_tokens"])},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": count(&usage["completion_tokens_details"]["reasoning_tokens"])},
        "total_tokens": usage["total_tokens"].as_u64().unwrap_or(input + output),
    })
}

/// The input items of response `response_id`, from the chat messages its
/// input became: ids `item_<response>_<n>` (stable, so pages can name them).
pub(super) fn input_items(response_id: &str, messages: &[Message]) -> Vec<Value> {
    let base = response_id.strip_prefix("resp_").unwrap_or(response_id);
    let mut items = Vec::new();
    for message in messages {
        let id = |n: usize| format!("item_{base}_{n}");
        match message.role.as_str() {
            "tool" => items.push(json!({
                "type": "function_call_output",
                "id": id(items.len()),
                "call_id": message.rest.get("tool_call_id").cloned().unwrap_or(Value::Null),
                "output": message.text(),
                "status": "completed",
            })),
            role => {
                let kind = if role == "assistant" {
                    "output_text"
                } else {
                    "input_text"
                };
                let content = match &message.content {
                    Value::String(text) if !text.is_empty() => {
                        vec![json!({"type": kind, "text": text})]
                    }
                    Value::Array(parts) => parts.iter().map(|p| input_part(p, kind)).collect(),
                    _ => Vec::new(),
                };
                if !content.is_empty() {
                    items.push(
                        json!({"type": "message", "id": id(items.len()), "role": role,
                                      "status": "completed", "content": content}),
                    );
                }
                let calls = message.rest.get("tool_calls").and_then(Value::as_array);
                for call in calls.into_iter().flatten() {
                    let item = call_item(
                        &id(items.len()),
                        "completed",
                        call,
                        &call["function"]["arguments"],
                    );
                    items.push(item);
                }
            }
        }
    }
    items
}

/// A chat content part as a Responses content part.
fn input_part(part: &Value, text_kind: &str) -> Value {
    match part["type"].as_str() {
        Some("image_url") => {
            let mut image = json!({"type": "input_image", "image_url": part["image_url"]["url"]});
            image["detail"] = part["image_url"]["detail"]
                .as_str()
                .map_or(json!("auto"), |d| json!(d));
            image
        }
        _ => json!({"type": text_kind, "text": part["text"].as_str().unwrap_or_default()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(sources: Vec<Source>) -> Shell {
        Shell {
            id: "resp_1".into(),
            created_at: 7,
            model: "ragway".into(),
            echo: Map::new(),
            conversation_id: "c1".into(),
            sources,
            file_search: None,
            filenames: Default::default(),
        }
    }

    #[test]
    fn a_completion_becomes_a_response_with_citations_and_calls() {
        let shell = shell(vec![Source::sample(1, "Tides"), Source::sample(2, "Buoys")]);
        let response = shell.of_completion(&json!({
            "choices": [{"message": {"role": "assistant", "content": "Noon [1]. 潮",
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                "finish_reason": "length"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 1}},
        }));
        assert_eq!(response["status"], "incomplete");
        assert_eq!(
            response["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        let text = &response["output"][0]["content"][0];
        assert_eq!(text["text"], "Noon [1]. 潮");
        assert_eq!(text["annotations"][0]["index"], 8, "after the marker");
        assert_eq!(text["annotations"][0]["file_id"], "doc1");
        assert_eq!(
            text["annotations"][1]["index"], 11,
            "uncited: at the end, in characters"
        );
        assert_eq!(response["output"][1]["type"], "function_call");
        assert_eq!(response["output"][1]["call_id"], "call_1");
        assert_eq!(response["usage"]["total_tokens"], 13);
        assert_eq!(
            response["usage"]["output_tokens_details"]["reasoning_tokens"],
            1
        );
        assert_eq!(response["ragway"]["sources"][1]["title"], "Buoys");
        assert_eq!(response["conversation"]["id"], "c1");
    }

    #[test]
    fn input_items_come_back_with_stable_ids() {
        let mut assistant = Message::new("assistant", json!("Let me look."));
        assistant.rest.insert(
            "tool_calls".into(),
            json!([{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]),
        );
        let mut output = Message::new("tool", json!("rain"));
        output.rest.insert("tool_call_id".into(), json!("call_1"));
        let image = Message::new(
            "user",
            json!([{"type": "text", "text": "this?"}, {"type": "image_url", "image_url": {"url": "data:x"}}]),
        );
        let items = input_items(
            "resp_9",
            &[Message::new("user", json!("Hi")), assistant, output, image],
        );
        let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "message",
                "message",
                "function_call",
                "function_call_output",
                "message"
            ]
        );
        let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            ["item_9_0", "item_9_1", "item_9_2", "item_9_3", "item_9_4"]
        );
        assert_eq!(items[1]["content"][0]["type"], "output_text");
        assert_eq!(items[2]["arguments"], "{\"a\":1}");
        assert_eq!(items[3]["call_id"], "call_1");
        assert_eq!(items[4]["content"][1]["type"], "input_image");
    }
}
