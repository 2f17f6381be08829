//! Ingestion: upload → blob → `pending` row → worker: extract → split → embed →
//! LanceDB → `ready` (or `failed` with a readable reason).

pub mod collections;
pub mod context;
pub mod documents;
pub mod error;
pub mod extract;
pub mod files;
pub mod jobs;
pub mod reindex;
pub mod split;
pub mod worker;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use tokio::sync::Notify;

pub use self::error::{IngestError, IngestResult};
use crate::auth::{Caller, Role};
use crate::domain::clock::now_ms;
use crate::domain::DocumentStatus;
use crate::state::AppState;
pub use documents::Document;
use extract::Format;

pub use collections::DEFAULT_COLLECTION;

/// 413 when `upload` is over the upload limit the admin set.
fn check_size(limit: usize, upload: &Upload) -> IngestResult<()> {
    if upload.bytes.len() > limit {
        return Err(IngestError::TooLarge(format!(
            "The document is {} bytes; the upload limit is {limit} bytes.",
            upload.bytes.len()
        )));
    }
    Ok(())
}

/// A document as uploaded, before it is queued.
#[derive(Debug)]
pub struct Upload {
    pub title: Option<String>,
    pub collection: Option<String>,
    /// `shared` (default) or `private` (only the uploading key sees and retrieves it).
    pub visibility: Option<String>,
    pub filename: Option<String>,
    /// What the Files API was told the file is for (`None` through `/v1/documents`).
    pub purpose: Option<String>,
    pub bytes: Bytes,
}

/// The blob key of a document's original bytes.
pub fn original_key(document_id: &str) -> String {
    format!("documents/{document_id}/original")
}

/// Validate an upload, store its bytes and queue it; answers the `pending` document.
///
/// The same bytes into the same collection answer the existing document with
/// `duplicate` set instead of a second copy; a duplicate of a document that
/// failed queues it again.
pub async fn submit(state: &AppState, caller: &Caller, upload: Upload) -> IngestResult<Document> {
    state.upstreams.embeddings.ready()?;
    check_size(state.runtime().upload_max_bytes, &upload)?;
    let private = match upload.visibility.as_deref().map(str::trim) {
        None | Some("" | "shared") => false,
        Some("private") => true,
        Some(other) => {
            return Err(IngestError::Invalid(format!(
                "`visibility` must be \"shared\" or \"private\", not {other:?}."
            )))
        }
    };
    if !private && caller.role != Role::Admin {
        return Err(IngestError::NotAllowed(
            "User keys may upload private documents only: send \"visibility\": \"private\".".into(),
        ));
    }
    let named = upload
        .collection
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let collection = match (private, named) {
        (true, None) => crate::domain::collections::private_space(&caller.key_id),
        (true, Some(_)) => {
            return Err(IngestError::Invalid(
                "Private documents live in the key's own space: leave out `collection`.".into(),
            ))
        }
        (false, None) => DEFAULT_COLLECTION.to_string(),
        (false, Some(name)) => collections::validate_name(name)?,
    };
    let format = check_content(&upload)?;
    let title = given_title(&upload)
        .or_else(|| upload.filename.clone())
        .unwrap_or_else(|| default_title(&upload.bytes));
    let sha256 = hex::encode(Sha256::digest(&upload.bytes));
    if let Some(mut existing) = documents::find_by_hash(&state.db, &collection, &sha256).await? {
        existing.duplicate = true;
        if existing.status == DocumentStatus::Failed {
            requeue(&state.db, &state.ingest_wakeup, &existing.id).await?;
            existing.status = DocumentStatus::Pending;
            existing.error = None;
        }
        return Ok(existing);
    }
    let now = now_ms();
    let document = Document {
        id: uuid::Uuid::now_v7().to_string(),
        object: "document",
        title: title.chars().take(300).collect(),
        collection,
        filename: upload.filename,
        content_type: format.mime().to_string(),
        bytes: upload.bytes.len() as i64,
        sha256,
        status: DocumentStatus::Pending,
        chunk_count: 0,
        chunks_done: 0,
        chunks_total: 0,
        visibility: if private { "private" } else { "shared" },
        purpose: upload.purpose,
        error: None,
        created_at: now,
        updated_at: now,
        duplicate: false,
    };
    if !private {
        collections::ensure(&state.db, &document.collection).await?;
    }
    state
        .blobs
        .put(&original_key(&document.id), upload.bytes)
        .await?;
    sqlx::query(
        "INSERT INTO documents (id, collection, title, filename, content_type, size_bytes, sha256, status, \
         chunk_count, created_by, created_at, updated_at, purpose) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10, $11)",
    )
    .bind(&document.id)
    .bind(&document.collection)
    .bind(&document.title)
    .bind(&document.filename)
    .bind(&document.content_type)
    .bind(document.bytes)
    .bind(&document.sha256)
    .bind(document.status.as_str())
    .bind(&caller.key_id)
    .bind(now)
    .bind(&document.purpose)
    .execute(&state.db)
    .await?;
    queue(&state.db, &state.ingest_wakeup, &document.id).await?;
    Ok(document)
}

