//! Chunk vectors in LanceDB: tables of chunks, each embedded by one model,
//! whose vector width is fixed by that model's first answer. Which table is
//! searched is recorded in SQL (`store::indexes`).
//!
//! This file holds the public types; the store's methods are spread over
//! `tables` (opening, the table cache, the schema), `write` (appends in group
//! commits, deletes, counts), `upkeep` (search indexes, compaction, the
//! vector index), `search`, `scope` (filters, each fragment's collections),
//! `rows` (result batches decoded) and `neighbours`.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use lancedb::Connection;
use tokio::sync::RwLock;

mod neighbours;
mod rows;
mod scope;
mod search;
mod tables;
#[cfg(test)]
mod tests;
mod upkeep;
mod write;

pub use neighbours::{Found as Placed, Neighbour};
pub use rows::cosine;
pub use tables::REFRESH_EVERY;
pub use upkeep::{COMPACT_EVERY, QUIET_AFTER, VECTOR_INDEX_MIN_ROWS};

use tables::Opened;

/// The prefix of private spaces' collection names (the domain's rule).
pub use ragway_domain::collections::PRIVATE_PREFIX;

/// Which chunks a search may see.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// Shared collections to search; `None` means every shared collection.
    pub collections: Option<&'a [String]>,
    /// A private space searched as well (the caller's own documents).
    pub private_space: Option<&'a str>,
    /// Only these documents' chunks (a vector store's files), whatever
    /// their collections (the list's maker checked the caller may read
    /// each); always searched with the filter.
    pub documents: Option<&'a [String]>,
    /// Every stored chunk is believed to be in scope (no other key's private
    /// documents, no collection the model leaves out): search without the
    /// filter, which costs LanceDB more than the search itself, and drop any
    /// hit outside the scope afterwards, so a belief gone stale costs recall
    /// for a moment, never privacy.
    pub everything: bool,
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

/// A table's rows outside a scope (see [`VectorStore::scope_share`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeShare {
    /// Rows outside the scope.
    pub out: usize,
    /// Rows in all.
    pub rows: usize,
}

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
