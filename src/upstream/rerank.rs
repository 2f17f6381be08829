//! The rerank capability: the SiliconFlow/Jina/Cohere `/rerank` shape.

use super::error::UpstreamError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Upstream;

use crate::error::AppResult;
use crate::usage::LogHandle;

impl Upstream {
    /// Order `documents` by relevance to `query` with the rerank upstream
    /// (the SiliconFlow/Jina/Cohere `/rerank` shape): the best `top_n` as
    /// `(index into documents, relevance score)`, best first.
    pub async fn rerank(
        &self,
        query: &str,
        documents: &[&str],
        top_n: usize,
    ) -> AppResult<Vec<(usize, f32)>> {
        Ok(self
            .rerank_counted(query, documents, top_n, &LogHandle::detached())
            .await?
            .ranked)
    }

    /// [`Upstream::rerank`], with the upstream's usage, the attempts on
    /// `log` (what `POST /v1/rerank` answers a client with).
    #[tracing::instrument(level = "debug", name = "upstream", skip_all, fields(path = "/rerank", documents = documents.len()))]
    pub async fn rerank_counted<S: AsRef<str> + Serialize>(
        &self,
        query: &str,
        documents: &[S],
        top_n: usize,
        log: &LogHandle,
    ) -> AppResult<Ranked> {
        let ready = self.ready()?;
        if super::local::Source::is_local(ready.model()) {
            return self
                .rerank_locally(ready.model(), query, documents, top_n)
                .await;
        }
        #[derive(Serialize)]
        struct Request<'a, S> {
            model: &'a str,
            query: &'a str,
            documents: &'a [S],
            top_n: usize,
            return_documents: bool,
        }
        let body = Request {
            model: ready.model(),
            query,
            documents,
            top_n,
            return_documents: false,
        };
        #[derive(Deserialize)]
        struct Item {
            index: usize,
            relevance_score: f32,
        }
        #[derive(Deserialize)]
        struct Answer {
            results: Vec<Item>,
            #[serde(default)]
            usage: Option<Value>,
        }
        let answer: Answer = self.send_json("/rerank", ready.model(), &body, log).await?;
        if let Some(bad) = answer.results.iter().find(|r| r.index >= documents.len()) {
            return Err(UpstreamError::Unusable(format!(
                "The rerank upstream ranked document {} of {}.",
                bad.index,
                documents.len()
            ))
            .into());
        }
        let mut ranked: Vec<(usize, f32)> = answer
            .results
            .into_iter()
            .filter(|r| r.relevance_score.is_finite())
            .map(|r| (r.index, r.relevance_score))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        // A document ranked twice keeps its better place.
        let mut seen = vec![false; documents.len()];
        ranked.retain(|r| !std::mem::replace(&mut seen[r.0], true));
        ranked.truncate(top_n);
        Ok(Ranked {
            ranked,
            usage: answer.usage.filter(Value::is_object),
        })
    }
}

/// The best documents, best first, and what the upstream said it used.
#[derive(Debug, Clone, Default)]
pub struct Ranked {
    /// `(index into the documents, relevance score)`.
    pub ranked: Vec<(usize, f32)>,
    /// The upstream's `usage` (Jina's, SiliconFlow's: `total_tokens`).
    pub usage: Option<Value>,
}
