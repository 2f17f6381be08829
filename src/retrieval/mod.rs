//! Finding the chunks that answer a question and turning them into prompt
//! context: vector search and full-text search side by side, fused by
//! reciprocal rank, optionally reordered by a rerank model, cut to top-k.

use serde::Serialize;

mod catalog;
mod fusion;
mod passage;
mod search;

pub use catalog::{Catalog, KnownCatalog};
use fusion::{convex, fuse_lists, Fused};
use search::{search, Found, Narrowing};

use crate::auth::Caller;
use crate::config::Fusion;
use crate::config::Settings;
use crate::domain::collections::private_space;
use crate::error::AppResult;
use crate::store::vectors::VectorStore;
use crate::store::vectors::{cosine, ChunkHit, Scope};
use crate::upstream::Upstreams;

/// The parts of the server retrieval uses: the vector store, the upstreams
/// (embeddings, rerank) and the settings (query prefix, fusion, source window).
#[derive(Debug, Clone, Copy)]
pub struct Retriever<'a> {
    pub vectors: &'a VectorStore,
    pub upstreams: &'a Upstreams,
    pub settings: &'a Settings,
}

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
    /// The passage around the chunk that the model is given: the chunk with
    /// its neighbours (`RAGWAY_SOURCE_WINDOW`); absent when it is the chunk alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How it ranked in each search, when asked ([`Options::explain`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

impl Source {
    /// Where `text` first cites this source as the prompt numbers it
    /// (`[n]`): the marker's byte range.
    pub fn cited_in(&self, text: &str) -> Option<std::ops::Range<usize>> {
        let marker = format!("[{}]", self.index);
        text.find(&marker).map(|at| at..at + marker.len())
    }
}

#[cfg(test)]
impl Source {
    /// A source for tests: the first chunk of document `doc{index}`,
    /// titled `title`, saying "fact".
    pub(crate) fn sample(index: usize, title: &str) -> Self {
        Self {
            index,
            document_id: format!("doc{index}"),
            title: title.into(),
            chunk_id: format!("doc{index}:0"),
            page: None,
            heading: None,
            collection: "default".into(),
            score: 1.0,
            rerank_score: None,
            text: "fact".into(),
            context: None,
            explain: None,
        }
    }
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
            fused_score: fused.score,
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
    /// Sources the rerank model scores below this are left out (when it
    /// reranked them: a failed rerank keeps the fused order, unfloored).
    pub rerank_threshold: Option<f64>,
    /// Fill each source's [`Explain`] (the admin's retrieval test).
    pub explain: bool,
    /// Rows each search takes before fusion; `None`: [`candidates`]' choice.
    pub candidates: Option<usize>,
    /// Only these documents (a vector store's files), whatever their collections.
    pub within: Option<Within<'a>>,
}

/// A search kept to some documents: a vector store's files that pass its
/// filter, searched inside LanceDB's filter (never dropped afterwards, so a
/// narrow filter still fills its results). The documents alone decide:
/// whoever listed them checked the caller may read each.
#[derive(Debug, Clone, Copy)]
pub struct Within<'a> {
    pub documents: &'a [String],
}

/// The vector search's share of the convex combination (the full-text
/// search has the rest): chosen on git's manual (tune split) and confirmed
/// on the Chinese manual pages (BENCHMARKS.md, "Retrieval quality").
const CONVEX_VECTOR_WEIGHT: f32 = 0.5;

/// Candidates taken from each search before fusion: enough that a chunk
/// ranked low by one search but high by the other still meets the cut.
fn candidates(top_k: usize) -> usize {
    (top_k * 4).clamp(20, 200)
}

