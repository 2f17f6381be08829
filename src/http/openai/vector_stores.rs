//! OpenAI's Vector Stores API: `/v1/vector_stores…` (stores, their files,
//! file batches, search) over `crate::vector_stores`. Answers that clients
//! poll (a file or batch being ingested) say how soon to ask again.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::state::AppState;
use crate::usage::LogHandle;
use crate::vector_stores::batches::{self, FileBatch};
use crate::vector_stores::files::{self, Adding, StoreFile};
use crate::vector_stores::search::{self, SearchPage};
use crate::vector_stores::{self as stores, ListQuery, OpenAiPage, VectorStore};
use ragway_protocol::vector_stores::{
    AddFile, CreateBatch, CreateStore, SearchRequest, UpdateFile, UpdateStore,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/vector_stores", post(create).get(list))
        .route(
            "/v1/vector_stores/{id}",
            get(show).post(update).delete(remove),
        )
        .route("/v1/vector_stores/{id}/search", post(find))
        .route(
            "/v1/vector_stores/{id}/files",
            post(add_file).get(list_files),
        )
        .route(
            "/v1/vector_stores/{id}/files/{file_id}",
            get(show_file).post(update_file).delete(remove_file),
        )
        .route(
            "/v1/vector_stores/{id}/files/{file_id}/content",
            get(file_content),
        )
        .route("/v1/vector_stores/{id}/file_batches", post(create_batch))
        .route(
            "/v1/vector_stores/{id}/file_batches/{batch_id}",
            get(show_batch),
        )
        .route(
            "/v1/vector_stores/{id}/file_batches/{batch_id}/cancel",
            post(cancel_batch),
        )
        .route(
            "/v1/vector_stores/{id}/file_batches/{batch_id}/files",
            get(batch_files),
        )
}

type Listing = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

/// How soon OpenAI's SDKs poll again (`*_and_poll`), in milliseconds.
const POLL_AFTER_MS: &str = "200";

/// `body` with the header that paces clients polling it.
fn polled<T: serde::Serialize>(body: T) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        HeaderName::from_static("openai-poll-after-ms"),
        HeaderValue::from_static(POLL_AFTER_MS),
    );
    response
}

#[utoipa::path(post, path = "/v1/vector_stores", tag = "Files", summary = "Create a vector store (a user key's is private, an admin key's shared)", request_body = CreateStore, responses((status = 200, description = "See docs/api.md")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateStore>,
) -> AppResult<Json<VectorStore>> {
    Ok(Json(stores::create(&state, &caller, request).await?))
}

#[utoipa::path(get, path = "/v1/vector_stores", tag = "Files", summary = "The vector stores the caller may search, paged", responses((status = 200, description = "See docs/api.md")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Listing,
) -> AppResult<Json<OpenAiPage<VectorStore>>> {
    let Query(query) = query?;
    Ok(Json(stores::list(&state.db, &caller, &query).await?))
}

#[utoipa::path(get, path = "/v1/vector_stores/{id}", tag = "Files", summary = "A vector store with its file counts", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    Ok(polled(stores::get(&state.db, &caller, &id).await?))
}

#[utoipa::path(post, path = "/v1/vector_stores/{id}", tag = "Files", summary = "Change a vector store's name, metadata or expiry", params(("id" = String, Path)), request_body = UpdateStore, responses((status = 200, description = "See docs/api.md")))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateStore>,
) -> AppResult<Json<VectorStore>> {
    Ok(Json(
        stores::update(&state.db, &caller, &id, request).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/vector_stores/{id}", tag = "Files", summary = "Delete a vector store (its files stay)", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    stores::delete(&state, &caller, &id).await?;
    Ok(Json(
        json!({"id": id, "object": "vector_store.deleted", "deleted": true}),
    ))
}

#[utoipa::path(post, path = "/v1/vector_stores/{id}/search", tag = "Files", summary = "Search a vector store's files (hybrid retrieval, attribute filters, rerank)", params(("id" = String, Path)), request_body = SearchRequest, responses((status = 200, description = "See docs/api.md")))]
async fn find(
    State(state): State<AppState>,
    caller: Caller,
    log: LogHandle,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SearchRequest>,
) -> AppResult<Json<SearchPage>> {
    Ok(Json(
        search::search(&state, &caller, &log, &id, request).await?,
    ))
}

#[utoipa::path(post, path = "/v1/vector_stores/{id}/files", tag = "Files", summary = "Add a file to a vector store, with attributes", params(("id" = String, Path)), request_body = AddFile, responses((status = 200, description = "See docs/api.md")))]
async fn add_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<AddFile>,
) -> AppResult<Response> {
    let file = Adding::checked(
        request.file_id,
        request.attributes.as_ref(),
        request.chunking_strategy.as_ref(),
    )?;
    Ok(polled(files::add(&state, &caller, &id, file).await?))
}

#[utoipa::path(get, path = "/v1/vector_stores/{id}/files", tag = "Files", summary = "A vector store's files (`filter` by status), paged", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn list_files(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Listing,
) -> AppResult<Json<OpenAiPage<StoreFile>>> {
    let Query(query) = query?;
    Ok(Json(
        files::list(&state.db, &caller, &id, None, &query).await?,
    ))
}

