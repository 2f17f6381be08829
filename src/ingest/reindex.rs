//! Moving the knowledge base to a new embedding model without mixing vectors.
//!
//! [`start`] registers a `building` index for the configured model and
//! queues a reindex job. The job copies every document's chunks from the
//! active index into the new one, embedding them again with the new model
//! (the text is already chunked, so nothing is re-extracted), and resumes
//! where it stopped after a restart. Meanwhile chat keeps searching the
//! active index with its own model, and new uploads are written to both.
//! When every ready document is in, one SQL transaction makes the new index
//! active and the old table is dropped.

use crate::domain::{DocumentStatus, IngestEvent};
use serde::Serialize;
use sqlx::{AnyPool, Row};

use super::context;
use super::jobs::{self, Job};
use super::worker::{embed_into, Indexer};
use crate::config::Settings;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::indexes::{self, VectorIndex};
use crate::store::Stores;
use crate::upstream::Upstreams;

/// Documents read from SQL per step.
const PAGE: i64 = 100;

/// Where the knowledge base stands with respect to the configured model.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStatus {
    /// `empty` (nothing indexed yet), `ok`, `mismatch` (the configured model
    /// or embedding recipe differs from the index's: run a reindex) or
    /// `reindexing`.
    pub status: &'static str,
    pub configured_model: String,
    /// How chunks are embedded now ([`context::recipe`]).
    pub configured_recipe: String,
    pub active: Option<VectorIndex>,
    pub building: Option<VectorIndex>,
}

/// The index status for `/health` and the admin API.
pub async fn status(
    db: &AnyPool,
    upstreams: &Upstreams,
    settings: &Settings,
) -> AppResult<IndexStatus> {
    let (mut active, mut building) = (None, None);
    for index in indexes::live(db).await? {
        if index.state == "active" {
            active = Some(index);
        } else {
            building = Some(index);
        }
    }
    let configured = &upstreams.embed_model();
    let recipe = context::recipe(settings);
    let status = match (&active, &building) {
        (_, Some(_)) => "reindexing",
        (None, None) => "empty",
        (Some(active), None) if &active.model == configured && active.recipe == recipe => "ok",
        (Some(_), None) => "mismatch",
    };
    Ok(IndexStatus {
        status,
        configured_model: configured.clone(),
        configured_recipe: recipe,
        active,
        building,
    })
}

/// Begin moving to the configured embedding model and recipe: answers the
/// index being built, or `None` when the active index already uses them.
pub async fn start(state: &AppState) -> AppResult<Option<VectorIndex>> {
    let started = register(state).await?;
    if started.is_some() {
        state.ingest_wakeup.notify_one();
    }
    Ok(started)
}

/// [`start`] without waking this process's workers (the caller runs the job).
async fn register(state: &AppState) -> AppResult<Option<VectorIndex>> {
    state.upstreams.embeddings.ready()?;
    let model = &state.upstreams.embed_model();
    let recipe = &context::recipe(&state.settings);
    let Some(active) = indexes::active(&state.db).await? else {
        // Nothing indexed yet: the first upload creates the index with this model.
        return Ok(None);
    };
    let building = match indexes::building(&state.db).await? {
        Some(building) if &building.model == model && &building.recipe == recipe => building,
        Some(stale) => {
            // The model changed again mid-way: start over for the newest one.
            discard(state.stores(), &stale).await?;
            return Box::pin(register(state)).await;
        }
        None if &active.model == model && &active.recipe == recipe => return Ok(None),
        None => match indexes::create(&state.db, model, recipe, "building").await {
            Ok(index) => index,
            // Someone else started one at the same moment.
            Err(err) => indexes::building(&state.db).await?.ok_or(err)?,
        },
    };
    jobs::enqueue_reindex(&state.db).await?;
    Ok(Some(building))
}

/// Throw away an index under construction.
async fn discard(stores: Stores<'_>, index: &VectorIndex) -> AppResult<()> {
    stores.vectors.drop_table(&index.table_name).await?;
    indexes::remove(stores.db, &index.id).await?;
    Ok(())
}

/// The job: run the reindex, recording why it stopped if it did. Answers
/// the event to announce: the reindex ended, ready or failed.
pub async fn run_job(state: &AppState, _job: &Job) -> Option<IngestEvent> {
    let Ok(Some(building)) = indexes::building(&state.db).await else {
        return None;
    };
    let outcome = run(state, &building).await;
    if let Err(reason) = &outcome {
        tracing::warn!(index = %building.id, %reason, "reindex stopped");
        if let Err(err) = indexes::set_error(&state.db, &building.id, reason).await {
            tracing::error!(error = ?err, "recording the reindex failure failed");
        }
    }
    let status = if outcome.is_ok() {
        DocumentStatus::Ready
    } else {
        DocumentStatus::Failed
    };
    Some(IngestEvent::reindex(&building.id, status))
}

