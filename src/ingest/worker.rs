//! The ingest workers: a fixed pool of tasks that claim jobs from the SQL
//! job table (`ingest::jobs`), so queued work survives restarts and is
//! shared between replicas.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sqlx::{AnyPool, Row};
use tokio::sync::broadcast;

use super::extract::Format;
use super::jobs::{self, Job};
use super::{context, original_key, reindex, split};
use crate::config::Settings;
use crate::domain::clock::now_ms;
use crate::domain::{DocumentStatus, IngestEvent};
use crate::state::AppState;
use crate::store::indexes::{self, VectorIndex};
use crate::store::vectors::NewChunk;
use crate::store::Stores;
use crate::upstream::InputType;
use crate::upstream::{RetryPolicy, Upstream};

/// How long an idle worker waits before looking for work nobody announced
/// (another replica's uploads, a lease that ran out).
const IDLE_POLL: Duration = Duration::from_secs(10);

/// How often a document's progress (chunks embedded) is written while it
/// grows; the last figure is always written.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Start the workers.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    for _ in 0..state.settings.ingest_workers {
        let state = state.clone();
        state.tasks.clone().spawn(async move { run(state).await });
    }
    // On shutdown, hand back what this process holds so the next start (or
    // another replica) resumes it at once instead of after the lease.
    let state = state.clone();
    state.tasks.clone().spawn(async move {
        state.shutdown.cancelled().await;
        match jobs::release_all(&state.db, &state.instance).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "handed back unfinished ingest jobs"),
            Err(err) => tracing::warn!(error = ?err, "handing back ingest jobs failed"),
        }
    });
    Ok(())
}

/// The lease a worker takes on a job.
pub fn lease(settings: &Settings) -> Duration {
    Duration::from_secs(settings.job_lease_secs)
}

