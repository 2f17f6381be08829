//! OpenAI's Responses API request (`POST /v1/responses`) and its
//! translation into a chat request, which the server answers through its
//! one chat pipeline. Only the request side lives here: the response object
//! and its typed event stream are the server's.
//!
//! `input` is a string (one user message) or a list of items: messages
//! (with `input_text`, `output_text` and `input_image` parts), the model's
//! `function_call`s and the client's `function_call_output`s. They become
//! chat messages in order: a function call joins the assistant message
//! before it (as OpenAI's chat API puts text and tool calls in one message),
//! an output becomes a `tool` message. Text-only content becomes a plain
//! string, so that a resent history matches the stored one.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, Message};
use crate::{bad, RequestResult};

/// Keys and characters `metadata` may hold (OpenAI's limits).
const METADATA_KEYS: usize = 16;
const METADATA_KEY_CHARS: usize = 64;
const METADATA_VALUE_CHARS: usize = 512;

/// Characters a response id (or a conversation id) may have.
const MAX_ID_CHARS: usize = 128;

/// A Responses API request; fields ragway has no use for are ignored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: Option<Value>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<Value>,
    #[serde(default)]
    pub top_p: Option<Value>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// OpenAI's conversation object: here, a ragway conversation id.
    #[serde(default)]
    pub conversation: Option<Value>,
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub text: Option<Value>,
    #[serde(default)]
    pub reasoning: Option<Value>,
    #[serde(default)]
    pub background: Option<bool>,
    /// Only `file_search_call.results`: the results in the `file_search_call` item.
    #[serde(default)]
    pub include: Option<Vec<String>>,
    /// ragway's own, as on chat completions: continue this conversation.
    #[serde(default)]
    pub conversation_id: Option<Value>,
    /// Every other field: refused, naming it, unless it is one that does
    /// not change the answer ([`IGNORED`]).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Fields taken and not used, because they do not change what is answered
/// here: `truncation` (ragway trims the history to its own limits either
/// way), routing and caching hints, and `stream_options` (the events carry
/// no obfuscation padding).
pub const IGNORED: &[&str] = &[
    "truncation",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "stream_options",
    "max_tool_calls",
];

/// The first field of `other` that is neither ignorable nor empty, as a refusal.
fn refuse_unknown(other: &Map<String, Value>) -> RequestResult<()> {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    match other
        .iter()
        .find(|(name, value)| !IGNORED.contains(&name.as_str()) && !empty(value))
    {
        Some((name, _)) => Err(bad(format!(
            "`{name}` is not supported here (see the protocol table in the README)."
        ))),
        None => Ok(()),
    }
}

/// How a Responses request continues earlier work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continues {
    /// Nothing named: a new conversation (or the one its history matches).
    Nothing,
    /// `previous_response_id`: after that response.
    Response(String),
    /// `conversation`: after the stored messages of that conversation.
    Conversation(String),
    /// ragway's `conversation_id`: as on chat completions (the items may
    /// resend the stored history, or add to it).
    Named(String),
}

/// A Responses request, translated.
#[derive(Debug)]
pub struct Translated {
    /// The chat request the pipeline answers.
    pub chat: ChatRequest,
    /// What it continues.
    pub continues: Continues,
    /// Whether the response is kept for `GET /v1/responses/{id}` and as a
    /// `previous_response_id` (default true).
    pub store: bool,
    /// The chat messages the `input` items became (not the instructions):
    /// the last ones of the conversation once it is saved, before the answer.
    pub input_messages: usize,
    /// The request's settings as the response object repeats them
    /// (`instructions`, `metadata`, `tools`, `temperature`, …).
    pub echo: Map<String, Value>,
    /// `include: ["file_search_call.results"]`: the file search's results
    /// go in its output item.
    pub include_results: bool,
}

/// Whether `include` asks for the file search's results (the one value
/// honoured; any other is refused by name).
fn included(include: Option<&[String]>, searching: bool) -> RequestResult<bool> {
    let mut results = false;
    for value in include.unwrap_or_default() {
        match value.as_str() {
            "file_search_call.results" if searching => results = true,
            "file_search_call.results" => {
                return Err(bad(
                    "`include: file_search_call.results` needs a `file_search` tool.",
                ))
            }
            other => {
                return Err(bad(format!(
                    "`include` value {other:?} is not supported: only \"file_search_call.results\"."
                )))
            }
        }
    }
    Ok(results)
}