/// The top-k chunks for `queries`: the question as asked first, searched
/// by meaning and by words, then any other wording of it (with what the
/// conversation said before; see `chat::search_queries`), searched by
/// meaning; all the lists fused. Empty when the knowledge base is empty.
///
/// The caller's own private documents are searched along with the shared ones.
pub async fn retrieve(
    parts: Retriever<'_>,
    caller: &Caller,
    catalog: &Catalog,
    queries: &[String],
    options: Options<'_>,
) -> AppResult<Vec<Source>> {
    let queries: Vec<String> = queries
        .iter()
        .filter(|query| !query.trim().is_empty())
        .cloned()
        .collect();
    let Some(last) = queries.last() else {
        return Ok(Vec::new());
    };
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
        documents: None,
        everything: true,
    };
    if let Some(within) = options.within {
        scope.documents = Some(within.documents);
    }
    let wanted = options
        .candidates
        .unwrap_or_else(|| candidates(options.top_k));
    let narrowing = if options.within.is_some() {
        Narrowing::Filter
    } else if catalog.leaves_out(collections, &private) {
        let share = match parts.vectors.scope_share(&index.table_name, scope).await {
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
            parts,
            index,
            &queries,
            embedded.take(),
            wanted,
            narrowing,
            scope,
        );
        let Some(found) = searched.await? else {
            return Ok(Vec::new());
        };
        let fusion = parts.settings.fusion;
        match read(parts, &index.table_name, &found, &options, fusion, scope).await? {
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
        embedded = Some(found.vectors);
    }
    let mut hits = fused;
    // One candidate is reranked too when there is a floor to hold it to.
    if options.rerank
        && (hits.len() > 1 || (options.rerank_threshold.is_some() && !hits.is_empty()))
    {
        // The last query says the most (the question with its conversation).
        hits = rerank(parts, last, hits, options.top_k).await;
        if let Some(floor) = options.rerank_threshold {
            hits.retain(|c| c.rerank_score.is_none_or(|score| f64::from(score) >= floor));
        }
    }
    hits.truncate(options.top_k);
    let rows: Vec<u64> = hits.iter().map(|c| c.fused.row).collect();
    let mut sources = numbered(hits, options.explain);
    let window = parts.settings.source_window;
    passage::widen(
        parts.vectors,
        window,
        &index.table_name,
        &mut sources,
        &rows,
    )
    .await;
    Ok(sources)
}

/// The fused candidates that may be kept, read and scored, best first:
/// all of them when a rerank model orders them, else the top `top_k` above
/// the score threshold. `None` when a row went away before it was read.
///
/// Candidates are read a page at a time, in fused order, until `top_k` are
/// kept; reading a chunk's columns costs a small read per column and row,
/// so only the pages that can be kept are read. Reciprocal rank orders
/// candidates before any is read (ties go to the closer vector, which a
/// row only full text found has once read: pages keep ties together). The
/// convex combination needs every candidate's cosine first: the rows only
/// full text found have theirs from their stored vectors, read alone.
async fn read(
    parts: Retriever<'_>,
    table: &str,
    found: &Found,
    options: &Options<'_>,
    fusion: Fusion,
    scope: Scope<'_>,
) -> AppResult<Option<Vec<Candidate>>> {
    let mut fused: Vec<(Fused, Option<f32>)> = fuse_lists(&found.by_vector, &found.by_text)
        .into_iter()
        .map(|f| (f, f.similarity))
        .collect();
    if fusion == Fusion::Convex {
        if !cosines(parts, table, found, &mut fused).await? {
            return Ok(None);
        }
        let scores: Vec<(f32, Option<f32>)> = fused
            .iter()
            .map(|(f, cos)| (cos.unwrap_or(0.0), f.text_score))
            .collect();
        for ((candidate, _), score) in fused.iter_mut().zip(convex(&scores, CONVEX_VECTOR_WEIGHT)) {
            candidate.score = score;
        }
        // The threshold after the scores: the convex combination's ranges
        // are over every candidate the searches found.
        fused.retain(|(_, cos)| {
            options
                .score_threshold
                .is_none_or(|t| f64::from(cos.unwrap_or(0.0)) >= t)
        });
        fused.sort_by(|(a, a_cos), (b, b_cos)| {
            b.score
                .total_cmp(&a.score)
                .then(b_cos.unwrap_or(0.0).total_cmp(&a_cos.unwrap_or(0.0)))
        });
    }
    let whole = options.rerank;
    let mut kept = Vec::new();
    let mut next = 0;
    while next < fused.len() && (whole || kept.len() < options.top_k) {
        // A page of candidates, widened to keep tied fusion scores together.
        let mut end = if whole {
            fused.len()
        } else {
            (next + options.top_k.max(1)).min(fused.len())
        };
        while end < fused.len() && fused[end].0.score == fused[end - 1].0.score {
            end += 1;
        }
        let page = &fused[next..end];
        let rows: Vec<u64> = page.iter().map(|(f, _)| f.row).collect();
        let vectors = page.iter().any(|(_, cos)| cos.is_none());
        let Some(read) = parts
            .vectors
            .read_rows(table, &rows, vectors, scope)
            .await?
        else {
            return Ok(None);
        };
        let mut hits: Vec<Candidate> = Vec::with_capacity(page.len());
        for ((candidate, cos), row) in page.iter().zip(read) {
            let Some(hit) = row.hit else { continue };
            let score = match (cos, &row.vector) {
                (Some(cos), _) => *cos,
                (None, Some(stored)) => best_cosine(&found.vectors, stored),
                (None, None) => 0.0,
            };
            hits.push(Candidate {
                hit: ChunkHit { score, ..hit },
                fused: *candidate,
                rerank_score: None,
            });
        }
        hits.retain(|c| {
            options
                .score_threshold
                .is_none_or(|t| f64::from(c.hit.score) >= t)
        });
        hits.sort_by(|a, b| {
            b.fused
                .score
                .total_cmp(&a.fused.score)
                .then(b.hit.score.total_cmp(&a.hit.score))
        });
        kept.extend(hits);
        next = end;
    }
    Ok(Some(kept))
}