/// The upload's type, or why it cannot be indexed (415 unreadable, 422 empty).
fn check_content(upload: &Upload) -> IngestResult<Format> {
    let format = extract::detect(&upload.bytes, upload.filename.as_deref())
        .map_err(IngestError::Unreadable)?;
    let plain_text = matches!(
        format,
        Format::Text | Format::Markdown | Format::Csv | Format::Json
    );
    if plain_text && extract::decode_text(&upload.bytes).trim().is_empty() {
        return Err(IngestError::Empty(
            "The document is empty: there is no text to index.".into(),
        ));
    }
    Ok(format)
}

fn given_title(upload: &Upload) -> Option<String> {
    upload
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().take(300).collect())
}

/// Replace a document's content. Its old chunks keep answering questions
/// until the new ones are all indexed, then are swapped out. The same bytes
/// as now answer the document unchanged, marked `duplicate`.
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    id: &str,
    upload: Upload,
) -> IngestResult<Document> {
    state.upstreams.embeddings.ready()?;
    check_size(state.runtime().upload_max_bytes, &upload)?;
    let current = documents::get_for(&state.db, caller, id).await?;
    let moving = upload
        .collection
        .as_deref()
        .map(str::trim)
        .is_some_and(|c| !c.is_empty() && c != current.collection);
    let revisibling = upload
        .visibility
        .as_deref()
        .map(str::trim)
        .is_some_and(|v| !v.is_empty() && v != current.visibility);
    if moving || revisibling {
        return Err(IngestError::Invalid(
            "Replacing keeps a document's collection and visibility; upload a new document to put it elsewhere."
                .into(),
        ));
    }
    let format = check_content(&upload)?;
    let sha256 = hex::encode(Sha256::digest(&upload.bytes));
    if sha256 == current.sha256 && current.status != DocumentStatus::Failed {
        return Ok(Document {
            duplicate: true,
            ..current
        });
    }
    let title = given_title(&upload)
        .or_else(|| upload.filename.clone())
        .unwrap_or(current.title);
    let size = upload.bytes.len() as i64;
    state.blobs.put(&original_key(id), upload.bytes).await?;
    sqlx::query(
        "UPDATE documents SET title = $1, filename = $2, content_type = $3, size_bytes = $4, sha256 = $5, \
         status = 'pending', error = NULL, chunks_done = 0, chunks_total = 0, updated_at = $6 WHERE id = $7",
    )
    .bind(&title)
    .bind(&upload.filename)
    .bind(format.mime())
    .bind(size)
    .bind(&sha256)
    .bind(now_ms())
    .bind(id)
    .execute(&state.db)
    .await?;
    // Read before it is queued, as `reingest` does.
    let queued = documents::get(&state.db, id).await?;
    queue(&state.db, &state.ingest_wakeup, id).await?;
    requeue_variants(state, &queued).await?;
    Ok(queued)
}

