//! Finding the chunks that answer a question and turning them into prompt
//! context: vector search and full-text search side by side, fused by
//! reciprocal rank, optionally reordered by a rerank model, cut to top-k.

use serde::Serialize;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::ingest::collections::{self, private_space};
use crate::state::AppState;
use crate::store::indexes;
use crate::store::vectors::{ChunkHit, Scope};

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
}

/// Candidates taken from each search before fusion: enough that a chunk
/// ranked low by one search but high by the other still meets the cut.
fn candidates(top_k: usize) -> usize {
    (top_k * 4).clamp(20, 200)
}

/// The constant of reciprocal rank fusion (the usual 60: ranks far down
/// either list still count, but little).
const RRF_K: f32 = 60.0;

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

    /// Whether every stored document is within `collections` or `private`:
    /// then searches need no filter (see [`Scope::everything`]).
    fn all_within(&self, collections: &[String], private: &str) -> bool {
        self.stored
            .iter()
            .all(|stored| stored == private || collections.contains(stored))
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
    let scope = Scope {
        collections: Some(collections),
        private_space: Some(&private),
        everything: catalog.all_within(collections, &private),
    };
    let wanted = candidates(options.top_k);
    // Full text needs no embedding: it runs while the question is embedded,
    // and the vector search as soon as the embedding is back.
    let started = std::time::Instant::now();
    let by_vector = async {
        // The question is embedded by the model the index was built with, so
        // vectors compare even while a changed model waits for its reindex.
        let embedded = state
            .upstreams
            .embeddings
            .embed_with(&index.model, &[question.to_string()])
            .await;
        let vector = match embedded {
            Ok(mut vectors) => vectors.pop().unwrap_or_default(),
            Err(err) if index.model != state.upstreams.embed_model() => {
                // The old model may be gone with the old provider: answer without
                // sources rather than not at all until the reindex is done.
                tracing::warn!(model = %index.model, error = %err, "the index's embedding model failed; answering without sources until `ragway reindex` finishes");
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let embedded_at = started.elapsed();
        let hits = state
            .vectors
            .search(&index.table_name, &vector, wanted, scope)
            .await?;
        AppResult::Ok(Some((vector, hits, embedded_at, started.elapsed())))
    };
    let by_text = async {
        let hits = state
            .vectors
            .text_search(&index.table_name, question, wanted, scope)
            .await;
        (hits, started.elapsed())
    };
    let (by_vector, (by_text, text_done)) = tokio::join!(by_vector, by_text);
    let Some((vector, by_vector, embedded_at, vector_done)) = by_vector? else {
        return Ok(Vec::new());
    };
    // Where retrieval's time goes (each from the start of retrieval).
    tracing::debug!(
        embedded_ms = embedded_at.as_secs_f64() * 1e3,
        vector_search_done_ms = vector_done.as_secs_f64() * 1e3,
        text_search_done_ms = text_done.as_secs_f64() * 1e3,
        "retrieval timings"
    );
    // Full text only adds to the vectors: if it fails, answer without it.
    let by_text = match by_text {
        Ok(hits) => hits.scored(&vector),
        Err(err) => {
            tracing::warn!(error = %err, "full-text search failed; using vector search alone");
            Vec::new()
        }
    };
    let mut fused = fuse(by_vector, by_text);
    if let Some(threshold) = options.score_threshold {
        fused.retain(|hit| f64::from(hit.score) >= threshold);
    }
    let mut hits: Vec<(ChunkHit, Option<f32>)> = fused.into_iter().map(|hit| (hit, None)).collect();
    if options.rerank && hits.len() > 1 {
        hits = rerank(state, question, hits, options.top_k).await;
    }
    hits.truncate(options.top_k);
    Ok(numbered(hits))
}

/// Both rankings fused by reciprocal rank, best first.
fn fuse(by_vector: Vec<ChunkHit>, by_text: Vec<ChunkHit>) -> Vec<ChunkHit> {
    let mut fused: Vec<(ChunkHit, f32)> = Vec::with_capacity(by_vector.len() + by_text.len());
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (rank, hit) in by_vector.into_iter().enumerate() {
        at.insert(hit.chunk_id.clone(), fused.len());
        fused.push((hit, 1.0 / (RRF_K + rank as f32 + 1.0)));
    }
    for (rank, hit) in by_text.into_iter().enumerate() {
        let score = 1.0 / (RRF_K + rank as f32 + 1.0);
        match at.get(&hit.chunk_id) {
            Some(&i) => fused[i].1 += score,
            None => {
                at.insert(hit.chunk_id.clone(), fused.len());
                fused.push((hit, score));
            }
        }
    }
    // Ties (a chunk first in one list only, against one first in the other)
    // go to the closer vector.
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.score.total_cmp(&a.0.score)));
    fused.into_iter().map(|(hit, _)| hit).collect()
}

