//! Searches of a table: by vector and by full text, each either reading the
//! chunks found or only their row ids and scores, and the rows found read
//! back by row id.

use std::collections::HashSet;

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{Array, Float32Array, RecordBatch};
use lancedb::index::scalar::FullTextSearchQuery;
use lancedb::query::{ExecutableQuery, Query, QueryBase, Select, VectorQuery};
use lancedb::DistanceType;

use super::rows::{found_rows, lance_dataset, Rows, StoredVectors};
use super::tables::Opened;
use super::{ChunkHit, FoundRow, ReadRow, Scope, TextHits, VectorStore, COLUMNS};

/// HNSW search breadth and exact re-ranking of the quantised candidates:
/// recall@10 of 1.0 at 100k rows, measured on this stack (p50 about 5 ms).
const SEARCH_EF: usize = 100;
const REFINE_FACTOR: u32 = 2;

impl VectorStore {
    /// The `k` chunks of table `name` nearest to `vector` within `scope`.
    pub async fn search(
        &self,
        name: &str,
        vector: &[f32],
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<Vec<ChunkHit>> {
        let Some(query) = self.vector_query(name, vector, k, scope).await? else {
            return Ok(Vec::new());
        };
        let mut columns = COLUMNS.to_vec();
        columns.push("_distance");
        let query = query.select(Select::columns(columns.as_slice()));
        let batches: Vec<RecordBatch> = query.execute().await?.try_collect().await?;
        let mut hits = Vec::new();
        for batch in &batches {
            let rows = Rows::new(batch)?;
            let distances = batch
                .column_by_name("_distance")
                .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                .ok_or_else(|| anyhow::anyhow!("search result lacks _distance"))?;
            for row in 0..batch.num_rows() {
                let hit = rows.hit(row, 1.0 - distances.value(row));
                if scope.admits(&hit.collection) {
                    hits.push(hit);
                }
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    /// The `k` chunks of table `name` that best match `query` by full text
    /// (BM25), best first, within `scope`. It needs no embedding, so it can
    /// run while the question is embedded; [`TextHits::scored`] then gives
    /// each hit its cosine similarity to the question, so scores compare
    /// across searches.
    pub async fn text_search(
        &self,
        name: &str,
        query: &str,
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<TextHits> {
        let Some(query) = self.text_query(name, query, k, scope).await? else {
            return Ok(TextHits::default());
        };
        let mut columns = COLUMNS.to_vec();
        columns.push("vector");
        let batches: Vec<RecordBatch> = query
            .select(Select::columns(columns.as_slice()))
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut ranked = Vec::new();
        for batch in &batches {
            let rows = Rows::new(batch)?;
            let vectors = StoredVectors::new(batch)?;
            let bm25 = batch
                .column_by_name("_score")
                .and_then(|c| c.as_any().downcast_ref::<Float32Array>());
            for row in 0..batch.num_rows() {
                let stored = vectors.get(row);
                let rank_score = bm25.map_or(0.0, |s| s.value(row));
                let hit = rows.hit(row, 0.0);
                if scope.admits(&hit.collection) {
                    ranked.push((rank_score, hit, stored));
                }
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (hits, vectors) = ranked.into_iter().map(|(_, hit, v)| (hit, v)).unzip();
        Ok(TextHits { hits, vectors })
    }

    /// [`Self::search`] without reading the chunks: their row ids and cosine
    /// similarity, best first. Reading the columns of every candidate costs
    /// LanceDB one small read per column and row (about 2 ms for 20
    /// candidates on local disk); chat reads only the few it keeps.
    pub async fn search_rows(
        &self,
        name: &str,
        vector: &[f32],
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<Vec<FoundRow>> {
        let Some(query) = self.vector_query(name, vector, k, scope).await? else {
            return Ok(Vec::new());
        };
        let batches: Vec<RecordBatch> = query
            .select(Select::columns(&["_distance"]))
            .with_row_id()
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut found = found_rows(&batches, "_distance", |d| 1.0 - d)?;
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(found)
    }

    /// [`Self::text_search`] without reading the chunks: their row ids and
    /// BM25 scores, best first.
    pub async fn text_search_rows(
        &self,
        name: &str,
        query: &str,
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<Vec<FoundRow>> {
        let Some(query) = self.text_query(name, query, k, scope).await? else {
            return Ok(Vec::new());
        };
        let batches: Vec<RecordBatch> = query
            .select(Select::columns(&["_score"]))
            .with_row_id()
            .execute()
            .await?
            .try_collect()
            .await?;
        let mut found = found_rows(&batches, "_score", |s| s)?;
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(found)
    }

    /// The chunks at `rows` of table `name` (found by [`Self::search_rows`]
    /// or [`Self::text_search_rows`] a moment ago), in the order asked, with
    /// their stored vectors when `vectors` says so; a chunk outside `scope`
    /// comes back without its hit. `None` when a row is no longer there (a
    /// compaction rewrote its fragment): search again.
    pub async fn read_rows(
        &self,
        name: &str,
        rows: &[u64],
        vectors: bool,
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<Vec<ReadRow>>> {
        if rows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let Some(Opened { table, upkeep, .. }) = self.opened(name).await? else {
            return Ok(None);
        };
        let dataset = lance_dataset(&table).await?;
        if !rows_present(&dataset, rows) {
            return Ok(None);
        }
        // Each row's collection as the fragments' collections kept in memory
        // know it, rather than read: a fragment's `collection` is most often
        // one value, which Lance stores as a constant page, and its take
        // steps through that page row by row up to the row asked for (100k
        // steps for a row near the end of a 100k-row fragment: nearly two
        // thirds of the take's instructions, BENCHMARKS.md). Only what is
        // known already: a fragment not read yet (another replica's
        // compaction, say) is not scanned whole for a few rows.
        let known = Self::collections_of(&upkeep, &dataset, rows.iter().copied(), false).await?;
        // The columns a hit is made of: each costs a small read per row.
        let mut columns: Vec<&str> = COLUMNS
            .iter()
            .copied()
            .filter(|c| *c != "generation" && !(known.is_some() && *c == "collection"))
            .collect();
        if vectors {
            columns.push("vector");
        }
        let Some(batch) = take(&dataset, rows, &columns).await? else {
            return Ok(None);
        };
        let chunks = match &known {
            Some(_) => Rows::without_collection(&batch)?,
            None => Rows::new(&batch)?,
        };
        let stored = if vectors {
            Some(StoredVectors::new(&batch)?)
        } else {
            None
        };
        let read = (0..rows.len()).map(|row| {
            let mut hit = chunks.hit(row, 0.0);
            if let Some(known) = &known {
                hit.collection = known[row].to_string();
            }
            ReadRow {
                vector: stored.as_ref().map(|stored| stored.get(row)),
                hit: scope.admits(&hit.collection).then_some(hit),
            }
        });
        Ok(Some(read.collect()))
    }

    /// The stored vectors of `rows` of table `name` (found by a search a
    /// moment ago), in the order asked, and nothing else of them: one small
    /// read per row where [`Self::read_rows`] makes one per column and row.
    /// `None` when a row is no longer there (a compaction rewrote its
    /// fragment): search again.
    pub async fn read_vectors(
        &self,
        name: &str,
        rows: &[u64],
    ) -> anyhow::Result<Option<Vec<Vec<f32>>>> {
        if rows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let Some(Opened { table, .. }) = self.opened(name).await? else {
            return Ok(None);
        };
        let dataset = lance_dataset(&table).await?;
        if !rows_present(&dataset, rows) {
            return Ok(None);
        }
        let Some(batch) = take(&dataset, rows, &["vector"]).await? else {
            return Ok(None);
        };
        let stored = StoredVectors::new(&batch)?;
        Ok(Some((0..rows.len()).map(|row| stored.get(row)).collect()))
    }

    /// A vector search of table `name` as chat runs it, before its columns
    /// are chosen; `None` when the table does not exist.
    async fn vector_query(
        &self,
        name: &str,
        vector: &[f32],
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<VectorQuery>> {
        let Some(Opened { table, dim, .. }) = self.opened(name).await? else {
            return Ok(None);
        };
        anyhow::ensure!(
            dim as usize == vector.len(),
            "the question's embedding has width {}, the index {dim}",
            vector.len()
        );
        let query = scope
            .apply(table.query().nearest_to(vector)?)
            .distance_type(DistanceType::Cosine)
            .ef(SEARCH_EF)
            .refine_factor(REFINE_FACTOR)
            .limit(k);
        Ok(Some(query))
    }

    /// A full-text search of table `name` (its indexes built first when
    /// missing), before its columns are chosen; `None` when the table does
    /// not exist or the query is blank.
    async fn text_query(
        &self,
        name: &str,
        query: &str,
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<Query>> {
        let Some(opened) = self.opened(name).await? else {
            return Ok(None);
        };
        if query.trim().is_empty() {
            return Ok(None);
        }
        Self::ensure_search_indexes(&opened).await?;
        let query = scope
            .apply(opened.table.query())
            .full_text_search(FullTextSearchQuery::new(query.to_string()))
            .limit(k);
        Ok(Some(query))
    }
}

/// Whether every fragment `rows` name is still in `dataset`. A row id is
/// its fragment's number and its place in it; Lance's take panics when
/// none of the fragments asked for is left, so rows of a fragment a
/// compaction removed are told apart before any take. (Stable row ids
/// are not addresses: the take itself tells.)
fn rows_present(dataset: &lance::Dataset, rows: &[u64]) -> bool {
    if dataset.manifest().uses_stable_row_ids() {
        return true;
    }
    let fragments: HashSet<u64> = dataset.fragments().iter().map(|f| f.id).collect();
    rows.iter().all(|row| fragments.contains(&(row >> 32)))
}

/// `columns` of `rows` of `dataset`, in the order asked, by Lance's own
/// take: a tenth of the cost of a `_rowid IN (…)` query through LanceDB's
/// planner (every table here is a Lance dataset, a directory or an S3
/// prefix). `None` when a row could not be read.
async fn take(
    dataset: &lance::Dataset,
    rows: &[u64],
    columns: &[&str],
) -> anyhow::Result<Option<RecordBatch>> {
    let projection = dataset.schema().project(columns)?;
    match dataset.take_rows(rows, projection).await {
        Ok(batch) if batch.num_rows() == rows.len() => Ok(Some(batch)),
        Ok(_) => Ok(None),
        Err(err) => {
            tracing::debug!(error = %err, "reading searched rows failed");
            Ok(None)
        }
    }
}
