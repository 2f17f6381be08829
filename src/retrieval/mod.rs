//! Finding the chunks that answer a question and turning them into prompt
//! context: vector search and full-text search side by side, fused by
//! reciprocal rank, optionally reordered by a rerank model, cut to top-k.

use serde::Serialize;

mod fusion;

use fusion::{fuse_rows, Fused};

use crate::auth::Caller;
use crate::error::AppResult;
use crate::ingest::collections::{self, private_space};
use crate::state::AppState;
use crate::store::indexes;
use crate::store::vectors::{cosine, ChunkHit, FoundRow, Scope, ScopeShare};
use crate::upstream::InputType;

/// A retrieved chunk as clients see it in `sources`.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// The number the prompt cites it by, from 1.
    pub index: usize,
    pub document_id: String,
    pub title: String,
    pub collection: String,
    pub chunk_id: String,
    /// The PDF page the passage starts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i32>,
    /// The headings the passage sits under, outermost first, joined by ` > `.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// Cosine similarity between the question and the chunk (1 is identical).
    pub score: f32,
    /// The rerank model's relevance score, when the model reranks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_score: Option<f32>,
    pub text: String,
    /// How it ranked in each search, when asked ([`Options::explain`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// Why a source ranked where it did: its place and score in each search,
/// and the fused score that ordered them.
#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    /// Place in the vector search's list, from 1 (`None`: not found by it).
    pub vector_rank: Option<usize>,
    /// Cosine similarity, when the vector search found it.
    pub vector_score: Option<f32>,
    /// Place in the full-text search's list, from 1.
    pub text_rank: Option<usize>,
    /// Full-text (BM25) score.
    pub text_score: Option<f32>,
    /// The fused score the two lists were merged by.
    pub fused_score: f32,
}

impl From<&Fused> for Explain {
    fn from(fused: &Fused) -> Self {
        Self {
            vector_rank: fused.vector_rank,
            vector_score: fused.similarity,
            text_rank: fused.text_rank,
            text_score: fused.text_score,
            fused_score: fused.rrf,
        }
    }
}

/// A fused candidate, read: the chunk, how it was found, its rerank score.
struct Candidate {
    hit: ChunkHit,
    fused: Fused,
    rerank_score: Option<f32>,
}

/// What to search and how much to keep.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub top_k: usize,
    /// Shared collections to search; `None` means all of them.
    pub collections: Option<&'a [String]>,
    /// Sources whose cosine similarity to the question is below this are
    /// left out, whichever search found them.
    pub score_threshold: Option<f64>,
    /// Reorder the candidates with the rerank upstream (when it is configured).
    pub rerank: bool,
    /// Fill each source's [`Explain`] (the admin's retrieval test).
    pub explain: bool,
    /// Rows each search takes before fusion; `None`: [`candidates`]' choice.
    pub candidates: Option<usize>,
}

/// Candidates taken from each search before fusion: enough that a chunk
/// ranked low by one search but high by the other still meets the cut.
fn candidates(top_k: usize) -> usize {
    (top_k * 4).clamp(20, 200)
}

/// What retrieval reads from SQL before it searches: the active index,
/// every shared collection's name, and the collections that hold documents.
/// Chat reads it beside its own lookups (model, conversation), not after them.
#[derive(Debug, Clone)]
pub struct Catalog {
    index: Option<indexes::VectorIndex>,
    collections: Vec<String>,
    /// Collections with at least one document (private spaces among them).
    stored: Vec<String>,
}

impl Catalog {
    /// Read it.
    pub async fn read(state: &AppState) -> AppResult<Self> {
        let stored =
            sqlx::query_scalar("SELECT DISTINCT collection FROM documents").fetch_all(&state.db);
        let (index, collections, stored) = tokio::join!(
            indexes::active(&state.db),
            collections::names(&state.db),
            stored
        );
        Ok(Self {
            index: index?,
            collections: collections?,
            stored: stored?,
        })
    }

    /// Whether a stored collection lies outside `collections` and the
    /// private space `private`.
    fn leaves_out(&self, collections: &[String], private: &str) -> bool {
        self.stored
            .iter()
            .any(|stored| stored != private && !collections.contains(stored))
    }
}

