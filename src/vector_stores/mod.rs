//! OpenAI's vector stores over ragway's documents: a store is a named set of
//! files (documents) searched together, each file with its attributes. A
//! file's chunks are its document's, so a file in several stores (or used
//! by chat through its collection) is embedded once.
//!
//! Who sees what: a user key's stores are its own (private) and hold its
//! own files; an admin key's stores are shared: every key lists and
//! searches them, admin keys change them, and they hold shared documents
//! only. Another key's private store is "not found", never "forbidden".
//!
//! `files.rs`: a store's files (added, listed, changed, removed, their
//! content); `batches.rs`: files added together; `search.rs`: a search
//! through ragway's retrieval, kept to the store's files that pass a filter.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::auth::{Caller, Role};
use crate::domain::clock::now_ms;
use crate::ingest::{IngestError, IngestResult};
use ragway_protocol::vector_stores::{
    self as protocol, Anchor, CreateStore, ExpiresAfter, UpdateStore,
};
use ragway_protocol::RequestError;

pub mod batches;
pub mod files;
mod listing;
pub mod search;
mod variants;

pub use listing::{ListQuery, OpenAiPage};

/// Files one store may hold.
pub const MAX_FILES: i64 = 10_000;
/// Stores one key may own (the shared ones, all admin keys' together).
pub const MAX_STORES: i64 = 1_000;

impl From<RequestError> for IngestError {
    fn from(err: RequestError) -> Self {
        IngestError::Invalid(err.to_string())
    }
}

/// A vector store as OpenAI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VectorStore {
    pub id: String,
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub name: String,
    pub description: String,
    /// The bytes of its files that are ready to search.
    pub usage_bytes: i64,
    pub file_counts: FileCounts,
    /// `expired`, `in_progress` (a file is still being ingested) or `completed`.
    pub status: &'static str,
    pub expires_after: Option<ExpiresAfter>,
    pub expires_at: Option<i64>,
    pub last_active_at: i64,
    pub metadata: Value,
    /// ragway: `shared` (an admin key's, searched by every key) or `private`.
    pub visibility: &'static str,
}

/// How many of a store's (or a batch's) files are in each state.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct FileCounts {
    pub in_progress: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub total: i64,
}

impl FileCounts {
    fn add(&mut self, status: &str, count: i64) {
        match status {
            "completed" => self.completed += count,
            "failed" => self.failed += count,
            "cancelled" => self.cancelled += count,
            _ => self.in_progress += count,
        }
        self.total += count;
    }
}

/// A file's state in a store, from its document's and its own row's
/// (`cancelled` with its batch): SQL over `f` (the store's file row) and
/// `d` (the document).
pub(crate) const FILE_STATUS: &str = "CASE WHEN f.status = 'cancelled' THEN 'cancelled' \
     WHEN d.status = 'ready' THEN 'completed' WHEN d.status = 'failed' THEN 'failed' \
     ELSE 'in_progress' END";

/// A store row, before its counts are added.
#[derive(Debug, Clone)]
pub(crate) struct StoreRow {
    pub id: String,
    pub owner: Option<String>,
    name: String,
    description: String,
    metadata: String,
    expires_days: Option<i64>,
    pub last_active_at: i64,
    created_at: i64,
}

const COLUMNS: &str =
    "id, owner, name, description, metadata, expires_days, last_active_at, created_at";

impl StoreRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            owner: row.try_get("owner")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            metadata: row.try_get("metadata")?,
            expires_days: row.try_get("expires_days")?,
            last_active_at: row.try_get("last_active_at")?,
            created_at: row.try_get("created_at")?,
        })
    }

    /// When it expires (Unix milliseconds), if it does.
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.expires_days.map(|days| {
            self.last_active_at
                .saturating_add(days.saturating_mul(86_400_000))
        })
    }

    pub fn expired(&self) -> bool {
        self.expires_at_ms().is_some_and(|at| at <= now_ms())
    }

    fn shown(self, counts: FileCounts, usage_bytes: i64) -> VectorStore {
        let status = if self.expired() {
            "expired"
        } else if counts.in_progress > 0 {
            "in_progress"
        } else {
            "completed"
        };
        VectorStore {
            object: "vector_store",
            created_at: self.created_at / 1000,
            usage_bytes,
            file_counts: counts,
            status,
            expires_after: self.expires_days.map(|days| ExpiresAfter {
                anchor: Anchor::LastActiveAt,
                days: u32::try_from(days).unwrap_or(365),
            }),
            expires_at: self.expires_at_ms().map(|ms| ms / 1000),
            last_active_at: self.last_active_at / 1000,
            metadata: serde_json::from_str(&self.metadata)
                .unwrap_or_else(|_| Value::Object(Map::new())),
            visibility: if self.owner.is_some() {
                "private"
            } else {
                "shared"
            },
            id: self.id,
            name: self.name,
            description: self.description,
        }
    }
}

