//! Google's Gemini API request (`POST /v1beta/models/{model}:generateContent`
//! and `:streamGenerateContent`) and its translation into a chat request,
//! which the server answers through its one chat pipeline. Only the
//! request side lives here: the `GenerateContentResponse` is the server's.
//!
//! `contents` are turns of `user` and `model` with `parts`: text, inline
//! images, `functionCall`s (the model's) and `functionResponse`s (the
//! client's). They become chat messages in order. Gemini's calls carry no
//! id unless the client kept the one ragway gave: one is made from the
//! turn and the call's place, and a response is matched to the latest
//! call of its name that has none yet. Field names are taken in Google's
//! camelCase and in snake_case, as its REST API does.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, Message};
use crate::{bad, RequestResult};

/// A `generateContent` request; fields ragway has no use for (safety
/// settings, say) are ignored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest {
    #[serde(default)]
    pub contents: Option<Vec<Value>>,
    #[serde(default, alias = "system_instruction")]
    pub system_instruction: Option<Value>,
    #[serde(default, alias = "generation_config")]
    pub generation_config: Option<Map<String, Value>>,
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    #[serde(default, alias = "tool_config")]
    pub tool_config: Option<Value>,
    #[serde(default, alias = "cached_content")]
    pub cached_content: Option<Value>,
    /// ragway's own, as on chat completions: continue this conversation.
    #[serde(default, alias = "conversationId")]
    pub conversation_id: Option<Value>,
    /// Every other field: refused, naming it, unless it does not change the
    /// answer (`safetySettings`: the upstream applies its own; `labels`).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Request fields taken and not used.
const IGNORED: &[&str] = &["safetySettings", "safety_settings", "labels"];

/// `generationConfig` fields taken and not used: `thinkingConfig` (an
/// OpenAI-compatible upstream has no such setting), `mediaResolution`,
/// `responseModalities` when it asks for text alone.
const IGNORED_CONFIG: &[&str] = &[
    "thinkingConfig",
    "thinking_config",
    "mediaResolution",
    "media_resolution",
    "candidateCount",
    "candidate_count",
];

/// `generationConfig` fields passed on (each with its snake_case spelling).
const CONFIG_FIELDS: &[(&str, &str, &str)] = &[
    ("temperature", "temperature", "temperature"),
    ("topP", "top_p", "top_p"),
    ("topK", "top_k", "top_k"),
    ("maxOutputTokens", "max_output_tokens", "max_tokens"),
    ("stopSequences", "stop_sequences", "stop"),
    ("presencePenalty", "presence_penalty", "presence_penalty"),
    ("frequencyPenalty", "frequency_penalty", "frequency_penalty"),
    ("seed", "seed", "seed"),
];

/// A field of a JSON object by its camelCase or snake_case name.
fn field<'a>(object: &'a Value, camel: &str, snake: &str) -> &'a Value {
    match object.get(camel) {
        Some(value) if !value.is_null() => value,
        _ => object.get(snake).unwrap_or(&Value::Null),
    }
}

impl GenerateRequest {
    /// The same request in OpenAI's chat shape for `model`, streamed or
    /// not: `systemInstruction` becomes a system message, each turn one or
    /// more chat messages, `generationConfig` the chat parameters
    /// (`maxOutputTokens` → `max_tokens`, `stopSequences` → `stop`,
    /// `responseMimeType: application/json` → `response_format`).
    pub fn into_chat(self, model: &str, stream: bool) -> RequestResult<ChatRequest> {
        if self.cached_content.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(bad("`cachedContent` is not supported."));
        }
        if let Some((name, _)) = self
            .other
            .iter()
            .find(|(name, value)| !IGNORED.contains(&name.as_str()) && !value.is_null())
        {
            return Err(bad(format!(
                "`{name}` is not supported here (see the protocol table in the README)."
            )));
        }
        let contents = self.contents.unwrap_or_default();
        if contents.is_empty() {
            return Err(bad("`contents` must not be empty."));
        }
        let mut messages = Vec::new();
        if let Some(system) = self.system_instruction.as_ref().filter(|s| !s.is_null()) {
            let text = system_text(system)?;
            if !text.is_empty() {
                messages.push(Message::new("system", Value::String(text)));
            }
        }
        let mut calls = Calls::default();
        for (i, turn) in contents.into_iter().enumerate() {
            translate_turn(i, turn, &mut calls, &mut messages)?;
        }
        let mut rest = Map::new();
        if let Some(config) = &self.generation_config {
            generation_config(config, &mut rest)?;
        }
        if let Some(tools) = self.tools.filter(|t| !t.is_empty()) {
            rest.insert("tools".into(), Value::Array(function_tools(&tools)?));
        }
        if let Some(config) = self.tool_config.as_ref().filter(|c| !c.is_null()) {
            if let Some(choice) = tool_choice(config)? {
                rest.insert("tool_choice".into(), choice);
            }
        }
        match self.conversation_id {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => {
                rest.insert("conversation_id".into(), Value::String(id));
            }
            Some(_) => return Err(bad("`conversationId` must be a string.")),
        }
        if stream {
            // The usage goes into the last chunk's `usageMetadata`.
            rest.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Ok(ChatRequest {
            model: model.to_string(),
            messages,
            stream,
            rest,
            file_search: None,
        })
    }
}