impl ResponsesRequest {
    /// The same request in OpenAI's chat shape: `instructions` become a
    /// leading system message, the items chat messages, and the settings
    /// their chat names (`max_output_tokens` → `max_tokens`, `text.format`
    /// → `response_format`, `reasoning.effort` → `reasoning_effort`).
    pub fn into_chat(self) -> RequestResult<Translated> {
        if self.background == Some(true) {
            return Err(bad(
                "`background` responses are not supported: stream the response, or wait for it.",
            ));
        }
        refuse_unknown(&self.other)?;
        let continues = self.continues()?;
        let metadata = check_metadata(self.metadata)?;
        let mut messages = Vec::new();
        if let Some(instructions) = self.instructions.as_deref().filter(|i| !i.is_empty()) {
            messages.push(Message::new("system", Value::String(instructions.into())));
        }
        let system = messages.len();
        match self.input {
            Some(Value::String(text)) => messages.push(Message::new("user", Value::String(text))),
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    translate_item(i, item, &mut messages)?;
                }
            }
            None | Some(Value::Null) => return Err(bad("`input` is required.")),
            Some(_) => return Err(bad("`input` must be a string or an array of input items.")),
        }
        if messages.len() == system {
            return Err(bad("`input` must not be empty."));
        }
        let input_messages = messages
            .iter()
            .skip(system)
            .filter(|m| !is_system(m))
            .count();
        let mut rest = Map::new();
        if let Some(max) = self.max_output_tokens {
            rest.insert("max_tokens".into(), json!(max));
        }
        for (name, value) in [("temperature", &self.temperature), ("top_p", &self.top_p)] {
            if let Some(value) = value.as_ref().filter(|v| !v.is_null()) {
                rest.insert(name.into(), value.clone());
            }
        }
        if let Some(user) = &self.user {
            rest.insert("user".into(), json!(user));
        }
        if let Some(parallel) = self.parallel_tool_calls {
            rest.insert("parallel_tool_calls".into(), json!(parallel));
        }
        if let Some(effort) = self.reasoning.as_ref().and_then(|r| r["effort"].as_str()) {
            rest.insert("reasoning_effort".into(), json!(effort));
        }
        if let Some(format) = response_format(self.text.as_ref())? {
            rest.insert("response_format".into(), format);
        }
        let tools = self.tools.unwrap_or_default();
        // The `file_search` tool runs here, never upstream.
        let mut functions = tools.clone();
        let file_search = crate::vector_stores::take_file_search(&mut functions)?;
        let include_results = included(self.include.as_deref(), file_search.is_some())?;
        if !functions.is_empty() {
            let translated = functions
                .iter()
                .enumerate()
                .map(|(i, tool)| function_tool(i, tool))
                .collect::<RequestResult<Vec<_>>>()?;
            rest.insert("tools".into(), Value::Array(translated));
        }
        if let Some(choice) = self.tool_choice.as_ref().filter(|c| !c.is_null()) {
            // The file search always runs: a choice of it, or any choice
            // when it was the only tool, asks nothing of the model.
            let searching = choice.get("type") == Some(&json!("file_search"));
            let asks_nothing = file_search.is_some() && (searching || functions.is_empty());
            if !asks_nothing {
                rest.insert("tool_choice".into(), tool_choice(choice)?);
            }
        }
        if let Continues::Named(id) = &continues {
            rest.insert("conversation_id".into(), json!(id));
        }
        let stream = self.stream.unwrap_or(false);
        if stream {
            // The usage goes into `response.completed`.
            rest.insert("stream_options".into(), json!({"include_usage": true}));
        }
        let store = self.store.unwrap_or(true);
        let echo = json!({
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "metadata": metadata,
            "parallel_tool_calls": self.parallel_tool_calls.unwrap_or(true),
            "previous_response_id": match &continues { Continues::Response(id) => json!(id), _ => Value::Null },
            "reasoning": self.reasoning.unwrap_or_else(|| json!({"effort": null, "summary": null})),
            "store": store,
            "temperature": self.temperature.unwrap_or(Value::Null),
            "text": self.text.unwrap_or_else(|| json!({"format": {"type": "text"}})),
            "tool_choice": self.tool_choice.unwrap_or_else(|| json!("auto")),
            "tools": tools,
            "top_p": self.top_p.unwrap_or(Value::Null),
            "truncation": "disabled",
            "user": self.user,
        });
        let Value::Object(echo) = echo else {
            unreachable!("a JSON object literal")
        };
        Ok(Translated {
            chat: ChatRequest {
                model: self.model,
                messages,
                stream,
                rest,
                file_search,
            },
            continues,
            store,
            input_messages,
            echo,
            include_results,
        })
    }

    /// What the request continues; naming two things is refused.
    fn continues(&self) -> RequestResult<Continues> {
        let conversation = match &self.conversation {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Object(object)) => match object.get("id") {
                Some(Value::String(id)) => Some(id.clone()),
                _ => return Err(bad("`conversation.id` must be a string.")),
            },
            Some(_) => {
                return Err(bad(
                    "`conversation` must be a conversation id or an object with one.",
                ))
            }
        };
        let named = match &self.conversation_id {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(bad("`conversation_id` must be a string.")),
        };
        let given = [
            self.previous_response_id.clone().map(Continues::Response),
            conversation.map(Continues::Conversation),
            named.map(Continues::Named),
        ];
        let mut given = given.into_iter().flatten();
        let first = given.next();
        if given.next().is_some() {
            return Err(bad(
                "Name at most one of `previous_response_id`, `conversation` and `conversation_id`.",
            ));
        }
        match first {
            None => Ok(Continues::Nothing),
            Some(continues) => {
                let id = match &continues {
                    Continues::Response(id)
                    | Continues::Conversation(id)
                    | Continues::Named(id) => id,
                    Continues::Nothing => unreachable!("only named ones are given"),
                };
                if id.trim().is_empty() || id.chars().count() > MAX_ID_CHARS {
                    return Err(bad(format!(
                        "An id must be 1 to {MAX_ID_CHARS} characters long."
                    )));
                }
                Ok(continues)
            }
        }
    }
}

