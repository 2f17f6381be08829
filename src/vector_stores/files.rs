//! A store's files: added by file id (a document the caller may read and
//! the store may hold) with attributes and a chunking strategy, listed by
//! state, changed, removed (the file itself stays), and their content.

use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::listing::{ListQuery, OpenAiPage};
use super::{visible, writable, StoreRow, FILE_STATUS, MAX_FILES};
use crate::auth::Caller;
use crate::domain::clock::now_ms;
use crate::domain::collections::private_space;
use crate::ingest::documents::{self, Document};
use crate::ingest::{IngestError, IngestResult};
use crate::state::AppState;
use ragway_protocol::vector_stores::{self as protocol, Chunking, UpdateFile};

/// A file in a store, as OpenAI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StoreFile {
    pub id: String,
    pub object: &'static str,
    pub usage_bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub vector_store_id: String,
    /// `in_progress`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub last_error: Option<Value>,
    pub chunking_strategy: Value,
    pub attributes: Value,
}

/// A file to add, checked.
#[derive(Debug, Clone)]
pub struct Adding {
    pub file_id: String,
    pub attributes: Map<String, Value>,
    pub chunking: Chunking,
}

impl Adding {
    /// From a request's file id, attributes and chunking strategy.
    pub fn checked(
        file_id: String,
        attributes: Option<&Value>,
        chunking: Option<&Value>,
    ) -> IngestResult<Self> {
        Ok(Self {
            file_id,
            attributes: protocol::attributes(attributes)?,
            chunking: Chunking::parse(chunking)?,
        })
    }
}

