//! `POST/GET /v1/collections`, `DELETE /v1/collections/{name}` (admin).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiJson;
use crate::auth::AdminCaller;
use crate::error::AppResult;
use crate::ingest::collections::{self, Collection};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/collections", get(list).post(create))
        .route("/v1/collections/{name}", delete(remove))
}

#[derive(Deserialize)]
struct NewCollection {
    name: String,
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/v1/collections", tag = "Documents", summary = "Create a collection", responses((status = 200, description = "See docs/api.md")))]
async fn create(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<NewCollection>,
) -> AppResult<(StatusCode, Json<Collection>)> {
    let collection = collections::create(&state.db, &body.name, &body.description).await?;
    Ok((StatusCode::CREATED, Json(collection)))
}

#[utoipa::path(get, path = "/v1/collections", tag = "Documents", summary = "Every collection with its document count", responses((status = 200, description = "See docs/api.md")))]
async fn list(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<Value>> {
    let data = collections::list(&state.db).await?;
    Ok(Json(json!({ "object": "list", "data": data })))
}

#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

#[utoipa::path(delete, path = "/v1/collections/{name}", tag = "Documents", summary = "Delete a collection (?force=true with its documents)", params(("name" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Value>> {
    let Query(query) = query?;
    let documents = collections::delete(state.stores(), &name, query.force).await?;
    Ok(Json(json!({
        "name": name, "object": "collection", "deleted": true, "documents_deleted": documents,
    })))
}
