//! Documents: upload (JSON text or a multipart file), list, show, original
//! content, duplicate lookup by SHA-256, re-ingest, delete. Admin keys manage every
//! document; user keys upload and manage their own private documents only.

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;

use super::ApiJson;
use crate::auth::{Caller, Role};
use crate::domain::collections::private_space;
use crate::domain::page::Page;
use crate::domain::DocumentStatus;
use crate::error::{AppError, AppResult};
use crate::ingest::documents::{self, ListQuery};
use crate::ingest::{self, Document, Upload};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/documents", post(create).get(list))
        .route("/v1/documents/lookup", post(lookup))
        .route("/v1/documents/{id}", get(show).put(replace).delete(remove))
        .route("/v1/documents/{id}/content", get(content))
        .route("/v1/documents/{id}/reingest", post(reingest))
}

#[derive(Deserialize)]
struct TextUpload {
    title: Option<String>,
    text: String,
    collection: Option<String>,
    visibility: Option<String>,
}

#[utoipa::path(post, path = "/v1/documents", tag = "Documents", summary = "Upload a document (JSON text, or a multipart file) to be ingested", responses((status = 200, description = "See docs/api.md")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    request: Request,
) -> AppResult<(StatusCode, Json<Document>)> {
    let upload = read_upload(&state, request).await?;
    let document = ingest::submit(&state, &caller, upload).await?;
    // A duplicate that was queued again (it had failed) is accepted work; any other duplicate is done.
    let status = if document.duplicate && document.status != DocumentStatus::Pending {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(document)))
}

#[utoipa::path(put, path = "/v1/documents/{id}", tag = "Documents", summary = "New content for a document", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> AppResult<(StatusCode, Json<Document>)> {
    let upload = read_upload(&state, request).await?;
    let document = ingest::replace(&state, &caller, &id, upload).await?;
    let status = if document.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(document)))
}

/// Ingest the stored original again (202 with the `pending` document).
#[utoipa::path(post, path = "/v1/documents/{id}/reingest", tag = "Documents", summary = "Extract, chunk and embed the stored original again", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn reingest(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Document>)> {
    let document = ingest::reingest(&state, &caller, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(document)))
}

/// A JSON text upload or a multipart file, by the request's content type.
async fn read_upload(state: &AppState, request: Request) -> AppResult<Upload> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if is_multipart {
        read_multipart(Multipart::from_request(request, state).await?, false).await
    } else {
        let ApiJson(body) = ApiJson::<TextUpload>::from_request(request, state).await?;
        Ok(Upload {
            title: body.title,
            collection: body.collection,
            visibility: body.visibility,
            filename: None,
            purpose: None,
            bytes: Bytes::from(body.text),
        })
    }
}

/// The `file` part plus optional `title`, `collection`, `visibility` and
/// `purpose` fields. Other fields are ignored, or (`strict`, the Files
/// API's form) refused by name.
pub(super) async fn read_multipart(mut form: Multipart, strict: bool) -> AppResult<Upload> {
    let mut upload = Upload {
        title: None,
        collection: None,
        visibility: None,
        filename: None,
        purpose: None,
        bytes: Bytes::new(),
    };
    let mut has_file = false;
    while let Some(field) = form.next_field().await? {
        match field.name().unwrap_or_default() {
            "file" => {
                upload.filename = field.file_name().map(str::to_string);
                upload.bytes = field.bytes().await?;
                has_file = true;
            }
            "title" => upload.title = Some(field.text().await?),
            "collection" => upload.collection = Some(field.text().await?),
            "visibility" => upload.visibility = Some(field.text().await?),
            "purpose" if strict => upload.purpose = Some(field.text().await?),
            other if strict && other.starts_with("expires_after") => {
                return Err(AppError::BadRequest(
                    "Files here do not expire: leave out `expires_after` (delete a file to remove it).".into(),
                ))
            }
            other if strict => {
                return Err(AppError::BadRequest(format!(
                    "The form has a field `{other}` this server does not take: send `file` and `purpose`."
                )))
            }
            // Unknown fields (e.g. `purpose` from OpenAI-style clients) are ignored.
            _ => {}
        }
    }
    if !has_file {
        return Err(AppError::BadRequest(
            "The multipart form has no `file` part.".into(),
        ));
    }
    Ok(upload)
}

#[derive(Deserialize)]
struct ShowQuery {
    /// Seconds to wait for the document to become ready or failed.
    wait: Option<f64>,
}

