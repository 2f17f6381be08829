//! The chat pipeline: check the model, retrieve sources for the last user
//! message, put them into the system prompt, call the chat upstream and
//! relay its answer (whole, or as SSE chunks the moment they arrive).

pub mod models;
mod stream;

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::retrieval::{self, Source};
use crate::state::AppState;

/// An OpenAI chat completion request; fields ragway does not use pass through untouched.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub stream: bool,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One chat message; `content` is a string, an array of parts or null.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Value,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

fn null_as_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

impl Message {
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
}

/// Answer one chat completion request.
pub async fn complete(
    state: &AppState,
    caller: &Caller,
    request: ChatRequest,
) -> AppResult<Response> {
    let model = models::resolve(&state.db, &state.settings, &request.model).await?;
    validate(&request.messages)?;
    let ready = state.upstreams.chat.ready()?;
    let upstream_model = model
        .upstream_model
        .clone()
        .unwrap_or_else(|| ready.model.to_string());
    let question = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(Message::text)
        .ok_or_else(|| AppError::BadRequest("`messages` must contain a user message.".into()))?;

    let sources = if model.retrieval {
        let options = retrieval::Options {
            top_k: model
                .top_k
                .map_or(state.settings.top_k, |k| k.max(1) as usize),
            collections: (!model.collections.is_empty()).then_some(model.collections.as_slice()),
            score_threshold: model.score_threshold,
        };
        retrieval::retrieve(state, caller, &question, options).await?
    } else {
        Vec::new()
    };
    let messages = with_system(request.messages, model.system_prompt.as_deref(), &sources);

    let mut body = request.rest;
    body.insert("model".into(), Value::String(upstream_model));
    body.insert(
        "messages".into(),
        serde_json::to_value(&messages).map_err(anyhow::Error::from)?,
    );
    body.insert("stream".into(), Value::Bool(request.stream));
    let body = Value::Object(body);

    let public_model = model.id.clone();
    if request.stream {
        let response = state
            .upstreams
            .chat
            .send("/chat/completions", &body)
            .await?;
        let idle = Duration::from_secs(state.settings.upstream_timeout_secs);
        return Ok(stream::relay(response, public_model, sources, idle));
    }
    let mut answer: Value = state
        .upstreams
        .chat
        .send_json("/chat/completions", &body)
        .await?;
    if let Some(object) = answer.as_object_mut() {
        object.insert("model".into(), Value::String(public_model));
        object.insert(
            "sources".into(),
            serde_json::to_value(&sources).map_err(anyhow::Error::from)?,
        );
    }
    Ok(axum::Json(answer).into_response())
}

fn validate(messages: &[Message]) -> AppResult<()> {
    if messages.is_empty() {
        return Err(AppError::BadRequest("`messages` must not be empty.".into()));
    }
    if let Some((i, m)) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| !ROLES.contains(&m.role.as_str()))
    {
        return Err(AppError::BadRequest(format!(
            "messages[{i}].role {:?} is not one of {}.",
            m.role,
            ROLES.join(", ")
        )));
    }
    Ok(())
}

/// The messages with the model's system prompt and the sources in one
/// leading system message (merged into the client's own, so upstreams that
/// allow only one system message still work): the model's prompt first, then
/// the client's, then the sources.
fn with_system(
    mut messages: Vec<Message>,
    prompt: Option<&str>,
    sources: &[Source],
) -> Vec<Message> {
    let mut parts: Vec<String> = prompt.map(str::to_string).into_iter().collect();
    let block = (!sources.is_empty()).then(|| retrieval::context_block(sources));
    if parts.is_empty() && block.is_none() {
        return messages;
    }
    let merge = matches!(messages.first(), Some(first) if first.role == "system" && first.content.is_string());
    if merge {
        parts.push(messages[0].text());
    }
    parts.extend(block);
    let content = Value::String(parts.join("\n\n"));
    if merge {
        messages[0].content = content;
    } else {
        messages.insert(
            0,
            Message {
                role: "system".into(),
                content,
                rest: Map::new(),
            },
        );
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(role: &str, content: Value) -> Message {
        Message {
            role: role.into(),
            content,
            rest: Map::new(),
        }
    }

    fn source() -> Source {
        Source {
            index: 1,
            document_id: "d".into(),
            title: "T".into(),
            chunk_id: "d:0".into(),
            page: None,
            heading: None,
            collection: "default".into(),
            score: 1.0,
            text: "fact".into(),
        }
    }

    #[test]
    fn context_merges_into_a_leading_system_message() {
        let out = with_system(
            vec![msg("system", json!("Be brief.")), msg("user", json!("q"))],
            None,
            &[source()],
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].text().starts_with("Be brief.\n\n"));
        assert!(out[0].text().contains("[1] T\nfact"));
    }

    #[test]
    fn context_adds_a_system_message_when_there_is_none() {
        let out = with_system(vec![msg("user", json!("q"))], None, &[source()]);
        assert_eq!(out[0].role, "system");
        assert_eq!(out[1].role, "user");
    }

    #[test]
    fn the_model_prompt_comes_first_then_the_clients_then_the_sources() {
        let out = with_system(
            vec![msg("system", json!("Be brief.")), msg("user", json!("q"))],
            Some("You are the harbour assistant."),
            &[source()],
        );
        assert_eq!(out.len(), 2);
        let text = out[0].text();
        assert!(
            text.starts_with("You are the harbour assistant.\n\nBe brief.\n\n"),
            "{text}"
        );
        assert!(text.contains("[1] T\nfact"));
        let out = with_system(vec![msg("user", json!("q"))], Some("P"), &[]);
        assert_eq!(out[0].text(), "P");
        let untouched = with_system(vec![msg("user", json!("q"))], None, &[]);
        assert_eq!(untouched.len(), 1);
    }

    #[test]
    fn text_parts_are_joined() {
        let m = msg(
            "user",
            json!([{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]),
        );
        assert_eq!(m.text(), "a\nb");
    }

    #[test]
    fn roles_are_checked() {
        assert!(validate(&[msg("wizard", json!("x"))]).is_err());
        assert!(validate(&[]).is_err());
        assert!(validate(&[msg("user", json!("x"))]).is_ok());
    }
}
