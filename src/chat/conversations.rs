//! Conversations, each owned by one API key: finding the one a request
//! continues, saving each exchange, and listing, reading and deleting them.
//!
//! A request continues a conversation named by `X-Conversation-Id` (or a
//! `conversation_id` body field), or else the caller's conversation whose
//! stored messages are exactly the request's earlier messages. To find that
//! one with an index instead of reading histories, every conversation keeps
//! a hash chain over its non-system messages: `h(n) = sha256(h(n-1), m(n))`.
//! The request's prefixes are hashed the same way and looked up at once.

use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::Message;
use crate::error::{AppError, AppResult};
use crate::retrieval::Source;
use crate::store::sql::{now_ms, page_limit, Page};

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
    /// The hash chain after `added`.
    hash: String,
    /// The title of a conversation this request starts.
    title: String,
    /// Everything to send upstream (before trimming): system messages,
    /// stored history, new messages.
    pub messages: Vec<Message>,
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

struct Stored {
    hash: String,
    count: usize,
    system: Vec<Message>,
}

/// The caller's conversation `id`, or a 404 (also for another key's id).
async fn stored(db: &AnyPool, key_id: &str, id: &str) -> AppResult<Stored> {
    let row = sqlx::query(
        "SELECT history_hash, message_count, system FROM conversations WHERE id = $1 AND key_id = $2",
    )
    .bind(id)
    .bind(key_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::not_found("conversation", id))?;
    Ok(Stored {
        hash: row.try_get("history_hash")?,
        count: row.try_get::<i64, _>("message_count")? as usize,
        system: serde_json::from_str(&row.try_get::<String, _>("system")?).unwrap_or_default(),
    })
}

/// The stored non-system messages of conversation `id`, oldest first.
async fn history(db: &AnyPool, id: &str) -> AppResult<Vec<Message>> {
    let rows = sqlx::query("SELECT body FROM messages WHERE conversation_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|row| {
            let body: String = row.try_get("body")?;
            serde_json::from_str(&body)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("stored message: {e}")))
        })
        .collect()
}

