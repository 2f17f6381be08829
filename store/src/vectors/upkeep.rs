//! Upkeep of a table in the background: its search indexes, compaction
//! every [`COMPACT_EVERY`] commits or once it goes quiet ([`QUIET_AFTER`]),
//! and its vector index built and trained again as it grows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lancedb::index::scalar::FtsIndexBuilder;
use lancedb::index::vector::IvfHnswSqIndexBuilder;
use lancedb::index::Index;
use lancedb::table::{CompactionOptions, OptimizeAction, OptimizeOptions};
use lancedb::DistanceType;
use tokio::sync::RwLock;

use super::scope::FragmentCollections;
use super::tables::Opened;
use super::write::PendingAppend;
use super::{Compaction, Coverage, VectorStore};

/// Compaction of one table. Every add or delete is a commit that leaves a
/// small fragment (or a deletion file) and a new version behind; a table fed
/// one small document at a time slows down with each, as every commit and
/// every scan walks them all. So every [`COMPACT_EVERY`] commits the table's
/// fragments are merged and versions older than [`KEEP_VERSIONS`] removed,
/// in the background; and once a table has had no commit for its quiet
/// period, whatever came since the last upkeep gets one too, so the rows of
/// a load's last few commits do not wait for a next load to be indexed.
#[derive(Default)]
pub(super) struct Upkeep {
    /// Commits since the last upkeep began.
    commits: AtomicUsize,
    /// Commits ever (the quiet timer compares it to see whether any came).
    sequence: AtomicU64,
    /// The quiet timer, while one is armed.
    quiet_timer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Deletes hold it shared, compaction alone: a delete and a compaction of
    /// the same fragments would conflict at commit.
    pub(super) lock: RwLock<()>,
    /// The compaction under way or last run, to wait for it.
    pub(super) running: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Set once the table's full-text index is known to exist.
    full_text: tokio::sync::OnceCell<()>,
    /// Rows the vector index was trained on (0: none, or not known yet).
    trained_rows: AtomicUsize,
    /// The table's version when the last upkeep ended (0: none yet); a
    /// newer one means commits (another replica's, say) since.
    settled_version: AtomicU64,
    /// Appends waiting to go into the table's next commit, with whom to tell
    /// how it went (see [`VectorStore::add`]).
    pub(super) appends: Mutex<Vec<PendingAppend>>,
    /// Held by whoever commits the waiting appends: one append commit at a
    /// time per table and process.
    pub(super) appending: tokio::sync::Mutex<()>,
    /// Each fragment's collections, read once (see [`VectorStore::in_scope`]).
    pub(super) collections:
        Mutex<HashMap<u64, Arc<tokio::sync::OnceCell<Arc<FragmentCollections>>>>>,
}

impl Upkeep {
    /// The armed quiet timer, taken out (a commit from now on arms a new one).
    pub(super) fn take_quiet_timer(&self) -> Option<tokio::task::JoinHandle<()>> {
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

impl VectorStore {
    /// Build the table's search indexes it lacks: full text on `text` (ICU
    /// word segmentation works offline and splits Chinese into words as well
    /// as English), a bitmap on `collection`, which every search filters
    /// on, and a B-tree on `document_id`, which a vector store's searches
    /// filter on (a list of documents) and a document's delete finds its
    /// rows by. Rows added later are searched too (unindexed ones by a
    /// scan) until the upkeep folds them into the indexes.
    pub(super) async fn ensure_search_indexes(opened: &Opened) -> lancedb::Result<()> {
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
                let document = has("document_id");
                if text && collection && document {
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
                if !document {
                    opened
                        .table
                        .create_index(&["document_id"], Index::BTree(Default::default()))
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
    pub(super) fn committed(opened: &Opened) {
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

    /// Fragments of table `name` (0 if it does not exist).
    #[cfg(test)]
    pub async fn fragments(&self, name: &str) -> lancedb::Result<usize> {
        match self.table(name).await? {
            Some(table) => Ok(table.stats().await?.fragment_stats.num_fragments),
            None => Ok(0),
        }
    }
}
