//! Conversations, each owned by one API key: finding the one a request
//! continues, saving each exchange (and the bytes it stores, per
//! conversation and per key), and listing, reading and deleting them
//! ([`listing`]).
//!
//! A request continues a conversation named by `X-Conversation-Id` (or a
//! `conversation_id` body field), or else the caller's conversation whose
//! stored messages are exactly the request's earlier messages. To find that
//! one with an index instead of reading histories, every conversation keeps
//! a hash chain over its non-system messages: `h(n) = sha256(h(n-1), m(n))`.
//! The request's prefixes are hashed the same way and looked up at once.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::error::{ChatError, ChatResult};
use super::Message;
use crate::retrieval::Source;

mod listing;
mod save;
mod saver;
pub use listing::{delete, get, list, Summary};
pub use save::{check_replacement, Save, Written, CHUNK_BYTES};
pub use saver::Saver;

/// Most earlier prefixes of a request tried when looking for its conversation.
const MAX_CANDIDATES: usize = 100;

/// Characters of the first user message kept as a conversation's title.
const TITLE_CHARS: usize = 80;

/// The conversation a request belongs to, and what it adds.
#[derive(Debug, Clone)]
pub struct Thread {
    pub id: String,
    /// Whether the conversation is stored already.
    existing: bool,
    /// The stored history diverged from what the client sent with the id:
    /// the client's messages replace it.
    replace: bool,
    /// The client's system messages (stored with the conversation).
    system: Vec<Message>,
    /// The messages this request adds, before the answer.
    added: Vec<Message>,
    /// Stored messages the request continues (0 for a new or replaced history).
    stored_count: usize,
    /// Stored messages that go before `messages` but are not read yet (an
    /// id-only request): [`load_history`] reads the newest that are needed.
    unloaded: usize,
    /// The hash chain after `added`.
    hash: String,
    /// The title of a conversation this request starts.
    title: String,
    /// Everything to send upstream (before trimming): system messages,
    /// stored history (of an id-only request, once [`load_history`] has
    /// read what is needed of it), new messages.
    pub messages: Vec<Message>,
}

impl Thread {
    /// Messages the stored conversation holds once this exchange (with its
    /// answer) is saved.
    pub fn stored_after(&self) -> usize {
        let kept = if self.replace { 0 } else { self.stored_count };
        kept + self.added.len() + 1
    }

    /// Bytes of text in the messages the request adds (cheap: no serialising).
    pub fn added_text_bytes(&self) -> usize {
        self.added.iter().map(Message::text_bytes).sum()
    }

    /// Bytes the request's new messages take stored (the answer's come on top).
    pub fn added_bytes(&self) -> u64 {
        self.added.iter().map(super::caps::stored_size).sum()
    }
}

/// The answer that ends an exchange.
#[derive(Debug, Clone)]
pub struct Answer {
    pub message: Message,
    pub sources: Vec<Source>,
    pub usage: Option<Value>,
    /// The upstream stopped (or the client left) before the answer was whole.
    pub incomplete: bool,
}

fn is_system(message: &Message) -> bool {
    message.role == "system" || message.role == "developer"
}

