//! The searches behind retrieval: the question embedded, vector and full-text
//! search side by side, each kept to the caller's scope.

use crate::error::AppResult;
use crate::store::indexes;
use crate::store::vectors::{FoundRow, Scope, ScopeShare};
use crate::upstream::InputType;

use super::Retriever;

/// A narrowed search is screened while at most one row in this many is out
/// of scope (or no more than it searches deeper), else filtered.
const SCREEN_SHARE: usize = 10;

/// How searches keep to the caller's scope. LanceDB's filter costs a vector
/// search more than the search itself (BENCHMARKS.md), so it is used only
/// where many stored chunks are out of scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Narrowing {
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
    pub(super) fn for_share(share: Option<ScopeShare>, wanted: usize) -> Self {
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

/// What the searches found: each query's embedding, and each search's
/// rows (a vector list per query, in the queries' order; one full-text list).
pub(super) struct Found {
    pub vectors: Vec<Vec<f32>>,
    pub by_vector: Vec<Vec<FoundRow>>,
    pub by_text: Vec<Vec<FoundRow>>,
}

/// Embed `queries` (unless `embedded` already holds their embeddings, in
/// one call) and search `index` by vector with each and by full text with
/// the first, `wanted` rows each (kept to the scope as `narrowing` says). `None` when
/// the index's old embedding model is gone (answer without sources until
/// the reindex is done).
pub(super) async fn search(
    parts: Retriever<'_>,
    index: &indexes::VectorIndex,
    queries: &[String],
    embedded: Option<Vec<Vec<f32>>>,
    wanted: usize,
    narrowing: Narrowing,
    scope: Scope<'_>,
) -> AppResult<Option<Found>> {
    let (table, model) = (index.table_name.as_str(), index.model.as_str());
    // Full text needs no embedding: it runs while the queries are embedded,
    // and the vector searches as soon as the embeddings are back.
    let started = std::time::Instant::now();
    let by_vector = async {
        // Queries are embedded by the model the index was built with, so
        // vectors compare even while a changed model waits for its reindex.
        let embedded = match embedded {
            Some(vectors) => Ok(vectors),
            None => {
                let settings = &parts.settings;
                let inputs: Vec<String> = queries
                    .iter()
                    .map(|query| format!("{}{query}", settings.embed_query_prefix))
                    .collect();
                // A built-in model applies its own query instruction (bge's, e5's).
                let local = crate::upstream::local::Source::is_local(model);
                let input_type = (settings.embed_input_type || local).then_some(InputType::Query);
                parts
                    .upstreams
                    .embeddings
                    .embed_with(model, &inputs, input_type)
                    .await
            }
        };
        let vectors = match embedded {
            Ok(vectors) => vectors,
            Err(err) if model != parts.upstreams.embed_model() => {
                // The old model may be gone with the old provider: answer without
                // sources rather than not at all until the reindex is done.
                tracing::warn!(%model, error = %err, "the index's embedding model failed; answering without sources until `ragway reindex` finishes");
                return Ok(None);
            }
            Err(err) => return Err(err),
        };
        let embedded_at = started.elapsed();
        let searches = vectors.iter().map(|vector| {
            within_scope(parts, table, wanted, narrowing, scope, move |k, scope| {
                parts.vectors.search_rows(table, vector, k, scope)
            })
        });
        let rows = futures::future::try_join_all(searches).await?;
        AppResult::Ok(Some((vectors, rows, embedded_at, started.elapsed())))
    };
    // Full text searches the question as asked only: a wording with the
    // conversation before it shares its words with what that conversation
    // was about, and ranked those documents over a new subject's
    // (BENCHMARKS.md, "Follow-ups").
    let by_text = async {
        let question = queries.first().map_or("", String::as_str);
        let rows = within_scope(parts, table, wanted, narrowing, scope, |k, scope| {
            parts.vectors.text_search_rows(table, question, k, scope)
        });
        (rows.await, started.elapsed())
    };
    let (by_vector, (by_text, text_done)) = tokio::join!(by_vector, by_text);
    let Some((vectors, by_vector, embedded_at, vector_done)) = by_vector? else {
        return Ok(None);
    };
    // Where retrieval's time goes (each from the start of retrieval).
    tracing::debug!(
        embedded_ms = embedded_at.as_secs_f64() * 1e3,
        vector_search_done_ms = vector_done.as_secs_f64() * 1e3,
        text_search_done_ms = text_done.as_secs_f64() * 1e3,
        queries = queries.len(),
        "retrieval timings"
    );
    // Full text only adds to the vectors: if it fails, answer without it.
    let by_text = vec![by_text.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "full-text search failed; using vector search alone");
        Vec::new()
    })];
    Ok(Some(Found {
        vectors,
        by_vector,
        by_text,
    }))
}

/// The `wanted` best rows of one search (`search(k, scope)`) kept to `scope`
/// as `narrowing` says: screened (see [`Narrowing::Screen`]), or searched
/// with `scope` as it is.
async fn within_scope<'a, F, Fut>(
    parts: Retriever<'_>,
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
    match screened(parts, table, rows, wanted, deeper, scope).await? {
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
    parts: Retriever<'_>,
    table: &str,
    rows: Vec<FoundRow>,
    wanted: usize,
    asked: usize,
    scope: Scope<'_>,
) -> anyhow::Result<Option<Vec<FoundRow>>> {
    let Some(admitted) = parts.vectors.in_scope(table, &rows, scope).await? else {
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

#[cfg(test)]
mod tests {
    use super::*;

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