/// The owner a store made by `caller` gets: its key, or none (shared) for an admin.
fn owner_for(caller: &Caller) -> Option<&str> {
    (caller.role != Role::Admin).then_some(caller.key_id.as_str())
}

/// Store `id`, if `caller` may see it: its own, a shared one, or (admins) any.
pub(crate) async fn visible(db: &AnyPool, caller: &Caller, id: &str) -> IngestResult<StoreRow> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM vector_stores WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?
    .map(|row| StoreRow::from_row(&row))
    .transpose()?
    .ok_or_else(|| IngestError::not_found("vector store", id))?;
    let mine = row
        .owner
        .as_deref()
        .is_none_or(|owner| owner == caller.key_id);
    if mine || caller.role == Role::Admin {
        Ok(row)
    } else {
        Err(IngestError::not_found("vector store", id))
    }
}

/// Store `id`, if `caller` may change it: shared stores are changed by admin keys only.
pub(crate) async fn writable(db: &AnyPool, caller: &Caller, id: &str) -> IngestResult<StoreRow> {
    let row = visible(db, caller, id).await?;
    if row.owner.is_none() && caller.role != Role::Admin {
        return Err(IngestError::NotAllowed(
            "Shared vector stores are changed by admin keys only.".into(),
        ));
    }
    Ok(row)
}

fn checked_name(name: Option<String>) -> IngestResult<String> {
    let name = name.unwrap_or_default();
    if name.chars().count() > 256 {
        return Err(IngestError::Invalid(
            "`name` is at most 256 characters.".into(),
        ));
    }
    Ok(name)
}

/// Create a store, with `file_ids` added as one batch.
pub async fn create(
    state: &crate::state::AppState,
    caller: &Caller,
    request: CreateStore,
) -> IngestResult<VectorStore> {
    let name = checked_name(request.name)?;
    let description = request.description.unwrap_or_default();
    if description.chars().count() > 512 {
        return Err(IngestError::Invalid(
            "`description` is at most 512 characters.".into(),
        ));
    }
    let metadata = protocol::metadata(request.metadata.as_ref())?;
    let expires = request.expires_after.map(ExpiresAfter::check).transpose()?;
    let chunking = protocol::Chunking::parse(request.chunking_strategy.as_ref())?;
    if request.file_ids.len() > protocol::MAX_BATCH_FILES {
        return Err(IngestError::Invalid(format!(
            "A store is created with at most {} files; add more with file batches.",
            protocol::MAX_BATCH_FILES
        )));
    }
    let owner = owner_for(caller);
    let owned: i64 = match owner {
        Some(key) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM vector_stores WHERE owner = $1")
                .bind(key)
                .fetch_one(&state.db)
                .await?
        }
        None => {
            sqlx::query_scalar("SELECT COUNT(*) FROM vector_stores WHERE owner IS NULL")
                .fetch_one(&state.db)
                .await?
        }
    };
    if owned >= MAX_STORES {
        return Err(IngestError::Busy(format!(
            "This key has {MAX_STORES} vector stores, the most it may have: delete one first."
        )));
    }
    let now = now_ms();
    let id = format!("vs_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(
        "INSERT INTO vector_stores (id, owner, name, description, metadata, expires_days, last_active_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(owner)
    .bind(&name)
    .bind(&description)
    .bind(Value::Object(metadata).to_string())
    .bind(expires.map(|e| i64::from(e.days)))
    .bind(now)
    .execute(&state.db)
    .await?;
    if !request.file_ids.is_empty() {
        let files = request
            .file_ids
            .into_iter()
            .map(|file_id| files::Adding {
                file_id,
                attributes: Map::new(),
                chunking,
            })
            .collect();
        let store = visible(&state.db, caller, &id).await?;
        if let Err(err) = files::insert(state, caller, &store, files, None).await {
            // Nothing half made: a file that cannot go in fails the creation.
            delete(state, caller, &id).await?;
            return Err(err);
        }
    }
    get(&state.db, caller, &id).await
}