/// The text of `systemInstruction`: a string, or a content's text parts.
fn system_text(system: &Value) -> RequestResult<String> {
    if let Some(text) = system.as_str() {
        return Ok(text.to_string());
    }
    let parts = system["parts"]
        .as_array()
        .ok_or_else(|| bad("`systemInstruction` must be a content with `parts`."))?;
    Ok(parts
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n\n"))
}

/// `generationConfig` as chat parameters, into `rest`.
fn generation_config(
    config: &Map<String, Value>,
    rest: &mut Map<String, Value>,
) -> RequestResult<()> {
    let config = Value::Object(config.clone());
    let count = field(&config, "candidateCount", "candidate_count");
    if count.as_u64().is_some_and(|n| n > 1) {
        return Err(bad("`candidateCount` above 1 is not supported."));
    }
    let known = |name: &str| {
        CONFIG_FIELDS
            .iter()
            .any(|(c, s, _)| name == *c || name == *s)
            || IGNORED_CONFIG.contains(&name)
            || [
                "responseMimeType",
                "response_mime_type",
                "responseSchema",
                "response_schema",
                "responseJsonSchema",
                "response_json_schema",
                "responseModalities",
                "response_modalities",
            ]
            .contains(&name)
    };
    if let Some((name, _)) = config
        .as_object()
        .into_iter()
        .flatten()
        .find(|(name, value)| !known(name) && !value.is_null())
    {
        return Err(bad(format!(
            "`generationConfig.{name}` is not supported here (see the protocol table in the README)."
        )));
    }
    let modalities = field(&config, "responseModalities", "response_modalities");
    if let Some(modalities) = modalities.as_array() {
        if modalities
            .iter()
            .any(|m| !m.as_str().is_some_and(|m| m.eq_ignore_ascii_case("text")))
        {
            return Err(bad(
                "`generationConfig.responseModalities` may ask for TEXT only.",
            ));
        }
    }
    for (camel, snake, chat) in CONFIG_FIELDS {
        let value = field(&config, camel, snake);
        if !value.is_null() {
            rest.insert((*chat).into(), value.clone());
        }
    }
    let schema = [
        ("responseJsonSchema", "response_json_schema"),
        ("responseSchema", "response_schema"),
    ]
    .iter()
    .map(|(camel, snake)| field(&config, camel, snake))
    .find(|s| !s.is_null());
    match field(&config, "responseMimeType", "response_mime_type").as_str() {
        None | Some("text/plain") => {}
        Some("application/json") => {
            let format = match schema {
                Some(schema) => {
                    json!({"type": "json_schema", "json_schema": {"name": "response", "schema": lower_types(schema)}})
                }
                None => json!({"type": "json_object"}),
            };
            rest.insert("response_format".into(), format);
        }
        Some(other) => {
            return Err(bad(format!(
            "`responseMimeType` {other:?} is not supported (text/plain and application/json are)."
        )))
        }
    }
    Ok(())
}

/// A Gemini schema as JSON Schema: its type names (`OBJECT`, `STRING`…)
/// in lower case, as OpenAI-compatible upstreams expect them.
fn lower_types(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("type", Value::String(t)) => Value::String(t.to_ascii_lowercase()),
                        _ => lower_types(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lower_types).collect()),
        other => other.clone(),
    }
}

/// The function declarations of `tools` as chat tools; other tools
/// (Google Search, code execution) are refused.
fn function_tools(tools: &[Value]) -> RequestResult<Vec<Value>> {
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let declarations = field(tool, "functionDeclarations", "function_declarations");
        let Some(declarations) = declarations.as_array() else {
            return Err(bad(format!(
                "tools[{i}] is not supported: ragway passes `functionDeclarations` to the model \
                 (and searches its knowledge base for every question by itself)."
            )));
        };
        for declaration in declarations {
            let name = declaration["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    bad(format!(
                        "tools[{i}]: every function declaration needs a `name`."
                    ))
                })?;
            let json_schema = field(
                declaration,
                "parametersJsonSchema",
                "parameters_json_schema",
            );
            let parameters = if !json_schema.is_null() {
                json_schema.clone()
            } else if !declaration["parameters"].is_null() {
                lower_types(&declaration["parameters"])
            } else {
                json!({"type": "object", "properties": {}})
            };
            let mut function = json!({"name": name, "parameters": parameters});
            if let Some(description) = declaration["description"].as_str() {
                function["description"] = json!(description);
            }
            out.push(json!({"type": "function", "function": function}));
        }
    }
    Ok(out)
}

