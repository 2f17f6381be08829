//! `GET /v1/conversations`, `GET/DELETE /v1/conversations/{id}`: each key
//! sees only its own; another key's id is a 404, never a 403.
//!
//! `GET /api/admin/conversations` (every key's, or `?key_id=` one key's),
//! `GET/DELETE /api/admin/conversations/{id}`: the admin's view.
//!
//! Each first waits for the saves of this process still queued (the key's,
//! or for the admin every key's): an exchange just answered is there.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{AdminCaller, Caller};
use crate::chat::conversations::{self, Summary};
use crate::domain::page::Page;
use crate::error::AppResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conversations", get(list))
        .route("/v1/conversations/{id}", get(read).delete(delete))
        .route("/api/admin/conversations", get(admin_list))
        .route(
            "/api/admin/conversations/{id}",
            get(admin_read).delete(admin_delete),
        )
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    after: Option<String>,
}

#[utoipa::path(get, path = "/v1/conversations", tag = "Conversations", summary = "The caller's conversations, most recent first, paged", responses((status = 200, description = "See docs/api.md")))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Page<Summary>>> {
    let Query(query) = query?;
    state.saver.settle(&caller.key_id).await;
    Ok(Json(
        conversations::list(
            &state.db,
            Some(&caller.key_id),
            query.limit,
            query.after.as_deref(),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "Conversations", summary = "One of the caller's conversations with its messages", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    state.saver.settle(&caller.key_id).await;
    Ok(Json(
        conversations::get(&state.db, Some(&caller.key_id), &id).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/conversations/{id}", tag = "Conversations", summary = "Delete one of the caller's conversations", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    state.saver.settle(&caller.key_id).await;
    let owner = conversations::delete(&state.db, Some(&caller.key_id), &id).await?;
    state.saver.forget(Some(&owner));
    Ok(Json(
        json!({ "id": id, "object": "conversation.deleted", "deleted": true }),
    ))
}

#[derive(Deserialize)]
struct AdminListQuery {
    key_id: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/conversations", tag = "Conversations", summary = "Every key's conversations (?key_id= one key's), paged", responses((status = 200, description = "See docs/api.md")))]
async fn admin_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    query: Result<Query<AdminListQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Page<Summary>>> {
    let Query(query) = query?;
    let owner = query.key_id.as_deref().filter(|k| !k.is_empty());
    state.saver.flush().await;
    Ok(Json(
        conversations::list(&state.db, owner, query.limit, query.after.as_deref()).await?,
    ))
}

#[utoipa::path(get, path = "/api/admin/conversations/{id}", tag = "Conversations", summary = "Any key's conversation with its messages", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn admin_read(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    state.saver.flush().await;
    Ok(Json(conversations::get(&state.db, None, &id).await?))
}

#[utoipa::path(delete, path = "/api/admin/conversations/{id}", tag = "Conversations", summary = "Delete any key's conversation", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn admin_delete(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    state.saver.flush().await;
    let owner = conversations::delete(&state.db, None, &id).await?;
    state.saver.forget(Some(&owner));
    Ok(Json(
        json!({ "id": id, "object": "conversation.deleted", "deleted": true }),
    ))
}
