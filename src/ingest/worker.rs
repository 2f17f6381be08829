//! The ingest workers: a fixed pool of tasks that claim `pending` documents
//! from SQL, so queued work survives restarts.

use std::time::Duration;

use sqlx::{AnyPool, Row};

use super::extract::{self, Format};
use super::{original_key, split};
use crate::state::{AppState, IngestEvent};
use crate::store::sql::now_ms;
use crate::store::vectors::NewChunk;
use crate::upstream::RetryPolicy;

/// How long an idle worker waits before looking for work nobody announced.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Requeue documents a previous run left half done, then start the workers.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    // One process owns the embedded stores, so anything `processing` at start
    // was interrupted; it is redone from the start (stale chunks are deleted first).
    sqlx::query(
        "UPDATE documents SET status = 'pending', updated_at = $1 WHERE status = 'processing'",
    )
    .bind(now_ms())
    .execute(&state.db)
    .await?;
    for _ in 0..state.settings.ingest_workers {
        let state = state.clone();
        state.tasks.clone().spawn(async move { run(state).await });
    }
    Ok(())
}

async fn run(state: AppState) {
    loop {
        if state.shutdown.is_cancelled() {
            return;
        }
        match claim_next(&state.db).await {
            Ok(Some(job)) => {
                tokio::select! {
                    _ = process(&state, &job) => {}
                    // Left `processing`: the next start requeues it.
                    _ = state.shutdown.cancelled() => return,
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = state.ingest_wakeup.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = state.shutdown.cancelled() => return,
                }
            }
            Err(err) => {
                tracing::error!(error = ?err, "claiming an ingest job failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = state.shutdown.cancelled() => return,
                }
            }
        }
    }
}

struct Job {
    id: String,
    title: String,
    collection: String,
    content_type: String,
}

/// Take the oldest pending document, if any, marking it `processing`.
async fn claim_next(db: &AnyPool) -> anyhow::Result<Option<Job>> {
    loop {
        let row = sqlx::query(
            "SELECT id, title, collection, content_type FROM documents WHERE status = 'pending' \
             ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(db)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let job = Job {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            collection: row.try_get("collection")?,
            content_type: row.try_get("content_type")?,
        };
        let claimed = sqlx::query(
            "UPDATE documents SET status = 'processing', updated_at = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(now_ms())
        .bind(&job.id)
        .execute(db)
        .await?;
        // Another worker won the race for this one: look again.
        if claimed.rows_affected() == 1 {
            return Ok(Some(job));
        }
    }
}

async fn process(state: &AppState, job: &Job) {
    let started = std::time::Instant::now();
    announce(state, &job.id, "processing");
    let generation = uuid::Uuid::new_v4().simple().to_string();
    let outcome = ingest(state, job, &generation).await;
    let result = match &outcome {
        Ok(chunks) => {
            tracing::info!(document = %job.id, chunks, elapsed_ms = started.elapsed().as_millis() as u64, "document ready");
            let updated = sqlx::query(
                "UPDATE documents SET status = 'ready', chunk_count = $1, error = NULL, updated_at = $2 \
                 WHERE id = $3 AND status = 'processing'",
            )
            .bind(*chunks as i64)
            .bind(now_ms())
            .bind(&job.id)
            .execute(&state.db)
            .await;
            let swap = match &updated {
                // The new chunks are in: the older generations go.
                Ok(done) if done.rows_affected() == 1 => {
                    state
                        .vectors
                        .delete_other_generations(&job.id, &generation)
                        .await
                }
                // Deleted or replaced while we worked: take back what this run wrote.
                Ok(_) => state.vectors.delete_generation(&job.id, &generation).await,
                Err(_) => Ok(()),
            };
            if let Err(err) = swap {
                tracing::error!(document = %job.id, error = ?err, "swapping chunk generations failed");
            }
            updated
        }
        Err(reason) => {
            tracing::warn!(document = %job.id, %reason, "document failed");
            sqlx::query(
                "UPDATE documents SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(reason)
            .bind(now_ms())
            .bind(&job.id)
            .execute(&state.db)
            .await
        }
    };
    match result {
        Ok(_) => announce(
            state,
            &job.id,
            if outcome.is_ok() { "ready" } else { "failed" },
        ),
        Err(err) => {
            tracing::error!(document = %job.id, error = ?err, "recording the ingest outcome failed")
        }
    }
}

/// Store how far the embedding of a document has come; a failure here only costs the display.
async fn record_progress(state: &AppState, id: &str, done: usize, total: usize) {
    let result = sqlx::query(
        "UPDATE documents SET chunks_done = $1, chunks_total = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(done as i64)
    .bind(total as i64)
    .bind(now_ms())
    .bind(id)
    .execute(&state.db)
    .await;
    if let Err(err) = result {
        tracing::warn!(document = %id, error = ?err, "recording ingest progress failed");
    }
}

fn announce(state: &AppState, document_id: &str, status: &'static str) {
    // Nobody listening is fine.
    let _ = state.ingest_events.send(IngestEvent {
        document_id: document_id.to_string(),
        status,
    });
}

/// Extract, split, embed and index one document; answers the chunk count or a reason for failing.
async fn ingest(state: &AppState, job: &Job, generation: &str) -> Result<usize, String> {
    let settings = &state.settings;
    let format = Format::from_mime(&job.content_type)
        .ok_or_else(|| format!("unsupported stored type {}", job.content_type))?;
    let bytes = state
        .blobs
        .get(&original_key(&job.id))
        .await
        .map_err(|e| format!("the original file could not be read from the blob store: {e}"))?;
    let limit = Duration::from_secs(settings.extract_timeout_secs);
    let text = extract::extract_isolated(format, bytes, limit).await?;
    if text.trim().is_empty() {
        return Err(
            "no text could be extracted from this file (a scanned PDF needs OCR first)".into(),
        );
    }
    let pieces = split::split(format, &text, settings.chunk_size, settings.chunk_overlap);
    let retry = RetryPolicy::for_embeddings(settings);
    record_progress(state, &job.id, 0, pieces.len()).await;
    let mut chunks = Vec::with_capacity(pieces.len());
    for (batch_no, batch) in pieces.chunks(settings.embed_batch_size).enumerate() {
        // The title travels with each chunk's text so a chunk that never names its subject still matches.
        let inputs: Vec<String> = batch
            .iter()
            .map(|p| format!("{}\n{p}", job.title))
            .collect();
        let vectors = retry
            .run(|| state.upstreams.embeddings.embed(&inputs))
            .await
            .map_err(|e| format!("embedding failed: {e}"))?;
        for (offset, (text, vector)) in batch.iter().zip(vectors).enumerate() {
            let ordinal = batch_no * settings.embed_batch_size + offset;
            chunks.push(NewChunk {
                id: format!("{}:{generation}:{ordinal}", job.id),
                document_id: job.id.clone(),
                generation: generation.to_string(),
                collection: job.collection.clone(),
                ordinal: ordinal as i32,
                title: job.title.clone(),
                text: text.clone(),
                vector,
            });
        }
        record_progress(state, &job.id, chunks.len(), pieces.len()).await;
    }
    let count = chunks.len();
    // Written beside any earlier generation (a replaced document's old
    // content, an interrupted run's leftovers); `process` swaps them out.
    state
        .vectors
        .add(chunks)
        .await
        .map_err(|e| format!("the vector store failed: {e}"))?;
    Ok(count)
}