/// A narrowed search is screened while at most one row in this many is out
/// of scope (or no more than it searches deeper), else filtered.
const SCREEN_SHARE: usize = 10;

/// How searches keep to the caller's scope. LanceDB's filter costs a vector
/// search more than the search itself (BENCHMARKS.md), so it is used only
/// where many stored chunks are out of scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrowing {
    /// Every stored chunk is in scope: no filter.
    Nothing,
    /// Few rows are out of scope (other keys' private documents, as a rule,
    /// or a small collection a model leaves out): search without the filter,
    /// `deeper` rows instead of the candidates wanted (deeper by as many
    /// rows as are out of scope, half as deep again at most), and drop those
    /// by what [`VectorStore::in_scope`] knows of each row; a search left
    /// with too few candidates runs again with the filter.
    ///
    /// [`VectorStore::in_scope`]: crate::store::vectors::VectorStore::in_scope
    Screen { deeper: usize },
    /// Many rows are out of scope (or how many is not known): filter.
    Filter,
}

impl Narrowing {
    /// For searches of `wanted` candidates each, where `share` of the
    /// table's rows are out of scope (see [`VectorStore::scope_share`]).
    ///
    /// [`VectorStore::scope_share`]: crate::store::vectors::VectorStore::scope_share
    fn for_share(share: Option<ScopeShare>, wanted: usize) -> Self {
        match share {
            Some(ScopeShare { out, rows })
                if out <= wanted / 2 || out.saturating_mul(SCREEN_SHARE) <= rows =>
            {
                Narrowing::Screen {
                    deeper: wanted + out.min(wanted / 2),
                }
            }
            _ => Narrowing::Filter,
        }
    }
}

/// The top-k chunks for `question`; empty when the knowledge base is empty.
///
/// The caller's own private documents are searched along with the shared ones.
pub async fn retrieve(
    state: &AppState,
    caller: &Caller,
    catalog: &Catalog,
    question: &str,
    options: Options<'_>,
) -> AppResult<Vec<Source>> {
    if question.trim().is_empty() {
        return Ok(Vec::new());
    }
    // An empty knowledge base needs no embedding call: chat works before any upload.
    let Some(index) = &catalog.index else {
        return Ok(Vec::new());
    };
    if index.dimension.is_none() {
        return Ok(Vec::new());
    }
    // Every shared collection by name, when the model searches them all: a
    // filter of exact values is several times cheaper for LanceDB than one
    // that excludes the private spaces by prefix.
    let collections = options.collections.unwrap_or(&catalog.collections);
    let private = private_space(&caller.key_id);
    let mut scope = Scope {
        collections: Some(collections),
        private_space: Some(&private),
        everything: true,
    };
    let wanted = options
        .candidates
        .unwrap_or_else(|| candidates(options.top_k));
    let narrowing = if catalog.leaves_out(collections, &private) {
        let share = match state.vectors.scope_share(&index.table_name, scope).await {
            Ok(share) => share,
            Err(err) => {
                tracing::warn!(error = %err, "counting the rows out of scope failed");
                None
            }
        };
        Narrowing::for_share(share, wanted)
    } else {
        Narrowing::Nothing
    };
    scope.everything = narrowing != Narrowing::Filter;
    // Both searches find rows only; the few kept are read afterwards. A
    // compaction between the two steps leaves rows unreadable: search again
    // (with the embedding already made).
    let mut fused = Vec::new();
    let mut embedded = None;
    for attempt in 1..=2 {
        let searched = search(
            state,
            index,
            question,
            embedded.take(),
            wanted,
            narrowing,
            scope,
        );
        let Some(found) = searched.await? else {
            return Ok(Vec::new());
        };
        match read(state, &index.table_name, &found, &options, scope).await? {
            Some(hits) => {
                fused = hits;
                break;
            }
            None if attempt == 1 => tracing::debug!(
                "searched rows went away before they were read (a compaction); searching again"
            ),
            None => tracing::warn!(
                "searched rows went away twice before they were read; answering without sources"
            ),
        }
        embedded = Some(found.vector);
    }
    let mut hits = fused;
    if options.rerank && hits.len() > 1 {
        hits = rerank(state, question, hits, options.top_k).await;
    }
    hits.truncate(options.top_k);
    Ok(numbered(hits, options.explain))
}

