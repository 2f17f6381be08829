//! `/api/admin/settings`: the settings the admin changes while ragway runs
//! (see `runtime`).
//!
//! - `GET /api/admin/settings`: the values in force, which were saved, and the defaults.
//! - `PATCH /api/admin/settings`: `{"max_messages": 10, "system_prompt": null, …}`;
//!   `null` sets one back to its default; all are checked before any is saved.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::ApiJson;
use crate::auth::AdminCaller;
use crate::error::AppResult;
use crate::runtime;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/settings", get(show).patch(change))
}

#[utoipa::path(get, path = "/api/admin/settings", tag = "Admin", summary = "The runtime settings in force, saved and default", responses((status = 200, description = "See docs/api.md")))]
async fn show(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<Value>> {
    let view = runtime::view(&state.db, &state.settings, &state.runtime()).await?;
    Ok(Json(view))
}

#[utoipa::path(patch, path = "/api/admin/settings", tag = "Admin", summary = "Change some runtime settings (null resets one)", responses((status = 200, description = "See docs/api.md")))]
async fn change(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(changes): ApiJson<Map<String, Value>>,
) -> AppResult<Json<Value>> {
    let next = runtime::update(&state.db, &state.settings, &state.runtime(), &changes).await?;
    let view = runtime::view(&state.db, &state.settings, &next).await?;
    state.set_runtime(next);
    Ok(Json(view))
}
