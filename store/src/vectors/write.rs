//! Writes to a table: appends gathered into group commits, deletes by
//! document or generation, commits tried again under write contention; and
//! the per-document counts and reads that go with them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray,
};
use lancedb::arrow::arrow_schema::{DataType, Field};
use lancedb::query::{ExecutableQuery, QueryBase, Select};

use super::rows::{string_column, Rows};
use super::scope::quote;
use super::tables::Opened;
use super::{NewChunk, VectorStore, COLUMNS};

/// Rows waiting for an append commit, and the adder waiting for its outcome.
pub(super) struct PendingAppend {
    batch: RecordBatch,
    done: tokio::sync::oneshot::Sender<Result<(), Arc<str>>>,
}

impl VectorStore {
    /// Append chunks to table `name`; all must have the table's vector width.
    pub async fn add(&self, name: &str, chunks: Vec<NewChunk>) -> anyhow::Result<()> {
        let Some(first) = chunks.first() else {
            return Ok(());
        };
        let dim = i32::try_from(first.vector.len())?;
        anyhow::ensure!(dim > 0, "the embedding model returned an empty vector");
        anyhow::ensure!(
            chunks.iter().all(|c| c.vector.len() == dim as usize),
            "the embedding model returned vectors of different widths"
        );
        let opened = self.table_for_write(name, dim).await?;
        anyhow::ensure!(
            opened.dim == dim,
            "the embedding model returns vectors of width {dim}, but the index holds width {}; \
             was the model changed without `ragway reindex`?",
            opened.dim
        );
        let batch = Self::batch(dim, &chunks)?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        opened
            .upkeep
            .appends
            .lock()
            .expect("appends lock")
            .push(PendingAppend { batch, done });
        // In a task of its own, so that the rows of other adds it takes along
        // are committed even if this caller stops waiting.
        // A bare spawn: the store holds no tracker (see `start_upkeep`).
        #[allow(clippy::disallowed_methods)]
        tokio::spawn(Self::commit_appends(opened.clone()));
        match outcome.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => anyhow::bail!("{err}"),
            Err(_) => anyhow::bail!("the append to the vector table was abandoned"),
        }
        if let Err(err) = Self::ensure_search_indexes(&opened).await {
            tracing::warn!(error = %err, "building the search indexes failed; they are tried again at the next search");
        }
        Ok(())
    }

    /// Commit every append waiting on `opened` in one commit (group commit).
    /// Each commit is a new table version, and with several writers each
    /// must be made again on top of the others' (on S3, by reading their
    /// manifests back); adds that arrive while one commit is under way wait
    /// for it and then go out together, so a burst of uploads makes a few
    /// commits rather than one per document.
    async fn commit_appends(opened: Opened) {
        let _alone = opened.upkeep.appending.lock().await;
        let pending = std::mem::take(&mut *opened.upkeep.appends.lock().expect("appends lock"));
        if pending.is_empty() {
            return; // taken along by an earlier commit
        }
        let (batches, waiting): (Vec<_>, Vec<_>) =
            pending.into_iter().map(|p| (p.batch, p.done)).unzip();
        let outcome = contended("append", || opened.table.add(batches.clone()).execute()).await;
        let outcome = match outcome {
            Ok(_) => {
                Self::committed(&opened);
                Ok(())
            }
            Err(err) => Err(Arc::<str>::from(err.to_string())),
        };
        for done in waiting {
            let _ = done.send(outcome.clone());
        }
    }

    fn batch(dim: i32, chunks: &[NewChunk]) -> anyhow::Result<RecordBatch> {
        let strings = |f: fn(&NewChunk) -> &str| {
            Arc::new(StringArray::from_iter_values(chunks.iter().map(f))) as Arc<dyn Array>
        };
        let values =
            Float32Array::from_iter_values(chunks.iter().flat_map(|c| c.vector.iter().copied()));
        let vectors = FixedSizeListArray::try_new(
            Arc::new(Field::new("item", DataType::Float32, true)),
            dim,
            Arc::new(values),
            None,
        )?;
        Ok(RecordBatch::try_new(
            Self::schema(dim),
            vec![
                strings(|c| &c.id),
                strings(|c| &c.document_id),
                strings(|c| &c.generation),
                strings(|c| &c.collection),
                Arc::new(Int32Array::from_iter_values(
                    chunks.iter().map(|c| c.ordinal),
                )),
                strings(|c| &c.title),
                Arc::new(Int32Array::from_iter(chunks.iter().map(|c| c.page))),
                Arc::new(StringArray::from_iter(
                    chunks.iter().map(|c| c.heading.as_deref()),
                )),
                strings(|c| &c.text),
                Arc::new(vectors),
            ],
        )?)
    }

    /// Delete the rows matching `filter`. Most calls match nothing (a new
    /// document has no older chunks): a count is a read, while a delete is a
    /// commit (a new table version and deletion file) even when it matches nothing.
    async fn delete_where(&self, name: &str, filter: &str) -> lancedb::Result<()> {
        let Some(opened) = self.opened(name).await? else {
            return Ok(());
        };
        if opened.table.count_rows(Some(filter.to_string())).await? > 0 {
            let shared = opened.upkeep.lock.read().await;
            contended("delete", || opened.table.delete(filter)).await?;
            drop(shared);
            Self::committed(&opened);
        }
        Ok(())
    }

    /// Remove every chunk of a document.
    pub async fn delete_document(&self, name: &str, document_id: &str) -> lancedb::Result<()> {
        self.delete_where(name, &format!("document_id = {}", quote(document_id)))
            .await
    }

    /// Remove a document's chunks of every generation but `keep`.
    pub async fn delete_other_generations(
        &self,
        name: &str,
        document_id: &str,
        keep: &str,
    ) -> lancedb::Result<()> {
        self.delete_where(name, &generation_filter(document_id, "<>", keep))
            .await
    }

    /// Remove the chunks one ingest run wrote for a document.
    pub async fn delete_generation(
        &self,
        name: &str,
        document_id: &str,
        generation: &str,
    ) -> lancedb::Result<()> {
        self.delete_where(name, &generation_filter(document_id, "=", generation))
            .await
    }

    /// Number of chunks in table `name` (0 if it does not exist).
    pub async fn count_rows(&self, name: &str) -> lancedb::Result<usize> {
        match self.table(name).await? {
            Some(table) => table.count_rows(None).await,
            None => Ok(0),
        }
    }

    /// Number of chunks stored for a document.
    pub async fn count_document(&self, name: &str, document_id: &str) -> lancedb::Result<usize> {
        let Some(table) = self.table(name).await? else {
            return Ok(0);
        };
        table
            .count_rows(Some(format!("document_id = {}", quote(document_id))))
            .await
    }

    /// Every chunk of a document, vectors left out, in ordinal order.
    pub async fn chunks_of(&self, name: &str, document_id: &str) -> anyhow::Result<Vec<NewChunk>> {
        let Some(table) = self.table(name).await? else {
            return Ok(Vec::new());
        };
        let batches: Vec<RecordBatch> = table
            .query()
            .only_if(format!("document_id = {}", quote(document_id)))
            .select(Select::columns(&COLUMNS))
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut chunks = Vec::new();
        for batch in &batches {
            let rows = Rows::new(batch)?;
            let collections = rows.string("collection")?;
            for row in 0..batch.num_rows() {
                chunks.push(NewChunk {
                    id: rows.ids.value(row).to_string(),
                    document_id: rows.docs.value(row).to_string(),
                    generation: rows.string("generation")?.value(row).to_string(),
                    collection: collections.value(row).to_string(),
                    ordinal: rows.ordinals.value(row),
                    title: rows.titles.value(row).to_string(),
                    page: rows.page(row),
                    heading: rows.heading(row),
                    text: rows.texts.value(row).to_string(),
                    vector: Vec::new(),
                });
            }
        }
        chunks.sort_by_key(|c| (c.generation.clone(), c.ordinal));
        Ok(chunks)
    }

    /// The ids of every document with chunks in table `name`.
    pub async fn document_ids(&self, name: &str) -> anyhow::Result<HashSet<String>> {
        let Some(table) = self.table(name).await? else {
            return Ok(HashSet::new());
        };
        let batches: Vec<RecordBatch> = table
            .query()
            .select(Select::columns(&["document_id"]))
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut ids = HashSet::new();
        for batch in &batches {
            let docs = string_column(batch, "document_id")?;
            ids.extend((0..batch.num_rows()).map(|row| docs.value(row).to_string()));
        }
        Ok(ids)
    }
}

