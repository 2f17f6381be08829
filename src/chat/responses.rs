//! Stored responses of the Responses API, each one key's: the response
//! object as it was returned, and where its exchange sits in its
//! conversation. Continuing from a response (`previous_response_id`) is
//! continuing its conversation; its input items are read back from the
//! conversation's messages, never stored twice.
//!
//! A kept response is queued with the conversations' saves (the saver's
//! writer stores it in the same batches); this process's reads of a key's
//! responses settle that key's queue first, and a continuation waits a
//! little for one another replica answered.
//!
//! A conversation is one line of messages. Continuing from its latest
//! response adds to it; continuing from an earlier one (the conversation
//! has moved on since) forks: the history up to that response is sent
//! with the new input and saved as a new conversation.

use serde_json::Value;
use sqlx::{AnyPool, Row};

use super::conversations::{is_missing, parse_body, soon, stored, Named, Saver};
use super::error::{ChatError, ChatResult};
use super::Message;
use crate::domain::clock::now_ms;

/// One response to keep.
pub struct NewResponse<'a> {
    pub id: &'a str,
    pub key_id: &'a str,
    pub conversation_id: &'a str,
    /// The conversation's messages once the exchange is saved.
    pub message_count: usize,
    /// The chat messages the request's input items became (they come last
    /// before the answer).
    pub input_messages: usize,
    /// The response object as returned.
    pub body: &'a Value,
}

/// A response as stored.
pub struct ResponseRow {
    pub id: String,
    pub key_id: String,
    conversation_id: String,
    input_from: i64,
    message_count: i64,
    created_at: i64,
    pub body: String,
}

/// Keep `response`, to be read back by its key and continued from: queued
/// with the conversations' saves (`saver`), whose key's reads here settle
/// it first.
pub async fn save(db: &AnyPool, saver: &Saver, response: NewResponse<'_>) -> ChatResult<()> {
    let body = serde_json::to_string(response.body).map_err(anyhow::Error::from)?;
    let input_from = response
        .message_count
        .saturating_sub(1 + response.input_messages);
    let row = ResponseRow {
        id: response.id.to_string(),
        key_id: response.key_id.to_string(),
        conversation_id: response.conversation_id.to_string(),
        input_from: input_from as i64,
        message_count: response.message_count as i64,
        created_at: now_ms(),
        body,
    };
    saver.keep_response(db, row).await
}

/// Rows one `INSERT` names at most (seven values each).
const ROWS_PER_INSERT: usize = 100;

/// Store `rows` (the saver's writer, or a request where none runs).
pub(crate) async fn insert_rows(db: &AnyPool, rows: &[&ResponseRow]) -> ChatResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = i * 7;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO responses (id, key_id, conversation_id, input_from, message_count, created_at, body) \
             VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = query
                .bind(&row.id)
                .bind(&row.key_id)
                .bind(&row.conversation_id)
                .bind(row.input_from)
                .bind(row.message_count)
                .bind(row.created_at)
                .bind(&row.body);
        }
        query.execute(db).await?;
    }
    Ok(())
}

/// Where a stored response sits.
struct Place {
    conversation_id: String,
    input_from: i64,
    message_count: i64,
}

async fn place(db: &AnyPool, key_id: &str, id: &str) -> ChatResult<Place> {
    let row = sqlx::query(
        "SELECT conversation_id, input_from, message_count FROM responses WHERE id = $1 AND key_id = $2",
    )
    .bind(id)
    .bind(key_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ChatError::not_found("response", id))?;
    Ok(Place {
        conversation_id: row.try_get("conversation_id")?,
        input_from: row.try_get("input_from")?,
        message_count: row.try_get("message_count")?,
    })
}

/// The response object `id` of `key_id` (404 for another key's).
pub async fn get(db: &AnyPool, saver: &Saver, key_id: &str, id: &str) -> ChatResult<Value> {
    saver.settle(key_id).await;
    let body: String = sqlx::query("SELECT body FROM responses WHERE id = $1 AND key_id = $2")
        .bind(id)
        .bind(key_id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| ChatError::not_found("response", id))?
        .try_get("body")?;
    serde_json::from_str(&body)
        .map_err(|e| ChatError::Store(anyhow::anyhow!("stored response: {e}")))
}

/// Forget response `id` of `key_id` (its conversation stays).
pub async fn delete(db: &AnyPool, saver: &Saver, key_id: &str, id: &str) -> ChatResult<()> {
    saver.settle(key_id).await;
    let done = sqlx::query("DELETE FROM responses WHERE id = $1 AND key_id = $2")
        .bind(id)
        .bind(key_id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ChatError::not_found("response", id));
    }
    Ok(())
}

/// The chat messages the input items of response `id` became, in order
/// (as its conversation stores them; system and developer messages are the
/// conversation's instructions, not among them).
pub async fn input(
    db: &AnyPool,
    saver: &Saver,
    key_id: &str,
    id: &str,
) -> ChatResult<Vec<Message>> {
    saver.settle(key_id).await;
    let place = place(db, key_id, id).await?;
    messages(
        db,
        &place.conversation_id,
        place.input_from,
        place.message_count - 1,
    )
    .await
}

/// Messages `from..to` (by `seq`) of a conversation.
async fn messages(
    db: &AnyPool,
    conversation: &str,
    from: i64,
    to: i64,
) -> ChatResult<Vec<Message>> {
    let rows = sqlx::query(
        "SELECT body FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
    )
    .bind(conversation)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    rows.iter().map(parse_body).collect()
}

/// How a request goes on from a stored response.
#[derive(Debug)]
pub enum Continuation {
    /// Its conversation, which the response ends: the new input follows.
    After(Named),
    /// The conversation has moved on since (or was cut back): the history
    /// up to the response (its newest `room` messages at most), to send
    /// before the new input in a new conversation.
    Fork(Vec<Message>),
}

/// How to continue from response `id` of `key_id`; `room` is how many
/// messages a fork may bring (the request's cap less its own messages).
pub async fn continuing(
    db: &AnyPool,
    saver: &Saver,
    key_id: &str,
    id: &str,
    room: usize,
) -> ChatResult<Continuation> {
    saver.settle(key_id).await;
    // The response may come from another replica, whose writer stores it
    // (and its conversation's save) a few milliseconds after it answered:
    // wait for them a little.
    let place = soon(|| place(db, key_id, id), |found| !is_missing(found)).await?;
    let now = soon(
        || stored(db, key_id, &place.conversation_id),
        |found| match found {
            Ok(now) => now.count as i64 >= place.message_count,
            Err(_) => !is_missing(found),
        },
    )
    .await;
    match now.map(|now| now.count as i64) {
        Err(ChatError::NotFound { .. }) => Err(ChatError::not_found("response", id)),
        Err(err) => Err(err),
        Ok(count) if count > place.message_count => {
            let from = (place.message_count - room as i64).max(0);
            let history = messages(db, &place.conversation_id, from, place.message_count).await?;
            Ok(Continuation::Fork(history))
        }
        // Its latest (or its save never came: the new input follows what is stored).
        Ok(_) => Ok(Continuation::After(Named::After(place.conversation_id))),
    }
}
