//! Document rows: reading, listing with filters and cursors, duplicate
//! lookup by SHA-256, and deletion of a document with its vectors and blob.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::error::{IngestError, IngestResult};
use crate::auth::{Caller, Role};
use crate::domain::collections::{is_private, PRIVATE_PREFIX};
use crate::domain::page::{page_limit, Page};
use crate::domain::DocumentStatus;
use crate::store::indexes;
use crate::store::Stores;

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
    pub status: DocumentStatus,
    pub chunk_count: i64,
    /// Ingest progress: chunks embedded so far, of `chunks_total`.
    pub chunks_done: i64,
    pub chunks_total: i64,
    /// `shared`, or `private` to the key that uploaded it.
    pub visibility: &'static str,
    /// What the Files API was told the file is for (absent: uploaded as a document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when an upload matched this existing document instead of creating one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// A stored status; a name that is none is a corrupt row.
fn stored_status(name: &str) -> Result<DocumentStatus, sqlx::Error> {
    name.parse()
        .map_err(|e: crate::domain::status::UnknownStatus| sqlx::Error::Decode(Box::new(e)))
}

impl Document {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let collection: String = row.try_get("collection")?;
        Ok(Self {
            visibility: if is_private(&collection) {
                "private"
            } else {
                "shared"
            },
            id: row.try_get("id")?,
            object: "document",
            title: row.try_get("title")?,
            collection,
            filename: row.try_get("filename")?,
            content_type: row.try_get("content_type")?,
            bytes: row.try_get("size_bytes")?,
            sha256: row.try_get("sha256")?,
            status: stored_status(&row.try_get::<String, _>("status")?)?,
            chunk_count: row.try_get("chunk_count")?,
            chunks_done: row.try_get("chunks_done")?,
            chunks_total: row.try_get("chunks_total")?,
            purpose: row.try_get("purpose")?,
            error: row.try_get("error")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            duplicate: false,
        })
    }
}

pub(crate) const COLUMNS: &str =
    "id, title, collection, filename, content_type, size_bytes, sha256, \
     status, chunk_count, chunks_done, chunks_total, error, created_at, updated_at, purpose";

/// One document by id, if `caller` may see it: admins see every document,
/// user keys their own private ones. Anything else is "not found", never
/// "forbidden", so ids of others' documents reveal nothing.
pub async fn get_for(db: &AnyPool, caller: &Caller, id: &str) -> IngestResult<Document> {
    let document = get(db, id).await?;
    if caller.role == Role::Admin
        || document.collection == crate::domain::collections::private_space(&caller.key_id)
    {
        Ok(document)
    } else {
        Err(IngestError::not_found("document", id))
    }
}

/// One document by id.
pub async fn get(db: &AnyPool, id: &str) -> IngestResult<Document> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM documents WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| IngestError::not_found("document", id))?;
    Ok(Document::from_row(&row)?)
}

/// The document in `collection` with exactly these bytes, if any.
pub async fn find_by_hash(
    db: &AnyPool,
    collection: &str,
    sha256: &str,
) -> IngestResult<Option<Document>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM documents WHERE collection = $1 AND sha256 = $2 ORDER BY id LIMIT 1"
    ))
    .bind(collection)
    .bind(sha256)
    .fetch_optional(db)
    .await?;
    Ok(row.as_ref().map(Document::from_row).transpose()?)
}

/// Filters and page of a document listing.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    pub collection: Option<String>,
    pub status: Option<String>,
    /// `shared` (in collections) or `private` (in keys' own spaces).
    pub visibility: Option<String>,
    /// Case-insensitive substring of the title.
    pub q: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// Documents matching `query`, newest first.
