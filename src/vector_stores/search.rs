//! A vector store searched: its ready files that pass the attribute filter
//! are found in SQL, then ragway's retrieval (hybrid search, fusion,
//! optional rerank) runs kept to those documents inside LanceDB's filter,
//! so a narrow filter still fills its page.

use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::Row;

use super::{touch, visible, StoreRow};
use crate::auth::Caller;
use crate::error::AppResult;
use crate::ingest::IngestError;
use crate::retrieval::{self, Options, Retriever, Source, Within};
use crate::state::AppState;
use ragway_protocol::vector_stores::{Filter, Search, SearchRequest};

/// A page of search results, as OpenAI shows it.
#[derive(Debug, Serialize)]
pub struct SearchPage {
    pub object: &'static str,
    pub search_query: Vec<String>,
    pub data: Vec<SearchResult>,
    pub has_more: bool,
    pub next_page: Option<String>,
}

/// One chunk found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub file_id: String,
    pub filename: String,
    /// The rerank model's score when it reranked, else cosine similarity.
    pub score: f32,
    pub attributes: Value,
    pub content: Vec<Value>,
}

/// A file that may be found: its name and attributes.
#[derive(Debug, Clone)]
pub(crate) struct Searchable {
    pub filename: String,
    pub attributes: Map<String, Value>,
}

/// The ready files of `store` (not cancelled) that pass `filter`, by id.
pub(crate) async fn searchable(
    state: &AppState,
    store: &StoreRow,
    filter: Option<&Filter>,
) -> AppResult<std::collections::HashMap<String, Searchable>> {
    let rows = sqlx::query(
        "SELECT f.file_id, f.attributes, d.filename, d.title FROM vector_store_files f \
         JOIN documents d ON d.id = f.file_id \
         WHERE f.store_id = $1 AND f.status IS NULL AND d.status = 'ready'",
    )
    .bind(&store.id)
    .fetch_all(&state.db)
    .await
    .map_err(IngestError::from)?;
    let mut files = std::collections::HashMap::new();
    for row in rows {
        let text: String = row.try_get("attributes").map_err(IngestError::from)?;
        let attributes = match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        if filter.is_some_and(|f| !f.matches(&attributes)) {
            continue;
        }
        let filename: Option<String> = row.try_get("filename").map_err(IngestError::from)?;
        let title: String = row.try_get("title").map_err(IngestError::from)?;
        files.insert(
            row.try_get("file_id").map_err(IngestError::from)?,
            Searchable {
                filename: filename.unwrap_or(title),
                attributes,
            },
        );
    }
    Ok(files)
}

/// The store's chunks best matching `search`, from the files in `files`.
pub(crate) async fn find(
    state: &AppState,
    caller: &Caller,
    store: &StoreRow,
    files: &std::collections::HashMap<String, Searchable>,
    search: &Search,
) -> AppResult<Vec<Source>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let documents: Vec<String> = files.keys().cloned().collect();
    let space = store.private_space();
    let catalog = state.known_catalog.read(&state.db).await?;
    let reranks = search.rerank && state.upstreams.rerank.is_configured();
    let options = Options {
        top_k: search.max_results,
        collections: None,
        score_threshold: search.score_threshold.filter(|_| !reranks),
        rerank: reranks,
        rerank_threshold: search.score_threshold.filter(|_| reranks),
        explain: false,
        candidates: None,
        within: Some(Within {
            documents: &documents,
            private_space: space.as_deref(),
        }),
    };
    let parts = Retriever {
        vectors: &state.vectors,
        upstreams: &state.upstreams,
        settings: &state.settings,
    };
    retrieval::retrieve(parts, caller, &catalog, &search.queries, options).await
}

/// `POST /v1/vector_stores/{id}/search`.
pub async fn search(
    state: &AppState,
    caller: &Caller,
    store_id: &str,
    request: SearchRequest,
) -> AppResult<SearchPage> {
    let store = visible(&state.db, caller, store_id).await?;
    if store.expired() {
        return Err(IngestError::Invalid(format!(
            "Vector store `{store_id}` has expired; create a new one."
        ))
        .into());
    }
    let search = request.check().map_err(IngestError::from)?;
    let files = searchable(state, &store, search.filter.as_ref()).await?;
    let sources = find(state, caller, &store, &files, &search).await?;
    touch(&state.db, store_id).await?;
    let data = sources
        .into_iter()
        .filter_map(|source| {
            let file = files.get(&source.document_id)?;
            Some(SearchResult {
                score: source.rerank_score.unwrap_or(source.score),
                filename: file.filename.clone(),
                attributes: Value::Object(file.attributes.clone()),
                content: vec![json!({"type": "text", "text": source.text})],
                file_id: source.document_id,
            })
        })
        .collect();
    Ok(SearchPage {
        object: "vector_store.search_results.page",
        search_query: search.queries,
        data,
        has_more: false,
        next_page: None,
    })
}
