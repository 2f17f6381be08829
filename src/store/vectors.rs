//! Chunk vectors in LanceDB: one `chunks` table whose vector width is fixed by
//! the embedding model's first answer.

use std::sync::Arc;

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray,
};
use lancedb::arrow::arrow_schema::{DataType, Field, Schema};
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::{Connection, DistanceType, Table};
use tokio::sync::RwLock;

const TABLE: &str = "chunks";

/// Collections whose names start with this are private spaces (one per key),
/// never searched on behalf of anyone else. Shared collection names cannot
/// contain it.
pub const PRIVATE_PREFIX: &str = "~";

/// Which chunks a search may see.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// Shared collections to search; `None` means every shared collection.
    pub collections: Option<&'a [String]>,
    /// A private space searched as well (the caller's own documents).
    pub private_space: Option<&'a str>,
}

impl Scope<'_> {
    /// The LanceDB filter for this scope.
    fn filter(&self) -> String {
        let shared = match self.collections {
            Some([]) => "FALSE".to_string(),
            Some(names) => {
                let list: Vec<String> = names.iter().map(|c| quote(c)).collect();
                format!("collection IN ({})", list.join(", "))
            }
            None => format!(
                "collection NOT LIKE {}",
                quote(&format!("{PRIVATE_PREFIX}%"))
            ),
        };
        match self.private_space {
            Some(space) => format!("({shared}) OR collection = {}", quote(space)),
            None => shared,
        }
    }
}

/// One chunk ready to be written.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub id: String,
    pub document_id: String,
    /// Which ingest run wrote it: a document's new chunks go in beside the
    /// old ones, which are removed only once the new ones are all written.
    pub generation: String,
    pub collection: String,
    pub ordinal: i32,
    pub title: String,
    pub text: String,
    pub vector: Vec<f32>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChunkHit {
    pub chunk_id: String,
    pub document_id: String,
    pub collection: String,
    pub ordinal: i32,
    pub title: String,
    pub text: String,
    /// Cosine similarity, 1 is identical.
    pub score: f32,
}

/// The vector store; cheap to clone.
#[derive(Clone)]
pub struct VectorStore {
    db: Connection,
    /// The `chunks` table and its vector width once it exists; created on the first write.
    table: Arc<RwLock<Option<Opened>>>,
}

#[derive(Clone)]
struct Opened {
    table: Table,
    dim: i32,
}

impl std::fmt::Debug for VectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorStore").finish_non_exhaustive()
    }
}

impl VectorStore {
    /// Connect to the LanceDB at `uri` (a directory path or `s3://…`).
    pub async fn open(uri: &str) -> lancedb::Result<Self> {
        if !uri.contains("://") {
            let _ = std::fs::create_dir_all(uri);
        }
        let db = lancedb::connect(uri).execute().await?;
        let table = match db.open_table(TABLE).execute().await {
            Ok(table) => {
                let dim = vector_width(&table).await?;
                Some(Opened { table, dim })
            }
            Err(lancedb::Error::TableNotFound { .. }) => None,
            Err(err) => return Err(err),
        };
        Ok(Self {
            db,
            table: Arc::new(RwLock::new(table)),
        })
    }

