//! A vector store searched: its ready files that pass the attribute filter
//! are found in SQL, then ragway's retrieval (hybrid search, fusion,
//! optional rerank) runs kept to those documents inside LanceDB's filter,
//! so a narrow filter still fills its page.

use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::Row;

use std::collections::HashMap;

use super::{touch, visible, StoreRow};
use crate::auth::Caller;
use crate::error::AppResult;
use crate::ingest::IngestError;
use crate::retrieval::{self, Options, Source, Within};
use crate::state::AppState;
use crate::usage::LogHandle;
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
pub struct Searchable {
    /// The file (the document found may be a variant of it).
    pub file_id: String,
    pub filename: String,
    pub attributes: Map<String, Value>,
}

/// The ready files of `store` (not cancelled) that pass `filter`, by the
/// id of the document holding their chunks.
async fn searchable(
    state: &AppState,
    store: &StoreRow,
    filter: Option<&Filter>,
) -> AppResult<HashMap<String, Searchable>> {
    let rows = sqlx::query(
        "SELECT f.file_id, f.document_id, f.attributes, d.filename, d.title FROM vector_store_files f \
         JOIN documents d ON d.id = f.document_id \
         WHERE f.store_id = $1 AND f.status IS NULL AND d.status = 'ready'",
    )
    .bind(&store.id)
    .fetch_all(&state.db)
    .await
    .map_err(IngestError::from)?;
    let mut files = HashMap::new();
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
            row.try_get("document_id").map_err(IngestError::from)?,
            Searchable {
                file_id: row.try_get("file_id").map_err(IngestError::from)?,
                filename: filename.unwrap_or(title),
                attributes,
            },
        );
    }
    Ok(files)
}

/// What a search may find: the files of one or more stores that pass a
/// filter, and the private space they may sit in.
#[derive(Debug, Default)]
pub struct Searching {
    pub files: HashMap<String, Searchable>,
    stores: Vec<StoreRow>,
}

/// Open stores `ids` (each one `caller` may see and not expired) for a
/// search of their files that pass `filter`.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    ids: &[String],
    filter: Option<&Filter>,
) -> AppResult<Searching> {
    let mut searching = Searching::default();
    for id in ids {
        let store = visible(&state.db, caller, id).await?;
        if store.expired() {
            return Err(IngestError::Invalid(format!(
                "Vector store `{id}` has expired; create a new one."
            ))
            .into());
        }
        for (file, found) in searchable(state, &store, filter).await? {
            searching.files.entry(file).or_insert(found);
        }
        searching.stores.push(store);
    }
    Ok(searching)
}

impl Searching {
    /// The chunks best matching `search` among the files, as sources (each
    /// naming its file, even when a variant of it was searched) and as
    /// OpenAI's search results.
    pub async fn find(
        &self,
        state: &AppState,
        caller: &Caller,
        search: &Search,
    ) -> AppResult<(Vec<Source>, Vec<SearchResult>)> {
        if self.files.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let documents: Vec<String> = self.files.keys().cloned().collect();
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
            }),
        };
        let mut sources = retrieval::retrieve(
            state.retriever(),
            caller,
            &catalog,
            &search.queries,
            options,
        )
        .await?;
        for store in &self.stores {
            touch(&state.db, store).await?;
        }
        let mut results = Vec::with_capacity(sources.len());
        for source in &mut sources {
            let Some(file) = self.files.get(&source.document_id) else {
                continue;
            };
            source.document_id.clone_from(&file.file_id);
            results.push(SearchResult {
                score: source.rerank_score.unwrap_or(source.score),
                filename: file.filename.clone(),
                attributes: Value::Object(file.attributes.clone()),
                content: vec![json!({"type": "text", "text": source.text})],
                file_id: file.file_id.clone(),
            });
        }
        Ok((sources, results))
    }
}

/// `POST /v1/vector_stores/{id}/search`. With `rewrite_query`, each query
/// is first rewritten for search by the chat upstream's model (the page's
/// `search_query` says what was searched; a failed rewrite searches the
/// query as given).
pub async fn search(
    state: &AppState,
    caller: &Caller,
    log: &LogHandle,
    store_id: &str,
    request: SearchRequest,
) -> AppResult<SearchPage> {
    let mut search = request.check().map_err(IngestError::from)?;
    let ids = [store_id.to_string()];
    let searching = open(state, caller, &ids, search.filter.as_ref()).await?;
    if search.rewrite_query {
        if let Ok(ready) = state.upstreams.chat.ready() {
            let model = ready.model().to_string();
            let chat = &state.upstreams.chat;
            let rewrites = search
                .queries
                .iter()
                .map(|query| crate::chat::condense::rewrite(chat, &model, query, log));
            let rewritten = futures::future::join_all(rewrites).await;
            for (query, rewrite) in search.queries.iter_mut().zip(rewritten) {
                if let Some(rewrite) = rewrite {
                    *query = rewrite;
                }
            }
        }
    }
    let (_, data) = searching.find(state, caller, &search).await?;
    Ok(SearchPage {
        object: "vector_store.search_results.page",
        search_query: search.queries,
        data,
        has_more: false,
        next_page: None,
    })
}