/// Ingest a document again from its stored original: after the chunking or
/// extraction settings changed, or after it failed. Like a replacement, its
/// current chunks keep answering until the new ones are all indexed.
/// 409 while it is still being ingested.
pub async fn reingest(state: &AppState, caller: &Caller, id: &str) -> IngestResult<Document> {
    state.upstreams.embeddings.ready()?;
    let current = documents::get_for(&state.db, caller, id).await?;
    if current.status.in_progress() {
        return Err(IngestError::Busy(format!(
            "The document is being ingested already (status \"{}\"); wait until it is ready or failed.",
            current.status
        )));
    }
    let started = sqlx::query(
        "UPDATE documents SET status = 'pending', error = NULL, chunks_done = 0, chunks_total = 0, \
         updated_at = $1 WHERE id = $2 AND status IN ('ready', 'failed')",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&state.db)
    .await?;
    if started.rows_affected() == 0 {
        return Err(IngestError::Busy(
            "The document is being ingested already; wait until it is ready or failed.".into(),
        ));
    }
    // Read before it is queued: a worker may claim it at once, and the
    // answer says what this call did (queued it), not how far a worker got.
    let queued = documents::get(&state.db, id).await?;
    queue(&state.db, &state.ingest_wakeup, id).await?;
    requeue_variants(state, &queued).await?;
    Ok(queued)
}

/// Queue a variant document (a file chunked with a vector store's sizes)
/// again: after it failed.
pub(crate) async fn reingest_variant(state: &AppState, id: &str) -> IngestResult<()> {
    requeue(&state.db, &state.ingest_wakeup, id).await
}

/// A file's variants follow it: its new bytes (or a re-ingest) are
/// chunked again with each variant's sizes. A variant being ingested now
/// is left to finish.
async fn requeue_variants(state: &AppState, file: &Document) -> IngestResult<()> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM documents WHERE variant_of = $1 AND status IN ('ready', 'failed')",
    )
    .bind(&file.id)
    .fetch_all(&state.db)
    .await?;
    for id in ids {
        sqlx::query(
            "UPDATE documents SET title = $1, filename = $2, content_type = $3, size_bytes = $4, sha256 = $5 \
             WHERE id = $6",
        )
        .bind(&file.title)
        .bind(&file.filename)
        .bind(&file.content_type)
        .bind(file.bytes)
        .bind(&file.sha256)
        .bind(&id)
        .execute(&state.db)
        .await?;
        requeue(&state.db, &state.ingest_wakeup, &id).await?;
    }
    Ok(())
}

/// Queue an ingest job for document `id` and wake an idle worker.
pub(crate) async fn queue(db: &AnyPool, wakeup: &Notify, id: &str) -> IngestResult<()> {
    jobs::enqueue_ingest(db, id).await?;
    wakeup.notify_one();
    Ok(())
}

/// Queue a document again from its stored original.
async fn requeue(db: &AnyPool, wakeup: &Notify, id: &str) -> IngestResult<()> {
    sqlx::query(
        "UPDATE documents SET status = 'pending', error = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(db)
    .await?;
    queue(db, wakeup, id).await?;
    Ok(())
}

/// A title from the first line of a text upload.
fn default_title(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Untitled");
    let line = line.trim_start_matches('#').trim();
    line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_names_are_checked() {
        assert_eq!(
            collections::validate_name("hr-2024.v1").unwrap(),
            "hr-2024.v1"
        );
        assert!(collections::validate_name("a b").is_err());
        assert!(collections::validate_name("x'; DROP").is_err());
        assert!(collections::validate_name("").is_err());
    }

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(default_title(b"\n\n# Handbook\nbody"), "Handbook");
        assert_eq!(default_title(b""), "Untitled");
    }
}
