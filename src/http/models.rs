//! `GET /v1/models`: the public model names, as OpenAI lists models.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/models", get(list))
}

async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": state.settings.public_model,
            "object": "model",
            "created": 0,
            "owned_by": "ragway",
        }],
    }))
}