/// The hits in the rerank model's order, best `top_k`; on any rerank
/// failure, the fused order (retrieval still works without the reranker).
async fn rerank(
    state: &AppState,
    question: &str,
    hits: Vec<(ChunkHit, Option<f32>)>,
    top_k: usize,
) -> Vec<(ChunkHit, Option<f32>)> {
    if !state.upstreams.rerank.is_configured() {
        tracing::warn!("the model asks for rerank, but RAGWAY_RERANK_BASE_URL is not set; keeping the fused order");
        return hits;
    }
    let texts: Vec<&str> = hits.iter().map(|(hit, _)| hit.text.as_str()).collect();
    match state.upstreams.rerank.rerank(question, &texts, top_k).await {
        Ok(order) => {
            let mut slots: Vec<Option<(ChunkHit, Option<f32>)>> =
                hits.into_iter().map(Some).collect();
            order
                .into_iter()
                .filter_map(|(i, score)| slots[i].take().map(|(hit, _)| (hit, Some(score))))
                .collect()
        }
        Err(err) => {
            tracing::warn!(error = %err, "rerank failed; keeping the fused order");
            hits
        }
    }
}

fn numbered(hits: Vec<(ChunkHit, Option<f32>)>) -> Vec<Source> {
    hits.into_iter()
        .enumerate()
        .map(|(i, (hit, rerank_score))| Source {
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
        })
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
        let sources = numbered(vec![(
            ChunkHit {
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
            None,
        )]);
        let block = context_block(&sources);
        assert!(block.contains("[1] Handbook > Leave (p. 3)\nLeave is 25 days."));
    }

    #[test]
    fn searches_go_unfiltered_only_when_every_document_is_in_scope() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let catalog = Catalog {
            index: None,
            collections: names(&["default", "hr"]),
            stored: names(&["default", "hr", "~mine"]),
        };
        assert!(catalog.all_within(&names(&["default", "hr"]), "~mine"));
        // Another key's private documents, or a collection the model leaves out.
        assert!(!catalog.all_within(&names(&["default", "hr"]), "~theirs"));
        assert!(!catalog.all_within(&names(&["hr"]), "~mine"));
        let empty = Catalog {
            stored: Vec::new(),
            ..catalog
        };
        assert!(empty.all_within(&[], "~mine"));
    }
}

#[cfg(test)]
mod fusion_tests {
    use super::*;

    fn hit(id: &str, score: f32) -> ChunkHit {
        ChunkHit {
            chunk_id: id.into(),
            document_id: id.into(),
            collection: "default".into(),
            ordinal: 0,
            title: id.into(),
            page: None,
            heading: None,
            text: id.into(),
            score,
        }
    }

    #[test]
    fn chunks_found_by_both_searches_rise_to_the_top() {
        let fused = fuse(
            vec![hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)],
            vec![hit("c", 0.7), hit("d", 0.1)],
        );
        let order: Vec<&str> = fused.iter().map(|h| h.chunk_id.as_str()).collect();
        assert_eq!(order, ["c", "a", "b", "d"]);
    }
}
