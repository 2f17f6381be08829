//! What a key asks of an upstream capability directly, beside chat:
//! embeddings (`POST /v1/embeddings`, for clients that do their own
//! retrieval or caching) and reranking (`POST /v1/rerank`, the provider
//! Dify, FastGPT and Open WebUI take). Each goes through the role's key
//! pool with the same checks and accounting as chat: the model named must
//! be the configured one (or one of its aliases), the key's tokens for the
//! day are checked first, and the upstream's usage goes on the request's
//! log entry (and so into the key's daily usage).

use serde_json::Value;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::upstream::EmbedOptions;
use crate::usage::LogHandle;
use ragway_protocol::embeddings::{Embeddings, Rerank};

/// Vectors for a key's texts.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The model name the client asked for (the configured model's, when it named none).
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
    /// `prompt_tokens` and `total_tokens`: the upstream's count.
    pub tokens: i64,
}

/// Embed a key's texts with the configured embeddings model.
pub async fn embed(
    state: &AppState,
    caller: &Caller,
    request: Embeddings,
    log: &LogHandle,
) -> AppResult<Embedded> {
    let upstream = &state.upstreams.embeddings;
    upstream.ready()?;
    let configured = state.upstreams.embed_model();
    let model = answering_name(request.model, &configured, &state.settings.embed_aliases)?;
    log.set_model(&model, Some(&configured));
    crate::usage::quota::check_tokens(&state.db, &state.request_log, caller).await?;
    let options = EmbedOptions {
        input_type: None,
        dimensions: request.dimensions,
        log: log.clone(),
    };
    let embedded = upstream
        .embed(&configured, &request.inputs, &options)
        .await?;
    let tokens = embedded.usage.as_ref().map_or(0, |usage| {
        count(usage, "prompt_tokens").max(count(usage, "total_tokens"))
    });
    log.set_usage(Some(&serde_json::json!({
        "prompt_tokens": tokens,
        "total_tokens": tokens,
    })));
    Ok(Embedded {
        model,
        vectors: embedded.vectors,
        tokens,
    })
}

/// Documents ranked for a key's query.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// The model name the client asked for (the configured model's, when it named none).
    pub model: String,
    /// `(index into the documents, relevance score)`, best first.
    pub results: Vec<(usize, f32)>,
    /// The documents, for results that carry their text.
    pub documents: Vec<String>,
    pub return_documents: bool,
    /// Tokens the upstream counted (0 when it said nothing).
    pub tokens: i64,
}

/// Rank a key's documents against its query with the rerank upstream.
pub async fn rerank(
    state: &AppState,
    caller: &Caller,
    request: Rerank,
    log: &LogHandle,
) -> AppResult<Ranked> {
    let upstream = &state.upstreams.rerank;
    let configured = upstream.ready()?.model().to_string();
    let model = answering_name(request.model, &configured, &state.settings.rerank_aliases)?;
    log.set_model(&model, Some(&configured));
    crate::usage::quota::check_tokens(&state.db, &state.request_log, caller).await?;
    let ranked = upstream
        .rerank_counted(&request.query, &request.documents, request.top_n, log)
        .await?;
    let tokens = ranked
        .usage
        .as_ref()
        .map_or(0, |usage| count(usage, "total_tokens"));
    log.set_usage(Some(&serde_json::json!({
        "prompt_tokens": tokens,
        "total_tokens": tokens,
    })));
    Ok(Ranked {
        model,
        results: ranked.ranked,
        documents: request.documents,
        return_documents: request.return_documents,
        tokens,
    })
}

/// The name to answer with: the one asked for when it is the configured
/// model or one of its aliases; the configured one when none was asked for;
/// else a 404 naming the names that work.
fn answering_name(
    asked: Option<String>,
    configured: &str,
    aliases: &[String],
) -> AppResult<String> {
    let Some(asked) = asked else {
        return Ok(configured.to_string());
    };
    let known = asked == configured || aliases.iter().any(|alias| alias.trim() == asked);
    if known {
        Ok(asked)
    } else {
        Err(AppError::ModelNotFound(asked))
    }
}

/// A token count of a usage object; 0 when missing or negative.
fn count(usage: &Value, name: &str) -> i64 {
    usage.get(name).and_then(Value::as_i64).unwrap_or(0).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_model_and_its_aliases_answer() {
        let aliases = vec!["text-embedding-3-small".to_string()];
        assert_eq!(answering_name(None, "bge", &aliases).expect("ok"), "bge");
        assert_eq!(
            answering_name(Some("bge".into()), "bge", &aliases).expect("ok"),
            "bge"
        );
        assert_eq!(
            answering_name(Some("text-embedding-3-small".into()), "bge", &aliases).expect("ok"),
            "text-embedding-3-small"
        );
        assert!(matches!(
            answering_name(Some("gpt-4o".into()), "bge", &aliases),
            Err(AppError::ModelNotFound(name)) if name == "gpt-4o"
        ));
    }
}
