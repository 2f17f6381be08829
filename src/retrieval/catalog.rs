//! What retrieval reads from SQL before it searches (the active index and
//! the collections), and the copy of it a process keeps for at most
//! [`FRESH_FOR`], so a chat request does not read it each time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::error::AppResult;
use crate::ingest::collections;
use crate::known::FRESH_FOR;
use crate::store::indexes;

/// What retrieval reads from SQL before it searches: the active index,
/// every shared collection's name, and the collections that hold documents.
/// Chat reads it beside its own lookups (model, conversation), not after them.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(super) index: Option<indexes::VectorIndex>,
    pub(super) collections: Vec<String>,
    /// Collections with at least one document (private spaces among them).
    pub(super) stored: Vec<String>,
}

impl Catalog {
    /// Read it.
    pub async fn read(db: &sqlx::AnyPool) -> AppResult<Self> {
        let stored = sqlx::query_scalar("SELECT DISTINCT collection FROM documents").fetch_all(db);
        let (index, collections, stored) =
            tokio::join!(indexes::active(db), collections::names(db), stored);
        Ok(Self {
            index: index?,
            collections: collections?,
            stored: stored?,
        })
    }

    /// The active index's vector table, if there is one.
    pub fn table(&self) -> Option<&str> {
        self.index.as_ref().map(|index| index.table_name.as_str())
    }

    /// Whether there is anything to search: an index with vectors in it.
    pub fn searchable(&self) -> bool {
        self.index
            .as_ref()
            .is_some_and(|index| index.dimension.is_some())
    }

    /// Whether a stored collection lies outside `collections` and the
    /// private space `private`.
    pub(super) fn leaves_out(&self, collections: &[String], private: &str) -> bool {
        self.stored
            .iter()
            .any(|stored| stored != private && !collections.contains(stored))
    }
}

/// The [`Catalog`] as read lately: kept at most [`FRESH_FOR`] from when its
/// read began. What changes it in this process (a document made ready, so
/// an index gets its first vectors or a collection its first document; a
/// reindex switching the active index; a collection or document deleted)
/// forgets it at once, and a read that began before such a change is not
/// kept. Another replica's changes show here within [`FRESH_FOR`]. A stale
/// catalog never shows a caller another key's chunks: it only decides how
/// a search is narrowed, and every hit is screened by its scope anyway.
#[derive(Debug, Default)]
pub struct KnownCatalog {
    kept: Mutex<Option<(Instant, Arc<Catalog>)>>,
    /// Counts the changes forgotten, so a read overtaken by one is not kept.
    changes: AtomicU64,
}

impl KnownCatalog {
    /// The catalog kept, if fresh; else read and kept.
    pub async fn read(&self, db: &sqlx::AnyPool) -> AppResult<Arc<Catalog>> {
        let began = Instant::now();
        let seen = self.changes.load(Ordering::Acquire);
        if let Some((at, catalog)) = &*self.kept.lock().unwrap_or_else(PoisonError::into_inner) {
            if at.elapsed() < FRESH_FOR {
                return Ok(catalog.clone());
            }
        }
        let catalog = Arc::new(Catalog::read(db).await?);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if self.changes.load(Ordering::Acquire) == seen {
            *kept = Some((began, catalog.clone()));
        }
        Ok(catalog)
    }

    /// Forget what is kept: the next read goes to SQL.
    pub fn forget(&self) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        self.changes.fetch_add(1, Ordering::AcqRel);
        *kept = None;
    }
}