#[utoipa::path(get, path = "/v1/vector_stores/{id}/files/{file_id}", tag = "Files", summary = "A file in a vector store, with its status", params(("id" = String, Path), ("file_id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(polled(files::get(&state.db, &caller, &id, &file_id).await?))
}

#[utoipa::path(post, path = "/v1/vector_stores/{id}/files/{file_id}", tag = "Files", summary = "New attributes for a file in a vector store", params(("id" = String, Path), ("file_id" = String, Path)), request_body = UpdateFile, responses((status = 200, description = "See docs/api.md")))]
async fn update_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
    ApiJson(request): ApiJson<UpdateFile>,
) -> AppResult<Json<StoreFile>> {
    Ok(Json(
        files::update(&state.db, &caller, &id, &file_id, request).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/vector_stores/{id}/files/{file_id}", tag = "Files", summary = "Take a file out of a vector store (the file stays)", params(("id" = String, Path), ("file_id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    files::remove(&state, &caller, &id, &file_id).await?;
    Ok(Json(
        json!({"id": file_id, "object": "vector_store.file.deleted", "deleted": true}),
    ))
}

#[utoipa::path(get, path = "/v1/vector_stores/{id}/files/{file_id}/content", tag = "Files", summary = "A file's text as it was chunked", params(("id" = String, Path), ("file_id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn file_content(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    Ok(Json(files::content(&state, &caller, &id, &file_id).await?))
}

#[utoipa::path(post, path = "/v1/vector_stores/{id}/file_batches", tag = "Files", summary = "Add files to a vector store together", params(("id" = String, Path)), request_body = CreateBatch, responses((status = 200, description = "See docs/api.md")))]
async fn create_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CreateBatch>,
) -> AppResult<Response> {
    Ok(polled(
        batches::create(&state, &caller, &id, request).await?,
    ))
}

#[utoipa::path(get, path = "/v1/vector_stores/{id}/file_batches/{batch_id}", tag = "Files", summary = "A file batch with its counts", params(("id" = String, Path), ("batch_id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, batch_id)): Path<(String, String)>,
) -> AppResult<Response> {
    Ok(polled(
        batches::get(&state.db, &caller, &id, &batch_id).await?,
    ))
}

#[utoipa::path(post, path = "/v1/vector_stores/{id}/file_batches/{batch_id}/cancel", tag = "Files", summary = "Cancel a file batch: its files not yet ingested leave the store's searches", params(("id" = String, Path), ("batch_id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn cancel_batch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, batch_id)): Path<(String, String)>,
) -> AppResult<Json<FileBatch>> {
    Ok(Json(
        batches::cancel(&state.db, &caller, &id, &batch_id).await?,
    ))
}

#[utoipa::path(get, path = "/v1/vector_stores/{id}/file_batches/{batch_id}/files", tag = "Files", summary = "A file batch's files, paged", params(("id" = String, Path), ("batch_id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn batch_files(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, batch_id)): Path<(String, String)>,
    query: Listing,
) -> AppResult<Json<OpenAiPage<StoreFile>>> {
    let Query(query) = query?;
    Ok(Json(
        batches::list_files(&state.db, &caller, &id, &batch_id, &query).await?,
    ))
}
