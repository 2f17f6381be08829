//! Variants: a file chunked with a vector store's own sizes (a `static`
//! chunking strategy other than the server's). A variant is a document of
//! its own in the hidden collection `~variants` (no chat searches it), its
//! chunks cut from its file's bytes with those sizes; one per file and
//! sizes, shared by every store that asks for them. It goes when its file
//! goes, or when no store uses it any more.

use sqlx::Row;

use crate::domain::clock::now_ms;
use crate::domain::collections::VARIANTS;
use crate::ingest::documents::{self, Document};
use crate::ingest::{IngestError, IngestResult};
use crate::state::AppState;
use ragway_protocol::vector_stores::Chunking;

/// The sizes `asked` stands for: the server's for `auto`.
pub(crate) fn sizes(state: &AppState, asked: Chunking) -> (usize, usize) {
    match asked {
        Chunking::Auto => (state.settings.chunk_size, state.settings.chunk_overlap),
        Chunking::Static {
            max_tokens,
            overlap_tokens,
        } => (max_tokens as usize, overlap_tokens as usize),
    }
}

/// The document holding `file`'s chunks cut with `asked`: the file itself
/// with the server's sizes; else its variant with those sizes, made and
/// queued if there is none yet.
pub(crate) async fn holder(
    state: &AppState,
    file: &Document,
    asked: Chunking,
) -> IngestResult<String> {
    let (size, overlap) = sizes(state, asked);
    if (size, overlap) == (state.settings.chunk_size, state.settings.chunk_overlap) {
        return Ok(file.id.clone());
    }
    let (size, overlap) = (size as i64, overlap as i64);
    let now = now_ms();
    let id = uuid::Uuid::now_v7().to_string();
    let made = sqlx::query(
        "INSERT INTO documents (id, collection, title, filename, content_type, size_bytes, sha256, status, \
         chunk_count, created_at, updated_at, variant_of, chunk_tokens, chunk_overlap) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8, $9, $10, $11) \
         ON CONFLICT (variant_of, chunk_tokens, chunk_overlap) WHERE variant_of IS NOT NULL DO NOTHING",
    )
    .bind(&id)
    .bind(VARIANTS)
    .bind(&file.title)
    .bind(&file.filename)
    .bind(&file.content_type)
    .bind(file.bytes)
    .bind(&file.sha256)
    .bind(now)
    .bind(&file.id)
    .bind(size)
    .bind(overlap)
    .execute(&state.db)
    .await?;
    if made.rows_affected() == 1 {
        crate::ingest::queue(&state.db, &state.ingest_wakeup, &id).await?;
        return Ok(id);
    }
    let found = sqlx::query(
        "SELECT id, status FROM documents WHERE variant_of = $1 AND chunk_tokens = $2 AND chunk_overlap = $3",
    )
    .bind(&file.id)
    .bind(size)
    .bind(overlap)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| IngestError::Busy("The file changed while it was added; add it again.".into()))?;
    let existing: String = found.try_get("id")?;
    // A variant that failed is tried again, as a duplicate upload is.
    if found.try_get::<String, _>("status")? == "failed" {
        crate::ingest::reingest_variant(state, &existing).await?;
    }
    Ok(existing)
}

/// Of `documents`, the variants no store uses any more: deleted.
pub(crate) async fn forget_unused(state: &AppState, documents: &[String]) -> IngestResult<()> {
    for id in documents {
        let unused: Option<String> = sqlx::query_scalar(
            "SELECT d.id FROM documents d WHERE d.id = $1 AND d.variant_of IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM vector_store_files f WHERE f.document_id = d.id)",
        )
        .bind(id)
        .fetch_optional(&state.db)
        .await?;
        if unused.is_some() {
            match documents::delete(state.stores(), id).await {
                Ok(()) | Err(IngestError::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}
