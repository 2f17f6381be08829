//! A follow-up rewritten into a standalone search query by a chat model
//! (a public model's `condense_model`): one short call before the search.
//! "And on Sundays?" searches for nothing; "Opening hours of the harbour
//! office on Sundays" does. The rule in [`search_queries`] (the question
//! searched as asked and after the exchange before it) works without a
//! model; the rewrite replaces the second text when a model is named.

use std::time::Duration;

use serde_json::{json, Value};

use super::models::Model;
use super::query::search_queries;
use crate::error::AppResult;
use crate::upstream::Upstream;
use crate::usage::LogHandle;
use ragway_protocol::chat::Message;

/// The longest the rewrite may take before the search goes on without it.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Messages before the follow-up that the rewriting model reads.
const TURNS: usize = 6;
/// Characters of each of those messages it reads.
const MAX_TURN_CHARS: usize = 1000;
/// Characters of the follow-up itself it reads.
const MAX_QUESTION_CHARS: usize = 2000;
/// Characters of the rewritten query kept.
const MAX_QUERY_CHARS: usize = 500;
/// Tokens the rewrite may take.
const MAX_TOKENS: u32 = 128;

const INSTRUCTIONS: &str = "You turn the last message of a conversation into one standalone \
search query for a knowledge base. Name everything it refers to (\"it\", \"that\", \"and on \
Sundays?\") by what the conversation says it is. Keep the language of the last message. If it \
already stands alone, repeat it. Reply with the query only: no answer, no quotes, no preface.";

/// The texts retrieval searches for: those of [`search_queries`], with the
/// second (the follow-up after the exchange before it) rewritten by the
/// model's `condense_model` when it names one. The rewrite's tokens count
/// in the request's usage; when it fails or times out, the rule's text is
/// searched instead and the failure logged. `chat` is the chat upstream.
pub async fn queries(
    chat: &Upstream,
    model: &Model,
    messages: &[Message],
    log: &LogHandle,
) -> AppResult<Vec<String>> {
    let mut queries = search_queries(messages)?;
    let Some(condenser) = model.condense_model.as_deref() else {
        return Ok(queries);
    };
    if queries.len() < 2 || !model.retrieval {
        return Ok(queries);
    }
    let body = request(condenser, messages);
    let asked = chat.send_json::<Value, _>("/chat/completions", condenser, &body, log);
    match tokio::time::timeout(TIMEOUT, asked).await {
        Ok(Ok(answer)) => {
            log.set_usage(answer.get("usage"));
            match reply(&answer) {
                Some(query) => queries[1] = query,
                None => {
                    tracing::warn!(model = %condenser, "the follow-up rewrite came back empty; searching by rule");
                }
            }
        }
        Ok(Err(err)) => {
            tracing::warn!(model = %condenser, error = %err, "rewriting the follow-up failed; searching by rule");
        }
        Err(_) => {
            tracing::warn!(model = %condenser, "rewriting the follow-up took over {TIMEOUT:?}; searching by rule");
        }
    }
    Ok(queries)
}

const SEARCH_INSTRUCTIONS: &str = "You turn a question into a search query for a knowledge \
base: the words and names a passage that answers it would contain, without filler words. Keep \
the language of the question. Reply with the query only: no answer, no quotes, no preface.";

/// `query` rewritten for search by `model` on the chat upstream (a vector
/// store search's `rewrite_query`); `None` when the rewrite fails, times
/// out or comes back empty (the query is searched as given, and the
/// failure logged). Its tokens count in the request's usage.
pub async fn rewrite(chat: &Upstream, model: &str, query: &str, log: &LogHandle) -> Option<String> {
    let prompt = format!(
        "{SEARCH_INSTRUCTIONS}\n\nQuestion: {}\n\nSearch query:",
        cut(query, MAX_QUESTION_CHARS).trim()
    );
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": false,
    });
    let asked = chat.send_json::<Value, _>("/chat/completions", model, &body, log);
    match tokio::time::timeout(TIMEOUT, asked).await {
        Ok(Ok(answer)) => {
            log.set_usage(answer.get("usage"));
            let rewritten = reply(&answer);
            if rewritten.is_none() {
                tracing::warn!(%model, "the query rewrite came back empty; searching the query as given");
            }
            rewritten
        }
        Ok(Err(err)) => {
            tracing::warn!(%model, error = %err, "rewriting the query failed; searching it as given");
            None
        }
        Err(_) => {
            tracing::warn!(%model, "rewriting the query took over {TIMEOUT:?}; searching it as given");
            None
        }
    }
}

