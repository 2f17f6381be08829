//! `GET /v1/conversations`, `GET/DELETE /v1/conversations/{id}`: each key
//! sees only its own; another key's id is a 404, never a 403.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::chat::conversations::{self, Summary};
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::sql::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conversations", get(list))
        .route("/v1/conversations/{id}", get(read).delete(delete))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Page<Summary>>> {
    let Query(query) = query?;
    Ok(Json(
        conversations::list(
            &state.db,
            &caller.key_id,
            query.limit,
            query.after.as_deref(),
        )
        .await?,
    ))
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        conversations::get(&state.db, &caller.key_id, &id).await?,
    ))
}

async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    conversations::delete(&state.db, &caller.key_id, &id).await?;
    Ok(Json(
        json!({ "id": id, "object": "conversation.deleted", "deleted": true }),
    ))
}
