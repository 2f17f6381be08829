//! The rerank capability: the SiliconFlow/Jina/Cohere `/rerank` shape.

use super::error::UpstreamError;
use serde::Deserialize;
use serde_json::json;

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
        let ready = self.ready()?;
        let body = json!({
            "model": ready.model(),
            "query": query,
            "documents": documents,
            "top_n": top_n,
            "return_documents": false,
        });
        #[derive(Deserialize)]
        struct Item {
            index: usize,
            relevance_score: f32,
        }
        #[derive(Deserialize)]
        struct Answer {
            results: Vec<Item>,
        }
        let answer: Answer = self
            .send_json("/rerank", ready.model(), &body, &LogHandle::detached())
            .await?;
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
            .map(|r| (r.index, r.relevance_score))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(top_n);
        Ok(ranked)
    }
}
