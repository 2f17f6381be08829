//! Writing exchanges: many small ones in one transaction (the saver's
//! batches), a large one in several short transactions, so that no save
//! holds the database's write lock for long.
//!
//! A conversation's `message_count` says how many of its messages are
//! stored: readers see only the messages below it. A large save writes its
//! messages first, each transaction at most [`CHUNK_BYTES`] of them, and
//! counts them in the conversation last, so a reader never sees half of it.

use std::collections::HashMap;

use sqlx::{AnyPool, Row};

use crate::store::sql::Placeholders;

use super::{chain, Answer, Thread};
use crate::chat::error::{ChatError, ChatResult};
use crate::chat::Message;

/// Bytes of messages one transaction writes at most (a single larger
/// message goes alone): about a millisecond or two of SQLite's write lock.
pub const CHUNK_BYTES: i64 = 1024 * 1024;

/// Message rows one `INSERT` names at most (ten values each: within every
/// database's limit on bound values).
const ROWS_PER_INSERT: usize = 300;

/// One exchange to store: the request's new messages and the answer, as rows.
#[derive(Debug)]
pub struct Save {
    pub key_id: String,
    /// The public model name.
    model: String,
    conversation: String,
    /// Whether the conversation is stored already.
    existing: bool,
    /// The stored history is replaced by this one.
    replace: bool,
    /// Messages the stored conversation held when the request read it.
    stored_count: i64,
    title: String,
    /// The client's system messages, as JSON.
    system: String,
    /// The hash chain after the answer.
    hash: String,
    rows: Vec<StoredRow>,
    /// What the rows add to the stored totals.
    pub bytes: i64,
}

/// What a save did to its key's stored total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Added this many bytes.
    Added(i64),
    /// Replaced a history: the total changed by what the old one took.
    Replaced,
    /// The conversation was deleted meanwhile: nothing was stored.
    Gone,
}

impl Save {
    /// The exchange of `thread` ended by `answer`, as `key_id`'s with `model`.
    pub fn new(key_id: &str, model: &str, thread: &Thread, answer: Answer) -> ChatResult<Self> {
        let mut rows = thread
            .added
            .iter()
            .map(|message| StoredRow::new(message, None))
            .collect::<ChatResult<Vec<_>>>()?;
        rows.push(StoredRow::new(&answer.message, Some(&answer))?);
        Ok(Self {
            key_id: key_id.to_string(),
            model: model.to_string(),
            conversation: thread.id.clone(),
            existing: thread.existing,
            replace: thread.replace,
            stored_count: thread.stored_count as i64,
            title: thread.title.clone(),
            system: serde_json::to_string(&thread.system).map_err(anyhow::Error::from)?,
            hash: chain(&thread.hash, &answer.message),
            bytes: rows.iter().map(StoredRow::bytes).sum(),
            rows,
        })
    }

    /// The conversation it is saved in.
    pub fn conversation(&self) -> &str {
        &self.conversation
    }

    /// The bytes it adds to its key's stored total, unless it replaces a
    /// history (which changes the total by what the old one took).
    pub fn adds(&self) -> Option<i64> {
        (!self.replace).then_some(self.bytes)
    }

    /// Whether it is written in several transactions ([`write_large`]).
    /// A replaced history is not: it is written whole, in one.
    pub fn is_large(&self) -> bool {
        self.bytes > CHUNK_BYTES && !self.replace
    }
}

/// Refuse to replace a stored history with more than [`CHUNK_BYTES`] of new
/// messages (such a history is written in one transaction): checked before
/// anything is asked upstream.
pub fn check_replacement(thread: &Thread) -> ChatResult<()> {
    if thread.replace && thread.added_bytes() > CHUNK_BYTES as u64 {
        return Err(ChatError::OverCap(format!(
            "The messages sent with conversation {} differ from the ones it has stored, so they \
             would replace its history, and they take {} bytes; a history is replaced only up to \
             {CHUNK_BYTES} bytes. Send only the new messages with the conversation's id, or start \
             a new conversation (no `X-Conversation-Id`).",
            thread.id,
            thread.added_bytes()
        )));
    }
    Ok(())
}

