//! File batches: files added to a store together, followed and cancelled
//! together. Cancelling marks the batch's files still being ingested
//! `cancelled`: they leave the store's searches (their documents go on
//! being ingested for whatever else uses them).

use serde::Serialize;
use sqlx::{AnyPool, Row};

use super::files::{self, Adding, StoreFile};
use super::listing::{ListQuery, OpenAiPage};
use super::{visible, writable, FileCounts, FILE_STATUS};
use crate::auth::Caller;
use crate::domain::clock::now_ms;
use crate::ingest::{IngestError, IngestResult};
use crate::state::AppState;
use ragway_protocol::vector_stores::CreateBatch;

/// A batch as OpenAI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FileBatch {
    pub id: String,
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub vector_store_id: String,
    /// `in_progress`, `completed` or `cancelled`.
    pub status: &'static str,
    pub file_counts: FileCounts,
}

/// Add a batch of files to store `store_id`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    store_id: &str,
    request: CreateBatch,
) -> IngestResult<FileBatch> {
    let store = writable(&state.db, caller, store_id).await?;
    let files = request
        .files()?
        .into_iter()
        .map(|f| {
            Adding::checked(
                f.file_id,
                f.attributes.as_ref(),
                f.chunking_strategy.as_ref(),
            )
        })
        .collect::<IngestResult<Vec<_>>>()?;
    let id = format!("vsfb_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(
        "INSERT INTO vector_store_file_batches (id, store_id, status, created_at) VALUES ($1, $2, NULL, $3)",
    )
    .bind(&id)
    .bind(store_id)
    .bind(now_ms())
    .execute(&state.db)
    .await?;
    if let Err(err) = files::insert(state, caller, &store, files, Some(&id)).await {
        sqlx::query("DELETE FROM vector_store_file_batches WHERE id = $1")
            .bind(&id)
            .execute(&state.db)
            .await?;
        return Err(err);
    }
    get(&state.db, caller, store_id, &id).await
}

/// Batch `batch_id` of store `store_id`, with its files' counts.
pub async fn get(
    db: &AnyPool,
    caller: &Caller,
    store_id: &str,
    batch_id: &str,
) -> IngestResult<FileBatch> {
    visible(db, caller, store_id).await?;
    let row = sqlx::query(
        "SELECT status, created_at FROM vector_store_file_batches WHERE id = $1 AND store_id = $2",
    )
    .bind(batch_id)
    .bind(store_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| IngestError::not_found("file batch", batch_id))?;
    let cancelled = row.try_get::<Option<String>, _>("status")?.is_some();
    let mut counts = FileCounts::default();
    let found = sqlx::query(&format!(
        "SELECT {FILE_STATUS} AS s, COUNT(*) AS n FROM vector_store_files f \
         JOIN documents d ON d.id = f.document_id WHERE f.store_id = $1 AND f.batch_id = $2 GROUP BY s"
    ))
    .bind(store_id)
    .bind(batch_id)
    .fetch_all(db)
    .await?;
    for row in found {
        counts.add(&row.try_get::<String, _>("s")?, row.try_get("n")?);
    }
    let status = if cancelled {
        "cancelled"
    } else if counts.in_progress > 0 {
        "in_progress"
    } else {
        "completed"
    };
    Ok(FileBatch {
        id: batch_id.to_string(),
        object: "vector_store.files_batch",
        created_at: row.try_get::<i64, _>("created_at")? / 1000,
        vector_store_id: store_id.to_string(),
        status,
        file_counts: counts,
    })
}

/// Cancel a batch: its files not yet ingested leave the store's searches.
pub async fn cancel(
    db: &AnyPool,
    caller: &Caller,
    store_id: &str,
    batch_id: &str,
) -> IngestResult<FileBatch> {
    writable(db, caller, store_id).await?;
    get(db, caller, store_id, batch_id).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE vector_store_file_batches SET status = 'cancelled' WHERE id = $1")
        .bind(batch_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE vector_store_files SET status = 'cancelled' WHERE store_id = $1 AND batch_id = $2 \
         AND document_id IN (SELECT id FROM documents WHERE status IN ('pending', 'processing'))",
    )
    .bind(store_id)
    .bind(batch_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get(db, caller, store_id, batch_id).await
}

/// The files of a batch, a page at a time.
pub async fn list_files(
    db: &AnyPool,
    caller: &Caller,
    store_id: &str,
    batch_id: &str,
    query: &ListQuery,
) -> IngestResult<OpenAiPage<StoreFile>> {
    get(db, caller, store_id, batch_id).await?;
    files::list(db, caller, store_id, Some(batch_id), query).await
}