/// Fill `building` from the active index and switch to it.
pub async fn run(state: &AppState, building: &VectorIndex) -> Result<(), String> {
    let db = &state.db;
    let sql_error = |e: sqlx::Error| format!("the database failed: {e}");
    let Some(active) = indexes::active(db).await.map_err(sql_error)? else {
        indexes::switch_to(db, building).await.map_err(sql_error)?;
        return Ok(());
    };
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM documents WHERE status = 'ready'")
        .fetch_one(db)
        .await
        .and_then(|row| row.try_get("n"))
        .map_err(sql_error)?;
    let mut index = building.clone();
    index.documents_total = total.max(index.documents_done);
    // Documents in id order from where the last attempt stopped.
    loop {
        let ids = ready_ids(db, &index.resume_after, PAGE)
            .await
            .map_err(sql_error)?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        for id in &ids {
            copy_document(state.indexer(), &active, &mut index, id).await?;
            index.documents_done += 1;
        }
        index.resume_after = last;
        index.documents_total = index.documents_total.max(index.documents_done);
        indexes::set_progress(
            db,
            &index.id,
            index.documents_total,
            index.documents_done,
            &index.resume_after,
        )
        .await
        .map_err(sql_error)?;
    }
    // Documents that became ready behind the cursor while it moved (their
    // worker may have written before this index existed): until none is missing.
    for _ in 0..3 {
        let present = state
            .vectors
            .document_ids(&index.table_name)
            .await
            .map_err(|e| format!("the vector store failed: {e}"))?;
        let ready = ready_ids(db, "", i64::MAX).await.map_err(sql_error)?;
        let missing: Vec<&String> = ready.iter().filter(|id| !present.contains(*id)).collect();
        if missing.is_empty() {
            break;
        }
        for id in missing {
            copy_document(state.indexer(), &active, &mut index, id).await?;
        }
    }
    let retired = indexes::switch_to(db, &index).await.map_err(sql_error)?;
    state.known_catalog.forget();
    tracing::info!(model = %index.model, table = %index.table_name, "reindex done; the new index is active");
    for old in retired
        .into_iter()
        .chain(indexes::retired(db).await.map_err(sql_error)?)
    {
        if let Err(err) = state.vectors.drop_table(&old.table_name).await {
            tracing::warn!(table = %old.table_name, error = ?err, "dropping a retired index failed");
            continue;
        }
        let _ = indexes::remove(db, &old.id).await;
    }
    Ok(())
}

/// Ids of ready documents after `after`, in id order, at most `limit`.
async fn ready_ids(db: &sqlx::AnyPool, after: &str, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query("SELECT id FROM documents WHERE status = 'ready' AND id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect()
}

/// Copy one document's chunks into `to`, embedded with its model, unless they are there.
async fn copy_document(
    parts: Indexer<'_>,
    from: &VectorIndex,
    to: &mut VectorIndex,
    document_id: &str,
) -> Result<(), String> {
    let store_error = |e: anyhow::Error| format!("the vector store failed: {e}");
    let present = parts
        .stores
        .vectors
        .count_document(&to.table_name, document_id)
        .await
        .map_err(|e| store_error(e.into()))?;
    if present > 0 {
        return Ok(()); // written there by its ingest worker
    }
    let chunks = parts
        .stores
        .vectors
        .chunks_of(&from.table_name, document_id)
        .await
        .map_err(store_error)?;
    embed_into(parts, to, chunks, |_| async {}).await
}

/// How `ragway reindex` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The active index already uses the configured model.
    UpToDate { model: String },
    /// The index now uses the configured model.
    Done { model: String, documents: i64 },
}

/// `ragway reindex`: start a reindex and see it through in this process (or,
/// when a server already holds its job, follow it there) until the new index
/// is active. `report` hears a progress line now and then.
pub async fn run_to_end(state: &AppState, report: impl Fn(&str)) -> anyhow::Result<Outcome> {
    let model = state.upstreams.embed_model();
    let Some(building) = register(state).await? else {
        return Ok(Outcome::UpToDate { model });
    };
    report(&format!(
        "re-embedding the knowledge base with {model} into {}",
        building.table_name
    ));
    let lease = super::worker::lease(&state.settings);
    let claimed = jobs::claim(&state.db, &state.instance, lease, Some(jobs::REINDEX)).await?;
    let follow = async {
        let mut last = (-1, -1);
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            match indexes::building(&state.db).await {
                Ok(Some(b)) if b.id == building.id => {
                    if (b.documents_done, b.documents_total) != last {
                        last = (b.documents_done, b.documents_total);
                        report(&format!("{} / {} documents", last.0, last.1));
                    }
                    // Stopped with an error and nobody is on it.
                    let held = jobs::held_elsewhere(&state.db, jobs::REINDEX, &state.instance)
                        .await
                        .unwrap_or(true);
                    if claimed.is_none() && b.error.is_some() && !held {
                        return;
                    }
                }
                _ => return,
            }
        }
    };
    match &claimed {
        Some(job) => {
            report("this process runs the reindex");
            tokio::select! {
                _ = super::worker::work_on(state, job) => {}
                _ = follow => {}
            }
        }
        None => {
            report("a running server holds the reindex job; following its progress");
            follow.await;
        }
    }
    let active = indexes::active(&state.db).await?;
    match active {
        Some(active) if active.id == building.id => Ok(Outcome::Done {
            model,
            documents: active.documents_done,
        }),
        _ => {
            let error = indexes::building(&state.db)
                .await?
                .and_then(|b| b.error)
                .unwrap_or_else(|| "it did not finish".into());
            anyhow::bail!("the reindex stopped: {error}; run `ragway reindex` again to resume")
        }
    }
}