/// Store `id` as `caller` sees it.
pub async fn get(db: &AnyPool, caller: &Caller, id: &str) -> IngestResult<VectorStore> {
    let row = visible(db, caller, id).await?;
    let mut shown = with_counts(db, vec![row]).await?;
    Ok(shown.remove(0))
}

/// Each store's file counts and the bytes of its ready files.
async fn with_counts(db: &AnyPool, rows: Vec<StoreRow>) -> IngestResult<Vec<VectorStore>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let style = crate::store::sql::Placeholders::of(db);
    let sql = format!(
        "SELECT f.store_id, {FILE_STATUS} AS s, COUNT(*) AS n, \
         CAST(SUM(CASE WHEN d.status = 'ready' THEN d.size_bytes ELSE 0 END) AS BIGINT) AS bytes \
         FROM vector_store_files f JOIN documents d ON d.id = f.document_id \
         WHERE f.store_id IN ({}) GROUP BY f.store_id, s",
        style.values(rows.len(), 1)
    );
    let mut query = sqlx::query(&sql);
    for row in &rows {
        query = query.bind(&row.id);
    }
    let mut counts: std::collections::HashMap<String, (FileCounts, i64)> = Default::default();
    for found in query.fetch_all(db).await? {
        let store: String = found.try_get("store_id")?;
        let status: String = found.try_get("s")?;
        let entry = counts.entry(store).or_default();
        entry.0.add(&status, found.try_get("n")?);
        entry.1 += found.try_get::<Option<i64>, _>("bytes")?.unwrap_or(0);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let (counts, bytes) = counts.remove(&row.id).unwrap_or_default();
            row.shown(counts, bytes)
        })
        .collect())
}

/// The stores `caller` may see, a page at a time.
pub async fn list(
    db: &AnyPool,
    caller: &Caller,
    query: &ListQuery,
) -> IngestResult<OpenAiPage<VectorStore>> {
    let mut sql = format!("SELECT {COLUMNS} FROM vector_stores WHERE 1 = 1");
    let mut binds = Vec::new();
    if caller.role != Role::Admin {
        binds.push(caller.key_id.clone());
        sql.push_str(" AND (owner IS NULL OR owner = $1)");
    }
    let rows = query
        .fetch(db, "id", sql, binds, StoreRow::from_row)
        .await?;
    let stores = with_counts(db, rows.data).await?;
    Ok(OpenAiPage::of(stores, rows.has_more, |s| s.id.clone()))
}

/// Change a store's name, metadata or expiry.
pub async fn update(
    db: &AnyPool,
    caller: &Caller,
    id: &str,
    request: UpdateStore,
) -> IngestResult<VectorStore> {
    let row = writable(db, caller, id).await?;
    let name = match request.name {
        Some(name) => checked_name(Some(name))?,
        None => row.name,
    };
    let metadata = match request.metadata {
        Some(metadata) => Value::Object(protocol::metadata(Some(&metadata))?).to_string(),
        None => row.metadata,
    };
    let expires_days = match request.expires_after {
        Some(Some(expires)) => Some(i64::from(expires.check()?.days)),
        Some(None) => None,
        None => row.expires_days,
    };
    sqlx::query(
        "UPDATE vector_stores SET name = $1, metadata = $2, expires_days = $3 WHERE id = $4",
    )
    .bind(&name)
    .bind(&metadata)
    .bind(expires_days)
    .bind(id)
    .execute(db)
    .await?;
    get(db, caller, id).await
}

/// Delete a store: its files stay (they are documents), out of it; the
/// variants only it used go.
pub async fn delete(state: &crate::state::AppState, caller: &Caller, id: &str) -> IngestResult<()> {
    writable(&state.db, caller, id).await?;
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT document_id FROM vector_store_files WHERE store_id = $1",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    remove_rows(&state.db, id).await?;
    variants::forget_unused(state, &held).await
}

async fn remove_rows(db: &AnyPool, id: &str) -> IngestResult<()> {
    let mut tx = db.begin().await?;
    for table in ["vector_store_files", "vector_store_file_batches"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE store_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM vector_stores WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// How stale a store's `last_active_at` may be before a search writes it
/// again: a busy store is not written at every search.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Note that `store` was used now (its expiry counts from here), unless
/// that was noted in the last minute.
pub(crate) async fn touch(db: &AnyPool, store: &StoreRow) -> IngestResult<()> {
    let now = now_ms();
    if now - store.last_active_at < TOUCH_EVERY_MS {
        return Ok(());
    }
    sqlx::query("UPDATE vector_stores SET last_active_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&store.id)
        .execute(db)
        .await?;
    Ok(())
}
