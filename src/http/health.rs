//! `GET /health`: liveness plus a check of each store, without a key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = sqlx::query("SELECT 1").execute(&state.db).await.is_ok();
    let vectors = state.vectors.check().await.is_ok();
    let ok = database && vectors;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |up: bool| if up { "ok" } else { "down" };
    let configured = |up: bool| if up { "configured" } else { "not configured" };
    (
        status,
        Json(json!({
            "status": if ok { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "checks": { "database": word(database), "vector_store": word(vectors) },
            "upstreams": {
                "chat": configured(state.upstreams.chat.is_configured()),
                "embeddings": configured(state.upstreams.embeddings.is_configured()),
                "images": configured(state.upstreams.images.is_configured()),
            },
        })),
    )
}