///
/// Ids are UUIDv7, which sort by creation time, so the cursor is simply the
/// last id seen and pages stay stable while new documents arrive.
pub async fn list(db: &AnyPool, query: &ListQuery) -> IngestResult<Page<Document>> {
    let limit = page_limit(query.limit)?;
    // Variants (a file chunked with a vector store's sizes) are no documents of their own.
    let mut conditions = vec!["variant_of IS NULL".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |condition: &str, value: String| {
        binds.push(value);
        conditions.push(condition.replace('?', &format!("${}", binds.len())));
    };
    if let Some(collection) = query.collection.as_deref().filter(|c| !c.is_empty()) {
        bind("collection = ?", collection.to_string());
    }
    if let Some(status) = query.status.as_deref().filter(|s| !s.is_empty()) {
        if status.parse::<DocumentStatus>().is_err() {
            let names: Vec<&str> = DocumentStatus::ALL.iter().map(|s| s.as_str()).collect();
            return Err(IngestError::Invalid(format!(
                "`status` must be one of {}.",
                names.join(", ")
            )));
        }
        bind("status = ?", status.to_string());
    }
    let private_like = format!("{PRIVATE_PREFIX}%");
    match query.visibility.as_deref().map(str::trim) {
        None | Some("") => {}
        Some("private") => bind("collection LIKE ?", private_like),
        Some("shared") => bind("collection NOT LIKE ?", private_like),
        Some(other) => {
            return Err(IngestError::Invalid(format!(
                "`visibility` must be \"shared\" or \"private\", not {other:?}."
            )))
        }
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        bind("LOWER(title) LIKE ? ESCAPE '\\'", format!("%{escaped}%"));
    }
    if let Some(after) = query.after.as_deref().filter(|a| !a.is_empty()) {
        bind("id < ?", after.to_string());
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM documents {filter} ORDER BY id DESC LIMIT {}",
        limit + 1
    );
    let mut statement = sqlx::query(&sql);
    for value in binds {
        statement = statement.bind(value);
    }
    let rows = statement.fetch_all(db).await?;
    let data = rows
        .iter()
        .map(Document::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::new(data, limit, |d| d.id.clone()))
}

/// Which of `hashes` are already stored (in `collection`, when given).
pub async fn lookup(
    db: &AnyPool,
    hashes: &[String],
    collection: Option<&str>,
) -> IngestResult<Vec<Document>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    // SQLite's anonymous `?`: its numbered parameters are found by name, a
    // linear search each, quadratic over a list of up to 1,000 hashes.
    let style = crate::store::sql::Placeholders::of(db);
    let listed = style.values(hashes.len(), 1);
    let mut sql = format!(
        "SELECT {COLUMNS} FROM documents WHERE variant_of IS NULL AND sha256 IN ({listed})"
    );
    if collection.is_some() {
        match style {
            crate::store::sql::Placeholders::Anonymous => sql.push_str(" AND collection = ?"),
            crate::store::sql::Placeholders::Numbered => {
                sql.push_str(&format!(" AND collection = ${}", hashes.len() + 1));
            }
        }
    }
    sql.push_str(" ORDER BY id");
    let mut statement = sqlx::query(&sql);
    for hash in hashes {
        statement = statement.bind(hash.to_ascii_lowercase());
    }
    if let Some(collection) = collection {
        statement = statement.bind(collection);
    }
    let rows = statement.fetch_all(db).await?;
    Ok(rows
        .iter()
        .map(Document::from_row)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Remove a document: its chunks, its row and its original file.
///
/// The chunks go first: retrieval reads only the vector store, so a row
/// removed before its chunks (a failed delete, a crash in between) would
/// leave a deleted document answering questions. A failure on the chunks
/// leaves the document whole, to be deleted again. A worker still
/// embedding the document may write chunks after the first pass; it takes
/// them back itself when it finds the row gone, and a second pass here
/// covers a worker that finished in between. [`sweep_orphans`] removes
/// whatever a crash left.
///
/// A file's variants (chunked with a vector store's sizes) go with it; a
/// variant has no original of its own.
pub async fn delete(stores: Stores<'_>, id: &str) -> IngestResult<()> {
    let row = sqlx::query("SELECT status, variant_of FROM documents WHERE id = $1")
        .bind(id)
        .fetch_optional(stores.db)
        .await?;
    let Some(row) = row else {
        return Err(IngestError::not_found("document", id));
    };
    let status: String = row.try_get("status")?;
    let variant_of: Option<String> = row.try_get("variant_of")?;
    if variant_of.is_none() {
        let variants: Vec<String> =
            sqlx::query_scalar("SELECT id FROM documents WHERE variant_of = $1")
                .bind(id)
                .fetch_all(stores.db)
                .await?;
        for variant in variants {
            delete_one(stores, &variant, None).await?;
        }
    }
    delete_one(stores, id, Some(status)).await?;
    if variant_of.is_none() {
        stores.blobs.delete(&super::original_key(id)).await?;
    }
    Ok(())
}

/// One document's chunks, row, store places and job (not its original).
/// `status` as read before, if it was (else read here).
async fn delete_one(stores: Stores<'_>, id: &str, status: Option<String>) -> IngestResult<()> {
    let status = match status {
        Some(status) => status,
        None => sqlx::query_scalar("SELECT status FROM documents WHERE id = $1")
            .bind(id)
            .fetch_optional(stores.db)
            .await?
            .ok_or_else(|| IngestError::not_found("document", id))?,
    };
    delete_chunks(stores, id).await?;
    let removed = sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(id)
        .execute(stores.db)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(IngestError::not_found("document", id));
    }
    // Out of every vector store it was in (as a file, or a file's variant).
    sqlx::query("DELETE FROM vector_store_files WHERE file_id = $1 OR document_id = $1")
        .bind(id)
        .execute(stores.db)
        .await?;
    super::jobs::cancel_pending(stores.db, id).await?;
    if stored_status(&status)?.in_progress() {
        if let Err(err) = delete_chunks(stores, id).await {
            tracing::warn!(document = %id, error = ?err, "removing chunks written during the delete failed; the sweep will");
        }
    }
    Ok(())
}

async fn delete_chunks(stores: Stores<'_>, id: &str) -> IngestResult<()> {
    for index in indexes::live(stores.db).await? {
        stores
            .vectors
            .delete_document(&index.table_name, id)
            .await?;
    }
    Ok(())
}

/// Remove chunks whose document row is gone (left by a crash between a
/// delete's steps, or by a worker that finished while its document was
/// deleted); answers how many documents' chunks went.
///
/// The vector store is read before the rows: a document created in between
/// has its row written before any chunk, so it can never look orphaned.
pub async fn sweep_orphans(stores: Stores<'_>) -> anyhow::Result<usize> {
    let mut swept = 0;
    for index in indexes::live(stores.db).await? {
        let in_vectors = stores.vectors.document_ids(&index.table_name).await?;
        if in_vectors.is_empty() {
            continue;
        }
        let rows: Vec<String> = sqlx::query_scalar("SELECT id FROM documents")
            .fetch_all(stores.db)
            .await?;
        let rows: std::collections::HashSet<String> = rows.into_iter().collect();
        for id in in_vectors.difference(&rows) {
            stores
                .vectors
                .delete_document(&index.table_name, id)
                .await?;
            tracing::info!(document = %id, table = %index.table_name, "removed the chunks of a deleted document");
            swept += 1;
        }
    }
    Ok(swept)
}
