//! `/api/admin/*`: operations for the admin (an admin key for now).
//!
//! `GET /api/admin/reindex` shows the knowledge index and any reindex under
//! way; `POST /api/admin/reindex` starts moving it to the configured
//! embedding model.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use crate::auth::AdminCaller;
use crate::error::AppResult;
use crate::ingest::reindex::{self, IndexStatus};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/reindex", get(show).post(begin))
}

async fn show(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<IndexStatus>> {
    Ok(Json(reindex::status(&state).await?))
}

/// `202` with the status when a reindex was started (or is already running),
/// `200` when the index already uses the configured model.
async fn begin(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> AppResult<(StatusCode, Json<IndexStatus>)> {
    let started = reindex::start(&state).await?;
    let code = if started.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(reindex::status(&state).await?)))
}