    fn schema(dim: i32) -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("document_id", DataType::Utf8, false),
            Field::new("generation", DataType::Utf8, false),
            Field::new("collection", DataType::Utf8, false),
            Field::new("ordinal", DataType::Int32, false),
            Field::new("title", DataType::Utf8, false),
            Field::new("text", DataType::Utf8, false),
            Field::new(
                "vector",
                DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim),
                false,
            ),
        ]))
    }

    /// The table, created with width `dim` if it does not exist yet.
    async fn table_for_write(&self, dim: i32) -> lancedb::Result<Opened> {
        if let Some(opened) = self.table.read().await.as_ref() {
            return Ok(opened.clone());
        }
        let mut slot = self.table.write().await;
        if let Some(opened) = slot.as_ref() {
            return Ok(opened.clone());
        }
        let table = match self.db.open_table(TABLE).execute().await {
            Ok(table) => table,
            Err(lancedb::Error::TableNotFound { .. }) => {
                self.db
                    .create_empty_table(TABLE, Self::schema(dim))
                    .execute()
                    .await?
            }
            Err(err) => return Err(err),
        };
        let opened = Opened {
            dim: vector_width(&table).await?,
            table,
        };
        *slot = Some(opened.clone());
        Ok(opened)
    }

    /// The vector width of the stored chunks, if any were ever written.
    pub async fn dimension(&self) -> Option<i32> {
        self.table.read().await.as_ref().map(|o| o.dim)
    }

    async fn table(&self) -> Option<Table> {
        self.table.read().await.as_ref().map(|o| o.table.clone())
    }

    /// Append chunks; all must have the same vector width as the table.
    pub async fn add(&self, chunks: Vec<NewChunk>) -> anyhow::Result<()> {
        let Some(first) = chunks.first() else {
            return Ok(());
        };
        let dim = i32::try_from(first.vector.len())?;
        anyhow::ensure!(dim > 0, "the embedding model returned an empty vector");
        anyhow::ensure!(
            chunks.iter().all(|c| c.vector.len() == dim as usize),
            "the embedding model returned vectors of different widths"
        );
        let opened = self.table_for_write(dim).await?;
        anyhow::ensure!(
            opened.dim == dim,
            "the embedding model returns vectors of width {dim}, but the knowledge base holds width {}; \
             re-ingest after changing RAGWAY_EMBED_MODEL",
            opened.dim
        );
        let batch = Self::batch(dim, &chunks)?;
        opened.table.add(batch).execute().await?;
        Ok(())
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
                strings(|c| &c.text),
                Arc::new(vectors),
            ],
        )?)
    }

    /// Remove every chunk of a document.
    pub async fn delete_document(&self, document_id: &str) -> lancedb::Result<()> {
        let Some(table) = self.table().await else {
            return Ok(());
        };
        table
            .delete(format!("document_id = {}", quote(document_id)).as_str())
            .await?;
        Ok(())
    }

    /// Remove a document's chunks of every generation but `keep`.
    pub async fn delete_other_generations(
        &self,
        document_id: &str,
        keep: &str,
    ) -> lancedb::Result<()> {
        let Some(table) = self.table().await else {
            return Ok(());
        };
        let filter = format!(
            "document_id = {} AND generation <> {}",
            quote(document_id),
            quote(keep)
        );
        table.delete(filter.as_str()).await?;
        Ok(())
    }

    /// Remove the chunks one ingest run wrote for a document.
    pub async fn delete_generation(
        &self,
        document_id: &str,
        generation: &str,
    ) -> lancedb::Result<()> {
        let Some(table) = self.table().await else {
            return Ok(());
        };
        let filter = format!(
            "document_id = {} AND generation = {}",
            quote(document_id),
            quote(generation)
        );
        table.delete(filter.as_str()).await?;
        Ok(())
    }

    /// Number of chunks stored for a document.
    pub async fn count_document(&self, document_id: &str) -> lancedb::Result<usize> {
        let Some(table) = self.table().await else {
            return Ok(0);
        };
        table
            .count_rows(Some(format!("document_id = {}", quote(document_id))))
            .await
    }

    /// The `k` chunks nearest to `vector` within `scope`.
    pub async fn search(
        &self,
        vector: &[f32],
        k: usize,
        scope: Scope<'_>,
    ) -> anyhow::Result<Vec<ChunkHit>> {
        let Some(Opened { table, dim }) = self.table.read().await.clone() else {
            return Ok(Vec::new());
        };
        anyhow::ensure!(
            dim as usize == vector.len(),
            "the question's embedding has width {}, the knowledge base {dim}; was RAGWAY_EMBED_MODEL changed?",
            vector.len()
        );
        let query = table
            .query()
            .nearest_to(vector)?
            .distance_type(DistanceType::Cosine)
            .limit(k)
            .select(Select::columns(&[
                "id",
                "document_id",
                "collection",
                "ordinal",
                "title",
                "text",
                "_distance",
            ]))
            .only_if(scope.filter());
        let batches: Vec<RecordBatch> = query.execute().await?.try_collect().await?;
        let mut hits = Vec::new();
        for batch in &batches {
            let text = |name: &str| -> anyhow::Result<&StringArray> {
                batch
                    .column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .ok_or_else(|| anyhow::anyhow!("chunks table lacks column {name}"))
            };
            let (ids, docs, cols, titles, texts) = (
                text("id")?,
                text("document_id")?,
                text("collection")?,
                text("title")?,
                text("text")?,
            );
            let ordinals = batch
                .column_by_name("ordinal")
                .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
                .ok_or_else(|| anyhow::anyhow!("chunks table lacks column ordinal"))?;
            let distances = batch
                .column_by_name("_distance")
                .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                .ok_or_else(|| anyhow::anyhow!("search result lacks _distance"))?;
            for row in 0..batch.num_rows() {
                hits.push(ChunkHit {
                    chunk_id: ids.value(row).to_string(),
                    document_id: docs.value(row).to_string(),
                    collection: cols.value(row).to_string(),
                    ordinal: ordinals.value(row),
                    title: titles.value(row).to_string(),
                    text: texts.value(row).to_string(),
                    score: 1.0 - distances.value(row),
                });
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    /// Whether the store answers.
    pub async fn check(&self) -> lancedb::Result<()> {
        self.db.table_names().execute().await.map(|_| ())
    }
}

async fn vector_width(table: &Table) -> lancedb::Result<i32> {
    let schema = table.schema().await?;
    match schema
        .field_with_name("vector")
        .map(|f| f.data_type().clone())
    {
        Ok(DataType::FixedSizeList(_, dim)) => Ok(dim),
        _ => Err(lancedb::Error::InvalidInput {
            message: "the chunks table has no fixed-size vector column".into(),
        }),
    }
}

/// A SQL string literal for LanceDB filters.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &str, doc: &str, collection: &str, vector: Vec<f32>) -> NewChunk {
        NewChunk {
            id: id.into(),
            document_id: doc.into(),
            generation: "g1".into(),
            collection: collection.into(),
            ordinal: 0,
            title: "t".into(),
            text: format!("text of {id}"),
            vector,
        }
    }

    #[tokio::test]
    async fn add_search_filter_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap();
        let all = Scope::default();
        assert!(store.search(&[1.0, 0.0], 3, all).await.unwrap().is_empty());
        store
            .add(vec![
                chunk("a", "d1", "c1", vec![1.0, 0.0]),
                chunk("b", "d2", "c2", vec![0.0, 1.0]),
                chunk("p", "d4", "~key1", vec![1.0, 0.1]),
            ])
            .await
            .unwrap();
        let hits = store.search(&[0.9, 0.1], 3, all).await.unwrap();
        assert_eq!(hits.len(), 2, "private chunks stay out of shared searches");
        assert_eq!(hits[0].chunk_id, "a");
        let c2 = ["c2".to_string()];
        let only_c2 = Scope {
            collections: Some(&c2),
            private_space: None,
        };
        let only_c2 = store.search(&[0.9, 0.1], 2, only_c2).await.unwrap();
        assert_eq!(only_c2.len(), 1);
        assert_eq!(only_c2[0].chunk_id, "b");
        let mine = Scope {
            collections: None,
            private_space: Some("~key1"),
        };
        let mine = store.search(&[1.0, 0.1], 3, mine).await.unwrap();
        assert_eq!(mine[0].chunk_id, "p");
        assert_eq!(mine.len(), 3);
        let theirs = Scope {
            collections: None,
            private_space: Some("~key2"),
        };
        assert_eq!(store.search(&[1.0, 0.1], 3, theirs).await.unwrap().len(), 2);
        let nothing = Scope {
            collections: Some(&[]),
            private_space: None,
        };
        assert!(store
            .search(&[1.0, 0.1], 3, nothing)
            .await
            .unwrap()
            .is_empty());
        let mut newer = chunk("b2", "d2", "c2", vec![0.0, 1.0]);
        newer.generation = "g2".into();
        store.add(vec![newer]).await.unwrap();
        assert_eq!(store.count_document("d2").await.unwrap(), 2);
        store.delete_other_generations("d2", "g2").await.unwrap();
        assert_eq!(store.count_document("d2").await.unwrap(), 1);
        store.delete_generation("d2", "g2").await.unwrap();
        assert_eq!(store.count_document("d2").await.unwrap(), 0);
        store
            .add(vec![chunk("b", "d2", "c2", vec![0.0, 1.0])])
            .await
            .unwrap();
        store.delete_document("d1").await.unwrap();
        assert_eq!(store.count_document("d1").await.unwrap(), 0);
        assert_eq!(store.count_document("d2").await.unwrap(), 1);
        let err = store
            .add(vec![chunk("c", "d3", "c1", vec![1.0, 0.0, 0.0])])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("width"), "{err}");
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