async fn run(state: AppState) {
    loop {
        if state.shutdown.is_cancelled() {
            return;
        }
        match jobs::claim(&state.db, &state.instance, lease(&state.settings), None).await {
            Ok(Some(job)) => {
                tokio::select! {
                    _ = work_on(&state, &job) => {}
                    _ = state.shutdown.cancelled() => {
                        // Usually released by the shutdown task above, but a
                        // claim can land just after it ran: hand that one back too.
                        if let Err(err) = jobs::release(&state.db, &job, &state.instance).await {
                            tracing::warn!(job = %job.id, error = ?err, "handing back an ingest job failed");
                        }
                        return;
                    }
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

/// Do one job while renewing its lease; give up on it if the lease is lost.
/// The outcome is announced once the job row is gone, so whoever hears it
/// sees an empty queue.
pub async fn work_on(state: &AppState, job: &Job) {
    let work = async {
        match job.kind.as_str() {
            jobs::INGEST => match &job.document_id {
                Some(document_id) => process(state, job, document_id)
                    .await
                    .map(|status| IngestEvent::document(document_id, status)),
                None => {
                    tracing::warn!(job = %job.id, "an ingest job without a document");
                    None
                }
            },
            jobs::REINDEX => reindex::run_job(state, job).await,
            other => {
                tracing::warn!(job = %job.id, kind = other, "unknown job kind");
                None
            }
        }
    };
    tokio::select! {
        outcome = work => {
            if let Err(err) = jobs::finish(&state.db, job, &state.instance).await {
                tracing::error!(job = %job.id, error = ?err, "removing a finished job failed");
            }
            if let Some(event) = outcome {
                announce(&state.ingest_events, event);
            }
        }
        _ = keep_lease(&state.db, &state.instance, lease(&state.settings), job) => {
            tracing::warn!(job = %job.id, "lost the lease on a job; another worker has it now");
        }
    }
}

/// Renew the lease at a third of its length; returns when it is lost.
async fn keep_lease(db: &AnyPool, instance: &str, lease: Duration, job: &Job) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match jobs::renew(db, job, instance, lease).await {
            Ok(true) => {}
            Ok(false) => return,
            // The database may be back before the lease runs out.
            Err(err) => tracing::warn!(job = %job.id, error = ?err, "renewing a job lease failed"),
        }
    }
}

struct Doc {
    id: String,
    title: String,
    collection: String,
    content_type: String,
    /// Whose bytes it reads: its own, or (a variant) its file's.
    bytes_of: String,
    /// Its own chunk sizes in tokens (a variant's), else the server's.
    chunking: Option<(usize, usize)>,
}

/// Mark the document `processing` by `job`; `None` if it was deleted meanwhile.
async fn start_document(db: &AnyPool, job: &Job, id: &str) -> sqlx::Result<Option<Doc>> {
    let started = sqlx::query(
        "UPDATE documents SET status = 'processing', job_id = $1, updated_at = $2 \
         WHERE id = $3 AND status IN ('pending', 'processing')",
    )
    .bind(&job.id)
    .bind(now_ms())
    .bind(id)
    .execute(db)
    .await?;
    if started.rows_affected() == 0 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT title, collection, content_type, variant_of, chunk_tokens, chunk_overlap \
         FROM documents WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.map(|row| {
        let tokens: Option<i64> = row.try_get("chunk_tokens")?;
        let overlap: Option<i64> = row.try_get("chunk_overlap")?;
        let variant_of: Option<String> = row.try_get("variant_of")?;
        Ok(Doc {
            id: id.to_string(),
            title: row.try_get("title")?,
            collection: row.try_get("collection")?,
            content_type: row.try_get("content_type")?,
            bytes_of: variant_of.unwrap_or_else(|| id.to_string()),
            chunking: tokens
                .zip(overlap)
                .map(|(t, o)| (t.max(1) as usize, o.max(0) as usize)),
        })
    })
    .transpose()
}

/// Ingest one document; answers the status to announce, if it changed.
async fn process(state: &AppState, job: &Job, document_id: &str) -> Option<DocumentStatus> {
    let doc = match start_document(&state.db, job, document_id).await {
        Ok(Some(doc)) => doc,
        Ok(None) => return None, // deleted, or finished by an earlier claim
        Err(err) => {
            tracing::error!(document = %document_id, error = ?err, "starting an ingest job failed");
            return None;
        }
    };
    if job.attempts > jobs::MAX_ATTEMPTS {
        let reason = format!(
            "processing this file was interrupted {} times (the server stopped or crashed while reading it)",
            job.attempts - 1
        );
        return record_failure(&state.db, job, &doc.id, &reason).await;
    }
    let started = std::time::Instant::now();
    announce(
        &state.ingest_events,
        IngestEvent::document(&doc.id, DocumentStatus::Processing),
    );
    let generation = uuid::Uuid::new_v4().simple().to_string();
    match ingest(state, &doc, &generation).await {
        Ok((chunks, targets)) => {
            tracing::info!(document = %doc.id, chunks, elapsed_ms = started.elapsed().as_millis() as u64, "document ready");
            // An index may have its first vectors now, a collection its
            // first document: chat reads the catalog again before the
            // document is announced ready.
            state.known_catalog.forget();
            let updated = sqlx::query(
                "UPDATE documents SET status = 'ready', chunk_count = $1, error = NULL, updated_at = $2 \
                 WHERE id = $3 AND status = 'processing' AND job_id = $4",
            )
            .bind(chunks as i64)
            .bind(now_ms())
            .bind(&doc.id)
            .bind(&job.id)
            .execute(&state.db)
            .await;
            for index in &targets {
                let swap = match &updated {
                    // The new chunks are in: the older generations go.
                    Ok(done) if done.rows_affected() == 1 => {
                        state
                            .vectors
                            .delete_other_generations(&index.table_name, &doc.id, &generation)
                            .await
                    }
                    // Deleted or replaced while we worked: take back what this run wrote.
                    Ok(_) => {
                        state
                            .vectors
                            .delete_generation(&index.table_name, &doc.id, &generation)
                            .await
                    }
                    Err(_) => Ok(()),
                };
                if let Err(err) = swap {
                    tracing::error!(document = %doc.id, error = ?err, "swapping chunk generations failed");
                }
            }
            match updated {
                Ok(done) if done.rows_affected() == 1 => Some(DocumentStatus::Ready),
                Ok(_) => None,
                Err(err) => {
                    tracing::error!(document = %doc.id, error = ?err, "recording the ingest outcome failed");
                    None
                }
            }
        }
        Err(reason) => {
            tracing::warn!(document = %doc.id, %reason, "document failed");
            record_failure(&state.db, job, &doc.id, &reason).await
        }
    }
}

async fn record_failure(db: &AnyPool, job: &Job, id: &str, reason: &str) -> Option<DocumentStatus> {
    let result = sqlx::query(
        "UPDATE documents SET status = 'failed', error = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'processing' AND job_id = $4",
    )
    .bind(reason)
    .bind(now_ms())
    .bind(id)
    .bind(&job.id)
    .execute(db)
    .await;
    match result {
        Ok(done) if done.rows_affected() == 1 => Some(DocumentStatus::Failed),
        Ok(_) => None,
        Err(err) => {
            tracing::error!(document = %id, error = ?err, "recording the ingest outcome failed");
            None
        }
    }
}

/// Store how far the embedding of a document has come; a failure here only costs the display.
async fn record_progress(db: &AnyPool, id: &str, done: usize, total: usize) {
    let result = sqlx::query(
        "UPDATE documents SET chunks_done = $1, chunks_total = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(done as i64)
    .bind(total as i64)
    .bind(now_ms())
    .bind(id)
    .execute(db)
    .await;
    if let Err(err) = result {
        tracing::warn!(document = %id, error = ?err, "recording ingest progress failed");
    }
}

fn announce(events: &broadcast::Sender<IngestEvent>, event: IngestEvent) {
    // Nobody listening is fine.
    let _ = events.send(event);
}

/// Extract, split, embed and index one document into every index that takes
/// writes; answers the chunk count and those indexes, or a reason for failing.
async fn ingest(
    state: &AppState,
    doc: &Doc,
    generation: &str,
) -> Result<(usize, Vec<VectorIndex>), String> {
    let settings = &state.settings;
    let format = Format::from_mime(&doc.content_type)
        .ok_or_else(|| format!("unsupported stored type {}", doc.content_type))?;
    let bytes = state
        .blobs
        .get(&original_key(&doc.bytes_of))
        .await
        .map_err(|e| format!("the original file could not be read from the blob store: {e}"))?;
    let extracted = state.extractor.extract(format, bytes).await?;
    if extracted.text.trim().is_empty() {
        return Err(
            "no text could be extracted from this file (a scanned PDF needs OCR first)".into(),
        );
    }
    // Splitting is CPU work (a 5 MB text takes a good part of a second):
    // off the async threads, so requests are not held up behind it.
    let (size, overlap) = doc
        .chunking
        .unwrap_or((settings.chunk_size, settings.chunk_overlap));
    let (id, title, collection) = (doc.id.clone(), doc.title.clone(), doc.collection.clone());
    let generation_owned = generation.to_string();
    let chunks = tokio::task::spawn_blocking(move || {
        split::pieces(format, &extracted, size, overlap)
            .into_iter()
            .enumerate()
            .map(|(ordinal, piece)| NewChunk {
                id: format!("{id}:{generation_owned}:{ordinal}"),
                document_id: id.clone(),
                generation: generation_owned.clone(),
                collection: collection.clone(),
                ordinal: ordinal as i32,
                title: title.clone(),
                page: piece.page,
                heading: piece.heading,
                text: piece.text,
                vector: Vec::new(),
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| format!("splitting the text into chunks failed: {e}"))?;
    // Read as late as possible, so a reindex that began meanwhile gets these chunks too.
    let recipe = super::context::recipe(&state.settings);
    let mut targets = indexes::write_targets(&state.db, &state.upstreams.embed_model(), &recipe)
        .await
        .map_err(|e| format!("the index registry could not be read: {e}"))?;
    let count = chunks.len();
    let total = count * targets.len();
    record_progress(&state.db, &doc.id, 0, total).await;
    let last = targets.len() - 1;
    let mut chunks = Some(chunks);
    for (n, index) in targets.iter_mut().enumerate() {
        // A copy only for a second index (during a reindex); the last one takes them.
        let these = if n == last {
            chunks.take()
        } else {
            chunks.clone()
        };
        embed_into(state.indexer(), index, these.unwrap_or_default(), |done| {
            record_progress(&state.db, &doc.id, n * count + done, total)
        })
        .await?;
    }
    Ok((count, targets))
}

/// The parts that embed chunks and index them: the stores, the embeddings
/// upstream, and the settings that say how (prefix, input type, batch
/// size, concurrency, retries).
#[derive(Debug, Clone, Copy)]
pub struct Indexer<'a> {
    pub stores: Stores<'a>,
    pub embeddings: &'a Upstream,
    pub settings: &'a Settings,
}

/// Embed `chunks` with `index`'s model in batches, with retries, and write
/// them to its table (beside any earlier generation, which the caller swaps
/// out). `progress` hears the number embedded so far, at most every
/// [`PROGRESS_EVERY`] and after the last batch. The
/// first write records the index's vector width, in SQL and in `index`.
pub async fn embed_into<F, Fut>(
    parts: Indexer<'_>,
    index: &mut VectorIndex,
    mut chunks: Vec<NewChunk>,
    progress: F,
) -> Result<(), String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Indexer {
        stores,
        embeddings,
        settings,
    } = parts;
    let retry = RetryPolicy::for_embeddings(settings);
    let model = index.model.as_str();
    let prefix = settings.embed_document_prefix.as_str();
    let input_type = settings.embed_input_type.then_some(InputType::Document);
    // Each document's lede (its first line of prose, in its first chunk)
    // goes with every chunk of it.
    let mut firsts: HashMap<&str, &NewChunk> = HashMap::new();
    for chunk in &chunks {
        let first = firsts.entry(&chunk.document_id).or_insert(chunk);
        if chunk.ordinal < first.ordinal {
            *first = chunk;
        }
    }
    let ledes: HashMap<String, String> = firsts
        .into_iter()
        .filter_map(|(id, first)| Some((id.to_string(), context::lede(&first.text)?.to_string())))
        .collect();
    let ledes = &ledes;
    // Batches go out `embed_concurrency` at a time and come back in order.
    // (The futures are made up front, each building its inputs when first
    // polled: a closure in the stream would not be `Send` for every lifetime.)
    let calls: Vec<_> = chunks
        .chunks(settings.embed_batch_size)
        .map(|batch| async move {
            let inputs: Vec<String> = batch
                .iter()
                .map(|c| {
                    let lede = ledes.get(&c.document_id).map(String::as_str);
                    context::embedding_input(prefix, &c.title, c.heading.as_deref(), lede, &c.text)
                })
                .collect();
            retry
                .run(|| embeddings.embed_with(model, &inputs, input_type))
                .await
        })
        .collect();
    let mut batches = futures::stream::iter(calls).buffered(settings.embed_concurrency);
    let mut vectors = Vec::with_capacity(chunks.len());
    let mut reported = Instant::now();
    while let Some(batch) = batches.next().await {
        let batch = batch.map_err(|e| format!("embedding with {model} failed: {e}"))?;
        vectors.extend(batch);
        if vectors.len() == chunks.len() || reported.elapsed() >= PROGRESS_EVERY {
            progress(vectors.len()).await;
            reported = Instant::now();
        }
    }
    drop(batches);
    for (chunk, vector) in chunks.iter_mut().zip(vectors) {
        chunk.vector = vector;
    }
    if let Some(first) = chunks.first() {
        if index.dimension.is_none() {
            indexes::set_dimension(stores.db, &index.id, first.vector.len())
                .await
                .map_err(|e| format!("the index registry could not be updated: {e}"))?;
            index.dimension = Some(first.vector.len() as i64);
        }
    }
    stores
        .vectors
        .add(&index.table_name, chunks)
        .await
        .map_err(|e| format!("the vector store failed: {e}"))
}
