//! OpenAI's chat completion request (`POST /v1/chat/completions`): the
//! fields ragway reads, every other field kept to pass through to the
//! upstream untouched, and the checks a request passes before any work.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{bad, RequestResult};

/// An OpenAI chat completion request; fields ragway does not use pass through untouched.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub stream: bool,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
    /// A `file_search` tool, taken out of `tools` (never sent upstream):
    /// the answer is grounded in those vector stores instead of the
    /// model's knowledge.
    #[serde(skip)]
    pub file_search: Option<crate::vector_stores::FileSearch>,
}

/// One chat message; `content` is a string, an array of parts or null.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Value,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `"stream": null` is what some clients send for "not streaming".
fn null_as_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// The roles a chat message may have (any other is refused, naming these).
pub const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

impl Message {
    /// A message with just a role and content.
    pub fn new(role: &str, content: Value) -> Self {
        Self {
            role: role.into(),
            content,
            rest: Map::new(),
        }
    }

    /// The plain text of the message: the string, or its text parts joined.
    pub fn text(&self) -> String {
        match &self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }

    /// Bytes of [`Self::text`] (without the joining newlines), counted without copying.
    pub fn text_bytes(&self) -> usize {
        match &self.content {
            Value::String(s) => s.len(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(str::len)
                .sum(),
            _ => 0,
        }
    }
}

/// Refuse an empty conversation or a message whose role is not one of [`ROLES`].
pub fn validate(messages: &[Message]) -> RequestResult<()> {
    if messages.is_empty() {
        return Err(bad("`messages` must not be empty."));
    }
    if let Some((i, m)) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| !ROLES.contains(&m.role.as_str()))
    {
        return Err(bad(format!(
            "messages[{i}].role {:?} is not one of {}.",
            m.role,
            ROLES.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestError;
    use serde_json::json;

    fn msg(role: &str, content: Value) -> Message {
        Message::new(role, content)
    }

    #[test]
    fn a_valid_request_keeps_what_it_does_not_read() {
        let request: ChatRequest = serde_json::from_value(json!({
            "model": "ragway",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}], "name": "ann"},
                {"role": "assistant", "content": null, "tool_calls": []}
            ],
            "stream": null,
            "temperature": 0.2,
            "conversation_id": "c1"
        }))
        .unwrap();
        assert_eq!(request.model, "ragway");
        assert!(!request.stream);
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.messages[1].rest["name"], "ann");
        assert!(request.messages[2].content.is_null());
        assert_eq!(request.rest["temperature"], 0.2);
        assert_eq!(request.rest["conversation_id"], "c1");
        assert!(!request.rest.contains_key("messages"));
        assert_eq!(validate(&request.messages), Ok(()));
    }

    #[test]
    fn roles_are_checked() {
        assert_eq!(
            validate(&[msg("user", json!("x")), msg("wizard", json!("x"))]),
            Err(RequestError::BadRequest(
                "messages[1].role \"wizard\" is not one of system, developer, user, assistant, \
                 tool, function."
                    .into()
            ))
        );
        assert_eq!(
            validate(&[]).unwrap_err().to_string(),
            "`messages` must not be empty."
        );
        assert!(validate(&[msg("user", json!("x"))]).is_ok());
    }

    #[test]
    fn text_parts_are_joined_and_counted() {
        let m = msg(
            "user",
            json!([{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"bc"}]),
        );
        assert_eq!(m.text(), "a\nbc");
        assert_eq!(m.text_bytes(), 3);
        assert_eq!(msg("user", json!("一二")).text_bytes(), 6);
        assert_eq!(msg("user", json!(7)).text(), "");
    }
}
