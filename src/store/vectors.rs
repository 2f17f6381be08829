//! Chunk vectors in LanceDB: tables of chunks, each embedded by one model,
//! whose vector width is fixed by that model's first answer. Which table is
//! searched is recorded in SQL (`store::indexes`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use lancedb::arrow::arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray, UInt64Array,
};
use lancedb::arrow::arrow_schema::{DataType, Field, Schema};
use lancedb::index::scalar::{FtsIndexBuilder, FullTextSearchQuery};
use lancedb::index::vector::IvfHnswSqIndexBuilder;
use lancedb::index::Index;
use lancedb::query::{ExecutableQuery, Query, QueryBase, Select, VectorQuery};
use lancedb::table::{CompactionOptions, OptimizeAction, OptimizeOptions};
use lancedb::{Connection, DistanceType, Table};
use tokio::sync::RwLock;

use super::s3::S3Options;

mod neighbours;
pub use neighbours::{Found as Placed, Neighbour};

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
    /// Every stored chunk is believed to be in scope (no other key's private
    /// documents, no collection the model leaves out): search without the
    /// filter, which costs LanceDB more than the search itself, and drop any
    /// hit outside the scope afterwards, so a belief gone stale costs recall
    /// for a moment, never privacy.
    pub everything: bool,
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

    /// Whether a chunk of `collection` is in scope (what [`Self::filter`] keeps).
    fn admits(&self, collection: &str) -> bool {
        if self.private_space == Some(collection) {
            return true;
        }
        match self.collections {
            Some(names) => names.iter().any(|name| name == collection),
            None => !collection.starts_with(PRIVATE_PREFIX),
        }
    }

    /// `query` with the scope's filter, unless the scope keeps everything.
    fn apply<Q: QueryBase>(&self, query: Q) -> Q {
        if self.everything {
            query
        } else {
            query.only_if(self.filter())
        }
    }
}

/// One chunk ready to be written (or read back to be embedded again).
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
    /// The PDF page the chunk starts on, from 1.
    pub page: Option<i32>,
    /// The headings the chunk sits under, outermost first, joined by ` > `.
    pub heading: Option<String>,
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
    pub page: Option<i32>,
    pub heading: Option<String>,
    pub text: String,
    /// Cosine similarity, 1 is identical.
    pub score: f32,
}

/// A row a search found, before its columns are read ([`VectorStore::read_rows`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundRow {
    /// LanceDB's row id. Fragments are never rewritten in place and their
    /// numbers never reused, so a row id read back soon after its search
    /// names the same chunk or, after a compaction in between, nothing.
    pub row: u64,
    /// Vector search: cosine similarity (1 is identical); full text: BM25.
    pub score: f32,
}

/// A row read back by [`VectorStore::read_rows`].
#[derive(Debug, Clone)]
pub struct ReadRow {
    /// `None` when the row's collection is out of the scope it was read for.
    pub hit: Option<ChunkHit>,
    /// The stored vector, when asked for.
    pub vector: Option<Vec<f32>>,
}

/// Full-text hits, best first, with their stored vectors: scored against
/// the question's embedding once it is there.
#[derive(Debug, Default)]
pub struct TextHits {
    hits: Vec<ChunkHit>,
    vectors: Vec<Vec<f32>>,
}

impl TextHits {
    /// The hits in their full-text order, each scored by its cosine
    /// similarity to `question`.
    pub fn scored(self, question: &[f32]) -> Vec<ChunkHit> {
        self.hits
            .into_iter()
            .zip(self.vectors)
            .map(|(hit, stored)| ChunkHit {
                score: cosine(question, &stored),
                ..hit
            })
            .collect()
    }
}

/// The vector store: LanceDB tables of chunks, one per embedding model
/// (see `store::indexes`); cheap to clone.
#[derive(Clone)]
pub struct VectorStore {
    db: Connection,
    /// Tables opened so far, by name.
    tables: Arc<RwLock<HashMap<String, Opened>>>,
    /// How long a table must go without commits before its upkeep runs
    /// anyway ([`QUIET_AFTER`] unless changed).
    quiet: Duration,
    /// Whether this process runs upkeep: with several replicas only the one
    /// holding the upkeep lease does (`store::leases`); alone, always.
    upkeep_allowed: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Opened {
    table: Table,
    dim: i32,
    upkeep: Arc<Upkeep>,
    quiet: Duration,
    upkeep_allowed: Arc<AtomicBool>,
}

/// Compaction of one table. Every add or delete is a commit that leaves a
/// small fragment (or a deletion file) and a new version behind; a table fed
/// one small document at a time slows down with each, as every commit and
/// every scan walks them all. So every [`COMPACT_EVERY`] commits the table's
/// fragments are merged and versions older than [`KEEP_VERSIONS`] removed,
/// in the background; and once a table has had no commit for its quiet
/// period, whatever came since the last upkeep gets one too, so the rows of
/// a load's last few commits do not wait for a next load to be indexed.
#[derive(Default)]
struct Upkeep {
    /// Commits since the last upkeep began.
    commits: AtomicUsize,
    /// Commits ever (the quiet timer compares it to see whether any came).
    sequence: AtomicU64,
    /// The quiet timer, while one is armed.
    quiet_timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Deletes hold it shared, compaction alone: a delete and a compaction of
    /// the same fragments would conflict at commit.
    lock: RwLock<()>,
    /// The compaction under way or last run, to wait for it.
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set once the table's full-text index is known to exist.
    full_text: tokio::sync::OnceCell<()>,
    /// Rows the vector index was trained on (0: none, or not known yet).
    trained_rows: AtomicUsize,
    /// The table's version when the last upkeep ended (0: none yet); a
    /// newer one means commits (another replica's, say) since.
    settled_version: AtomicU64,
    /// Appends waiting to go into the table's next commit, with whom to tell
    /// how it went (see [`VectorStore::add`]).
    appends: Mutex<Vec<PendingAppend>>,
    /// Held by whoever commits the waiting appends: one append commit at a
    /// time per table and process.
    appending: tokio::sync::Mutex<()>,
    /// Each fragment's collections, read once (see [`VectorStore::in_scope`]).
    collections: Mutex<HashMap<u64, Arc<tokio::sync::OnceCell<Arc<FragmentCollections>>>>>,
}

/// A table's rows outside a scope (see [`VectorStore::scope_share`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeShare {
    /// Rows outside the scope.
    pub out: usize,
    /// Rows in all.
    pub rows: usize,
}

