//! The `file_search` tool: an answer grounded in the vector stores the
//! request names instead of the model's knowledge. The Responses API takes
//! it as OpenAI defines it; chat completions take the same tool as ragway's
//! extension. It never reaches the upstream: ragway searches the stores
//! (the caller's own or shared ones: another key's store is "not found")
//! for the question, and the answer reports what was searched and found.

use serde_json::Value;
use tracing::Instrument;

use super::prompt::Grounding;
use super::{ChatRequest, Exchange};
use crate::auth::Caller;
use crate::error::AppResult;
use crate::vector_stores::search::{self, SearchResult};
use ragway_protocol::vector_stores::{take_file_search, FileSearch};

/// What a file search did: the queries it ran and the results it found
/// (numbered as the answer's sources are).
#[derive(Debug, Clone)]
pub struct FileSearchRun {
    pub queries: Vec<String>,
    pub results: Vec<SearchResult>,
}

/// A chat completions request's `file_search` tool, taken out of its
/// `tools` (with a `tool_choice` that named it, or that is left with no
/// tool to choose).
pub(super) fn take_tool(request: &mut ChatRequest) -> AppResult<()> {
    if request.file_search.is_some() {
        return Ok(());
    }
    let Some(Value::Array(tools)) = request.rest.get_mut("tools") else {
        return Ok(());
    };
    request.file_search = take_file_search(tools).map_err(crate::error::AppError::from)?;
    let emptied = tools.is_empty();
    if request.file_search.is_none() {
        return Ok(());
    }
    let chose_search = request
        .rest
        .get("tool_choice")
        .is_some_and(|choice| choice.get("type") == Some(&Value::from("file_search")));
    if emptied {
        request.rest.remove("tools");
        request.rest.remove("tool_choice");
    } else if chose_search {
        request.rest.remove("tool_choice");
    }
    Ok(())
}

/// Search the stores of `tool` for `queries` into the exchange's sources.
pub(super) async fn ground(
    caller: &Caller,
    tool: FileSearch,
    queries: &[String],
    exchange: &mut Exchange,
) -> AppResult<Grounding> {
    let started = std::time::Instant::now();
    let state = exchange.state.clone();
    let span = tracing::debug_span!("retrieval", stores = tool.vector_store_ids.len());
    let mut options = tool.search;
    options.queries = queries.to_vec();
    let searched = async {
        let searching = search::open(
            &state,
            caller,
            &tool.vector_store_ids,
            options.filter.as_ref(),
        )
        .await?;
        let (sources, results) = searching.find(&state, caller, &options).await?;
        AppResult::Ok((results, sources))
    };
    let (results, sources) = searched.instrument(span).await?;
    exchange.log.set_retrieval(started.elapsed());
    exchange.sources = sources;
    exchange.file_search = Some(FileSearchRun {
        queries: options.queries,
        results,
    });
    Ok(if exchange.sources.is_empty() {
        Grounding::NothingFound
    } else {
        Grounding::Sources
    })
}