/// Find (or begin) the conversation of a request from `key_id`.
///
/// `explicit` is the id the client named. With it, the client may send the
/// whole history (checked against the stored one), or only what is new
/// (the stored history is put before it); a history that differs from the
/// stored one replaces it.
pub async fn find(
    db: &AnyPool,
    key_id: &str,
    explicit: Option<&str>,
    messages: Vec<Message>,
) -> AppResult<Thread> {
    let (system, others): (Vec<Message>, Vec<Message>) = messages.into_iter().partition(is_system);
    let hashes = chain_of("", &others);
    if let Some(id) = explicit {
        let stored = stored(db, key_id, id).await?;
        let system = if system.is_empty() {
            stored.system
        } else {
            system
        };
        if stored.count <= others.len() && hashes[stored.count] == stored.hash {
            // The client resent the stored history (and something new).
            let added = others[stored.count..].to_vec();
            return Ok(thread(id, true, false, system, others, added, hashes));
        }
        if !others.iter().any(|m| m.role == "assistant") {
            // Only the new turn: the stored history goes before it.
            let mut all = history(db, id).await?;
            let start = stored.hash;
            all.extend(others.iter().cloned());
            let hashes = chain_of(&start, &others);
            return Ok(thread(id, true, false, system, all, others, hashes));
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
            return Ok(thread(&id, true, false, system, others, added, hashes));
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
        hash: hashes.last().cloned().unwrap_or_default(),
        title,
        messages,
    }
}

/// Store the exchange: the request's new messages and the answer.
pub async fn save(
    db: &AnyPool,
    key_id: &str,
    model: &str,
    thread: &Thread,
    answer: Answer,
) -> AppResult<()> {
    let now = now_ms();
    let hash = chain(&thread.hash, &answer.message);
    let count = (thread.added.len() + 1) as i64;
    let system = serde_json::to_string(&thread.system).map_err(anyhow::Error::from)?;
    let mut tx = db.begin().await?;
    let first_seq = if !thread.existing {
        sqlx::query(
            "INSERT INTO conversations (id, key_id, model, title, system, history_hash, message_count, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&thread.id)
        .bind(key_id)
        .bind(model)
        .bind(&thread.title)
        .bind(&system)
        .bind(&hash)
        .bind(count)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        0
    } else {
        if thread.replace {
            sqlx::query("DELETE FROM messages WHERE conversation_id = $1")
                .bind(&thread.id)
                .execute(&mut *tx)
                .await?;
        }
        // A replaced history starts counting again from 0.
        let row = sqlx::query(
            "UPDATE conversations SET model = $1, system = $2, history_hash = $3, \
             message_count = CASE WHEN $8 = 1 THEN 0 ELSE message_count END + $4, updated_at = $5 \
             WHERE id = $6 AND key_id = $7 RETURNING message_count",
        )
        .bind(model)
        .bind(&system)
        .bind(&hash)
        .bind(count)
        .bind(now)
        .bind(&thread.id)
        .bind(key_id)
        .bind(i64::from(thread.replace))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(()); // deleted meanwhile: nothing to add to
        };
        row.try_get::<i64, _>("message_count")? - count
    };
    let mut seq = first_seq;
    for message in &thread.added {
        insert_message(&mut tx, &thread.id, seq, message, None, now).await?;
        seq += 1;
    }
    insert_message(
        &mut tx,
        &thread.id,
        seq,
        &answer.message,
        Some(&answer),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_message(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    seq: i64,
    message: &Message,
    answer: Option<&Answer>,
    now: i64,
) -> AppResult<()> {
    let body = serde_json::to_string(message).map_err(anyhow::Error::from)?;
    let sources = answer
        .map(|a| serde_json::to_string(&a.sources))
        .transpose()
        .map_err(anyhow::Error::from)?;
    let usage = answer.and_then(|a| a.usage.as_ref());
    let tokens = |field: &str| usage.and_then(|u| u[field].as_i64());
    sqlx::query(
        "INSERT INTO messages (conversation_id, seq, role, body, sources, prompt_tokens, completion_tokens, total_tokens, incomplete, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(conversation_id)
    .bind(seq)
    .bind(&message.role)
    .bind(body)
    .bind(sources)
    .bind(tokens("prompt_tokens"))
    .bind(tokens("completion_tokens"))
    .bind(tokens("total_tokens"))
    .bind(i64::from(answer.is_some_and(|a| a.incomplete)))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A conversation in a listing.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: String,
    pub object: &'static str,
    /// The id of the key whose conversation it is.
    pub key_id: String,
    pub title: String,
    pub model: String,
    pub message_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SUMMARY_COLUMNS: &str = "id, key_id, title, model, message_count, created_at, updated_at";

impl Summary {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            object: "conversation",
            key_id: row.try_get("key_id")?,
            title: row.try_get("title")?,
            model: row.try_get("model")?,
            message_count: row.try_get("message_count")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The conversations of `owner` (a key id; `None`: every key's, for the
/// admin), most recently active first; `after` is the previous page's
/// `next_cursor`.
pub async fn list(
    db: &AnyPool,
    owner: Option<&str>,
    limit: Option<i64>,
    after: Option<&str>,
) -> AppResult<Page<Summary>> {
    let limit = page_limit(limit)?;
    let cursor = match after.filter(|a| !a.is_empty()) {
        Some(after) => Some(
            after
                .split_once('_')
                .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| {
                    AppError::BadRequest(
                        "`after` is not a cursor from this listing (pass `next_cursor`).".into(),
                    )
                })?,
        ),
        None => None,
    };
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM conversations WHERE 1 = 1");
    let mut n = 0;
    if owner.is_some() {
        n += 1;
        sql.push_str(&format!(" AND key_id = ${n}"));
    }
    if cursor.is_some() {
        let (time, id) = (n + 1, n + 2);
        sql.push_str(&format!(
            " AND (updated_at < ${time} OR (updated_at = ${time} AND id < ${id}))"
        ));
    }
    sql.push_str(&format!(
        " ORDER BY updated_at DESC, id DESC LIMIT {}",
        limit + 1
    ));
    let mut query = sqlx::query(&sql);
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    if let Some((time, id)) = &cursor {
        query = query.bind(*time).bind(id);
    }
    let rows = query.fetch_all(db).await?;
    let data = rows
        .iter()
        .map(Summary::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::new(data, limit, |c| {
        format!("{}_{}", c.updated_at, c.id)
    }))
}

/// `WHERE id = $1`, and the owner's key when there is one.
fn one(owner: Option<&str>) -> &'static str {
    match owner {
        Some(_) => "id = $1 AND key_id = $2",
        None => "id = $1",
    }
}

/// Conversation `id` of `owner` (`None`: whoever's, for the admin) with its
/// messages: the system messages first, then every turn with its time and,
/// for answers, usage and sources.
pub async fn get(db: &AnyPool, owner: Option<&str>, id: &str) -> AppResult<Value> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, system FROM conversations WHERE {}",
        one(owner)
    );
    let mut query = sqlx::query(&sql).bind(id);
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    let row = query
        .fetch_optional(db)
        .await?
        .ok_or_else(|| AppError::not_found("conversation", id))?;
    let summary = Summary::from_row(&row)?;
    let system: Vec<Message> =
        serde_json::from_str(&row.try_get::<String, _>("system")?).unwrap_or_default();
    let rows = sqlx::query(
        "SELECT body, sources, prompt_tokens, completion_tokens, total_tokens, incomplete, created_at \
         FROM messages WHERE conversation_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    let mut messages: Vec<Value> = system
        .iter()
        .map(|m| message_json(m, summary.created_at))
        .collect();
    for row in &rows {
        let body: String = row.try_get("body")?;
        let message: Message = serde_json::from_str(&body)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored message: {e}")))?;
        let mut value = message_json(&message, row.try_get("created_at")?);
        if let Some(sources) = row.try_get::<Option<String>, _>("sources")? {
            value["sources"] = serde_json::from_str(&sources).unwrap_or_else(|_| json!([]));
        }
        if let Some(total) = row.try_get::<Option<i64>, _>("total_tokens")? {
            value["usage"] = json!({
                "prompt_tokens": row.try_get::<Option<i64>, _>("prompt_tokens")?,
                "completion_tokens": row.try_get::<Option<i64>, _>("completion_tokens")?,
                "total_tokens": total,
            });
        }
        if row.try_get::<i64, _>("incomplete")? != 0 {
            value["incomplete"] = json!(true);
        }
        messages.push(value);
    }
    let mut out = serde_json::to_value(summary).map_err(anyhow::Error::from)?;
    out["messages"] = Value::Array(messages);
    Ok(out)
}

fn message_json(message: &Message, created_at: i64) -> Value {
    let mut object = Map::new();
    object.insert("role".into(), Value::String(message.role.clone()));
    object.insert("content".into(), message.content.clone());
    for (k, v) in &message.rest {
        object.insert(k.clone(), v.clone());
    }
    object.insert("created_at".into(), json!(created_at));
    Value::Object(object)
}

/// Delete conversation `id` of `owner` (`None`: whoever's, for the admin)
/// and its messages.
pub async fn delete(db: &AnyPool, owner: Option<&str>, id: &str) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let sql = format!("DELETE FROM conversations WHERE {}", one(owner));
    let mut query = sqlx::query(&sql).bind(id);
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    let deleted = query.execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::not_found("conversation", id));
    }
    sqlx::query("DELETE FROM messages WHERE conversation_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
