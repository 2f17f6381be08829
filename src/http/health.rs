//! `GET /metrics`: Prometheus' text format.
//! `GET /health`: liveness plus a check of each store (503 when one is
//! down), uptime, the ingest queue and the request log's drops, without a key.
//!
//! The full store check writes a probe object to the blob store (a paid
//! request on S3), so a caller without a key never causes one directly: it
//! gets a live database read and the stores' last full check, which is
//! redone at most every `health_check_interval_secs`. An admin (key or
//! session) gets the full check at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Extension, FromRequestParts, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::Row;

use crate::auth::AdminCaller;
use crate::ingest::jobs;
use crate::ingest::reindex::{self, IndexStatus};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(Extension(Arc::new(StoreChecks::default())))
}

/// The last full check of the vector and blob stores, and when it ran.
#[derive(Debug, Default)]
struct StoreChecks {
    /// Held while a check runs, so concurrent callers wait for it, not redo it.
    last: tokio::sync::Mutex<Option<(Instant, StoreState)>>,
}

#[derive(Debug, Clone, Copy)]
struct StoreState {
    vectors: bool,
    blobs: bool,
}

impl StoreChecks {
    /// The stores' state: checked now when `fresh`, else the last check if
    /// younger than `max_age` (checked now when not). Also how old it is.
    async fn get(&self, state: &AppState, fresh: bool, max_age: Duration) -> (StoreState, u64) {
        let mut last = self.last.lock().await;
        if let Some((at, stores)) = *last {
            if !fresh && at.elapsed() < max_age {
                return (stores, at.elapsed().as_secs());
            }
        }
        let (vectors, blobs) = tokio::join!(state.vectors.check(), state.blobs.check());
        let stores = StoreState {
            vectors: vectors.is_ok(),
            blobs: blobs.is_ok(),
        };
        *last = Some((Instant::now(), stores));
        (stores, 0)
    }
}

/// Whether the request comes from the admin (a key with the admin role, or
/// the session); any other credential, or none, is just a caller without a key.
async fn from_admin(request: Request, state: &AppState) -> bool {
    let (mut parts, _) = request.into_parts();
    AdminCaller::from_request_parts(&mut parts, state)
        .await
        .is_ok()
}