/// The collection of every row of one fragment. A fragment's rows never
/// change once written (a delete only hides them; a compaction writes new
/// fragments under new numbers), so this is read once and kept while the
/// fragment lives.
struct FragmentCollections {
    /// The distinct collections, each once.
    names: Vec<Arc<str>>,
    /// Rows of each of `names` (deleted ones too: a delete only hides them).
    counts: Vec<usize>,
    /// By a row's place in the fragment: its index into `names`
    /// (`u32::MAX` where a deleted row was).
    rows: Vec<u32>,
}

impl FragmentCollections {
    /// From a scan of one fragment's `collection` with `_rowaddr`.
    fn new(batch: &RecordBatch) -> anyhow::Result<Arc<Self>> {
        let names = string_column(batch, "collection")?;
        let addresses = batch
            .column_by_name("_rowaddr")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| anyhow::anyhow!("the scan lacks _rowaddr"))?;
        let mut collections = Self {
            names: Vec::new(),
            counts: Vec::new(),
            rows: Vec::new(),
        };
        let mut index: HashMap<&str, u32> = HashMap::new();
        for row in 0..batch.num_rows() {
            let offset = (addresses.value(row) & 0xffff_ffff) as usize;
            let name = names.value(row);
            let at = *index.entry(name).or_insert_with(|| {
                collections.names.push(Arc::from(name));
                collections.counts.push(0);
                (collections.names.len() - 1) as u32
            });
            collections.counts[at as usize] += 1;
            if collections.rows.len() <= offset {
                collections.rows.resize(offset + 1, u32::MAX);
            }
            collections.rows[offset] = at;
        }
        Ok(Arc::new(collections))
    }

    fn collection(&self, offset: usize) -> Option<Arc<str>> {
        let name = *self.rows.get(offset)?;
        self.names.get(name as usize).cloned()
    }
}

/// Rows waiting for an append commit, and the adder waiting for its outcome.
struct PendingAppend {
    batch: RecordBatch,
    done: tokio::sync::oneshot::Sender<Result<(), Arc<str>>>,
}

impl Upkeep {
    /// The armed quiet timer, taken out (a commit from now on arms a new one).
    fn take_quiet_timer(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.quiet_timer.lock().expect("upkeep lock").take()
    }
}

/// Rows from which a table is searched through an approximate vector index
/// (IVF partitions of HNSW graphs over 8-bit quantised vectors); below it an
/// exact scan is quick enough (LanceDB scans about 250k 1024-wide rows/s per core).
pub const VECTOR_INDEX_MIN_ROWS: usize = 5_000;

/// The vector index is trained again once its table holds this many times
/// the rows it was trained on: rows added since only join the partitions
/// found back then, which fit them less and less.
const RETRAIN_GROWTH: usize = 4;

/// HNSW search breadth and exact re-ranking of the quantised candidates:
/// recall@10 of 1.0 at 100k rows, measured on this stack (p50 about 5 ms).
const SEARCH_EF: usize = 100;
const REFINE_FACTOR: u32 = 2;

/// Commits to a table between two compactions (LanceDB's advice is to
/// optimize after about 20 modifications).
pub const COMPACT_EVERY: usize = 20;

/// How long old versions of a table stay readable after a compaction: far
/// longer than any query runs.
const KEEP_VERSIONS: Duration = Duration::from_secs(300);

/// A table that has had commits since its last upkeep gets one after this
/// long without any: a load that stops between two [`COMPACT_EVERY`]
/// triggers is indexed (and compacted) all the same.
pub const QUIET_AFTER: Duration = Duration::from_secs(5);

/// How stale a table handle may be: a read checks for other processes'
/// commits (another replica's uploads and deletes) when its last check is
/// older than this. Writes always see the latest version.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The rows a vector index covers, and those searched by scan beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub indexed: usize,
    pub unindexed: usize,
}

/// What one compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub fragments_removed: usize,
    pub fragments_added: usize,
    pub versions_removed: u64,
}

impl std::fmt::Debug for VectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorStore").finish_non_exhaustive()
    }
}

