//! `POST /api/admin/retrieval/test`: the admin's retrieval test. A question
//! (or a conversation, searched as chat would search it) goes through the
//! same retrieval a chat answer uses — a model's collections, top-k,
//! threshold and rerank, each of which the request may override — and the
//! ranked passages come back with their place and score in the vector
//! search and in the full-text search, the fused score and the rerank
//! score: why an answer used what it used. The retrieval quality benchmark
//! (`bench/quality`) asks through it too.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiJson;
use crate::auth::{AdminCaller, Caller, Role, ADMIN_SESSION_KEY_ID};
use crate::chat::{self, models, Message};
use crate::error::{AppError, AppResult};
use crate::retrieval;
use crate::state::AppState;
use crate::usage::LogHandle;

/// Most sources one test may ask for.
const MAX_TOP_K: usize = 50;
/// Most rows one search may take before fusion.
const MAX_CANDIDATES: usize = 200;
/// Most messages of a conversation a test may send.
const MAX_MESSAGES: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/retrieval/test", post(test))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// The question; or `messages`, a conversation whose end is searched for.
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Message>>,
    /// The model whose retrieval settings apply (default: the public model).
    #[serde(default)]
    model: Option<String>,
    /// Overrides of the model's settings.
    #[serde(default)]
    collections: Option<Vec<String>>,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default)]
    score_threshold: Option<f64>,
    #[serde(default)]
    rerank: Option<bool>,
    #[serde(default)]
    rerank_threshold: Option<f64>,
    /// Rows each search (vector, full text) takes before fusion.
    #[serde(default)]
    candidates: Option<usize>,
}

fn bad(message: &str) -> AppError {
    AppError::BadRequest(message.into())
}

#[utoipa::path(post, path = "/api/admin/retrieval/test", tag = "Admin", summary = "The ranked passages retrieval finds for a question, with every rank and score", responses((status = 200, description = "See docs/api.md")))]
async fn test(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiJson(request): ApiJson<TestRequest>,
) -> AppResult<Json<Value>> {
    let messages = match (request.question, request.messages) {
        (Some(question), None) => vec![Message::new("user", Value::String(question))],
        (None, Some(messages)) if messages.len() <= MAX_MESSAGES => messages,
        (None, Some(_)) => {
            return Err(bad(
                "`messages` may hold at most 64 messages for a retrieval test.",
            ))
        }
        _ => return Err(bad("Send either `question` or `messages`.")),
    };
    let max_bytes = state.settings.max_message_bytes;
    if messages.iter().any(|m| m.text_bytes() > max_bytes) {
        return Err(AppError::PayloadTooLarge(format!(
            "A message is longer than {max_bytes} bytes (RAGWAY_MAX_MESSAGE_BYTES)."
        )));
    }
    let name = request
        .model
        .unwrap_or_else(|| state.settings.public_model.clone());
    let model = models::resolve(state.models(), &name).await?;
    // As the chat pipeline searches: a follow-up rewritten when the model says so.
    let queries = chat::condense::queries(
        &state.upstreams.chat,
        &model,
        &messages,
        &LogHandle::detached(),
    )
    .await?;
    let mut options = chat::retrieval_options(&model, state.runtime().top_k);
    if let Some(top_k) = request.top_k {
        if !(1..=MAX_TOP_K).contains(&top_k) {
            return Err(bad("`top_k` must be between 1 and 50."));
        }
        options.top_k = top_k;
    }
    if let Some(collections) = &request.collections {
        options.collections = Some(collections.as_slice());
    }
    if let Some(threshold) = request.score_threshold {
        if !(-1.0..=1.0).contains(&threshold) {
            return Err(bad("`score_threshold` must be between -1 and 1."));
        }
        options.score_threshold = Some(threshold);
    }
    if let Some(candidates) = request.candidates {
        if !(1..=MAX_CANDIDATES).contains(&candidates) {
            return Err(bad("`candidates` must be between 1 and 200."));
        }
        options.candidates = Some(candidates);
    }
    if let Some(rerank) = request.rerank {
        options.rerank = rerank;
    }
    if let Some(threshold) = request.rerank_threshold {
        if !threshold.is_finite() {
            return Err(bad("`rerank_threshold` must be a number."));
        }
        options.rerank_threshold = Some(threshold);
    }
    options.explain = true;
    // The admin's own private documents are searched along with the shared ones.
    let caller = admin.unwrap_or(Caller {
        key_id: ADMIN_SESSION_KEY_ID.into(),
        role: Role::Admin,
        limits: Default::default(),
    });
    let catalog = retrieval::Catalog::read(&state.db).await?;
    let started = std::time::Instant::now();
    let sources =
        retrieval::retrieve(state.retriever(), &caller, &catalog, &queries, options).await?;
    Ok(Json(json!({
        "object": "retrieval.test",
        "model": model.id,
        "query": queries[0],
        "queries": queries,
        "top_k": options.top_k,
        "rerank": options.rerank,
        "rerank_threshold": options.rerank_threshold,
        "candidates": options.candidates,
        "took_ms": started.elapsed().as_secs_f64() * 1e3,
        "sources": sources,
    })))
}