/// What both searches found: the question's embedding and each one's rows.
struct Found {
    vector: Vec<f32>,
    by_vector: Vec<FoundRow>,
    by_text: Vec<FoundRow>,
}

/// Embed `question` (unless `embedded` already is its embedding) and search
/// `index` by vector and by full text, `wanted` rows each (kept to the
/// scope as `narrowing` says). `None` when the index's old embedding model is
/// gone (answer without sources until the reindex is done).
async fn search(
    state: &AppState,
    index: &indexes::VectorIndex,
    question: &str,
    embedded: Option<Vec<f32>>,
    wanted: usize,
    narrowing: Narrowing,
    scope: Scope<'_>,
) -> AppResult<Option<Found>> {
    let (table, model) = (index.table_name.as_str(), index.model.as_str());
    // Full text needs no embedding: it runs while the question is embedded,
    // and the vector search as soon as the embedding is back.
    let started = std::time::Instant::now();
    let by_vector = async {
        // The question is embedded by the model the index was built with, so
        // vectors compare even while a changed model waits for its reindex.
        let embedded = match embedded {
            Some(vector) => Ok(vec![vector]),
            None => {
                let settings = &state.settings;
                let query = format!("{}{question}", settings.embed_query_prefix);
                let input_type = settings.embed_input_type.then_some(InputType::Query);
                state
                    .upstreams
                    .embeddings
                    .embed_with(model, &[query], input_type)
                    .await
            }
        };
        let vector = match embedded {
            Ok(mut vectors) => vectors.pop().unwrap_or_default(),
            Err(err) if model != state.upstreams.embed_model() => {
                // The old model may be gone with the old provider: answer without
                // sources rather than not at all until the reindex is done.
                tracing::warn!(%model, error = %err, "the index's embedding model failed; answering without sources until `ragway reindex` finishes");
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let embedded_at = started.elapsed();
        let rows = within_scope(state, table, wanted, narrowing, scope, |k, scope| {
            state.vectors.search_rows(table, &vector, k, scope)
        })
        .await?;
        AppResult::Ok(Some((vector, rows, embedded_at, started.elapsed())))
    };
    let by_text = async {
        let rows = within_scope(state, table, wanted, narrowing, scope, |k, scope| {
            state.vectors.text_search_rows(table, question, k, scope)
        });
        (rows.await, started.elapsed())
    };
    let (by_vector, (by_text, text_done)) = tokio::join!(by_vector, by_text);
    let Some((vector, by_vector, embedded_at, vector_done)) = by_vector? else {
        return Ok(None);
    };
    // Where retrieval's time goes (each from the start of retrieval).
    tracing::debug!(
        embedded_ms = embedded_at.as_secs_f64() * 1e3,
        vector_search_done_ms = vector_done.as_secs_f64() * 1e3,
        text_search_done_ms = text_done.as_secs_f64() * 1e3,
        "retrieval timings"
    );
    // Full text only adds to the vectors: if it fails, answer without it.
    let by_text = by_text.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "full-text search failed; using vector search alone");
        Vec::new()
    });
    Ok(Some(Found {
        vector,
        by_vector,
        by_text,
    }))
}