/// The longest `?wait=` honoured.
const MAX_WAIT_SECS: f64 = 60.0;

/// One document; with `?wait=SECONDS` (at most 60) the answer comes when it
/// is ready or failed, or when the wait is over, whichever is first, so a
/// client follows an upload without polling.
#[utoipa::path(get, path = "/v1/documents/{id}", tag = "Documents", summary = "A document's status (?wait= until ready or failed)", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Document>> {
    let Query(query) = query?;
    let wait = match query.wait {
        None => 0.0,
        Some(secs) if secs.is_finite() && secs >= 0.0 => secs.min(MAX_WAIT_SECS),
        Some(_) => {
            return Err(AppError::BadRequest(
                "`wait` must be a number of seconds from 0 to 60.".into(),
            ))
        }
    };
    // Listening before reading, so a change between the two is not missed.
    let mut events = state.ingest_events.subscribe();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs_f64(wait);
    loop {
        let document = documents::get_for(&state.db, &caller, &id).await?;
        if wait == 0.0 || document.status.settled() {
            return Ok(Json(document));
        }
        // Until this document finishes (or the events overflowed: read again).
        let changed = async {
            loop {
                match events.recv().await {
                    Ok(event) if event.is_document(&id) && event.status.settled() => return true,
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::select! {
            again = changed => if !again { return Ok(Json(document)) },
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(Json(documents::get_for(&state.db, &caller, &id).await?));
            }
            _ = state.shutdown.cancelled() => return Ok(Json(document)),
        }
    }
}

#[utoipa::path(get, path = "/v1/documents", tag = "Documents", summary = "Documents, newest first, filtered and paged", responses((status = 200, description = "See docs/api.md")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Page<Document>>> {
    let Query(mut query) = query?;
    if caller.role != Role::Admin {
        // A user key lists its own private documents, whatever else it asks for.
        query.collection = Some(private_space(&caller.key_id));
    }
    Ok(Json(documents::list(&state.db, &query).await?))
}

#[derive(Deserialize)]
struct LookupRequest {
    sha256: Vec<String>,
    collection: Option<String>,
}

/// The most hashes one lookup may ask about.
const MAX_LOOKUP: usize = 1000;

#[utoipa::path(post, path = "/v1/documents/lookup", tag = "Documents", summary = "Which of these SHA-256 hashes are stored already", responses((status = 200, description = "See docs/api.md")))]
async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<LookupRequest>,
) -> AppResult<Json<serde_json::Value>> {
    if request.sha256.len() > MAX_LOOKUP {
        return Err(AppError::BadRequest(format!(
            "Ask about at most {MAX_LOOKUP} hashes at a time."
        )));
    }
    if let Some(bad) = request
        .sha256
        .iter()
        .find(|h| h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(AppError::BadRequest(format!(
            "{bad:?} is not a SHA-256 hash (64 hexadecimal characters)."
        )));
    }
    let collection = if caller.role == Role::Admin {
        request.collection
    } else {
        Some(private_space(&caller.key_id))
    };
    let found = documents::lookup(&state.db, &request.sha256, collection.as_deref()).await?;
    Ok(Json(serde_json::json!({ "object": "list", "data": found })))
}

#[utoipa::path(get, path = "/v1/documents/{id}/content", tag = "Documents", summary = "The original file as uploaded", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    original(&state, &caller, &id).await
}

/// A document's original bytes as a download, with its type and name: a
/// document the caller may read (a shared one, as every key's searches
/// read them, or its own), as the links of the MCP server's results lead here.
pub(super) async fn original(state: &AppState, caller: &Caller, id: &str) -> AppResult<Response> {
    let document = crate::knowledge::readable(state, caller, id).await?;
    let bytes = state.blobs.get(&ingest::original_key(id)).await?;
    let filename = document
        .filename
        .unwrap_or_else(|| format!("{}.txt", document.id));
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type = if document.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", document.content_type)
    } else {
        document.content_type
    };
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    // RFC 6266 / 5987: the UTF-8 name for every client, an ASCII fallback for old ones.
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        url::form_urlencoded::byte_serialize(filename.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[utoipa::path(delete, path = "/v1/documents/{id}", tag = "Documents", summary = "Delete a document, its chunks and its file", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    documents::get_for(&state.db, &caller, &id).await?;
    documents::delete(state.stores(), &id).await?;
    Ok(Json(
        serde_json::json!({ "id": id, "object": "document", "deleted": true }),
    ))
}
