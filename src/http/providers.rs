//! `/api/admin/providers`: the chat, embeddings, images and rerank upstreams
//! as the admin sets them (saved ones win over the settings; keys masked).
//!
//! - `GET /api/admin/providers`: every role's provider.
//! - `PUT /api/admin/providers`: `{"chat": {"base_url", "model", "api_key"}, …}`;
//!   fields left out keep their value, `null` clears one.
//! - `PUT/DELETE /api/admin/providers/{role}`: one role; delete goes back to the settings.
//! - `POST /api/admin/providers/{role}/test`: a 1-token call (or the
//!   smallest equivalent), with latency or the upstream's error; a body
//!   tries unsaved values.
//! - `GET /api/admin/providers/{role}/models`: the provider's own model
//!   list; `POST` with a body lists for unsaved values.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::ApiJson;
use crate::auth::AdminCaller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::upstream::providers::{self, ProviderUpdate, TestReport};
use crate::upstream::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/providers", get(list).put(update_all))
        .route(
            "/api/admin/providers/{role}",
            put(update_one).delete(remove),
        )
        .route("/api/admin/providers/{role}/test", post(test))
        .route(
            "/api/admin/providers/{role}/models",
            get(models).post(models_for),
        )
}

/// The role named in a path or body, or a 404 / 400 listing the roles.
pub fn role_named(name: &str) -> AppResult<Role> {
    Role::parse(name).ok_or_else(|| AppError::NotFound {
        message: format!(
            "There is no provider role {name:?}; the roles are chat, embeddings, images and rerank."
        ),
        code: "provider_not_found",
    })
}

/// Parse `{"<role>": {…}, …}` into updates and check each against the
/// provider it changes, refusing unknown roles and bad values: all are
/// checked before any is saved.
pub fn checked_updates(
    state: &AppState,
    body: Map<String, Value>,
) -> AppResult<Vec<(Role, ProviderUpdate)>> {
    let mut updates = Vec::new();
    for (name, value) in body {
        let role = Role::parse(&name).ok_or_else(|| {
            AppError::BadRequest(format!(
                "{name:?} is not a provider role; the roles are chat, embeddings, images and rerank."
            ))
        })?;
        let update: ProviderUpdate = serde_json::from_value(value).map_err(|e| {
            AppError::BadRequest(format!(
                "providers.{name}: {e} (the fields are base_url, model and api_key)"
            ))
        })?;
        update.applied_to(&state.upstreams.get(role).endpoint())?;
        updates.push((role, update));
    }
    Ok(updates)
}

async fn all(state: &AppState) -> AppResult<Json<Value>> {
    let views = providers::list(state.providers()).await?;
    let map: Map<String, Value> = views
        .into_iter()
        .map(|v| (v.role.to_string(), json!(v)))
        .collect();
    Ok(Json(Value::Object(map)))
}

#[utoipa::path(get, path = "/api/admin/providers", tag = "Admin", summary = "Every role's provider (keys masked)", responses((status = 200, description = "See docs/api.md")))]
async fn list(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<Value>> {
    all(&state).await
}

#[utoipa::path(put, path = "/api/admin/providers", tag = "Admin", summary = "Save several roles' providers at once", responses((status = 200, description = "See docs/api.md")))]
async fn update_all(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> AppResult<Json<Value>> {
    let updates = checked_updates(&state, body)?;
    for (role, update) in &updates {
        providers::save(state.providers(), *role, update).await?;
    }
    all(&state).await
}

#[utoipa::path(put, path = "/api/admin/providers/{role}", tag = "Admin", summary = "Save one role's provider", params(("role" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn update_one(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(role): Path<String>,
    ApiJson(update): ApiJson<ProviderUpdate>,
) -> AppResult<Json<Value>> {
    let role = role_named(&role)?;
    providers::save(state.providers(), role, &update).await?;
    Ok(Json(json!(providers::view(state.providers(), role).await?)))
}

#[utoipa::path(delete, path = "/api/admin/providers/{role}", tag = "Admin", summary = "Drop a role's saved provider (back to the settings)", params(("role" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(role): Path<String>,
) -> AppResult<Json<Value>> {
    let role = role_named(&role)?;
    providers::remove(state.providers(), role).await?;
    Ok(Json(json!(providers::view(state.providers(), role).await?)))
}

/// `200` with the report whether the provider worked or not (`ok` says).
#[utoipa::path(post, path = "/api/admin/providers/{role}/test", tag = "Admin", summary = "The smallest real call to a provider", params(("role" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn test(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(role): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Json<TestReport>> {
    let role = role_named(&role)?;
    // No body: the saved provider; else these values (unsaved) over it.
    let update: Option<ProviderUpdate> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| {
            AppError::BadRequest(format!(
                "The body must be a JSON object with base_url, model and api_key: {e}"
            ))
        })?)
    };
    let report = providers::test(state.upstreams.get(role), update.as_ref()).await?;
    if !report.ok {
        tracing::warn!(role = role.name(), error = ?report.error, "provider test failed");
    }
    Ok(Json(report))
}

#[utoipa::path(get, path = "/api/admin/providers/{role}/models", tag = "Admin", summary = "The provider's model ids", params(("role" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn models(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(role): Path<String>,
) -> AppResult<Json<Value>> {
    let role = role_named(&role)?;
    model_list(providers::models(state.upstreams.get(role), None).await?)
}

#[utoipa::path(post, path = "/api/admin/providers/{role}/models", tag = "Admin", summary = "The model ids of unsaved provider values", params(("role" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn models_for(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(role): Path<String>,
    ApiJson(update): ApiJson<ProviderUpdate>,
) -> AppResult<Json<Value>> {
    let role = role_named(&role)?;
    model_list(providers::models(state.upstreams.get(role), Some(&update)).await?)
}

fn model_list(ids: Vec<String>) -> AppResult<Json<Value>> {
    let data: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({ "id": id, "object": "model" }))
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}
