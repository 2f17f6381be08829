//! Ingestion: upload → blob → `pending` row → worker: extract → split → embed →
//! LanceDB → `ready` (or `failed` with a readable reason).

pub mod extract;
pub mod split;
pub mod worker;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::sql::now_ms;
use extract::Format;

/// The collection a document lands in when none is named.
pub const DEFAULT_COLLECTION: &str = "default";

/// A document as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub id: String,
    pub object: &'static str,
    pub title: String,
    pub collection: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub bytes: i64,
    pub sha256: String,
    /// `pending`, `processing`, `ready` or `failed`.
    pub status: String,
    pub chunk_count: i64,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Document {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            object: "document",
            title: row.try_get("title")?,
            collection: row.try_get("collection")?,
            filename: row.try_get("filename")?,
            content_type: row.try_get("content_type")?,
            bytes: row.try_get("size_bytes")?,
            sha256: row.try_get("sha256")?,
            status: row.try_get("status")?,
            chunk_count: row.try_get("chunk_count")?,
            error: row.try_get("error")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

const DOCUMENT_COLUMNS: &str =
    "id, title, collection, filename, content_type, size_bytes, sha256, \
     status, chunk_count, error, created_at, updated_at";

/// A document as uploaded, before it is queued.
#[derive(Debug)]
pub struct Upload {
    pub title: Option<String>,
    pub collection: Option<String>,
    pub filename: Option<String>,
    pub bytes: Bytes,
}

/// The blob key of a document's original bytes.
pub fn original_key(document_id: &str) -> String {
    format!("documents/{document_id}/original")
}

/// Validate an upload, store its bytes and queue it; answers the `pending` document.
pub async fn submit(state: &AppState, caller: &Caller, upload: Upload) -> AppResult<Document> {
    state.upstreams.embeddings.ready()?;
    let collection = match upload.collection.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_COLLECTION.to_string(),
        Some(name) => validate_collection(name)?,
    };
    let format = extract::detect(&upload.bytes, upload.filename.as_deref())
        .map_err(AppError::UnsupportedMediaType)?;
    if matches!(format, Format::Text | Format::Markdown)
        && String::from_utf8_lossy(&upload.bytes).trim().is_empty()
    {
        return Err(AppError::Unprocessable(
            "The document is empty: there is no text to index.".into(),
        ));
    }
    let title = upload
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| upload.filename.clone())
        .unwrap_or_else(|| default_title(&upload.bytes));
    let now = now_ms();
    let document = Document {
        id: uuid::Uuid::now_v7().to_string(),
        object: "document",
        title: title.chars().take(300).collect(),
        collection,
        filename: upload.filename,
        content_type: format.mime().to_string(),
        bytes: upload.bytes.len() as i64,
        sha256: hex::encode(Sha256::digest(&upload.bytes)),
        status: "pending".into(),
        chunk_count: 0,
        error: None,
        created_at: now,
        updated_at: now,
    };
    state
        .blobs
        .put(&original_key(&document.id), upload.bytes)
        .await?;
    sqlx::query(
        "INSERT INTO documents (id, collection, title, filename, content_type, size_bytes, sha256, status, \
         chunk_count, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $10)",
    )
    .bind(&document.id)
    .bind(&document.collection)
    .bind(&document.title)
    .bind(&document.filename)
    .bind(&document.content_type)
    .bind(document.bytes)
    .bind(&document.sha256)
    .bind(&document.status)
    .bind(&caller.key_id)
    .bind(now)
    .execute(&state.db)
    .await?;
    state.ingest_wakeup.notify_one();
    Ok(document)
}

/// One document by id.
pub async fn get(db: &AnyPool, id: &str) -> AppResult<Document> {
    let row = sqlx::query(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| AppError::not_found("document", id))?;
    Ok(Document::from_row(&row)?)
}

/// Collection names: letters, digits, `-`, `_` and `.`, up to 64 characters.
fn validate_collection(name: &str) -> AppResult<String> {
    let valid = name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(name.to_string())
    } else {
        Err(AppError::BadRequest(format!(
            "Invalid collection name {name:?}: use up to 64 letters, digits, '-', '_' or '.'."
        )))
    }
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
        assert_eq!(validate_collection("hr-2024.v1").unwrap(), "hr-2024.v1");
        assert!(validate_collection("a b").is_err());
        assert!(validate_collection("x'; DROP").is_err());
    }

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(default_title(b"\n\n# Handbook\nbody"), "Handbook");
        assert_eq!(default_title(b""), "Untitled");
    }
}
