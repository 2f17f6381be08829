//! Anthropic's Messages API request (`POST /v1/messages`) and its
//! translation into an OpenAI chat request, which the server then answers
//! through its one chat pipeline. Only the request side lives here: the
//! answer's translation back (a `message` object or Anthropic's event
//! stream) is the server's.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, Message};
use crate::{bad, RequestError, RequestResult};

/// A Messages API request; fields ragway has no use for are ignored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// One message of a Messages API request: `content` is a string or an
/// array of content blocks (checked by the translation, not here).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
pub struct AnthropicMessage {
    pub role: String,
    pub content: Value,
}

/// The text of a `system` field or a tool result: a string or text blocks.
fn plain_text(value: &Value) -> RequestResult<String> {
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
    /// The same request in OpenAI's chat shape: `system` becomes a leading
    /// system message (none when it is empty), each message one or more
    /// chat messages (one per tool result, and one for the rest, so
    /// the translation may hold more messages than the request; the server
    /// checks its caps on the request and again on the translation).
    pub fn into_chat(self) -> RequestResult<ChatRequest> {
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
                .collect::<Result<Vec<_>, RequestError>>()?;
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
            file_search: None,
        })
    }
}

/// One Anthropic message (the `i`th) as OpenAI messages, appended to `out`:
/// tool results become `tool` messages, tool uses an assistant's
/// `tool_calls`, images `image_url` parts; text-only content becomes a
/// plain string (so a resent history matches the stored one).
fn translate_message(
    i: usize,
    message: AnthropicMessage,
    out: &mut Vec<Message>,
) -> RequestResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> RequestResult<ChatRequest> {
        serde_json::from_value::<MessagesRequest>(body)
            .unwrap()
            .into_chat()
    }

    fn refused(body: Value) -> String {
        parse(body).unwrap_err().to_string()
    }

    #[test]
    fn requests_become_openai_chat_requests() {
        let chat = parse(json!({
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
        }))
        .unwrap();
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
            chat.rest["tools"][0]["function"],
            json!({"name": "weather", "description": "Forecast", "parameters": {"type": "object"}})
        );
    }

    #[test]
    fn system_prompts_tool_results_and_choices_translate() {
        let chat = parse(json!({
            "model": "m", "max_tokens": 5, "stream": true, "system": "",
            "conversation_id": "c7",
            "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "is_error": true,
                 "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"type": "tool_result", "tool_use_id": "t2"},
                {"type": "thinking", "thinking": "hm"}
            ]}],
            "tools": [{"name": "f"}],
            "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": true},
        }))
        .unwrap();
        // An empty system prompt adds no message; tool results alone add no user message.
        let roles: Vec<&str> = chat.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["tool", "tool"]);
        assert_eq!(chat.messages[0].content, "Error: a\n\nb");
        assert_eq!(chat.messages[1].content, "");
        assert_eq!(chat.messages[1].rest["tool_call_id"], "t2");
        assert!(chat.stream);
        assert_eq!(chat.rest["stream_options"], json!({"include_usage": true}));
        assert_eq!(chat.rest["conversation_id"], "c7");
        assert_eq!(
            chat.rest["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(chat.rest["parallel_tool_calls"], false);
        assert_eq!(
            chat.rest["tools"][0]["function"]["parameters"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn bad_requests_are_named() {
        let user = json!([{"role": "user", "content": "x"}]);
        assert_eq!(
            refused(json!({"model": "m", "messages": user})),
            "`max_tokens` is required."
        );
        assert_eq!(
            refused(json!({"model": "m", "max_tokens": 5, "messages": []})),
            "`messages` must not be empty."
        );
        assert!(refused(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]})
        )
        .contains("(the system prompt goes in `system`)"));
        assert_eq!(
            refused(json!({"model": "m", "max_tokens": 5, "system": 3, "messages": user})),
            "`system` must be a string or an array of text blocks."
        );
        assert_eq!(
            refused(
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 1}]})
            ),
            "messages[0].content must be a string or an array of content blocks."
        );
        assert_eq!(
            refused(json!({"model": "m", "max_tokens": 5, "messages": user, "tools": [{}]})),
            "Every tool needs a `name`."
        );
        assert_eq!(
            refused(json!({"model": "m", "max_tokens": 5, "messages": user, "tool_choice": {}})),
            "`tool_choice.type` must be auto, any, tool or none."
        );
        assert_eq!(
            refused(
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user",
                "content": [{"type": "image", "source": {"type": "file"}}]}]})
            ),
            "messages[0]: an image's source must be base64 or url."
        );
    }
}
