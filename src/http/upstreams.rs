//! `/api/admin/upstreams`: each role's key pool, its keys' states and
//! counters (keys masked, named by fingerprint).
//!
//! - `GET /api/admin/upstreams`: every role: keys (`active`, `cooling` with
//!   the models and until when, `blocked` with the reason), counters, errors
//!   by kind, retries.
//! - `POST /api/admin/upstreams/{role}/keys`: `{"key": "sk-…"}` (several
//!   may be separated by commas) adds keys to the pool.
//! - `DELETE /api/admin/upstreams/{role}/keys/{fingerprint}`: takes one out.
//! - `POST /api/admin/upstreams/{role}/keys/{fingerprint}/enable`: unblocks
//!   a key (and ends its cooling), on every replica.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::providers::role_named;
use super::ApiJson;
use crate::auth::AdminCaller;
use crate::error::AppResult;
use crate::state::AppState;
use crate::upstream::providers::{self, PoolView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/upstreams", get(list))
        .route("/api/admin/upstreams/{role}/keys", post(add))
        .route(
            "/api/admin/upstreams/{role}/keys/{fingerprint}",
            delete(remove),
        )
        .route(
            "/api/admin/upstreams/{role}/keys/{fingerprint}/enable",
            post(enable),
        )
}

#[utoipa::path(get, path = "/api/admin/upstreams", tag = "Admin", summary = "Each role's key pool and its counters", responses((status = 200, description = "See docs/api.md")))]
async fn list(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<Value>> {
    let pools = providers::pools(state.providers()).await?;
    Ok(Json(json!({ "object": "list", "data": pools })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeys {
    key: String,
}

#[utoipa::path(post, path = "/api/admin/upstreams/{role}/keys", tag = "Admin", summary = "Add keys to a role's pool", params(("role" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn add(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(role): Path<String>,
    ApiJson(body): ApiJson<NewKeys>,
) -> AppResult<(StatusCode, Json<PoolView>)> {
    let role = role_named(&role)?;
    let view = providers::add_keys(state.providers(), role, &body.key).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(delete, path = "/api/admin/upstreams/{role}/keys/{fingerprint}", tag = "Admin", summary = "Take a key out of the pool", params(("role" = String, Path), ("fingerprint" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path((role, fingerprint)): Path<(String, String)>,
) -> AppResult<Json<PoolView>> {
    let role = role_named(&role)?;
    Ok(Json(
        providers::remove_key(state.providers(), role, &fingerprint).await?,
    ))
}

#[utoipa::path(post, path = "/api/admin/upstreams/{role}/keys/{fingerprint}/enable", tag = "Admin", summary = "Unblock a key on every replica", params(("role" = String, Path), ("fingerprint" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn enable(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path((role, fingerprint)): Path<(String, String)>,
) -> AppResult<Json<PoolView>> {
    let role = role_named(&role)?;
    Ok(Json(
        providers::enable_key(state.providers(), role, &fingerprint).await?,
    ))
}
