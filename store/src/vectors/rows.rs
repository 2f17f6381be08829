//! Reading result batches: a batch's chunk columns as hits ([`Rows`]),
//! stored vectors, row ids and scores, the Lance dataset under a table for
//! reads by row address, and [`cosine`] similarity.

use std::sync::Arc;

use lancedb::arrow::arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray, UInt64Array,
};
use lancedb::Table;

use super::{ChunkHit, FoundRow};

/// The chunk columns of one result batch.
pub(super) struct Rows<'a> {
    batch: &'a RecordBatch,
    pub(super) ids: &'a StringArray,
    pub(super) docs: &'a StringArray,
    /// `None` when the batch was read without it (see [`VectorStore::read_rows`]).
    ///
    /// [`VectorStore::read_rows`]: super::VectorStore::read_rows
    cols: Option<&'a StringArray>,
    pub(super) titles: &'a StringArray,
    pub(super) texts: &'a StringArray,
    pub(super) ordinals: &'a Int32Array,
    pages: &'a Int32Array,
    headings: &'a StringArray,
}

impl<'a> Rows<'a> {
    pub(super) fn new(batch: &'a RecordBatch) -> anyhow::Result<Self> {
        Ok(Self {
            cols: Some(string_column(batch, "collection")?),
            ..Self::without_collection(batch)?
        })
    }

    /// A batch read without `collection`: hits come with it empty.
    pub(super) fn without_collection(batch: &'a RecordBatch) -> anyhow::Result<Self> {
        Ok(Self {
            batch,
            ids: string_column(batch, "id")?,
            docs: string_column(batch, "document_id")?,
            cols: None,
            titles: string_column(batch, "title")?,
            texts: string_column(batch, "text")?,
            ordinals: int_column(batch, "ordinal")?,
            pages: int_column(batch, "page")?,
            headings: string_column(batch, "heading")?,
        })
    }

    /// Row `row` as a search hit with this score.
    pub(super) fn hit(&self, row: usize, score: f32) -> ChunkHit {
        ChunkHit {
            chunk_id: self.ids.value(row).to_string(),
            document_id: self.docs.value(row).to_string(),
            collection: self
                .cols
                .map_or_else(String::new, |cols| cols.value(row).to_string()),
            ordinal: self.ordinals.value(row),
            title: self.titles.value(row).to_string(),
            page: self.page(row),
            heading: self.heading(row),
            text: self.texts.value(row).to_string(),
            score,
        }
    }

    pub(super) fn string(&self, name: &str) -> anyhow::Result<&'a StringArray> {
        string_column(self.batch, name)
    }

    pub(super) fn page(&self, row: usize) -> Option<i32> {
        self.pages.is_valid(row).then(|| self.pages.value(row))
    }

    pub(super) fn heading(&self, row: usize) -> Option<String> {
        self.headings
            .is_valid(row)
            .then(|| self.headings.value(row).to_string())
    }
}

/// The Lance dataset under a table (a directory or an S3 prefix), at its
/// latest version.
pub(super) async fn lance_dataset(table: &Table) -> anyhow::Result<Arc<lance::Dataset>> {
    let dataset = table
        .dataset()
        .ok_or_else(|| anyhow::anyhow!("table {} is not a Lance dataset", table.name()))?;
    Ok(dataset.get().await?)
}

/// The `_rowid` column of a result.
fn row_ids(batch: &RecordBatch) -> anyhow::Result<&UInt64Array> {
    batch
        .column_by_name("_rowid")
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .ok_or_else(|| anyhow::anyhow!("search result lacks _rowid"))
}

/// The `vector` column of a result.
pub(super) struct StoredVectors<'a> {
    vectors: &'a FixedSizeListArray,
    values: &'a Float32Array,
}

impl<'a> StoredVectors<'a> {
    pub(super) fn new(batch: &'a RecordBatch) -> anyhow::Result<Self> {
        let vectors = batch
            .column_by_name("vector")
            .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
            .ok_or_else(|| anyhow::anyhow!("search result lacks the vector column"))?;
        let values = vectors
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| anyhow::anyhow!("vectors are not 32-bit floats"))?;
        Ok(Self { vectors, values })
    }

    /// Row `row`'s vector.
    pub(super) fn get(&self, row: usize) -> Vec<f32> {
        let width = self.vectors.value_length() as usize;
        let start = self.vectors.value_offset(row) as usize;
        self.values.values()[start..start + width].to_vec()
    }
}

/// Each result row's id and its `score_column` turned into a score.
pub(super) fn found_rows(
    batches: &[RecordBatch],
    score_column: &str,
    score: impl Fn(f32) -> f32,
) -> anyhow::Result<Vec<FoundRow>> {
    let mut found = Vec::new();
    for batch in batches {
        let ids = row_ids(batch)?;
        let scores = batch
            .column_by_name(score_column)
            .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
            .ok_or_else(|| anyhow::anyhow!("search result lacks {score_column}"))?;
        found.extend((0..batch.num_rows()).map(|row| FoundRow {
            row: ids.value(row),
            score: score(scores.value(row)),
        }));
    }
    Ok(found)
}

pub(super) fn string_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> anyhow::Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| anyhow::anyhow!("chunks table lacks text column {name}"))
}

fn int_column<'a>(batch: &'a RecordBatch, name: &str) -> anyhow::Result<&'a Int32Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
        .ok_or_else(|| anyhow::anyhow!("chunks table lacks integer column {name}"))
}

/// Cosine similarity of two vectors of the same width (0 if either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