/// The next link of the hash chain.
fn chain(previous: &str, message: &Message) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update([0]);
    hasher.update(message.role.as_bytes());
    hasher.update([0]);
    hasher.update(message.text().trim().as_bytes());
    for field in ["tool_call_id", "name"] {
        if let Some(value) = message.rest.get(field).and_then(Value::as_str) {
            hasher.update([0]);
            hasher.update(value.as_bytes());
        }
    }
    if let Some(calls) = message.rest.get("tool_calls").and_then(Value::as_array) {
        for call in calls {
            hasher.update([1]);
            hasher.update(call["id"].as_str().unwrap_or_default().as_bytes());
            hasher.update([0]);
            hasher.update(
                call["function"]["arguments"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
    }
    hex::encode(hasher.finalize())
}

/// The hash chain of `messages`: element `n` covers the first `n` messages.
fn chain_of(start: &str, messages: &[Message]) -> Vec<String> {
    let mut hashes = Vec::with_capacity(messages.len() + 1);
    hashes.push(start.to_string());
    for message in messages {
        let next = chain(hashes.last().map_or("", String::as_str), message);
        hashes.push(next);
    }
    hashes
}

fn title_of(messages: &[Message]) -> String {
    let text = messages
        .iter()
        .find(|m| m.role == "user")
        .map(Message::text)
        .unwrap_or_default();
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut title: String = line.chars().take(TITLE_CHARS).collect();
    if line.chars().count() > TITLE_CHARS {
        title.push('…');
    }
    if title.is_empty() {
        "New conversation".into()
    } else {
        title
    }
}

pub(super) struct Stored {
    hash: String,
    pub(super) count: usize,
    system: Vec<Message>,
}

/// The caller's conversation `id`, or a 404 (also for another key's id).
pub(super) async fn stored(db: &AnyPool, key_id: &str, id: &str) -> ChatResult<Stored> {
    let row = sqlx::query(
        "SELECT history_hash, message_count, system FROM conversations WHERE id = $1 AND key_id = $2",
    )
    .bind(id)
    .bind(key_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ChatError::not_found("conversation", id))?;
    Ok(Stored {
        hash: row.try_get("history_hash")?,
        count: row.try_get::<i64, _>("message_count")? as usize,
        system: serde_json::from_str(&row.try_get::<String, _>("system")?).unwrap_or_default(),
    })
}

pub(super) fn parse_body(row: &AnyRow) -> ChatResult<Message> {
    let body: String = row.try_get("body")?;
    serde_json::from_str(&body)
        .map_err(|e| ChatError::Store(anyhow::anyhow!("stored message: {e}")))
}

/// Messages of the last stored exchange read for a follow-up's search.
const MAX_EXCHANGE: usize = 8;

/// For an id-only request (its stored history not read by [`find`]), put
/// the newest stored messages before the new ones: as many as make
/// `max_messages` non-system messages with them (what the upstream gets
/// after trimming; older ones would be trimmed away), and the last stored
/// exchange (the last user message and what followed it) when those hold
/// no user message (a follow-up is searched for after the exchange before
/// it; trimming drops it again, as the oldest). The rest of the history is
/// never read.
pub async fn load_history(
    db: &AnyPool,
    thread: &mut Thread,
    max_messages: usize,
) -> ChatResult<()> {
    if thread.unloaded == 0 {
        return Ok(());
    }
    let new = thread.messages.len() - thread.system.len();
    let want = max_messages.max(1).saturating_sub(new).min(thread.unloaded);
    let rows = if want == 0 {
        Vec::new()
    } else {
        sqlx::query(&format!(
            "SELECT seq, body FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT {want}"
        ))
        .bind(&thread.id)
        .bind(thread.unloaded as i64)
        .fetch_all(db)
        .await?
    };
    let mut loaded = rows
        .iter()
        .rev()
        .map(parse_body)
        .collect::<ChatResult<Vec<_>>>()?;
    if rows.len() < thread.unloaded && !loaded.iter().any(|m| m.role == "user") {
        let before = match rows.last() {
            Some(oldest) => oldest.try_get::<i64, _>("seq")?,
            None => thread.unloaded as i64,
        };
        // The last stored question and what followed it (its answer), a
        // few messages at most.
        let exchange = sqlx::query(&format!(
            "SELECT body FROM messages WHERE conversation_id = $1 AND seq < $2 AND seq >= \
             (SELECT MAX(seq) FROM messages WHERE conversation_id = $1 AND role = 'user' AND seq < $2) \
             ORDER BY seq LIMIT {MAX_EXCHANGE}"
        ))
        .bind(&thread.id)
        .bind(before)
        .fetch_all(db)
        .await?;
        let exchange = exchange
            .iter()
            .map(parse_body)
            .collect::<ChatResult<Vec<_>>>()?;
        loaded.splice(0..0, exchange);
    }
    let at = thread.system.len();
    thread.messages.splice(at..at, loaded);
    thread.unloaded = 0;
    Ok(())
}

/// How long a conversation named by id is looked for before it is
/// reported missing: another replica (or process on the same database)
/// answers once the save is queued, and stores it a few milliseconds later.
const SHARED_SAVE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// [`stored`], looked for again for up to [`SHARED_SAVE_WAIT`] (the client
/// may have been answered by another replica whose save is still on its
/// way; this process's own saves are settled before).
async fn stored_soon(db: &AnyPool, key_id: &str, id: &str) -> ChatResult<Stored> {
    soon(|| stored(db, key_id, id), |found| !is_missing(found)).await
}

/// Whether `result` is a 404.
pub(super) fn is_missing<T>(result: &ChatResult<T>) -> bool {
    matches!(result, Err(ChatError::NotFound { .. }))
}

/// `look` again, backing off from 5 ms to 200 ms, until `done` takes what
/// it found or [`SHARED_SAVE_WAIT`] has passed; what it found last. For
/// what another replica has answered with and is storing a few
/// milliseconds later.
pub(super) async fn soon<T, F: std::future::Future<Output = T>>(
    mut look: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + SHARED_SAVE_WAIT;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let found = look().await;
        let now = tokio::time::Instant::now();
        if done(&found) || now >= deadline {
            return found;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(200));
    }
}

/// The conversation a request names, and how its messages relate to the
/// stored ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// `X-Conversation-Id` or a `conversation_id` field: the messages may
    /// resend the stored history (checked against it), or bring only what
    /// is new (the stored history is put before it); a history that differs
    /// from the stored one replaces it.
    Id(String),
    /// The messages follow the stored history, whatever they hold (the
    /// Responses API's `previous_response_id` and `conversation`).
    After(String),
}