/// Store `saves` in one transaction; what each did, in order.
pub async fn write_batch(db: &AnyPool, saves: &[&Save], now: i64) -> ChatResult<Vec<Written>> {
    let style = Placeholders::of(db);
    let mut tx = db.begin().await?;
    let new: Vec<&Save> = saves.iter().copied().filter(|s| !s.existing).collect();
    for chunk in new.chunks(ROWS_PER_INSERT / 3) {
        insert_conversations(&mut tx, style, chunk, now).await?;
    }
    let mut written = Vec::with_capacity(saves.len());
    let mut first_seqs = Vec::with_capacity(saves.len());
    for save in saves {
        if !save.existing {
            written.push(Written::Added(save.bytes));
            first_seqs.push(Some(0));
            continue;
        }
        if save.replace {
            replace_history(&mut tx, save).await?;
        }
        let Some(count) = update_conversation(&mut tx, save, now, None).await? else {
            written.push(Written::Gone);
            first_seqs.push(None);
            continue;
        };
        written.push(if save.replace {
            Written::Replaced
        } else {
            Written::Added(save.bytes)
        });
        first_seqs.push(Some(count - save.rows.len() as i64));
    }
    let mut added: HashMap<&str, i64> = HashMap::new();
    for (save, written) in saves.iter().zip(&written) {
        if let Written::Added(bytes) = written {
            *added.entry(&save.key_id).or_default() += bytes;
        }
    }
    let added: Vec<(&str, i64)> = added.into_iter().collect();
    for chunk in added.chunks(ROWS_PER_INSERT) {
        add_keys_bytes(&mut tx, style, chunk).await?;
    }
    let mut rows = Vec::new();
    for (save, first) in saves.iter().zip(first_seqs) {
        if let Some(first) = first {
            rows.extend(
                (first..)
                    .zip(&save.rows)
                    .map(|(seq, row)| (*save, seq, row)),
            );
        }
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        insert_messages(&mut tx, style, chunk, now, true).await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// Store a large save in transactions of at most [`CHUNK_BYTES`] of
/// messages each, then count them in the conversation. Messages written
/// before a failure (or before finding the conversation changed by
/// another save meanwhile) are taken back.
pub async fn write_large(db: &AnyPool, save: &Save, now: i64) -> ChatResult<Written> {
    let style = Placeholders::of(db);
    let first = if save.existing { save.stored_count } else { 0 };
    let mut written = 0usize;
    let outcome = async {
        if save.existing {
            // Messages past the stored count: left by a large save that
            // never finished (the process stopped).
            sqlx::query(
                "DELETE FROM messages WHERE conversation_id = $1 AND seq >= \
                 (SELECT message_count FROM conversations WHERE id = $1)",
            )
            .bind(&save.conversation)
            .execute(db)
            .await?;
        }
        for chunk in chunks_by_bytes(&save.rows) {
            let rows: Vec<(&Save, i64, &StoredRow)> = chunk
                .iter()
                .enumerate()
                .map(|(i, row)| (save, first + (written + i) as i64, row))
                .collect();
            let mut tx = db.begin().await?;
            insert_messages(&mut tx, style, &rows, now, false).await?;
            tx.commit().await?;
            written += chunk.len();
        }
        let mut tx = db.begin().await?;
        if save.existing {
            if update_conversation(&mut tx, save, now, Some(save.stored_count))
                .await?
                .is_none()
            {
                return Ok(Written::Gone);
            }
        } else {
            insert_conversations(&mut tx, style, &[save], now).await?;
        }
        add_keys_bytes(&mut tx, style, &[(&save.key_id, save.bytes)]).await?;
        tx.commit().await?;
        Ok(Written::Added(save.bytes))
    }
    .await;
    if !matches!(outcome, Ok(Written::Added(_))) && written > 0 {
        // Only past the stored count: a row there is never another save's.
        let taken_back = sqlx::query(
            "DELETE FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq < $3 \
             AND seq >= COALESCE((SELECT message_count FROM conversations WHERE id = $1), 0)",
        )
        .bind(&save.conversation)
        .bind(first)
        .bind(first + written as i64)
        .execute(db)
        .await;
        if let Err(err) = taken_back {
            tracing::error!(conversation = %save.conversation, error = %err, "could not take back a large save's messages");
        }
    }
    outcome
}

/// `rows` in runs of at most [`CHUNK_BYTES`] (a larger row alone).
fn chunks_by_bytes(rows: &[StoredRow]) -> Vec<&[StoredRow]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let full = i - start >= ROWS_PER_INSERT || bytes + row.bytes() > CHUNK_BYTES;
        if i > start && full {
            chunks.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += row.bytes();
    }
    if start < rows.len() {
        chunks.push(&rows[start..]);
    }
    chunks
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

async fn insert_conversations(
    tx: &mut Tx<'_>,
    style: Placeholders,
    saves: &[&Save],
    now: i64,
) -> ChatResult<()> {
    if saves.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO conversations (id, key_id, model, title, system, history_hash, message_count, \
         stored_bytes, created_at, updated_at) VALUES {}",
        style.values(saves.len(), 10)
    );
    let mut query = sqlx::query(&sql);
    for save in saves {
        query = query
            .bind(&save.conversation)
            .bind(&save.key_id)
            .bind(&save.model)
            .bind(&save.title)
            .bind(&save.system)
            .bind(&save.hash)
            .bind(save.rows.len() as i64)
            .bind(save.bytes)
            .bind(now)
            .bind(now);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// A replaced history's messages go, and their bytes leave the key's
/// total (read before the conversation's own total starts again).
async fn replace_history(tx: &mut Tx<'_>, save: &Save) -> ChatResult<()> {
    sqlx::query("DELETE FROM messages WHERE conversation_id = $1")
        .bind(&save.conversation)
        .execute(&mut **tx)
        .await?;
    // Nothing when the conversation is gone (its save then stores nothing).
    sqlx::query(
        "INSERT INTO key_stored_bytes (key_id, bytes) \
         SELECT $1, $2 - stored_bytes FROM conversations WHERE id = $3 AND key_id = $1 \
         ON CONFLICT (key_id) DO UPDATE SET bytes = key_stored_bytes.bytes + excluded.bytes",
    )
    .bind(&save.key_id)
    .bind(save.bytes)
    .bind(&save.conversation)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Count the save's messages in its stored conversation (a replaced
/// history starts again from 0); its message count after, or `None` when
/// the conversation is gone (or, with `only_at`, holds another count).
async fn update_conversation(
    tx: &mut Tx<'_>,
    save: &Save,
    now: i64,
    only_at: Option<i64>,
) -> ChatResult<Option<i64>> {
    let row = sqlx::query(
        "UPDATE conversations SET model = $1, system = $2, history_hash = $3, \
         message_count = CASE WHEN $8 = 1 THEN 0 ELSE message_count END + $4, \
         stored_bytes = CASE WHEN $8 = 1 THEN 0 ELSE stored_bytes END + $9, updated_at = $5 \
         WHERE id = $6 AND key_id = $7 AND ($10 < 0 OR message_count = $10) RETURNING message_count",
    )
    .bind(&save.model)
    .bind(&save.system)
    .bind(&save.hash)
    .bind(save.rows.len() as i64)
    .bind(now)
    .bind(&save.conversation)
    .bind(&save.key_id)
    .bind(i64::from(save.replace))
    .bind(save.bytes)
    .bind(only_at.unwrap_or(-1))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|row| row.try_get("message_count")).transpose()?)
}

/// Add each key's bytes (negative: take away) to its stored total; each
/// key once.
pub(super) async fn add_keys_bytes(
    tx: &mut Tx<'_>,
    style: Placeholders,
    added: &[(&str, i64)],
) -> ChatResult<()> {
    if added.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO key_stored_bytes (key_id, bytes) VALUES {} \
         ON CONFLICT (key_id) DO UPDATE SET bytes = key_stored_bytes.bytes + excluded.bytes",
        style.values(added.len(), 2)
    );
    let mut query = sqlx::query(&sql);
    for (key_id, bytes) in added {
        query = query.bind(*key_id).bind(*bytes);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Insert message rows; with `overwrite`, over any row at the same place
/// (one past the stored count, left by a large save that never finished:
/// a batch's places come from the count it has just moved on).
async fn insert_messages(
    tx: &mut Tx<'_>,
    style: Placeholders,
    rows: &[(&Save, i64, &StoredRow)],
    now: i64,
    overwrite: bool,
) -> ChatResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = format!(
        "INSERT INTO messages (conversation_id, seq, role, body, sources, prompt_tokens, \
         completion_tokens, total_tokens, incomplete, created_at) VALUES {}",
        style.values(rows.len(), 10)
    );
    if overwrite {
        sql.push_str(
            " ON CONFLICT (conversation_id, seq) DO UPDATE SET role = excluded.role, \
             body = excluded.body, sources = excluded.sources, prompt_tokens = excluded.prompt_tokens, \
             completion_tokens = excluded.completion_tokens, total_tokens = excluded.total_tokens, \
             incomplete = excluded.incomplete, created_at = excluded.created_at",
        );
    }
    let mut query = sqlx::query(&sql);
    for (save, seq, row) in rows {
        query = query
            .bind(&save.conversation)
            .bind(*seq)
            .bind(&row.role)
            .bind(&row.body)
            .bind(&row.sources)
            .bind(row.tokens[0])
            .bind(row.tokens[1])
            .bind(row.tokens[2])
            .bind(i64::from(row.incomplete))
            .bind(now);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// One message as it is stored.
#[derive(Debug)]
struct StoredRow {
    role: String,
    body: String,
    sources: Option<String>,
    tokens: [Option<i64>; 3],
    incomplete: bool,
}

impl StoredRow {
    /// `message` as a row; `answer` for the answer that ends the exchange.
    fn new(message: &Message, answer: Option<&Answer>) -> ChatResult<StoredRow> {
        let body = serde_json::to_string(message).map_err(anyhow::Error::from)?;
        let sources = answer
            .map(|a| serde_json::to_string(&a.sources))
            .transpose()
            .map_err(anyhow::Error::from)?;
        let usage = answer.and_then(|a| a.usage.as_ref());
        let tokens = |field: &str| usage.and_then(|u| u[field].as_i64());
        Ok(StoredRow {
            role: message.role.clone(),
            body,
            sources,
            tokens: [
                tokens("prompt_tokens"),
                tokens("completion_tokens"),
                tokens("total_tokens"),
            ],
            incomplete: answer.is_some_and(|a| a.incomplete),
        })
    }

    /// What the row adds to the stored totals: its body and sources.
    fn bytes(&self) -> i64 {
        (self.body.len() + self.sources.as_ref().map_or(0, String::len)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(bytes: usize) -> StoredRow {
        StoredRow::new(&Message::new("user", json!("x".repeat(bytes))), None).unwrap()
    }

    #[test]
    fn large_saves_are_cut_by_bytes_and_rows() {
        let mb = CHUNK_BYTES as usize;
        let rows: Vec<StoredRow> = [mb / 2, mb / 2, 2 * mb, 10].into_iter().map(row).collect();
        let lens: Vec<usize> = chunks_by_bytes(&rows).iter().map(|c| c.len()).collect();
        // Two halves do not fit with their JSON around them; a larger row goes alone.
        assert_eq!(lens, [1, 1, 1, 1]);
        let small: Vec<StoredRow> = (0..700).map(|_| row(10)).collect();
        let lens: Vec<usize> = chunks_by_bytes(&small).iter().map(|c| c.len()).collect();
        assert_eq!(lens, [ROWS_PER_INSERT, ROWS_PER_INSERT, 100]);
        assert!(chunks_by_bytes(&[]).is_empty());
    }
}