/// The `wanted` best rows of one search (`search(k, scope)`) kept to `scope`
/// as `narrowing` says: screened (see [`Narrowing::Screen`]), or searched
/// with `scope` as it is.
async fn within_scope<'a, F, Fut>(
    state: &AppState,
    table: &str,
    wanted: usize,
    narrowing: Narrowing,
    scope: Scope<'a>,
    search: F,
) -> anyhow::Result<Vec<FoundRow>>
where
    F: Fn(usize, Scope<'a>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<FoundRow>>>,
{
    let Narrowing::Screen { deeper } = narrowing else {
        return search(wanted, scope).await;
    };
    let rows = search(deeper, scope).await?;
    match screened(state, table, rows, wanted, deeper, scope).await? {
        Some(rows) => Ok(rows),
        None => {
            let filtered = Scope {
                everything: false,
                ..scope
            };
            search(wanted, filtered).await
        }
    }
}

/// `rows`, found `asked` deep by a search without the scope's filter, less
/// those outside `scope`, `wanted` at most. `None` when too few are left to
/// stand for the filtered search's `wanted` (or which are out cannot be
/// told): search again with the filter.
async fn screened(
    state: &AppState,
    table: &str,
    rows: Vec<FoundRow>,
    wanted: usize,
    asked: usize,
    scope: Scope<'_>,
) -> anyhow::Result<Option<Vec<FoundRow>>> {
    let Some(admitted) = state.vectors.in_scope(table, &rows, scope).await? else {
        tracing::debug!("which searched rows are in scope is not known; searching with the filter");
        return Ok(None);
    };
    // A search that found fewer than asked found every match there is.
    let complete = rows.len() < asked;
    let mut kept: Vec<FoundRow> = rows
        .into_iter()
        .zip(admitted)
        .filter_map(|(row, admitted)| admitted.then_some(row))
        .collect();
    if kept.len() < wanted && !complete {
        tracing::debug!(
            kept = kept.len(),
            "too many rows out of scope; searching with the filter"
        );
        return Ok(None);
    }
    kept.truncate(wanted);
    Ok(Some(kept))
}

/// The fused candidates that may be kept, read and scored, best first:
/// all of them when a rerank model orders them, else the top `top_k` above
/// the score threshold. `None` when a row went away before it was read.
async fn read(
    state: &AppState,
    table: &str,
    found: &Found,
    options: &Options<'_>,
    scope: Scope<'_>,
) -> AppResult<Option<Vec<Candidate>>> {
    let fused = fuse_rows(&found.by_vector, &found.by_text);
    let mut kept = Vec::new();
    let mut next = 0;
    while next < fused.len() && (options.rerank || kept.len() < options.top_k) {
        // A page of candidates, widened to keep tied fusion scores together
        // (ties go to the closer vector, known only once read).
        let mut end = if options.rerank {
            fused.len()
        } else {
            (next + options.top_k.max(1)).min(fused.len())
        };
        while end < fused.len() && fused[end].rrf == fused[end - 1].rrf {
            end += 1;
        }
        let page = &fused[next..end];
        let rows: Vec<u64> = page.iter().map(|f| f.row).collect();
        let vectors = page.iter().any(|f| f.similarity.is_none());
        let Some(read) = state
            .vectors
            .read_rows(table, &rows, vectors, scope)
            .await?
        else {
            return Ok(None);
        };
        let mut hits: Vec<Candidate> = Vec::with_capacity(page.len());
        for (candidate, row) in page.iter().zip(read) {
            let Some(hit) = row.hit else { continue };
            let score = match (candidate.similarity, &row.vector) {
                (Some(similarity), _) => similarity,
                (None, Some(stored)) => cosine(&found.vector, stored),
                (None, None) => 0.0,
            };
            if options
                .score_threshold
                .is_some_and(|t| f64::from(score) < t)
            {
                continue;
            }
            hits.push(Candidate {
                hit: ChunkHit { score, ..hit },
                fused: *candidate,
                rerank_score: None,
            });
        }
        hits.sort_by(|a, b| {
            b.fused
                .rrf
                .total_cmp(&a.fused.rrf)
                .then(b.hit.score.total_cmp(&a.hit.score))
        });
        kept.extend(hits);
        next = end;
    }
    Ok(Some(kept))
}

/// The hits in the rerank model's order, best `top_k`; on any rerank
/// failure, the fused order (retrieval still works without the reranker).
async fn rerank(
    state: &AppState,
    question: &str,
    hits: Vec<Candidate>,
    top_k: usize,
) -> Vec<Candidate> {
    if !state.upstreams.rerank.is_configured() {
        tracing::warn!("the model asks for rerank, but RAGWAY_RERANK_BASE_URL is not set; keeping the fused order");
        return hits;
    }
    let texts: Vec<&str> = hits.iter().map(|c| c.hit.text.as_str()).collect();
    match state.upstreams.rerank.rerank(question, &texts, top_k).await {
        Ok(order) => {
            let mut slots: Vec<Option<Candidate>> = hits.into_iter().map(Some).collect();
            order
                .into_iter()
                .filter_map(|(i, score)| {
                    slots.get_mut(i)?.take().map(|c| Candidate {
                        rerank_score: Some(score),
                        ..c
                    })
                })
                .collect()
        }
        Err(err) => {
            tracing::warn!(error = %err, "rerank failed; keeping the fused order");
            hits
        }
    }
}

fn numbered(hits: Vec<Candidate>, explain: bool) -> Vec<Source> {
    hits.into_iter()
        .enumerate()
        .map(
            |(
                i,
                Candidate {
                    hit,
                    fused,
                    rerank_score,
                },
            )| Source {
                index: i + 1,
                document_id: hit.document_id,
                title: hit.title,
                collection: hit.collection,
                chunk_id: hit.chunk_id,
                page: hit.page,
                heading: hit.heading,
                score: hit.score,
                rerank_score,
                text: hit.text,
                explain: explain.then(|| Explain::from(&fused)),
            },
        )
        .collect()
}

/// The system-prompt block that gives the model its sources.
pub fn context_block(sources: &[Source]) -> String {
    let mut text = String::from(
        "Answer the user's question using the numbered sources below when they are relevant, \
         and cite them like [1]. If the sources do not contain the answer, say so and answer \
         from general knowledge only if you are sure. Reply in the language of the question.\n\nSources:\n",
    );
    for source in sources {
        let mut label = source.title.clone();
        if let Some(heading) = &source.heading {
            label.push_str(" > ");
            label.push_str(heading);
        }
        if let Some(page) = source.page {
            label.push_str(&format!(" (p. {page})"));
        }
        text.push_str(&format!(
            "\n[{}] {label}\n{}\n",
            source.index,
            source.text.trim()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_numbers_sources() {
        let sources = numbered(
            vec![Candidate {
                hit: ChunkHit {
                    chunk_id: "d:0".into(),
                    document_id: "d".into(),
                    collection: "default".into(),
                    ordinal: 0,
                    title: "Handbook".into(),
                    page: Some(3),
                    heading: Some("Leave".into()),
                    text: "Leave is 25 days.".into(),
                    score: 0.9,
                },
                fused: fusion::fuse_rows(&[FoundRow { row: 0, score: 0.9 }], &[])[0],
                rerank_score: None,
            }],
            true,
        );
        let explain = sources[0].explain.as_ref().unwrap();
        assert_eq!((explain.vector_rank, explain.text_rank), (Some(1), None));
        let block = context_block(&sources);
        assert!(block.contains("[1] Handbook > Leave (p. 3)\nLeave is 25 days."));
    }

    #[test]
    fn searches_are_narrowed_only_when_a_stored_collection_is_out_of_scope() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let catalog = Catalog {
            index: None,
            collections: names(&["default", "hr"]),
            stored: names(&["default", "hr", "~mine"]),
        };
        let all = names(&["default", "hr"]);
        assert!(!catalog.leaves_out(&all, "~mine"));
        // Another key's private documents, a collection the model leaves out.
        assert!(catalog.leaves_out(&all, "~theirs"));
        assert!(catalog.leaves_out(&names(&["hr"]), "~mine"));
        let empty = Catalog {
            stored: Vec::new(),
            ..catalog
        };
        assert!(!empty.leaves_out(&[], "~mine"));
    }

    #[test]
    fn few_rows_out_of_scope_are_screened_many_filtered() {
        let share = |out, rows| Some(ScopeShare { out, rows });
        let screen = |deeper| Narrowing::Screen { deeper };
        // Deeper by the rows out of scope, half as deep again at most.
        assert_eq!(Narrowing::for_share(share(0, 1000), 20), screen(20));
        assert_eq!(Narrowing::for_share(share(3, 1000), 20), screen(23));
        assert_eq!(Narrowing::for_share(share(100, 1000), 20), screen(30));
        // Up to a tenth of a table, or as many as the extra depth.
        assert_eq!(
            Narrowing::for_share(share(101, 1000), 20),
            Narrowing::Filter
        );
        assert_eq!(Narrowing::for_share(share(10, 12), 20), screen(30));
        assert_eq!(Narrowing::for_share(share(11, 12), 20), Narrowing::Filter);
        // Not known: filtered.
        assert_eq!(Narrowing::for_share(None, 20), Narrowing::Filter);
    }
}
