//! `GET /api/admin/logs` (the request log, filtered and paged) and
//! `GET /api/admin/usage` (requests and tokens per key per day).

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::AdminCaller;
use crate::domain::page::Page;
use crate::error::AppResult;
use crate::state::AppState;
use crate::usage::query::{self, LogQuery, LogRow, UsageQuery};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/logs", get(logs))
        .route("/api/admin/usage", get(usage))
}

#[utoipa::path(get, path = "/api/admin/logs", tag = "Admin", summary = "The request log, newest first, filtered and paged", responses((status = 200, description = "See docs/api.md")))]
async fn logs(
    State(state): State<AppState>,
    _admin: AdminCaller,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Page<LogRow>>> {
    let Query(query) = query?;
    Ok(Json(query::logs(&state.db, &query).await?))
}

#[utoipa::path(get, path = "/api/admin/usage", tag = "Admin", summary = "Requests and tokens per key per day", responses((status = 200, description = "See docs/api.md")))]
async fn usage(
    State(state): State<AppState>,
    _admin: AdminCaller,
    query: Result<Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Value>> {
    let Query(query) = query?;
    let (data, total, from, to) = query::usage(&state.db, &query).await?;
    Ok(Json(json!({
        "object": "list",
        "from": from,
        "to": to,
        "data": data,
        "total": total,
        "dropped_log_rows": state.request_log.dropped(),
    })))
}