/// Prometheus' text format: the request counters and histograms, and
/// gauges read at scrape time (documents by status, queue, dropped log rows).
#[utoipa::path(get, path = "/metrics", tag = "Operations", summary = "Prometheus metrics", security(()), responses((status = 200, description = "See docs/api.md")))]
async fn metrics(State(state): State<AppState>) -> Response {
    let documents: Vec<(String, i64)> =
        sqlx::query("SELECT status, COUNT(*) AS n FROM documents GROUP BY status")
            .fetch_all(&state.db)
            .await
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| Some((r.try_get("status").ok()?, r.try_get("n").ok()?)))
                    .collect()
            })
            .unwrap_or_default();
    let queue = jobs::queue_depth(&state.db).await.ok();
    let body = state.metrics.render(|| {
        use crate::usage::metrics::set_gauge;
        for status in crate::domain::DocumentStatus::ALL.map(crate::domain::DocumentStatus::as_str)
        {
            let n = documents
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            set_gauge(
                "ragway_documents",
                &[("status", status.to_string())],
                n as f64,
            );
        }
        if let Some((ingest, reindex)) = queue {
            set_gauge(
                "ragway_jobs_queued",
                &[("kind", "ingest".into())],
                ingest as f64,
            );
            set_gauge(
                "ragway_jobs_queued",
                &[("kind", "reindex".into())],
                reindex as f64,
            );
        }
        set_gauge(
            "ragway_request_log_dropped_rows",
            &[],
            state.request_log.dropped() as f64,
        );
        set_gauge(
            "ragway_uptime_seconds",
            &[],
            state.started.elapsed().as_secs_f64(),
        );
        for role in crate::upstream::Role::ALL {
            let upstream = state.upstreams.get(role);
            let provider = || ("provider", role.name().to_string());
            set_gauge(
                "ragway_upstream_configured",
                &[provider()],
                if upstream.is_configured() { 1.0 } else { 0.0 },
            );
            let summary = upstream.pool().summary();
            for (key_state, n) in [
                ("active", summary.active),
                ("cooling", summary.cooling),
                ("blocked", summary.blocked),
            ] {
                set_gauge(
                    "ragway_upstream_keys",
                    &[provider(), ("state", key_state.to_string())],
                    n as f64,
                );
            }
            let (errors, retries) = upstream.pool().error_counts();
            for (kind, n) in errors {
                metrics::counter!(
                    "ragway_upstream_errors_total",
                    &[provider(), ("status", kind)]
                )
                .absolute(n);
            }
            metrics::counter!("ragway_upstream_retries_total", &[provider()]).absolute(retries);
        }
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/health", tag = "Operations", summary = "Status, store checks, upstreams, index and queue", security(()), responses((status = 200, description = "See docs/api.md")))]
async fn health(
    State(state): State<AppState>,
    Extension(checks): Extension<Arc<StoreChecks>>,
    request: Request,
) -> (StatusCode, Json<Value>) {
    let admin = from_admin(request, &state).await;
    let max_age = Duration::from_secs(state.settings.health_check_interval_secs);
    let (database, (stores, checked_secs_ago)) = tokio::join!(
        sqlx::query("SELECT 1").execute(&state.db),
        checks.get(&state, admin, max_age),
    );
    let (database, vectors, blobs) = (database.is_ok(), stores.vectors, stores.blobs);
    let ok = database && vectors && blobs;
    let index = reindex::status(&state.db, &state.upstreams, &state.settings)
        .await
        .ok()
        .map(|s| index_summary(&s));
    let queue = jobs::queue_depth(&state.db).await.ok();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |up: bool| if up { "ok" } else { "down" };
    let configured = |up: bool| if up { "configured" } else { "not configured" };
    // Each role: configured or not, and its key pool (how many keys can take calls now).
    let mut upstreams = serde_json::Map::new();
    let mut pools = serde_json::Map::new();
    for role in crate::upstream::Role::ALL {
        let upstream = state.upstreams.get(role);
        let name = role.name().to_string();
        upstreams.insert(name.clone(), json!(configured(upstream.is_configured())));
        pools.insert(name, json!(upstream.pool().summary()));
    }
    (
        status,
        Json(json!({
            "status": if ok { "ok" } else { "degraded" },
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_secs": state.started.elapsed().as_secs(),
            "checks": {
                "database": word(database),
                "vector_store": word(vectors),
                "blob_store": word(blobs),
            },
            // How old the stores' check is (the database is read on every call).
            "stores_checked_secs_ago": checked_secs_ago,
            "request_log": {
                "enabled": state.settings.request_logs,
                "dropped_rows": state.request_log.dropped(),
            },
            "index": index,
            "ingest_queue": queue.map(|(ingest, reindex)| json!({ "ingest": ingest, "reindex": reindex })),
            "upstreams": upstreams,
            "upstream_keys": pools,
            // Built-in models: fetching (file, bytes), loading, ready or failed.
            "models": state.upstreams.embeddings.library().statuses(),
        })),
    )
}

/// The knowledge index as `/health` shows it: which model built it, and
/// whether the configured model differs (a mismatch is a warning, not an
/// outage: chat keeps using the index's own model until a reindex).
fn index_summary(status: &IndexStatus) -> Value {
    let mut summary = json!({
        "status": status.status,
        "configured_model": status.configured_model,
        "model": status.active.as_ref().map(|a| &a.model),
        "dimension": status.active.as_ref().and_then(|a| a.dimension),
    });
    match &status.active {
        Some(active) if status.status == "mismatch" && active.model != status.configured_model => {
            summary["message"] = json!(
                "RAGWAY_EMBED_MODEL differs from the model the knowledge base was embedded with; \
                 run `ragway reindex` (or POST /api/admin/reindex) to re-embed it"
            );
        }
        Some(active) if status.status == "mismatch" => {
            summary["message"] = json!(format!(
                "the knowledge base was embedded in another way ({}) than ragway embeds now ({}): \
                 an older version, or RAGWAY_EMBED_INPUT_TYPE / RAGWAY_EMBED_DOCUMENT_PREFIX \
                 changed; search works meanwhile, and `ragway reindex` (or POST \
                 /api/admin/reindex) re-embeds it for the best results",
                if active.recipe.is_empty() {
                    "before recipes were recorded"
                } else {
                    &active.recipe
                },
                status.configured_recipe
            ));
        }
        _ => {}
    }
    if let Some(building) = &status.building {
        summary["reindex"] = json!({
            "model": building.model,
            "documents_done": building.documents_done,
            "documents_total": building.documents_total,
            "error": building.error,
        });
    }
    summary
}