/// Find (or begin) the conversation of a request from `key_id`, the one
/// `explicit` names if it names one ([`Named`]).
///
/// Before it reads stored conversations, the key's saves still queued in
/// `saver` are waited for: the conversation this process has just answered
/// in may be among them.
pub async fn find(
    db: &AnyPool,
    saver: &Saver,
    key_id: &str,
    explicit: Option<&Named>,
    messages: Vec<Message>,
) -> ChatResult<Thread> {
    let (system, others): (Vec<Message>, Vec<Message>) = messages.into_iter().partition(is_system);
    let bytes: usize = others.iter().map(Message::text_bytes).sum();
    let hashes = super::apart(bytes, || chain_of("", &others));
    if let Some(named) = explicit {
        let (id, after) = match named {
            Named::Id(id) => (id.trim(), false),
            Named::After(id) => (id.trim(), true),
        };
        saver.settle(key_id).await;
        let stored = stored_soon(db, key_id, id).await?;
        let system = if system.is_empty() {
            stored.system
        } else {
            system
        };
        if !after && stored.count <= others.len() && hashes[stored.count] == stored.hash {
            // The client resent the stored history (and something new).
            let added = others[stored.count..].to_vec();
            let mut found = thread(id, true, false, system, others, added, hashes);
            found.stored_count = stored.count;
            return Ok(found);
        }
        if after || !others.iter().any(|m| m.role == "assistant") {
            // Only the new turn: the stored history goes before it, read
            // by `load_history` once the model says how much is sent.
            let hashes = super::apart(bytes, || chain_of(&stored.hash, &others));
            let added = others.clone();
            let mut found = thread(id, true, false, system, others, added, hashes);
            (found.stored_count, found.unloaded) = (stored.count, stored.count);
            return Ok(found);
        }
        let added = others.clone();
        return Ok(thread(id, true, true, system, others, added, hashes));
    }
    // The longest earlier prefix, ending with an answer, that is a stored conversation.
    let candidates: Vec<(usize, &String)> = hashes
        .iter()
        .enumerate()
        .filter(|&(n, _)| n > 0 && n < others.len() && others[n - 1].role == "assistant")
        .rev()
        .take(MAX_CANDIDATES)
        .collect();
    if !candidates.is_empty() {
        saver.settle(key_id).await;
        let placeholders: Vec<String> = (0..candidates.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let sql = format!(
            "SELECT id, history_hash, message_count FROM conversations \
             WHERE key_id = $1 AND history_hash IN ({}) ORDER BY updated_at DESC, id DESC",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(key_id);
        for (_, hash) in &candidates {
            query = query.bind(hash.as_str());
        }
        let rows = query.fetch_all(db).await?;
        let best = candidates.iter().find_map(|(n, hash)| {
            rows.iter()
                .find(|row| {
                    row.try_get::<String, _>("history_hash").ok().as_deref() == Some(hash.as_str())
                        && row.try_get::<i64, _>("message_count").ok() == Some(*n as i64)
                })
                .map(|row| (*n, row))
        });
        if let Some((n, row)) = best {
            let id: String = row.try_get("id")?;
            let added = others[n..].to_vec();
            let mut found = thread(&id, true, false, system, others, added, hashes);
            found.stored_count = n;
            return Ok(found);
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    let added = others.clone();
    Ok(thread(&id, false, false, system, others, added, hashes))
}

fn thread(
    id: &str,
    existing: bool,
    replace: bool,
    system: Vec<Message>,
    history: Vec<Message>,
    added: Vec<Message>,
    hashes: Vec<String>,
) -> Thread {
    let title = title_of(&history);
    let mut messages = system.clone();
    messages.extend(history);
    Thread {
        id: id.to_string(),
        existing,
        replace,
        system,
        added,
        stored_count: 0,
        unloaded: 0,
        hash: hashes.last().cloned().unwrap_or_default(),
        title,
        messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(role: &str, content: &str) -> Message {
        Message::new(role, json!(content))
    }

    #[test]
    fn the_chain_ignores_surrounding_whitespace_but_not_roles() {
        let a = chain("", &msg("user", "hello "));
        assert_eq!(a, chain("", &msg("user", "hello")));
        assert_ne!(a, chain("", &msg("assistant", "hello")));
        assert_ne!(a, chain("x", &msg("user", "hello")));
        let hashes = chain_of("", &[msg("user", "a"), msg("assistant", "b")]);
        assert_eq!(hashes.len(), 3);
        assert_eq!(hashes[2], chain(&hashes[1], &msg("assistant", "b")));
    }

    #[test]
    fn titles_come_from_the_first_user_message() {
        let long = "字".repeat(100);
        assert_eq!(
            title_of(&[msg("assistant", "hi"), msg("user", "  Where\nis   it? ")]),
            "Where is it?"
        );
        assert_eq!(
            title_of(&[msg("user", &long)]).chars().count(),
            TITLE_CHARS + 1
        );
        assert_eq!(title_of(&[]), "New conversation");
    }
}
