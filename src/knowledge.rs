//! What a key may read, for assistants (the MCP server, `http::mcp`): a
//! search across it (one result per document, best passage first), a
//! whole document by id, and the collections. A key reads the shared
//! collections and its own private documents, as its chats do; another
//! key's private document is "not found".

use serde::Serialize;

use crate::auth::{Caller, Role};
use crate::domain::collections::private_space;
use crate::error::{AppError, AppResult};
use crate::ingest::collections;
use crate::ingest::documents::{self, Document};
use crate::retrieval::{self, Options};
use crate::state::AppState;

/// The most results one search answers.
pub const MAX_RESULTS: usize = 20;
/// Characters of a result's snippet.
const SNIPPET_CHARS: usize = 300;
/// Bytes of a document's text one fetch answers.
const MAX_FETCH_BYTES: usize = 2 << 20;

/// One document found.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub id: String,
    pub title: String,
    /// The document's original file.
    pub url: String,
    /// The best passage, cut short.
    pub snippet: String,
    pub score: f32,
}

/// A whole document.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub id: String,
    pub title: String,
    /// Its text as indexed: the chunks in order, their overlaps once.
    pub text: String,
    pub url: String,
    pub metadata: serde_json::Value,
}

/// Where a document's original file is served.
fn url_of(origin: &str, id: &str) -> String {
    format!("{origin}/v1/documents/{id}/content")
}

/// The documents best matching `query` that `caller` may read, up to `limit`.
pub async fn search(
    state: &AppState,
    caller: &Caller,
    origin: &str,
    query: &str,
    limit: usize,
) -> AppResult<Vec<Found>> {
    let query = query.trim();
    if query.is_empty() || query.chars().count() > 4096 {
        return Err(AppError::BadRequest(
            "`query` must be 1 to 4096 characters.".into(),
        ));
    }
    let limit = limit.clamp(1, MAX_RESULTS);
    let catalog = state.known_catalog.read(&state.db).await?;
    let options = Options {
        // Chunks, several a document: enough to fill `limit` documents.
        top_k: limit * 3,
        collections: None,
        score_threshold: None,
        rerank: state.upstreams.rerank.is_configured(),
        rerank_threshold: None,
        explain: false,
        candidates: None,
        within: None,
    };
    let queries = [query.to_string()];
    let sources =
        retrieval::retrieve(state.retriever(), caller, &catalog, &queries, options).await?;
    let mut found: Vec<Found> = Vec::new();
    for source in sources {
        if found.len() == limit {
            break;
        }
        if found.iter().any(|f| f.id == source.document_id) {
            continue;
        }
        let snippet: String = source.text.chars().take(SNIPPET_CHARS).collect();
        found.push(Found {
            url: url_of(origin, &source.document_id),
            id: source.document_id,
            title: source.title,
            snippet,
            score: source.rerank_score.unwrap_or(source.score),
        });
    }
    Ok(found)
}

/// Document `id` if `caller` may read it: a shared one, its own private
/// one, or any for an admin.
pub async fn readable(state: &AppState, caller: &Caller, id: &str) -> AppResult<Document> {
    let document = documents::get(&state.db, id).await?;
    let own = document.collection == private_space(&caller.key_id);
    if document.visibility == "shared" || own || caller.role == Role::Admin {
        Ok(document)
    } else {
        Err(AppError::not_found("document", id))
    }
}

/// Document `id`'s whole text, if `caller` may read it.
pub async fn fetch(
    state: &AppState,
    caller: &Caller,
    origin: &str,
    id: &str,
) -> AppResult<Fetched> {
    let document = readable(state, caller, id).await?;
    let mut text = String::new();
    if let Some(index) = crate::store::indexes::active(&state.db).await? {
        let chunks = state
            .vectors
            .chunks_of(&index.table_name, id)
            .await
            .map_err(AppError::Internal)?;
        let mut last = None;
        for chunk in chunks {
            // One generation's chunks (two live side by side while a re-ingest swaps them).
            if last.is_some_and(|ordinal| chunk.ordinal <= ordinal) {
                continue;
            }
            last = Some(chunk.ordinal);
            join_overlapping(&mut text, &chunk.text);
            if text.len() > MAX_FETCH_BYTES {
                let mut end = MAX_FETCH_BYTES;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                break;
            }
        }
    }
    Ok(Fetched {
        url: url_of(origin, id),
        metadata: serde_json::json!({
            "filename": document.filename,
            "collection": document.collection,
            "visibility": document.visibility,
            "content_type": document.content_type,
            "status": document.status,
            "created_at": document.created_at,
        }),
        id: document.id,
        title: document.title,
        text,
    })
}

/// How far back from `text`'s end a chunk's overlap is looked for.
const OVERLAP_WINDOW: usize = 16 * 1024;
/// The shortest overlap taken for one (shorter repeats are a coincidence).
const MIN_OVERLAP: usize = 16;

/// Append `next` to `text`, leaving out what it repeats of `text`'s end (a
/// chunk's overlap with the one before), or after a paragraph break.
fn join_overlapping(text: &mut String, next: &str) {
    if text.is_empty() {
        text.push_str(next);
        return;
    }
    let mut from = text.len().saturating_sub(OVERLAP_WINDOW);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    // The earliest place in the window from which the rest of `text` is
    // where `next` begins: the longest overlap.
    let mut head = MIN_OVERLAP.min(next.len());
    while !next.is_char_boundary(head) {
        head -= 1;
    }
    let overlap = next.get(..head).filter(|h| !h.is_empty()).and_then(|head| {
        text[from..]
            .match_indices(head)
            .map(|(at, _)| from + at)
            .find(|&at| next.starts_with(&text[at..]))
            .map(|at| text.len() - at)
    });
    match overlap {
        Some(n) => text.push_str(&next[n..]),
        None => {
            text.push_str("\n\n");
            text.push_str(next);
        }
    }
}

/// A collection as an assistant sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub description: String,
    pub documents: i64,
    /// `shared`, or `private` (the key's own documents).
    pub visibility: &'static str,
}

/// The shared collections, and the caller's own private documents as one more.
pub async fn collections(state: &AppState, caller: &Caller) -> AppResult<Vec<Listed>> {
    let mut listed: Vec<Listed> = collections::list(&state.db)
        .await?
        .into_iter()
        .map(|c| Listed {
            name: c.name,
            description: c.description,
            documents: c.documents,
            visibility: "shared",
        })
        .collect();
    let own: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE collection = $1")
        .bind(private_space(&caller.key_id))
        .fetch_one(&state.db)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    listed.push(Listed {
        name: "private".into(),
        description: "Your key's own documents".into(),
        documents: own,
        visibility: "private",
    });
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_chunks_join_once() {
        let mut text = String::from("The harbour master keeps the tide tables in the office.");
        join_overlapping(
            &mut text,
            "keeps the tide tables in the office. Ferries leave at six.",
        );
        assert_eq!(
            text,
            "The harbour master keeps the tide tables in the office. Ferries leave at six."
        );
        join_overlapping(&mut text, "Unrelated.");
        assert!(text.ends_with("six.\n\nUnrelated."));
    }
}