/// The chunking a file gets, as OpenAI reports it: always the sizes
/// (`auto` is the server's).
pub(crate) fn reported_chunking(state: &AppState, asked: Chunking) -> Value {
    let (size, overlap) = super::variants::sizes(state, asked);
    json!({"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}})
}

/// Document `id` if `caller` may read it and `store` may hold it: a shared
/// store holds shared documents only; a private one, its owner's and shared ones.
pub(crate) async fn document_for(
    db: &AnyPool,
    caller: &Caller,
    store: &StoreRow,
    id: &str,
) -> IngestResult<Document> {
    let document = match documents::get_for(db, caller, id).await {
        Err(IngestError::NotFound { .. }) => return Err(IngestError::not_found("file", id)),
        other => other?,
    };
    let fits = match &store.owner {
        None => document.visibility == "shared",
        Some(owner) => {
            document.visibility == "shared" || document.collection == private_space(owner)
        }
    };
    if !fits {
        return Err(IngestError::Invalid(format!(
            "File `{id}` is private to a key: a {} vector store cannot hold it.",
            if store.owner.is_none() {
                "shared"
            } else {
                "another key's"
            }
        )));
    }
    Ok(document)
}

/// Add files to store `store_id` (in batch `batch`, if any): each checked
/// first, then all written in one transaction. A file already there takes
/// the new attributes.
pub(crate) async fn insert(
    state: &AppState,
    caller: &Caller,
    store: &StoreRow,
    files: Vec<Adding>,
    batch: Option<&str>,
) -> IngestResult<()> {
    let db = &state.db;
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM vector_store_files WHERE store_id = $1")
            .bind(&store.id)
            .fetch_one(db)
            .await?;
    if held + files.len() as i64 > MAX_FILES {
        return Err(IngestError::Invalid(format!(
            "A vector store holds at most {MAX_FILES} files; this one holds {held}."
        )));
    }
    // Every file checked before any is written (a variant made for one
    // before another is refused is forgotten again below, unused).
    let mut documents = Vec::with_capacity(files.len());
    for file in &files {
        documents.push(document_for(db, caller, store, &file.file_id).await?);
    }
    let mut rows = Vec::with_capacity(files.len());
    for (file, document) in files.into_iter().zip(&documents) {
        let holder = super::variants::holder(state, document, file.chunking).await?;
        rows.push((
            file.file_id,
            holder,
            Value::Object(file.attributes).to_string(),
            reported_chunking(state, file.chunking).to_string(),
        ));
    }
    // What the files held before (a variant one may no longer need).
    let before = holders(db, &store.id, rows.iter().map(|r| r.0.as_str())).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    for (file_id, holder, attributes, chunking) in rows {
        sqlx::query(
            "INSERT INTO vector_store_files (store_id, file_id, document_id, batch_id, attributes, chunking, \
             status, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) ON CONFLICT (store_id, file_id) \
             DO UPDATE SET document_id = excluded.document_id, batch_id = excluded.batch_id, \
             attributes = excluded.attributes, chunking = excluded.chunking, status = NULL",
        )
        .bind(&store.id)
        .bind(&file_id)
        .bind(&holder)
        .bind(batch)
        .bind(&attributes)
        .bind(&chunking)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    super::variants::forget_unused(state, &before).await
}

/// The documents holding the chunks of `files` in store `store_id`.
pub(crate) async fn holders<'a>(
    db: &AnyPool,
    store_id: &str,
    files: impl Iterator<Item = &'a str>,
) -> IngestResult<Vec<String>> {
    let mut found = Vec::new();
    for file in files {
        let holder: Option<String> = sqlx::query_scalar(
            "SELECT document_id FROM vector_store_files WHERE store_id = $1 AND file_id = $2",
        )
        .bind(store_id)
        .bind(file)
        .fetch_optional(db)
        .await?;
        found.extend(holder);
    }
    Ok(found)
}

/// Add one file to a store.
pub async fn add(
    state: &AppState,
    caller: &Caller,
    store_id: &str,
    file: Adding,
) -> IngestResult<StoreFile> {
    let store = writable(&state.db, caller, store_id).await?;
    let file_id = file.file_id.clone();
    insert(state, caller, &store, vec![file], None).await?;
    get(&state.db, caller, store_id, &file_id).await
}

const FILE_COLUMNS: &str = "f.store_id, f.file_id, f.attributes, f.chunking, f.created_at, \
     d.size_bytes, d.status AS document_status, d.error";

fn from_row(row: &AnyRow) -> Result<StoreFile, sqlx::Error> {
    let status: String = row.try_get("s")?;
    let error: Option<String> = row.try_get("error")?;
    let last_error = (status == "failed").then(|| {
        let message = error.unwrap_or_else(|| "The file could not be ingested.".into());
        let lower = message.to_lowercase();
        let code = if lower.contains("upstream") || lower.contains("embedding") {
            "server_error"
        } else {
            "invalid_file"
        };
        json!({"code": code, "message": message})
    });
    let parse = |column: &str| -> Result<Value, sqlx::Error> {
        let text: String = row.try_get(column)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    Ok(StoreFile {
        id: row.try_get("file_id")?,
        object: "vector_store.file",
        usage_bytes: if status == "completed" {
            row.try_get("size_bytes")?
        } else {
            0
        },
        created_at: row.try_get::<i64, _>("created_at")? / 1000,
        vector_store_id: row.try_get("store_id")?,
        last_error,
        chunking_strategy: parse("chunking")?,
        attributes: parse("attributes")?,
        status,
    })
}

/// File `file_id` of store `store_id`.
pub async fn get(
    db: &AnyPool,
    caller: &Caller,
    store_id: &str,
    file_id: &str,
) -> IngestResult<StoreFile> {
    visible(db, caller, store_id).await?;
    let row = sqlx::query(&format!(
        "SELECT {FILE_COLUMNS}, {FILE_STATUS} AS s FROM vector_store_files f \
         JOIN documents d ON d.id = f.document_id WHERE f.store_id = $1 AND f.file_id = $2"
    ))
    .bind(store_id)
    .bind(file_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| IngestError::not_found("file in this vector store", file_id))?;
    Ok(from_row(&row)?)
}

/// A state a listing may be filtered by.
pub(crate) fn status_filter(filter: Option<&str>) -> IngestResult<Option<&str>> {
    match filter.filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(state @ ("in_progress" | "completed" | "failed" | "cancelled")) => Ok(Some(state)),
        Some(other) => Err(IngestError::Invalid(format!(
            "`filter` must be in_progress, completed, failed or cancelled, not {other:?}."
        ))),
    }
}

/// The files of store `store_id` (of batch `batch`, if given), a page at a time.
pub async fn list(
    db: &AnyPool,
    caller: &Caller,
    store_id: &str,
    batch: Option<&str>,
    query: &ListQuery,
) -> IngestResult<OpenAiPage<StoreFile>> {
    visible(db, caller, store_id).await?;
    let status = status_filter(query.filter.as_deref())?;
    let mut binds = vec![store_id.to_string()];
    let mut sql = format!(
        "SELECT {FILE_COLUMNS}, {FILE_STATUS} AS s FROM vector_store_files f \
         JOIN documents d ON d.id = f.document_id WHERE f.store_id = $1"
    );
    if let Some(batch) = batch {
        binds.push(batch.to_string());
        sql.push_str(&format!(" AND f.batch_id = ${}", binds.len()));
    }
    if let Some(status) = status {
        binds.push(status.to_string());
        sql.push_str(&format!(" AND ({FILE_STATUS}) = ${}", binds.len()));
    }
    let page = query.fetch(db, "f.file_id", sql, binds, from_row).await?;
    Ok(OpenAiPage::of(page.data, page.has_more, |f| f.id.clone()))
}

/// New attributes for a file in a store.
pub async fn update(
    db: &AnyPool,
    caller: &Caller,
    store_id: &str,
    file_id: &str,
    request: UpdateFile,
) -> IngestResult<StoreFile> {
    writable(db, caller, store_id).await?;
    let attributes = protocol::attributes(Some(&request.attributes))?;
    let changed = sqlx::query(
        "UPDATE vector_store_files SET attributes = $1 WHERE store_id = $2 AND file_id = $3",
    )
    .bind(Value::Object(attributes).to_string())
    .bind(store_id)
    .bind(file_id)
    .execute(db)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(IngestError::not_found("file in this vector store", file_id));
    }
    get(db, caller, store_id, file_id).await
}

/// Take a file out of a store (the file itself stays).
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    store_id: &str,
    file_id: &str,
) -> IngestResult<()> {
    let db = &state.db;
    writable(db, caller, store_id).await?;
    let before = holders(db, store_id, std::iter::once(file_id)).await?;
    let removed =
        sqlx::query("DELETE FROM vector_store_files WHERE store_id = $1 AND file_id = $2")
            .bind(store_id)
            .bind(file_id)
            .execute(db)
            .await?;
    if removed.rows_affected() == 0 {
        return Err(IngestError::not_found("file in this vector store", file_id));
    }
    super::variants::forget_unused(state, &before).await
}

