//! Listing, reading and deleting conversations (a key its own; the admin
//! every key's).

use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::save::add_keys_bytes;
use super::Message;
use crate::chat::error::{ChatError, ChatResult};
use crate::domain::page::{page_limit, Page};
use crate::store::sql::Placeholders;

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
) -> ChatResult<Page<Summary>> {
    let limit = page_limit(limit)?;
    let cursor = match after.filter(|a| !a.is_empty()) {
        Some(after) => Some(
            after
                .split_once('_')
                .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| {
                    ChatError::Invalid(
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
pub async fn get(db: &AnyPool, owner: Option<&str>, id: &str) -> ChatResult<Value> {
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
        .ok_or_else(|| ChatError::not_found("conversation", id))?;
    let summary = Summary::from_row(&row)?;
    let system: Vec<Message> =
        serde_json::from_str(&row.try_get::<String, _>("system")?).unwrap_or_default();
    let rows = sqlx::query(
        "SELECT body, sources, prompt_tokens, completion_tokens, total_tokens, incomplete, created_at \
         FROM messages WHERE conversation_id = $1 AND seq < $2 ORDER BY seq",
    )
    .bind(id)
    .bind(summary.message_count)
    .fetch_all(db)
    .await?;
    let mut messages: Vec<Value> = system
        .iter()
        .map(|m| message_json(m, summary.created_at))
        .collect();
    for row in &rows {
        let body: String = row.try_get("body")?;
        let message: Message = serde_json::from_str(&body)
            .map_err(|e| ChatError::Store(anyhow::anyhow!("stored message: {e}")))?;
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
/// and its messages; answers whose it was (the key id).
pub async fn delete(db: &AnyPool, owner: Option<&str>, id: &str) -> ChatResult<String> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "DELETE FROM conversations WHERE {} RETURNING key_id, stored_bytes",
        one(owner)
    );
    let mut query = sqlx::query(&sql).bind(id);
    if let Some(owner) = owner {
        query = query.bind(owner);
    }
    let Some(deleted) = query.fetch_optional(&mut *tx).await? else {
        return Err(ChatError::not_found("conversation", id));
    };
    let (key_id, bytes): (String, i64) =
        (deleted.try_get("key_id")?, deleted.try_get("stored_bytes")?);
    add_keys_bytes(&mut tx, Placeholders::of(db), &[(&key_id, -bytes)]).await?;
    // Its messages, and the stored responses whose exchanges they were.
    for sql in [
        "DELETE FROM messages WHERE conversation_id = $1",
        "DELETE FROM responses WHERE conversation_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(key_id)
}