/// Whether `err` is a commit that lost to other writers: LanceDB retries
/// those itself for a while (rebasing on each commit that won), and gives
/// up under heavy contention, as many replicas writing to a slow store see.
fn is_write_contention(err: &lancedb::Error) -> bool {
    match err {
        lancedb::Error::Lance { source } => is_contention_message(&source.to_string()),
        _ => false,
    }
}

/// Whether a LanceDB (lance) error message says a commit lost to others.
fn is_contention_message(message: &str) -> bool {
    [
        "Too many concurrent writers",
        "Retryable commit conflict",
        "Commit conflict for version",
    ]
    .iter()
    .any(|m| message.starts_with(m))
}

/// Attempts at a commit that keeps losing to other writers.
const CONTENDED_ATTEMPTS: u32 = 5;

/// Run the commit `op`, again (after a growing, jittered pause) while it
/// fails from write contention; appends and deletes by filter are safe to
/// repeat, as a failed commit leaves nothing behind.
async fn contended<T, F, Fut>(what: &str, mut op: F) -> lancedb::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = lancedb::Result<T>>,
{
    let mut pause = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(err) if attempt < CONTENDED_ATTEMPTS && is_write_contention(&err) => {
                tracing::warn!(error = %err, attempt, "a vector table {what} lost to other writers; trying again");
                let jitter = rand::random_range(0..=pause.as_millis() as u64);
                tokio::time::sleep(pause + Duration::from_millis(jitter)).await;
                pause *= 2;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// A document's chunks whose generation compares by `op` with `generation`.
fn generation_filter(document_id: &str, op: &str, generation: &str) -> String {
    format!(
        "document_id = {} AND generation {op} {}",
        quote(document_id),
        quote(generation)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_commits_are_told_apart_from_other_failures() {
        assert!(is_contention_message(
            "Too many concurrent writers. Attempted 8 times, but failed on retry_timeout of 30.000 seconds., src/io/commit.rs:130:5"
        ));
        assert!(is_contention_message(
            "Retryable commit conflict for version 7: a concurrent delete, src/io/commit.rs:1:1"
        ));
        assert!(!is_contention_message("Dataset at path t was not found"));
        assert!(!is_contention_message(
            "LanceError(IO): Generic S3 error: connection refused"
        ));
    }
}