/// The most text one content page answers.
const MAX_CONTENT_BYTES: usize = 8 << 20;

/// A file's text as it was chunked, chunk by chunk (neighbours' overlap included).
pub async fn content(
    state: &AppState,
    caller: &Caller,
    store_id: &str,
    file_id: &str,
) -> IngestResult<Value> {
    get(&state.db, caller, store_id, file_id).await?;
    let holder = holders(&state.db, store_id, std::iter::once(file_id)).await?;
    let mut data = Vec::new();
    let index = crate::store::indexes::active(&state.db).await?;
    if let (Some(index), Some(holder)) = (index, holder.first()) {
        let chunks = state.vectors.chunks_of(&index.table_name, holder).await?;
        let mut seen = std::collections::HashSet::new();
        let mut bytes = 0;
        for chunk in chunks {
            // One generation's chunks only (two live side by side while a re-ingest swaps them).
            if !seen.insert(chunk.ordinal) {
                continue;
            }
            bytes += chunk.text.len();
            if bytes > MAX_CONTENT_BYTES {
                break;
            }
            data.push(json!({"type": "text", "text": chunk.text}));
        }
    }
    Ok(json!({
        "object": "vector_store.file_content.page",
        "data": data,
        "has_more": false,
        "next_page": null,
    }))
}
