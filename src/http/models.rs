//! `GET /v1/models`: the public model names, as OpenAI lists models (or as
//! Gemini does, for a caller whose key comes as Gemini's: its SDKs share the
//! path, and `POST /v1/models/{model}:generateContent` is Gemini's); and
//! `GET/POST /api/admin/models`, `GET/PATCH/DELETE /api/admin/models/{name}`
//! to manage them (admin key).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::{gemini, ApiJson};
use crate::auth::{AdminCaller, Caller};
use crate::chat::models::{self, Model};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list_public))
        .route(
            "/v1/models/{*name}",
            get(show_public).post(super::gemini::generate),
        )
        .route_layer(axum::middleware::map_request(super::gemini::google_key))
        .route("/api/admin/models", get(list).post(create))
        .route(
            "/api/admin/models/{*name}",
            get(show).patch(update).delete(remove),
        )
}

/// OpenAI's model object.
fn public(model: &Model) -> Value {
    json!({
        "id": model.id,
        "object": "model",
        "created": model.created_at / 1000,
        "owned_by": "ragway",
    })
}

#[utoipa::path(get, path = "/v1/models", tag = "Models", summary = "The public models (OpenAI's shape; Gemini's for a key sent as x-goog-api-key or ?key=)", responses((status = 200, description = "See docs/api.md")))]
async fn list_public(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if gemini::flavoured(&headers, query.as_deref()) {
        return gemini::list(State(state), caller).await;
    }
    let listed = async {
        caller?;
        Ok::<_, AppError>(models::list(state.models()).await?)
    };
    match listed.await {
        Ok(listed) => {
            let data: Vec<Value> = listed.iter().map(public).collect();
            Json(json!({ "object": "list", "data": data })).into_response()
        }
        Err(err) => err.into_response(),
    }
}

#[utoipa::path(get, path = "/v1/models/{name}", tag = "Models", summary = "One public model", params(("name" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show_public(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Path(name): Path<String>,
) -> Response {
    if gemini::flavoured(&headers, query.as_deref()) {
        return gemini::show(State(state), caller, Path(name)).await;
    }
    let shown = async {
        caller?;
        Ok::<_, AppError>(models::resolve(state.models(), &name).await?)
    };
    match shown.await {
        Ok(model) => Json(public(&model)).into_response(),
        Err(err) => err.into_response(),
    }
}

fn admin_view(model: Model) -> Value {
    let mut value = serde_json::to_value(model).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("object".into(), Value::from("model"));
    }
    value
}

#[utoipa::path(get, path = "/api/admin/models", tag = "Models", summary = "Every model with its settings", responses((status = 200, description = "See docs/api.md")))]
async fn list(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<Value>> {
    let data: Vec<Value> = models::list(state.models())
        .await?
        .into_iter()
        .map(admin_view)
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

#[utoipa::path(post, path = "/api/admin/models", tag = "Models", summary = "Create a model", responses((status = 200, description = "See docs/api.md")))]
async fn create(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(input): ApiJson<Map<String, Value>>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let model = models::create(state.models(), &input).await?;
    Ok((StatusCode::CREATED, Json(admin_view(model))))
}

#[utoipa::path(get, path = "/api/admin/models/{name}", tag = "Models", summary = "One model with its settings", params(("name" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn show(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> AppResult<Json<Value>> {
    let model = models::resolve(state.models(), &name).await?;
    Ok(Json(admin_view(model)))
}

#[utoipa::path(patch, path = "/api/admin/models/{name}", tag = "Models", summary = "Change some of a model's fields (null resets one)", params(("name" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn update(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> AppResult<Json<Value>> {
    let model = models::update(state.models(), &name, &patch).await?;
    Ok(Json(admin_view(model)))
}

#[utoipa::path(delete, path = "/api/admin/models/{name}", tag = "Models", summary = "Delete a model", params(("name" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn remove(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> AppResult<Json<Value>> {
    models::delete(state.models(), &name).await?;
    Ok(Json(
        json!({ "id": name, "object": "model", "deleted": true }),
    ))
}