/// Fill in the cosine of every candidate that only full text found, from
/// its stored vector (its best over the queries' embeddings). `false` when
/// a row went away before it was read.
async fn cosines(
    parts: Retriever<'_>,
    table: &str,
    found: &Found,
    fused: &mut [(Fused, Option<f32>)],
) -> AppResult<bool> {
    let missing: Vec<usize> = (0..fused.len()).filter(|&i| fused[i].1.is_none()).collect();
    let rows: Vec<u64> = missing.iter().map(|&i| fused[i].0.row).collect();
    let Some(stored) = parts.vectors.read_vectors(table, &rows).await? else {
        return Ok(false);
    };
    for (i, stored) in missing.into_iter().zip(stored) {
        fused[i].1 = Some(best_cosine(&found.vectors, &stored));
    }
    Ok(true)
}

/// The highest cosine of `stored` to any of the queries' embeddings.
fn best_cosine(queries: &[Vec<f32>], stored: &[f32]) -> f32 {
    queries
        .iter()
        .map(|vector| cosine(vector, stored))
        .fold(0.0, f32::max)
}

/// The hits in the rerank model's order, best `top_k`; on any rerank
/// failure, the fused order (retrieval still works without the reranker).
async fn rerank(
    parts: Retriever<'_>,
    question: &str,
    hits: Vec<Candidate>,
    top_k: usize,
) -> Vec<Candidate> {
    if !parts.upstreams.rerank.is_configured() {
        tracing::warn!("the model asks for rerank, but RAGWAY_RERANK_BASE_URL is not set; keeping the fused order");
        return hits;
    }
    let texts: Vec<&str> = hits.iter().map(|c| c.hit.text.as_str()).collect();
    match parts.upstreams.rerank.rerank(question, &texts, top_k).await {
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
                context: None,
                explain: explain.then(|| Explain::from(&fused)),
            },
        )
        .collect()
}

/// The system-prompt block when the knowledge base was searched and held
/// nothing for the question (every candidate below the model's floor).
pub const NOTHING_FOUND: &str = "The knowledge base was searched for the user's question and \
    holds nothing on it. Say so plainly; answer from general knowledge only if you are sure, and \
    then say that the answer does not come from the knowledge base. Reply in the language of the \
    question.";

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
            source.context.as_deref().unwrap_or(&source.text).trim()
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
                fused: fusion::fuse_rows(
                    &[crate::store::vectors::FoundRow { row: 0, score: 0.9 }],
                    &[],
                )[0],
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
        let names = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
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
}
