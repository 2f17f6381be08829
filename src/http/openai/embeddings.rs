//! `POST /v1/embeddings` (OpenAI's shape) and `POST /v1/rerank` (Jina's,
//! which Cohere's clients read too): a key's texts embedded, or its
//! documents ranked, by the configured upstream (`relay`), answered in the
//! shape the caller's client expects.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::ApiJson;
use crate::relay;
use crate::state::AppState;
use crate::usage::LogHandle;
use ragway_protocol::embeddings::{EmbeddingsRequest, Encoding, RerankRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/rerank", post(rerank))
}

#[utoipa::path(post, path = "/v1/embeddings", tag = "OpenAI", summary = "Vectors for the caller's own texts", request_body = ragway_protocol::embeddings::EmbeddingsRequest, responses((status = 200, description = "See docs/api.md")))]
async fn embeddings(
    State(state): State<AppState>,
    caller: Caller,
    log: LogHandle,
    ApiJson(request): ApiJson<EmbeddingsRequest>,
) -> AppResult<Response> {
    let request = request.check()?;
    let encoding = request.encoding;
    let embedded = relay::embed(&state, &caller, request, &log).await?;
    Ok(axum::Json(render_embeddings(&embedded, encoding)).into_response())
}

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingItem<'a>>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct EmbeddingItem<'a> {
    object: &'static str,
    index: usize,
    embedding: Vector<'a>,
}

/// A vector as the client asked for it.
#[derive(Serialize)]
#[serde(untagged)]
enum Vector<'a> {
    Floats(&'a [f32]),
    Base64(String),
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: i64,
    total_tokens: i64,
}

fn render_embeddings(embedded: &relay::Embedded, encoding: Encoding) -> EmbeddingList<'_> {
    let data = embedded
        .vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| EmbeddingItem {
            object: "embedding",
            index,
            embedding: match encoding {
                Encoding::Float => Vector::Floats(vector),
                Encoding::Base64 => Vector::Base64(base64_of(vector)),
            },
        })
        .collect();
    EmbeddingList {
        object: "list",
        data,
        model: &embedded.model,
        usage: Usage {
            prompt_tokens: embedded.tokens,
            total_tokens: embedded.tokens,
        },
    }
}

/// Little-endian `f32`s in base64, as OpenAI's `encoding_format: "base64"`.
fn base64_of(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[utoipa::path(post, path = "/v1/rerank", tag = "OpenAI", summary = "The caller's documents ranked against a query (Jina's shape)", request_body = ragway_protocol::embeddings::RerankRequest, responses((status = 200, description = "See docs/api.md")))]
async fn rerank(
    State(state): State<AppState>,
    caller: Caller,
    log: LogHandle,
    ApiJson(request): ApiJson<RerankRequest>,
) -> AppResult<Response> {
    let request = request.check()?;
    let ranked = relay::rerank(&state, &caller, request, &log).await?;
    Ok(axum::Json(render_ranked(&ranked)).into_response())
}

#[derive(Serialize)]
struct RerankAnswer<'a> {
    id: String,
    model: &'a str,
    results: Vec<RerankResult<'a>>,
    usage: RerankUsage,
}

#[derive(Serialize)]
struct RerankResult<'a> {
    index: usize,
    relevance_score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<Text<'a>>,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct RerankUsage {
    total_tokens: i64,
}

fn render_ranked(ranked: &relay::Ranked) -> RerankAnswer<'_> {
    let results = ranked
        .results
        .iter()
        .map(|&(index, relevance_score)| RerankResult {
            index,
            relevance_score,
            document: ranked.return_documents.then(|| Text {
                text: &ranked.documents[index],
            }),
        })
        .collect();
    RerankAnswer {
        id: uuid::Uuid::now_v7().to_string(),
        model: &ranked.model,
        results,
        usage: RerankUsage {
            total_tokens: ranked.tokens,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_are_little_endian_floats() {
        let encoded = base64_of(&[1.0, -2.5]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64");
        assert_eq!(bytes.len(), 8);
        assert_eq!(
            f32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            -2.5
        );
    }
}
