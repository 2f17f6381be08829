//! OpenAI's Files API: `/v1/files`. A file is a document (README, "Use
//! ragway as OpenAI's vector store"): uploading one ingests it as
//! `/v1/documents` does (a user key's into its private space, an admin
//! key's shared), and deleting one deletes the document.

use axum::extract::{Multipart, Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use crate::auth::{Caller, Role};
use crate::error::AppResult;
use crate::ingest::files::{self, FileObject, FileQuery};
use crate::ingest::{self, Upload};
use crate::state::AppState;
use crate::vector_stores::OpenAiPage;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/files", get(list).post(create))
        .route("/v1/files/{id}", get(show).delete(remove))
        .route("/v1/files/{id}/content", get(content))
}

/// The form of `POST /v1/files`: `file` and `purpose`, and ragway's own
/// `title`, `collection` and `visibility` (as on `/v1/documents`).
async fn read_form(form: Multipart, caller: &Caller) -> AppResult<Upload> {
    let mut upload = super::super::documents::read_multipart(form, true).await?;
    upload.purpose = Some(files::check_purpose(upload.purpose.as_deref())?);
    // A user key's files are its own; an admin key's are shared unless it says otherwise.
    if upload.visibility.is_none() && caller.role != Role::Admin {
        upload.visibility = Some("private".into());
    }
    Ok(upload)
}

#[utoipa::path(post, path = "/v1/files", tag = "Files", summary = "Upload a file (a document: ingested to be searched)", responses((status = 200, description = "See docs/api.md")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    form: Multipart,
) -> AppResult<Json<FileObject>> {
    let upload = read_form(form, &caller).await?;
    let document = ingest::submit(&state, &caller, upload).await?;
    Ok(Json(document.into()))
}

#[utoipa::path(get, path = "/v1/files", tag = "Files", summary = "The caller's files, newest first (`purpose`, `order`, `after`, `limit`)", responses((status = 200, description = "See docs/api.md")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<OpenAiPage<FileObject>>> {
    let Query(query) = query?;
    let (data, more) = files::list(&state.db, &caller, &query).await?;
    Ok(Json(OpenAiPage::of(data, more, |f| f.id.clone())))
}

#[utoipa::path(get, path = "/v1/files/{id}", tag = "Files", summary = "A file", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<FileObject>> {
    Ok(Json(files::get(&state.db, &caller, &id).await?))
}

#[utoipa::path(get, path = "/v1/files/{id}/content", tag = "Files", summary = "A file's bytes as uploaded", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    files::get(&state.db, &caller, &id).await?;
    super::super::documents::original(&state, &caller, &id).await
}

#[utoipa::path(delete, path = "/v1/files/{id}", tag = "Files", summary = "Delete a file: its document, chunks and bytes, and its place in every vector store", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    files::get(&state.db, &caller, &id).await?;
    ingest::documents::delete(state.stores(), &id).await?;
    Ok(Json(
        serde_json::json!({ "id": id, "object": "file", "deleted": true }),
    ))
}
