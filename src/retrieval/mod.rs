//! Finding the chunks that answer a question and turning them into prompt context.

use serde::Serialize;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::ingest::collections::private_space;
use crate::state::AppState;
use crate::store::indexes;
use crate::store::vectors::{ChunkHit, Scope};

/// A retrieved chunk as clients see it in `sources`.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// The number the prompt cites it by, from 1.
    pub index: usize,
    pub document_id: String,
    pub title: String,
    pub collection: String,
    pub chunk_id: String,
    /// The PDF page the passage starts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i32>,
    /// The headings the passage sits under, outermost first, joined by ` > `.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub score: f32,
    pub text: String,
}

/// What to search and how much to keep.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub top_k: usize,
    /// Shared collections to search; `None` means all of them.
    pub collections: Option<&'a [String]>,
    /// Sources scoring below this (cosine similarity) are left out.
    pub score_threshold: Option<f64>,
}

/// The top-k chunks for `question`; empty when the knowledge base is empty.
///
/// The caller's own private documents are searched along with the shared ones.
pub async fn retrieve(
    state: &AppState,
    caller: &Caller,
    question: &str,
    options: Options<'_>,
) -> AppResult<Vec<Source>> {
    if question.trim().is_empty() {
        return Ok(Vec::new());
    }
    // An empty knowledge base needs no embedding call: chat works before any upload.
    let Some(index) = indexes::active(&state.db).await? else {
        return Ok(Vec::new());
    };
    if index.dimension.is_none() {
        return Ok(Vec::new());
    }
    // The question is embedded by the model the index was built with, so
    // vectors compare even while a changed model waits for its reindex.
    let embedded = state
        .upstreams
        .embeddings
        .embed_with(&index.model, &[question.to_string()])
        .await;
    let vector = match embedded {
        Ok(mut vectors) => vectors.pop().unwrap_or_default(),
        Err(err) if index.model != state.settings.embed_model => {
            // The old model may be gone with the old provider: answer without
            // sources rather than not at all until the reindex is done.
            tracing::warn!(model = %index.model, error = %err, "the index's embedding model failed; answering without sources until `ragway reindex` finishes");
            return Ok(Vec::new());
        }
        Err(err) => return Err(err),
    };
    let mut hits = state
        .vectors
        .search(
            &index.table_name,
            &vector,
            options.top_k,
            Scope {
                collections: options.collections,
                private_space: Some(&private_space(&caller.key_id)),
            },
        )
        .await?;
    if let Some(threshold) = options.score_threshold {
        hits.retain(|hit| f64::from(hit.score) >= threshold);
    }
    Ok(numbered(hits))
}

fn numbered(hits: Vec<ChunkHit>) -> Vec<Source> {
    hits.into_iter()
        .enumerate()
        .map(|(i, hit)| Source {
            index: i + 1,
            document_id: hit.document_id,
            title: hit.title,
            collection: hit.collection,
            chunk_id: hit.chunk_id,
            page: hit.page,
            heading: hit.heading,
            score: hit.score,
            text: hit.text,
        })
        .collect()
}

/// The system-prompt block that gives the model its sources.
pub fn context_block(sources: &[Source]) -> String {
    let mut text = String::from(
        "Answer the user's question using the numbered sources below when they are relevant, \
         and cite them like [1]. If the sources do not contain the answer, say so and answer \
         from general knowledge only if you are sure. Reply in the language of the question.\n\nSources:\n",
    );
    for source in sources {
        let mut label = source.title.clone();
        if let Some(heading) = &source.heading {
            label.push_str(" > ");
            label.push_str(heading);
        }
        if let Some(page) = source.page {
            label.push_str(&format!(" (p. {page})"));
        }
        text.push_str(&format!(
            "\n[{}] {label}\n{}\n",
            source.index,
            source.text.trim()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_numbers_sources() {
        let sources = numbered(vec![ChunkHit {
            chunk_id: "d:0".into(),
            document_id: "d".into(),
            collection: "default".into(),
            ordinal: 0,
            title: "Handbook".into(),
            page: Some(3),
            heading: Some("Leave".into()),
            text: "Leave is 25 days.".into(),
            score: 0.9,
        }]);
        let block = context_block(&sources);
        assert!(block.contains("[1] Handbook > Leave (p. 3)\nLeave is 25 days."));
    }
}
