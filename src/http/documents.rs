//! `POST /v1/documents` (JSON text or a multipart file) and `GET /v1/documents/{id}`.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;

use super::ApiJson;
use crate::auth::AdminCaller;
use crate::error::{AppError, AppResult};
use crate::ingest::{self, Document, Upload};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/documents", post(create))
        .route("/v1/documents/{id}", get(show))
}

#[derive(Deserialize)]
struct TextUpload {
    title: Option<String>,
    text: String,
    collection: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    request: Request,
) -> AppResult<(StatusCode, Json<Document>)> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let upload = if is_multipart {
        read_multipart(Multipart::from_request(request, &state).await?).await?
    } else {
        let ApiJson(body) = ApiJson::<TextUpload>::from_request(request, &state).await?;
        Upload {
            title: body.title,
            collection: body.collection,
            filename: None,
            bytes: Bytes::from(body.text),
        }
    };
    let document = ingest::submit(&state, &caller, upload).await?;
    Ok((StatusCode::ACCEPTED, Json(document)))
}

/// The `file` part plus optional `title` and `collection` fields.
async fn read_multipart(mut form: Multipart) -> AppResult<Upload> {
    let mut upload = Upload {
        title: None,
        collection: None,
        filename: None,
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

async fn show(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Document>> {
    Ok(Json(ingest::get(&state.db, &id).await?))
}