/// The chunk columns every search returns.
pub const COLUMNS: [&str; 9] = [
    "id",
    "document_id",
    "generation",
    "collection",
    "ordinal",
    "title",
    "page",
    "heading",
    "text",
];

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

    fn schema(dim: i32) -> Arc<Schema> {
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
    async fn opened(&self, name: &str) -> lancedb::Result<Option<Opened>> {
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
    async fn table_for_write(&self, name: &str, dim: i32) -> lancedb::Result<Opened> {
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

    /// Build the table's search indexes it lacks: full text on `text` (ICU
    /// word segmentation works offline and splits Chinese into words as well
    /// as English) and a bitmap on `collection`, which every search filters
    /// on. Rows added later are searched too (unindexed ones by a scan)
    /// until the upkeep folds them into the indexes.
    async fn ensure_search_indexes(opened: &Opened) -> lancedb::Result<()> {
        opened
            .upkeep
            .full_text
            .get_or_try_init(|| async {
                let indices = opened.table.list_indices().await?;
                let has = |column: &str| {
                    indices
                        .iter()
                        .any(|i| i.columns.iter().any(|c| c == column))
                };
                let (text, collection) = (has("text"), has("collection"));
                if text && collection {
                    return Ok(());
                }
                let _shared = opened.upkeep.lock.read().await;
                if !text {
                    let params = FtsIndexBuilder::default().base_tokenizer("icu".to_string());
                    opened
                        .table
                        .create_index(&["text"], Index::FTS(params))
                        .execute()
                        .await?;
                }
                if !collection {
                    // Every search filters on it by exact names: with a bitmap
                    // index that filter costs half as much (BENCHMARKS.md).
                    opened
                        .table
                        .create_index(&["collection"], Index::Bitmap(Default::default()))
                        .execute()
                        .await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Count a commit to a table: start its upkeep when due, else make sure
    /// the quiet timer will see to it.
    fn committed(opened: &Opened) {
        let upkeep = &opened.upkeep;
        upkeep.sequence.fetch_add(1, Ordering::Relaxed);
        if upkeep.commits.fetch_add(1, Ordering::Relaxed) + 1 >= COMPACT_EVERY {
            Self::start_upkeep(opened);
        }
        Self::arm_quiet_timer(opened);
    }

    /// Compact the table and bring its vector index up to date, in the
    /// background, unless that is under way already.
    // Bare spawns in the vector store: it holds no TaskTracker (one-off commands and benchmarks
    // open it too), so shutdown does not wait for its upkeep, warm-up and timer tasks.
    #[allow(clippy::disallowed_methods)]
    fn start_upkeep(opened: &Opened) {
        let upkeep = &opened.upkeep;
        let mut running = upkeep.running.lock().expect("upkeep lock");
        if running.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        upkeep.commits.store(0, Ordering::Relaxed);
        if !opened.upkeep_allowed.load(Ordering::Relaxed) {
            // The replica holding the upkeep lease sees the commits and does it.
            return;
        }
        let opened = opened.clone();
        *running = Some(tokio::spawn(async move {
            if let Err(err) = Self::compact_opened(&opened).await {
                tracing::warn!(error = %err, "compacting the vector table failed; it is tried again later");
            }
            if let Err(err) = Self::index_vectors(&opened).await {
                tracing::warn!(error = %err, "building the vector index failed; it is tried again later");
            }
            Self::report_coverage(&opened).await;
            if let Ok(version) = opened.table.version().await {
                opened
                    .upkeep
                    .settled_version
                    .store(version, Ordering::Relaxed);
            }
        }));
    }

    /// Whether this process runs the upkeep of the tables it writes to (and,
    /// through [`Self::upkeep_if_changed`], of other replicas' commits).
    pub fn allow_upkeep(&self, allowed: bool) {
        self.upkeep_allowed.store(allowed, Ordering::Relaxed);
    }

    /// Start table `name`'s upkeep if it has had commits since its last one
    /// ended: the upkeep lease holder's way to fold in what other replicas
    /// wrote, which counts as none of its own commits.
    pub async fn upkeep_if_changed(&self, name: &str) -> lancedb::Result<()> {
        let Some(opened) = self.opened(name).await? else {
            return Ok(());
        };
        let version = opened.table.version().await?;
        if version != opened.upkeep.settled_version.load(Ordering::Relaxed) {
            Self::start_upkeep(&opened);
        }
        Ok(())
    }

    /// Unless one is armed already: a timer that waits until the table has
    /// gone its quiet period without a commit, then starts the upkeep if any
    /// commit came since the last one began (one under way is let finish
    /// first), and so on until none did.
    // A bare spawn: the store holds no tracker (see `start_upkeep`).
    #[allow(clippy::disallowed_methods)]
    fn arm_quiet_timer(opened: &Opened) {
        let mut timer = opened.upkeep.quiet_timer.lock().expect("upkeep lock");
        if timer.is_some() {
            return;
        }
        let opened = opened.clone();
        *timer = Some(tokio::spawn(async move {
            let upkeep = &opened.upkeep;
            loop {
                let seen = upkeep.sequence.load(Ordering::Relaxed);
                tokio::time::sleep(opened.quiet).await;
                if upkeep.sequence.load(Ordering::Relaxed) != seen {
                    continue;
                }
                {
                    // Disarmed under the lock `committed` arms it under: a
                    // commit from now on arms a new timer.
                    let mut timer = upkeep.quiet_timer.lock().expect("upkeep lock");
                    if upkeep.commits.load(Ordering::Relaxed) == 0 {
                        *timer = None;
                        return;
                    }
                }
                // A no-op while an upkeep runs: the commits stay counted,
                // and the next round tries again.
                Self::start_upkeep(&opened);
            }
        }));
    }

    /// Log how many of the table's rows its vector index covers (the load
    /// benchmarks wait on this line).
    async fn report_coverage(opened: &Opened) {
        if let Ok(Some(coverage)) = Self::coverage(opened).await {
            tracing::info!(
                table = %opened.table.name(),
                indexed = coverage.indexed,
                unindexed = coverage.unindexed,
                "vector index coverage"
            );
        }
    }

    async fn coverage(opened: &Opened) -> lancedb::Result<Option<Coverage>> {
        let indices = opened.table.list_indices().await?;
        let Some(index) = indices
            .iter()
            .find(|i| i.columns.iter().any(|c| c == "vector"))
        else {
            return Ok(None);
        };
        Ok(opened
            .table
            .index_stats(&index.name)
            .await?
            .map(|stats| Coverage {
                indexed: stats.num_indexed_rows,
                unindexed: stats.num_unindexed_rows,
            }))
    }

    /// How many rows of table `name` its vector index covers; `None` while
    /// it has none (or the table does not exist).
    pub async fn vector_index_coverage(&self, name: &str) -> lancedb::Result<Option<Coverage>> {
        match self.opened(name).await? {
            Some(opened) => Self::coverage(&opened).await,
            None => Ok(None),
        }
    }

    /// Build (or train again) the table's vector index when it is due;
    /// whether one was built. Searches go on meanwhile, by exact scan.
    async fn index_vectors(opened: &Opened) -> lancedb::Result<bool> {
        let rows = opened.table.count_rows(None).await?;
        if rows < VECTOR_INDEX_MIN_ROWS {
            return Ok(false);
        }
        let upkeep = &opened.upkeep;
        let indices = opened.table.list_indices().await?;
        let existing = indices
            .iter()
            .find(|i| i.columns.iter().any(|c| c == "vector"));
        if let Some(index) = existing {
            if upkeep.trained_rows.load(Ordering::Relaxed) == 0 {
                // Built by an earlier process: its size now is the best guess.
                let stats = opened.table.index_stats(&index.name).await?;
                let indexed = stats.map_or(rows, |s| s.num_indexed_rows);
                upkeep.trained_rows.store(indexed.max(1), Ordering::Relaxed);
            }
            if rows < upkeep.trained_rows.load(Ordering::Relaxed) * RETRAIN_GROWTH {
                return Ok(false);
            }
        }
        // Shared: deletes may go on, a compaction waits.
        let _shared = upkeep.lock.read().await;
        let started = std::time::Instant::now();
        opened
            .table
            .create_index(
                &["vector"],
                Index::IvfHnswSq(
                    IvfHnswSqIndexBuilder::default().distance_type(DistanceType::Cosine),
                ),
            )
            .replace(true)
            .execute()
            .await?;
        upkeep.trained_rows.store(rows, Ordering::Relaxed);
        tracing::info!(table = %opened.table.name(), rows, seconds = started.elapsed().as_secs_f32(), "built the vector index");
        Ok(true)
    }

    /// Build table `name`'s vector index now if it is due (this also
    /// happens by itself with the compaction); whether one was built.
    pub async fn index_vectors_now(&self, name: &str) -> lancedb::Result<bool> {
        match self.opened(name).await? {
            Some(opened) => Self::index_vectors(&opened).await,
            None => Ok(false),
        }
    }

    async fn compact_opened(opened: &Opened) -> lancedb::Result<Compaction> {
        let alone = opened.upkeep.lock.write().await;
        // New rows join the indexes first (rather than being scanned at every
        // search); compaction keeps indexed and unindexed rows apart, so this
        // also lets it merge everything.
        opened
            .table
            .optimize(OptimizeAction::Index(OptimizeOptions::default()))
            .await?;
        let compacted = opened
            .table
            .optimize(OptimizeAction::Compact {
                options: CompactionOptions::default(),
                remap_options: None,
            })
            .await?;
        let pruned = opened
            .table
            .optimize(OptimizeAction::Prune {
                older_than: Some(
                    lancedb::table::optimize::Duration::from_std(KEEP_VERSIONS)
                        .expect("a short duration"),
                ),
                delete_unverified: Some(false),
                error_if_tagged_old_versions: None,
            })
            .await?;
        let metrics = compacted.compaction.unwrap_or_default();
        let done = Compaction {
            fragments_removed: metrics.fragments_removed,
            fragments_added: metrics.fragments_added,
            versions_removed: pruned.prune.map(|p| p.old_versions).unwrap_or_default(),
        };
        tracing::debug!(table = %opened.table.name(), ?done, "compacted a vector table");
        drop(alone);
        if let Err(err) = Self::warm_fragment_collections(opened).await {
            tracing::warn!(error = %err, "reading the compacted fragments' collections failed; searches read them");
        }
        Ok(done)
    }

    /// Merge table `name`'s small fragments and drop its old versions now
    /// (this also happens by itself every [`COMPACT_EVERY`] commits, and
    /// once a table goes quiet); new rows join the indexes first.
    pub async fn compact(&self, name: &str) -> lancedb::Result<Compaction> {
        match self.opened(name).await? {
            Some(opened) => Self::compact_opened(&opened).await,
            None => Ok(Compaction::default()),
        }
    }

    /// Wait for a compaction of table `name` that is under way.
    #[cfg(test)]
    pub async fn compaction_settled(&self, name: &str) {
        let Ok(Some(opened)) = self.opened(name).await else {
            return;
        };
        let task = opened.upkeep.running.lock().expect("upkeep lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Wait until table `name` has had its quiet-period upkeep for every
    /// commit so far, and that upkeep is done.
    #[cfg(test)]
    pub async fn upkeep_settled(&self, name: &str) {
        let Ok(Some(opened)) = self.opened(name).await else {
            return;
        };
        let timer = opened.upkeep.take_quiet_timer();
        if let Some(timer) = timer {
            let _ = timer.await;
        }
        self.compaction_settled(name).await;
    }

    /// Fragments of table `name` whose collections are known (see
    /// [`Self::in_scope`]).
    #[cfg(test)]
    async fn fragments_screened(&self, name: &str) -> usize {
        let Ok(Some(opened)) = self.opened(name).await else {
            return 0;
        };
        let cells = opened.upkeep.collections.lock().expect("collections lock");
        cells.values().filter(|cell| cell.initialized()).count()
    }

    /// Fragments of table `name` (0 if it does not exist).
    #[cfg(test)]
    pub async fn fragments(&self, name: &str) -> lancedb::Result<usize> {
        match self.table(name).await? {
            Some(table) => Ok(table.stats().await?.fragment_stats.num_fragments),
            None => Ok(0),
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
        // Lance's own take, in the order asked: a tenth of the cost of a
        // `_rowid IN (…)` query through LanceDB's planner. Every table here
        // is a Lance dataset (a directory or an S3 prefix).
        let dataset = lance_dataset(&table).await?;
        // A row id is its fragment's number and its place in it. Lance's
        // take panics when none of the fragments asked for is left, so rows
        // of a fragment a compaction removed are told apart here.
        if !dataset.manifest().uses_stable_row_ids() {
            let fragments: HashSet<u64> = dataset.fragments().iter().map(|f| f.id).collect();
            if rows.iter().any(|row| !fragments.contains(&(row >> 32))) {
                return Ok(None);
            }
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
        let projection = dataset.schema().project(&columns)?;
        let batch = match dataset.take_rows(rows, projection).await {
            Ok(batch) if batch.num_rows() == rows.len() => batch,
            Ok(_) => return Ok(None),
            Err(err) => {
                tracing::debug!(error = %err, "reading searched rows failed");
                return Ok(None);
            }
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

    /// Whether each of `rows` (found in table `name` a moment ago by a search
    /// without the scope's filter) is within `scope`, known without reading
    /// the rows: each fragment's collections are read once and kept. Cheaper
    /// than LanceDB's filter when few stored rows are out of scope: search
    /// without it, a little deeper, and drop those. `None` when that cannot
    /// be told (a compaction removed a row's fragment since, or the table's
    /// row ids are not addresses): search with the filter.
    pub async fn in_scope(
        &self,
        name: &str,
        rows: &[FoundRow],
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<Vec<bool>>> {
        let Some(Opened { table, upkeep, .. }) = self.opened(name).await? else {
            return Ok(None);
        };
        let dataset = lance_dataset(&table).await?;
        let rows = rows.iter().map(|found| found.row);
        let Some(collections) = Self::collections_of(&upkeep, &dataset, rows, true).await? else {
            return Ok(None);
        };
        Self::forget_removed_fragments(&upkeep, &dataset);
        let admitted = collections.iter().map(|c| scope.admits(c)).collect();
        Ok(Some(admitted))
    }

    /// The collection of each of `rows` (row addresses in `dataset`), by
    /// each fragment's collections (read now where not yet known, if
    /// `read`). `None` when that cannot be told: the table's row ids are not
    /// addresses, a compaction removed a row's fragment since it was found,
    /// or (unless `read`) a fragment's collections are not known yet.
    async fn collections_of(
        upkeep: &Upkeep,
        dataset: &lance::Dataset,
        rows: impl Iterator<Item = u64>,
        read: bool,
    ) -> anyhow::Result<Option<Vec<Arc<str>>>> {
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(None);
        }
        let mut found = Vec::with_capacity(rows.size_hint().0);
        let mut known: Option<(u64, Arc<FragmentCollections>)> = None;
        for row in rows {
            let (fragment, offset) = (row >> 32, (row & 0xffff_ffff) as usize);
            let collections = match &known {
                Some((id, collections)) if *id == fragment => collections.clone(),
                _ => {
                    let collections = if read {
                        Self::fragment_collections(upkeep, dataset, fragment).await?
                    } else {
                        Self::known_fragment_collections(upkeep, fragment)
                    };
                    let Some(collections) = collections else {
                        return Ok(None);
                    };
                    known = Some((fragment, collections.clone()));
                    collections
                }
            };
            match collections.collection(offset) {
                Some(collection) => found.push(collection),
                None => return Ok(None),
            }
        }
        Ok(Some(found))
    }

    /// How many of table `name`'s rows are outside `scope`, of how many
    /// (rows deleted since their fragment was written count too), by each
    /// fragment's collections as [`Self::in_scope`] knows them (read now
    /// where not yet known). A search that is to be screened need go only
    /// that much deeper to find as many rows in scope as a filtered one.
    /// `None` when it cannot be told (see [`Self::in_scope`]).
    pub async fn scope_share(
        &self,
        name: &str,
        scope: Scope<'_>,
    ) -> anyhow::Result<Option<ScopeShare>> {
        let Some(Opened { table, upkeep, .. }) = self.opened(name).await? else {
            return Ok(Some(ScopeShare::default()));
        };
        let dataset = lance_dataset(&table).await?;
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(None);
        }
        let mut share = ScopeShare::default();
        for fragment in dataset.fragments().iter() {
            let Some(collections) =
                Self::fragment_collections(&upkeep, &dataset, fragment.id).await?
            else {
                return Ok(None);
            };
            for (name, count) in collections.names.iter().zip(&collections.counts) {
                share.rows += count;
                if !scope.admits(name) {
                    share.out += count;
                }
            }
        }
        Ok(Some(share))
    }

    /// Fragment `fragment`'s collections, read now unless known already;
    /// `None` if the dataset has no such fragment.
    async fn fragment_collections(
        upkeep: &Upkeep,
        dataset: &lance::Dataset,
        fragment: u64,
    ) -> anyhow::Result<Option<Arc<FragmentCollections>>> {
        let Some(file) = dataset.get_fragment(fragment as usize) else {
            return Ok(None);
        };
        let cell = upkeep
            .collections
            .lock()
            .expect("collections lock")
            .entry(fragment)
            .or_default()
            .clone();
        let collections = cell
            .get_or_try_init(|| async {
                let mut scan = dataset.scan();
                scan.with_fragments(vec![file.metadata().clone()])
                    .project(&["collection"])?
                    .with_row_address();
                FragmentCollections::new(&scan.try_into_batch().await?)
            })
            .await?;
        Ok(Some(collections.clone()))
    }

    /// Fragment `fragment`'s collections if they were read already.
    fn known_fragment_collections(
        upkeep: &Upkeep,
        fragment: u64,
    ) -> Option<Arc<FragmentCollections>> {
        let kept = upkeep.collections.lock().expect("collections lock");
        kept.get(&fragment)?.get().cloned()
    }

    /// Forget the collections of fragments a compaction has removed.
    fn forget_removed_fragments(upkeep: &Upkeep, dataset: &lance::Dataset) {
        let mut kept = upkeep.collections.lock().expect("collections lock");
        if kept.len() > dataset.fragments().len() {
            let live: HashSet<u64> = dataset.fragments().iter().map(|f| f.id).collect();
            kept.retain(|id, _| live.contains(id));
        }
    }

    /// Read the collections of the fragments not known yet (see
    /// [`Self::in_scope`]): when a table is first opened and after each
    /// compaction, so that no screened search pays for a scan of a whole
    /// fragment (tens of milliseconds at 100k rows; 4 bytes a row are kept).
    async fn warm_fragment_collections(opened: &Opened) -> anyhow::Result<()> {
        let dataset = lance_dataset(&opened.table).await?;
        if dataset.manifest().uses_stable_row_ids() {
            return Ok(());
        }
        Self::forget_removed_fragments(&opened.upkeep, &dataset);
        for fragment in dataset.fragments().iter() {
            Self::fragment_collections(&opened.upkeep, &dataset, fragment.id).await?;
        }
        Ok(())
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

    /// Whether the store answers.
    pub async fn check(&self) -> lancedb::Result<()> {
        self.db.table_names().execute().await.map(|_| ())
    }
}

/// The chunk columns of one result batch.
struct Rows<'a> {
    batch: &'a RecordBatch,
    ids: &'a StringArray,
    docs: &'a StringArray,
    /// `None` when the batch was read without it (see [`VectorStore::read_rows`]).
    cols: Option<&'a StringArray>,
    titles: &'a StringArray,
    texts: &'a StringArray,
    ordinals: &'a Int32Array,
    pages: &'a Int32Array,
    headings: &'a StringArray,
}

impl<'a> Rows<'a> {
    fn new(batch: &'a RecordBatch) -> anyhow::Result<Self> {
        Ok(Self {
            cols: Some(string_column(batch, "collection")?),
            ..Self::without_collection(batch)?
        })
    }

    /// A batch read without `collection`: hits come with it empty.
    fn without_collection(batch: &'a RecordBatch) -> anyhow::Result<Self> {
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
    fn hit(&self, row: usize, score: f32) -> ChunkHit {
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

    fn string(&self, name: &str) -> anyhow::Result<&'a StringArray> {
        string_column(self.batch, name)
    }

    fn page(&self, row: usize) -> Option<i32> {
        self.pages.is_valid(row).then(|| self.pages.value(row))
    }

    fn heading(&self, row: usize) -> Option<String> {
        self.headings
            .is_valid(row)
            .then(|| self.headings.value(row).to_string())
    }
}

/// The `_rowid` column of a result.
/// The Lance dataset under a table (a directory or an S3 prefix), at its
/// latest version.
async fn lance_dataset(table: &Table) -> anyhow::Result<Arc<lance::Dataset>> {
    let dataset = table
        .dataset()
        .ok_or_else(|| anyhow::anyhow!("table {} is not a Lance dataset", table.name()))?;
    Ok(dataset.get().await?)
}

fn row_ids(batch: &RecordBatch) -> anyhow::Result<&UInt64Array> {
    batch
        .column_by_name("_rowid")
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
        .ok_or_else(|| anyhow::anyhow!("search result lacks _rowid"))
}

/// The `vector` column of a result.
struct StoredVectors<'a> {
    vectors: &'a FixedSizeListArray,
    values: &'a Float32Array,
}

impl<'a> StoredVectors<'a> {
    fn new(batch: &'a RecordBatch) -> anyhow::Result<Self> {
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
    fn get(&self, row: usize) -> Vec<f32> {
        let width = self.vectors.value_length() as usize;
        let start = self.vectors.value_offset(row) as usize;
        self.values.values()[start..start + width].to_vec()
    }
}

/// Each result row's id and its `score_column` turned into a score.
fn found_rows(
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

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> anyhow::Result<&'a StringArray> {
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

/// A document's chunks whose generation compares by `op` with `generation`.
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

fn generation_filter(document_id: &str, op: &str, generation: &str) -> String {
    format!(
        "document_id = {} AND generation {op} {}",
        quote(document_id),
        quote(generation)
    )
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
            page: None,
            heading: None,
            text: format!("text of {id}"),
            vector,
        }
    }

    const T: &str = "chunks_test";

    #[tokio::test]
    async fn concurrent_adds_share_commits_and_keep_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap();
        store
            .add(T, vec![chunk("first:0", "first", "c", vec![1.0, 0.0])])
            .await
            .unwrap();
        let before = store
            .table(T)
            .await
            .unwrap()
            .unwrap()
            .version()
            .await
            .unwrap();
        let adds = (0..40).map(|n| {
            let store = store.clone();
            async move {
                let doc = format!("d{n}");
                let chunks = (0..3)
                    .map(|i| chunk(&format!("{doc}:{i}"), &doc, "c", vec![n as f32, i as f32]))
                    .collect();
                store.add(T, chunks).await
            }
        });
        for outcome in futures::future::join_all(adds).await {
            outcome.unwrap();
        }
        assert_eq!(store.count_rows(T).await.unwrap(), 1 + 40 * 3);
        for n in [0, 17, 39] {
            assert_eq!(store.count_document(T, &format!("d{n}")).await.unwrap(), 3);
        }
        let after = store
            .table(T)
            .await
            .unwrap()
            .unwrap()
            .version()
            .await
            .unwrap();
        assert!(
            after - before < 40,
            "40 adds at once made {} commits",
            after - before
        );
    }

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

    #[tokio::test]
    async fn large_tables_get_a_vector_index_that_finds_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap();
        let point = |n: usize| {
            let angle = n as f32 * 0.001;
            vec![angle.cos(), angle.sin(), (n % 7) as f32 * 0.01, 1.0]
        };
        let small: Vec<NewChunk> = (0..100)
            .map(|n| chunk(&format!("d{n}:0"), &format!("d{n}"), "c", point(n)))
            .collect();
        store.add(T, small).await.unwrap();
        assert!(
            !store.index_vectors_now(T).await.unwrap(),
            "too small to need one"
        );
        let rest: Vec<NewChunk> = (100..VECTOR_INDEX_MIN_ROWS)
            .map(|n| chunk(&format!("d{n}:0"), &format!("d{n}"), "c", point(n)))
            .collect();
        store.add(T, rest).await.unwrap();
        let exact = store
            .search(T, &point(4321), 5, Scope::default())
            .await
            .unwrap();
        assert!(
            store.index_vectors_now(T).await.unwrap(),
            "an index is built"
        );
        assert!(!store.index_vectors_now(T).await.unwrap(), "once");
        let indexed = store
            .search(T, &point(4321), 5, Scope::default())
            .await
            .unwrap();
        assert_eq!(indexed[0].document_id, "d4321");
        let ids = |hits: &[ChunkHit]| hits.iter().map(|h| h.chunk_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&indexed), ids(&exact));
        // A filter still applies through the index.
        let none = store
            .search(
                T,
                &point(4321),
                5,
                Scope {
                    collections: Some(&["other".to_string()]),
                    private_space: None,
                    everything: false,
                },
            )
            .await
            .unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn a_table_that_stops_growing_gets_its_upkeep_anyway() {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap()
            .with_quiet_period(Duration::from_millis(20));
        let point = |n: usize| vec![(n as f32 * 0.01).cos(), (n as f32 * 0.01).sin(), 1.0];
        // Two commits, far fewer than COMPACT_EVERY, with enough rows for an index.
        for range in [0..100, 100..VECTOR_INDEX_MIN_ROWS] {
            let chunks = range
                .map(|n| chunk(&format!("d{n}:0"), &format!("d{n}"), "c", point(n)))
                .collect();
            store.add(T, chunks).await.unwrap();
        }
        store.upkeep_settled(T).await;
        assert_eq!(store.fragments(T).await.unwrap(), 1, "compacted");
        assert_eq!(
            store.vector_index_coverage(T).await.unwrap(),
            Some(Coverage {
                indexed: VECTOR_INDEX_MIN_ROWS,
                unindexed: 0
            })
        );
        // Rows that come later are folded into the index at the next quiet period.
        let late = (0..10)
            .map(|n| chunk(&format!("late{n}:0"), &format!("late{n}"), "c", point(n)))
            .collect();
        store.add(T, late).await.unwrap();
        store.upkeep_settled(T).await;
        let coverage = store.vector_index_coverage(T).await.unwrap().unwrap();
        assert_eq!(coverage.unindexed, 0, "{coverage:?}");
        assert_eq!(coverage.indexed, VECTOR_INDEX_MIN_ROWS + 10);
        store.drop_table(T).await.unwrap();
    }

    #[tokio::test]
    async fn tables_fed_one_document_at_a_time_are_compacted() {
        let dir = tempfile::tempdir().unwrap();
        // Only the every-COMPACT_EVERY-commits trigger: the quiet timer
        // would start an upkeep of its own when a slow machine pauses.
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap()
            .with_quiet_period(Duration::from_secs(3600));
        let docs = COMPACT_EVERY + 5;
        for n in 0..docs {
            let doc = format!("d{n}");
            store
                .add(
                    T,
                    vec![chunk(&format!("{doc}:0"), &doc, "c", vec![1.0, n as f32])],
                )
                .await
                .unwrap();
        }
        // One document is replaced, another deleted: two more commits.
        store.delete_document(T, "d3").await.unwrap();
        store.compaction_settled(T).await;
        let fragments = store.fragments(T).await.unwrap();
        assert!(
            fragments < docs - COMPACT_EVERY + 3,
            "{fragments} fragments after {docs} adds: the first {COMPACT_EVERY} were merged"
        );
        let done = store.compact(T).await.unwrap();
        assert!(done.fragments_removed > 0, "{done:?}");
        assert_eq!(store.fragments(T).await.unwrap(), 1);
        let all = Scope::default();
        let found = store.search(T, &[1.0, 7.0], docs, all).await.unwrap();
        assert_eq!(found.len(), docs - 1);
        assert_eq!(found[0].document_id, "d7");
        assert!(found.iter().all(|c| c.document_id != "d3"));
        // Nothing to merge: nothing changes.
        let again = store.compact(T).await.unwrap();
        assert_eq!(again.fragments_removed, 0, "{again:?}");
        store.drop_table(T).await.unwrap();
        // (Once seen failing under heavy CPU load; the message says how.)
        match store.fragments(T).await {
            Ok(fragments) => assert_eq!(fragments, 0, "fragments left after the drop"),
            Err(err) => panic!("a dropped table could not be looked at: {err}"),
        }
    }

    #[tokio::test]
    async fn rows_found_are_read_back_until_a_compaction_rewrites_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap()
            .with_quiet_period(Duration::from_secs(3600));
        // Three commits, three fragments.
        for (id, doc, collection, vector) in [
            ("alpha", "d1", "c1", vec![1.0, 0.0]),
            ("bravo", "d2", "c2", vec![0.0, 1.0]),
            ("papa", "d3", "~key1", vec![1.0, 0.1]),
        ] {
            store
                .add(T, vec![chunk(id, doc, collection, vector)])
                .await
                .unwrap();
        }
        let all = Scope {
            private_space: Some("~key1"),
            ..Scope::default()
        };
        let found = store.search_rows(T, &[1.0, 0.0], 3, all).await.unwrap();
        assert_eq!(found.len(), 3);
        assert!((found[0].score - 1.0).abs() < 1e-5, "{found:?}");
        let rows: Vec<u64> = found.iter().map(|f| f.row).collect();
        let read = store
            .read_rows(T, &rows, true, all)
            .await
            .unwrap()
            .expect("rows just found are there");
        let ids: Vec<&str> = read
            .iter()
            .map(|r| r.hit.as_ref().unwrap().chunk_id.as_str())
            .collect();
        assert_eq!(ids, ["alpha", "papa", "bravo"], "in the order asked");
        assert_eq!(read[2].vector.as_deref(), Some(&[0.0, 1.0][..]));
        let collections = |read: &[ReadRow]| -> Vec<String> {
            read.iter()
                .map(|r| r.hit.as_ref().unwrap().collection.clone())
                .collect()
        };
        assert_eq!(collections(&read), ["c1", "~key1", "c2"]);
        // Out of scope: read, but without its hit.
        let shared_only = Scope::default();
        let read = store
            .read_rows(T, &rows, false, shared_only)
            .await
            .unwrap()
            .unwrap();
        assert!(read[1].hit.is_none() && read[0].hit.is_some() && read[0].vector.is_none());
        // Full text finds rows the same way.
        let by_text = store.text_search_rows(T, "bravo", 3, all).await.unwrap();
        let read = store
            .read_rows(T, &[by_text[0].row], false, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read[0].hit.as_ref().unwrap().chunk_id, "bravo");
        // Which rows found without the filter are in a scope, by their
        // fragments' collections: another key's and a left-out collection's are not.
        let theirs = Scope {
            collections: Some(&["c1".to_string()][..]),
            private_space: Some("~key2"),
            everything: true,
        };
        let admitted = store.in_scope(T, &found, theirs).await.unwrap();
        assert_eq!(admitted, Some(vec![true, false, false]));
        assert_eq!(
            store.in_scope(T, &found, all).await.unwrap(),
            Some(vec![true, true, true])
        );
        // Every fragment's collections are known now: a read takes each
        // row's from there instead of reading the column, to the same end.
        assert_eq!(store.fragments_screened(T).await, 3);
        let read = store
            .read_rows(T, &rows, false, all)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(collections(&read), ["c1", "~key1", "c2"]);
        // How much deeper a screened search must go: c2's and ~key1's rows.
        let share = |out, rows| Some(ScopeShare { out, rows });
        assert_eq!(store.scope_share(T, theirs).await.unwrap(), share(2, 3));
        assert_eq!(store.scope_share(T, all).await.unwrap(), share(0, 3));
        // A compaction rewrites the fragments: the old row ids name nothing
        // now (or, with stable row ids, the same chunks), never other chunks.
        assert_eq!(store.fragments_screened(T).await, 3);
        assert!(store.compact(T).await.unwrap().fragments_removed > 0);
        // The compaction read the new fragment's collections for the next
        // screened search, and forgot the removed ones'.
        let fragments = store.fragments(T).await.unwrap();
        assert!(fragments < 3, "{fragments} fragments");
        assert_eq!(store.fragments_screened(T).await, fragments);
        if let Some(read) = store.read_rows(T, &rows, false, all).await.unwrap() {
            let again: Vec<&str> = read
                .iter()
                .map(|r| r.hit.as_ref().unwrap().chunk_id.as_str())
                .collect();
            assert_eq!(again, ["alpha", "papa", "bravo"]);
            assert_eq!(collections(&read), ["c1", "~key1", "c2"]);
        } else {
            // Nor can it be told which of them are in scope: search again.
            assert_eq!(store.in_scope(T, &found, theirs).await.unwrap(), None);
        }
        // Rows found since are told apart in the compacted fragment.
        let found = store.search_rows(T, &[1.0, 0.0], 3, all).await.unwrap();
        assert_eq!(
            store.in_scope(T, &found, theirs).await.unwrap(),
            Some(vec![true, false, false])
        );
    }

    #[tokio::test]
    async fn add_search_filter_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = VectorStore::open(dir.path().to_str().unwrap())
            .await
            .unwrap();
        let all = Scope::default();
        assert!(store
            .search(T, &[1.0, 0.0], 3, all)
            .await
            .unwrap()
            .is_empty());
        store
            .add(
                T,
                vec![
                    chunk("a", "d1", "c1", vec![1.0, 0.0]),
                    chunk("b", "d2", "c2", vec![0.0, 1.0]),
                    chunk("p", "d4", "~key1", vec![1.0, 0.1]),
                ],
            )
            .await
            .unwrap();
        let hits = store.search(T, &[0.9, 0.1], 3, all).await.unwrap();
        assert_eq!(hits.len(), 2, "private chunks stay out of shared searches");
        assert_eq!(hits[0].chunk_id, "a");
        let c2 = ["c2".to_string()];
        let only_c2 = Scope {
            collections: Some(&c2),
            private_space: None,
            everything: false,
        };
        let only_c2 = store.search(T, &[0.9, 0.1], 2, only_c2).await.unwrap();
        assert_eq!(only_c2.len(), 1);
        assert_eq!(only_c2[0].chunk_id, "b");
        let mine = Scope {
            collections: None,
            private_space: Some("~key1"),
            everything: false,
        };
        let mine = store.search(T, &[1.0, 0.1], 3, mine).await.unwrap();
        assert_eq!(mine[0].chunk_id, "p");
        assert_eq!(mine.len(), 3);
        let theirs = Scope {
            collections: None,
            private_space: Some("~key2"),
            everything: false,
        };
        assert_eq!(
            store.search(T, &[1.0, 0.1], 3, theirs).await.unwrap().len(),
            2
        );
        let ids = |hits: &[ChunkHit]| hits.iter().map(|h| h.chunk_id.clone()).collect::<Vec<_>>();
        // Searched without the filter, a scope still never shows another
        // key's private chunk, nor a collection it leaves out.
        let unfiltered = Scope {
            collections: None,
            private_space: Some("~key2"),
            everything: true,
        };
        let hits = store.search(T, &[1.0, 0.1], 3, unfiltered).await.unwrap();
        assert_eq!(ids(&hits), ["a", "b"]);
        let only_c2 = Scope {
            collections: Some(&c2),
            private_space: None,
            everything: true,
        };
        let hits = store.search(T, &[1.0, 0.1], 3, only_c2).await.unwrap();
        assert_eq!(ids(&hits), ["b"]);
        let nothing = Scope {
            collections: Some(&[]),
            private_space: None,
            everything: false,
        };
        assert!(store
            .search(T, &[1.0, 0.1], 3, nothing)
            .await
            .unwrap()
            .is_empty());
        let mut newer = chunk("b2", "d2", "c2", vec![0.0, 1.0]);
        newer.generation = "g2".into();
        store.add(T, vec![newer]).await.unwrap();
        assert_eq!(store.count_document(T, "d2").await.unwrap(), 2);
        store.delete_other_generations(T, "d2", "g2").await.unwrap();
        assert_eq!(store.count_document(T, "d2").await.unwrap(), 1);
        store.delete_generation(T, "d2", "g2").await.unwrap();
        assert_eq!(store.count_document(T, "d2").await.unwrap(), 0);
        store
            .add(T, vec![chunk("b", "d2", "c2", vec![0.0, 1.0])])
            .await
            .unwrap();
        store.delete_document(T, "d1").await.unwrap();
        assert_eq!(store.count_document(T, "d1").await.unwrap(), 0);
        assert_eq!(store.count_document(T, "d2").await.unwrap(), 1);
        let ids = store.document_ids(T).await.unwrap();
        assert_eq!(ids, HashSet::from(["d2".to_string(), "d4".to_string()]));
        let back = store.chunks_of(T, "d2").await.unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].text.as_str(), back[0].page), ("text of b", None));
        let err = store
            .add(T, vec![chunk("c", "d3", "c1", vec![1.0, 0.0, 0.0])])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("width"), "{err}");
        store.drop_table(T).await.unwrap();
        assert!(store
            .search(T, &[1.0, 0.0], 3, all)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.dimension(T).await.unwrap(), None);
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