/// The rewrite request: the instructions, then the conversation before the
/// follow-up and the follow-up, each cut to size, in one user message (so
/// that upstreams which take one system message, or none, all work).
fn request(model: &str, messages: &[Message]) -> Value {
    let last = messages
        .iter()
        .rposition(|m| m.role == "user")
        .unwrap_or(messages.len().saturating_sub(1));
    let before: Vec<&Message> = messages[..last]
        .iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .collect();
    let mut conversation = String::new();
    for message in &before[before.len().saturating_sub(TURNS)..] {
        let who = if message.role == "user" {
            "User"
        } else {
            "Assistant"
        };
        let text = cut(&message.text(), MAX_TURN_CHARS);
        conversation.push_str(&format!("{who}: {}\n", text.trim()));
    }
    let question = messages.get(last).map(Message::text).unwrap_or_default();
    let prompt = format!(
        "{INSTRUCTIONS}\n\nConversation:\n{conversation}\nLast message: {}\n\nSearch query:",
        cut(&question, MAX_QUESTION_CHARS).trim()
    );
    json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "stream": false,
    })
}

/// The query in a chat completion: its first non-empty line, unquoted and
/// cut to size; `None` when there is none.
fn reply(answer: &Value) -> Option<String> {
    let text = answer["choices"][0]["message"]["content"].as_str()?;
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let line = line
        .strip_prefix("Search query:")
        .unwrap_or(line)
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '“' | '”' | '「' | '」'))
        .trim();
    (!line.is_empty()).then(|| cut(line, MAX_QUERY_CHARS))
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, text: &str) -> Message {
        Message::new(role, Value::String(text.into()))
    }

    #[test]
    fn the_request_holds_the_recent_conversation_and_the_follow_up() {
        let mut messages = vec![message("system", "Be brief.")];
        for turn in 0..10 {
            messages.push(message("user", &format!("question {turn}")));
            messages.push(message("assistant", &format!("answer {turn}")));
        }
        messages.push(message("user", "and on Sundays?"));
        let body = request("cheap", &messages);
        assert_eq!(body["model"], "cheap");
        assert_eq!(body["stream"], false);
        let prompt = body["messages"][0]["content"].as_str().unwrap();
        assert!(
            prompt.contains("User: question 9\nAssistant: answer 9\n"),
            "{prompt}"
        );
        assert!(prompt.contains("User: question 7\n"), "{prompt}");
        assert!(
            !prompt.contains("question 6"),
            "only the last {TURNS} messages: {prompt}"
        );
        assert!(!prompt.contains("Be brief"), "{prompt}");
        assert!(prompt.ends_with("Last message: and on Sundays?\n\nSearch query:"));
    }

    #[test]
    fn a_long_turn_is_cut() {
        let long = "字".repeat(5000);
        let body = request("m", &[message("user", &long), message("user", "more?")]);
        let prompt = body["messages"][0]["content"].as_str().unwrap();
        assert_eq!(prompt.matches('字').count(), MAX_TURN_CHARS);
    }

    #[test]
    fn the_reply_is_its_first_line_unquoted() {
        let answer = |text: &str| json!({"choices": [{"message": {"content": text}}]});
        assert_eq!(
            reply(&answer(
                "\n  \"harbour office opening hours on Sundays\"\nBecause…"
            ))
            .as_deref(),
            Some("harbour office opening hours on Sundays")
        );
        assert_eq!(
            reply(&answer("Search query: 港务办公室 周日 开放时间")).as_deref(),
            Some("港务办公室 周日 开放时间")
        );
        assert_eq!(reply(&answer("  \n\"\"")), None);
        assert_eq!(reply(&json!({"choices": []})), None);
        let long = reply(&answer(&"x".repeat(9000))).unwrap();
        assert_eq!(long.len(), MAX_QUERY_CHARS);
    }
}