/// `toolConfig.functionCallingConfig` as the chat API's `tool_choice`.
fn tool_choice(config: &Value) -> RequestResult<Option<Value>> {
    let calling = field(config, "functionCallingConfig", "function_calling_config");
    if calling.is_null() {
        return Ok(None);
    }
    let allowed = field(calling, "allowedFunctionNames", "allowed_function_names");
    let only = allowed
        .as_array()
        .filter(|a| a.len() == 1)
        .and_then(|a| a[0].as_str());
    match calling["mode"]
        .as_str()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("AUTO") | Some("MODE_UNSPECIFIED") => Ok(Some(json!("auto"))),
        Some("NONE") => Ok(Some(json!("none"))),
        Some("ANY") | Some("VALIDATED") => Ok(Some(match only {
            Some(name) => json!({"type": "function", "function": {"name": name}}),
            None => json!("required"),
        })),
        Some(_) => Err(bad(
            "`toolConfig.functionCallingConfig.mode` must be AUTO, ANY or NONE.",
        )),
    }
}

/// The function calls made so far, to give each response its call's id.
#[derive(Default)]
struct Calls {
    /// (id, name, answered) in order.
    made: Vec<(String, String, bool)>,
}

impl Calls {
    fn call(&mut self, id: String, name: &str) {
        self.made.push((id, name.to_string(), false));
    }

    /// The id of the latest unanswered call of `name` (marked answered).
    fn answer(&mut self, name: &str) -> Option<String> {
        let call = self
            .made
            .iter_mut()
            .rev()
            .find(|(_, n, answered)| n == name && !answered)?;
        call.2 = true;
        Some(call.0.clone())
    }
}

/// One turn (`contents[i]`) as chat messages, appended to `out`.
fn translate_turn(
    i: usize,
    turn: Value,
    calls: &mut Calls,
    out: &mut Vec<Message>,
) -> RequestResult<()> {
    let role = match turn["role"].as_str() {
        None | Some("user") => "user",
        Some("model") => "assistant",
        // Some clients send function responses in a turn of their own role.
        Some("function") | Some("tool") => "user",
        Some(other) => {
            return Err(bad(format!(
            "contents[{i}].role must be user or model, not {other:?} (the system prompt goes in \
                 `systemInstruction`)."
        )))
        }
    };
    let parts = turn["parts"]
        .as_array()
        .ok_or_else(|| bad(format!("contents[{i}].parts must be an array.")))?;
    let mut content: Vec<Value> = Vec::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        if part.get("thought").is_some_and(|t| t == &json!(true)) {
            continue; // the model's own notes: not sent back
        }
        if let Some(text) = part["text"].as_str() {
            content.push(json!({"type": "text", "text": text}));
            continue;
        }
        let inline = field(part, "inlineData", "inline_data");
        if !inline.is_null() {
            let mime = field(inline, "mimeType", "mime_type")
                .as_str()
                .unwrap_or_default();
            if !mime.starts_with("image/") {
                return Err(bad(format!(
                    "contents[{i}].parts[{j}]: inline data of type {mime:?} is not supported (images \
                     are; upload documents to /v1/documents)."
                )));
            }
            let data = inline["data"].as_str().unwrap_or_default();
            let url = format!("data:{mime};base64,{data}");
            content.push(json!({"type": "image_url", "image_url": {"url": url}}));
            continue;
        }
        let call = field(part, "functionCall", "function_call");
        if !call.is_null() {
            let name = call["name"].as_str().ok_or_else(|| {
                bad(format!(
                    "contents[{i}].parts[{j}]: a functionCall needs a `name`."
                ))
            })?;
            let id = call["id"]
                .as_str()
                .map_or_else(|| format!("call_{i}_{j}"), str::to_string);
            calls.call(id.clone(), name);
            let arguments = call
                .get("args")
                .filter(|a| !a.is_null())
                .map_or_else(|| "{}".to_string(), Value::to_string);
            tool_calls.push(json!({"id": id, "type": "function",
                                   "function": {"name": name, "arguments": arguments}}));
            continue;
        }
        let response = field(part, "functionResponse", "function_response");
        if !response.is_null() {
            let name = response["name"].as_str().ok_or_else(|| {
                bad(format!(
                    "contents[{i}].parts[{j}]: a functionResponse needs a `name`."
                ))
            })?;
            let id = match response["id"].as_str() {
                Some(id) => id.to_string(),
                None => calls.answer(name).unwrap_or_else(|| format!("call_{name}")),
            };
            let text = match &response["response"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let mut message = Message::new("tool", Value::String(text));
            message.rest.insert("tool_call_id".into(), json!(id));
            out.push(message);
            continue;
        }
        return Err(bad(format!(
            "contents[{i}].parts[{j}] is not supported (text, inlineData images, functionCall and \
             functionResponse parts are)."
        )));
    }
    let text_only = content.iter().all(|p| p["type"] == "text");
    let content = if content.is_empty() {
        Value::Null
    } else if text_only {
        let texts: Vec<&str> = content.iter().filter_map(|p| p["text"].as_str()).collect();
        Value::String(texts.concat())
    } else {
        Value::Array(content)
    };
    if content.is_null() && tool_calls.is_empty() {
        return Ok(()); // only function responses (already added), or nothing
    }
    let mut message = Message::new(role, content);
    if !tool_calls.is_empty() {
        message
            .rest
            .insert("tool_calls".into(), Value::Array(tool_calls));
    }
    out.push(message);
    Ok(())
}

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;
