//! Opening the store and its tables: the connection, the cache of tables
//! opened so far ([`Opened`]), the chunk schema, dropping a table.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use lancedb::arrow::arrow_schema::{DataType, Field, Schema};
use lancedb::Table;

use super::upkeep::{Upkeep, QUIET_AFTER};
use super::VectorStore;
use crate::s3::S3Options;

#[derive(Clone)]
pub(super) struct Opened {
    pub(super) table: Table,
    pub(super) dim: i32,
    pub(super) upkeep: Arc<Upkeep>,
    pub(super) quiet: Duration,
    pub(super) upkeep_allowed: Arc<AtomicBool>,
}

/// How stale a table handle may be: a read checks for other processes'
/// commits (another replica's uploads and deletes) when its last check is
/// older than this. Writes always see the latest version.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

impl VectorStore {
    /// Connect to the LanceDB in directory `uri`.
    pub async fn open(uri: &str) -> lancedb::Result<Self> {
        Self::open_with(uri, &S3Options::default()).await
    }

    /// Connect to the LanceDB at `uri`: a directory path, or `s3://bucket/prefix`
    /// reached as `s3` says (keys from the `AWS_*` environment). Commits on S3
    /// are conditional puts (`If-None-Match: *`), so replicas writing at once
    /// never overwrite each other's commit; the store must support them (AWS
    /// S3, R2 and MinIO do).
    pub async fn open_with(uri: &str, s3: &S3Options) -> lancedb::Result<Self> {
        let mut connect = lancedb::connect(uri);
        if uri.starts_with("s3://") {
            connect = connect.storage_options(s3.pairs());
        } else if !uri.contains("://") {
            let _ = std::fs::create_dir_all(uri);
        }
        let db = connect
            .read_consistency_interval(REFRESH_EVERY)
            .execute()
            .await?;
        Ok(Self {
            db,
            tables: Arc::default(),
            quiet: QUIET_AFTER,
            upkeep_allowed: Arc::new(AtomicBool::new(true)),
        })
    }

    /// The same store with another quiet period (see [`QUIET_AFTER`]); for
    /// tests, which should not wait seconds for it.
    pub fn with_quiet_period(mut self, quiet: Duration) -> Self {
        self.quiet = quiet;
        self
    }

    pub(super) fn schema(dim: i32) -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("document_id", DataType::Utf8, false),
            Field::new("generation", DataType::Utf8, false),
            Field::new("collection", DataType::Utf8, false),
            Field::new("ordinal", DataType::Int32, false),
            Field::new("title", DataType::Utf8, false),
            Field::new("page", DataType::Int32, true),
            Field::new("heading", DataType::Utf8, true),
            Field::new("text", DataType::Utf8, false),
            Field::new(
                "vector",
                DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim),
                false,
            ),
        ]))
    }

    /// Table `name` if it exists.
    pub(super) async fn opened(&self, name: &str) -> lancedb::Result<Option<Opened>> {
        if let Some(opened) = self.tables.read().await.get(name) {
            return Ok(Some(opened.clone()));
        }
        match self.db.open_table(name).execute().await {
            Ok(table) => {
                let opened = Opened {
                    dim: vector_width(&table).await?,
                    table,
                    upkeep: Arc::default(),
                    quiet: self.quiet,
                    upkeep_allowed: self.upkeep_allowed.clone(),
                };
                self.tables
                    .write()
                    .await
                    .insert(name.to_string(), opened.clone());
                let warming = opened.clone();
                // A bare spawn: the store holds no tracker (see `start_upkeep`).
                #[allow(clippy::disallowed_methods)]
                tokio::spawn(async move {
                    if let Err(err) = Self::warm_fragment_collections(&warming).await {
                        tracing::debug!(error = %err, "reading the fragments' collections failed; searches read them");
                    }
                });
                Ok(Some(opened))
            }
            Err(lancedb::Error::TableNotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Table `name`, created with width `dim` if it does not exist yet.
    pub(super) async fn table_for_write(&self, name: &str, dim: i32) -> lancedb::Result<Opened> {
        if let Some(opened) = self.opened(name).await? {
            return Ok(opened);
        }
        let mut tables = self.tables.write().await;
        if let Some(opened) = tables.get(name) {
            return Ok(opened.clone());
        }
        let table = match self
            .db
            .create_empty_table(name, Self::schema(dim))
            .execute()
            .await
        {
            Ok(table) => table,
            // Another process created it first.
            Err(lancedb::Error::TableAlreadyExists { .. }) => {
                self.db.open_table(name).execute().await?
            }
            Err(err) => return Err(err),
        };
        let opened = Opened {
            dim: vector_width(&table).await?,
            table,
            upkeep: Arc::default(),
            quiet: self.quiet,
            upkeep_allowed: self.upkeep_allowed.clone(),
        };
        tables.insert(name.to_string(), opened.clone());
        Ok(opened)
    }

    /// Table `name` itself, for benchmarks and tools that query it directly.
    pub async fn table(&self, name: &str) -> lancedb::Result<Option<Table>> {
        Ok(self.opened(name).await?.map(|o| o.table))
    }

    /// The vector width of table `name`, if it exists.
    pub async fn dimension(&self, name: &str) -> lancedb::Result<Option<i32>> {
        Ok(self.opened(name).await?.map(|o| o.dim))
    }

    /// Drop table `name` and forget it; a missing table is fine.
    pub async fn drop_table(&self, name: &str) -> lancedb::Result<()> {
        let opened = self.tables.write().await.remove(name);
        if let Some(opened) = opened {
            // No upkeep may start on the table from now on.
            let timer = opened.upkeep.take_quiet_timer();
            if let Some(timer) = timer {
                timer.abort();
            }
            let task = opened.upkeep.running.lock().expect("upkeep lock").take();
            if let Some(task) = task {
                let _ = task.await;
            }
        }
        match self.db.drop_table(name, &[]).await {
            Ok(()) | Err(lancedb::Error::TableNotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
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