fn is_system(message: &Message) -> bool {
    message.role == "system" || message.role == "developer"
}

/// `metadata` within OpenAI's limits: 16 string values, keys up to 64
/// characters, values up to 512.
fn check_metadata(metadata: Option<Map<String, Value>>) -> RequestResult<Value> {
    let Some(metadata) = metadata else {
        return Ok(json!({}));
    };
    if metadata.len() > METADATA_KEYS {
        return Err(bad(format!(
            "`metadata` holds at most {METADATA_KEYS} keys."
        )));
    }
    for (key, value) in &metadata {
        if key.chars().count() > METADATA_KEY_CHARS {
            return Err(bad(format!(
                "`metadata` keys are at most {METADATA_KEY_CHARS} characters long."
            )));
        }
        match value {
            Value::String(s) if s.chars().count() <= METADATA_VALUE_CHARS => {}
            Value::String(_) => {
                return Err(bad(format!(
                    "metadata.{key} is over {METADATA_VALUE_CHARS} characters."
                )))
            }
            _ => return Err(bad(format!("metadata.{key} must be a string."))),
        }
    }
    Ok(Value::Object(metadata))
}

/// `text.format` as the chat API's `response_format`; none for plain text.
fn response_format(text: Option<&Value>) -> RequestResult<Option<Value>> {
    let Some(format) = text.map(|t| &t["format"]).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format["type"].as_str() {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for field in ["name", "schema", "strict", "description"] {
                if let Some(value) = format.get(field) {
                    schema.insert(field.into(), value.clone());
                }
            }
            if !schema.contains_key("name") {
                return Err(bad(
                    "`text.format.name` is required for a json_schema format.",
                ));
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        _ => Err(bad(
            "`text.format.type` must be text, json_object or json_schema.",
        )),
    }
}

/// A Responses function tool (`tools[i]`) in the chat API's shape.
fn function_tool(i: usize, tool: &Value) -> RequestResult<Value> {
    match tool["type"].as_str() {
        Some("function") => {}
        Some(other) => {
            return Err(bad(format!(
                "tools[{i}].type {other:?} is not supported: ragway passes function tools to the \
                 model (and searches its knowledge base for every question by itself)."
            )))
        }
        None => return Err(bad(format!("tools[{i}].type is required."))),
    }
    let name = tool["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad(format!("tools[{i}].name is required.")))?;
    let mut function = json!({
        "name": name,
        "parameters": tool.get("parameters").filter(|p| !p.is_null()).cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    });
    for field in ["description", "strict"] {
        if let Some(value) = tool.get(field).filter(|v| !v.is_null()) {
            function[field] = value.clone();
        }
    }
    Ok(json!({"type": "function", "function": function}))
}

/// `tool_choice` in the chat API's shape.
fn tool_choice(choice: &Value) -> RequestResult<Value> {
    match choice {
        Value::String(mode) if ["auto", "none", "required"].contains(&mode.as_str()) => {
            Ok(choice.clone())
        }
        Value::Object(object) if object.get("type") == Some(&json!("function")) => {
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("`tool_choice.name` is required."))?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(bad(
            "`tool_choice` must be auto, none, required or {\"type\": \"function\", \"name\": …}.",
        )),
    }
}

/// The text of a content part, for the kinds that carry text.
fn part_text(part: &Value) -> Option<&str> {
    match part["type"].as_str() {
        Some("input_text" | "output_text" | "text") => part["text"].as_str(),
        Some("refusal") => part["refusal"].as_str(),
        _ => None,
    }
}

/// A message item's content as chat content: a string when it is only text.
fn content(i: usize, content: Value) -> RequestResult<Value> {
    let parts = match content {
        Value::String(_) => return Ok(content),
        Value::Array(parts) => parts,
        _ => {
            return Err(bad(format!(
                "input[{i}].content must be a string or an array of content parts."
            )))
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in &parts {
        if let Some(text) = part_text(part) {
            out.push(json!({"type": "text", "text": text}));
            continue;
        }
        match part["type"].as_str() {
            Some("input_image") => {
                let url = part["image_url"].as_str().ok_or_else(|| {
                    bad(format!(
                        "input[{i}]: an input_image needs an `image_url` (a URL or a data: URL); \
                         file ids are not supported."
                    ))
                })?;
                let mut image = json!({"url": url});
                if let Some(detail) = part["detail"].as_str() {
                    image["detail"] = json!(detail);
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            Some("input_file") => {
                return Err(bad(format!(
                    "input[{i}]: input_file parts are not supported; upload the file to \
                     /v1/documents and ask about it."
                )))
            }
            other => {
                return Err(bad(format!(
                    "input[{i}]: content parts of type {other:?} are not supported."
                )))
            }
        }
    }
    if out.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = out.iter().filter_map(|p| p["text"].as_str()).collect();
        return Ok(Value::String(texts.join("\n\n")));
    }
    Ok(Value::Array(out))
}

/// One input item (the `i`th) as chat messages, appended to `out`.
fn translate_item(i: usize, mut item: Value, out: &mut Vec<Message>) -> RequestResult<()> {
    let kind = match item.get("type") {
        None | Some(Value::Null) if item.get("role").is_some() => "message".to_string(),
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(bad(format!("input[{i}] needs a `type` (or a `role`)."))),
    };
    match kind.as_str() {
        "message" => {
            let role = match item["role"].as_str() {
                Some(role @ ("user" | "assistant" | "system" | "developer")) => role.to_string(),
                _ => {
                    return Err(bad(format!(
                        "input[{i}].role must be user, assistant, system or developer."
                    )))
                }
            };
            let content = content(i, item["content"].take())?;
            out.push(Message::new(&role, content));
        }
        "function_call" => {
            let (Some(call_id), Some(name)) = (item["call_id"].as_str(), item["name"].as_str())
            else {
                return Err(bad(format!(
                    "input[{i}]: a function_call needs `call_id` and `name`."
                )));
            };
            let arguments = match &item["arguments"] {
                Value::String(a) => a.clone(),
                Value::Null => "{}".to_string(),
                other => other.to_string(),
            };
            let call = json!({"id": call_id, "type": "function",
                              "function": {"name": name, "arguments": arguments}});
            // A call joins the assistant message right before it (its text,
            // or the calls made beside it).
            match out.last_mut() {
                Some(last) if last.role == "assistant" => {
                    let calls = last
                        .rest
                        .entry("tool_calls")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(calls) = calls {
                        calls.push(call);
                    }
                }
                _ => {
                    let mut message = Message::new("assistant", Value::Null);
                    message.rest.insert("tool_calls".into(), json!([call]));
                    out.push(message);
                }
            }
        }
        "function_call_output" => {
            let call_id = item["call_id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    bad(format!(
                        "input[{i}]: a function_call_output needs `call_id`."
                    ))
                })?;
            let output = match item["output"].take() {
                Value::String(text) => text,
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(part_text)
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let mut message = Message::new("tool", Value::String(output));
            message.rest.insert("tool_call_id".into(), json!(call_id));
            out.push(message);
        }
        // The model's own notes: not sent back.
        "reasoning" => {}
        other => {
            return Err(bad(format!(
                "input[{i}].type {other:?} is not supported (messages, function_call and \
                 function_call_output items are)."
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
