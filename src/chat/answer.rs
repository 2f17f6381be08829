//! What the chat pipeline answers, before any wire format: the
//! conversation, the sources, and either a whole completion or a stream of
//! events. Each client protocol renders it its own way (`http::chat` as
//! OpenAI's JSON and SSE, `http::anthropic` as Anthropic's); nothing here
//! knows HTTP.
//!
//! The completion and its chunks keep the upstream's OpenAI-compatible
//! shape (`chat.completion`, `chat.completion.chunk`) as JSON values, with
//! the public model name put in: the chat upstream speaks that protocol, and
//! fields ragway does not know (a provider's `reasoning_content`, say) reach
//! OpenAI clients unchanged.

use std::pin::Pin;

use futures::Stream;
use serde_json::Value;

use crate::retrieval::Source;

/// One answer of the chat pipeline.
pub struct Answer {
    /// The conversation the exchange was saved in.
    pub conversation_id: String,
    /// Messages the conversation holds once this exchange is saved (its
    /// answer the last of them).
    pub stored_messages: usize,
    /// The public model name the client asked for.
    pub model: String,
    /// The sources the answer was grounded in (numbered as the prompt cites them).
    pub sources: Vec<Source>,
    /// What the request's `file_search` tool searched and found, if it had one.
    pub file_search: Option<super::file_search::FileSearchRun>,
    pub reply: Reply,
}

/// The answer itself.
pub enum Reply {
    /// A whole `chat.completion`, saved before it is returned.
    Whole(Value),
    /// The answer as it is generated; saved when it ends (what came is saved,
    /// marked incomplete, when it breaks off or the client goes away).
    Stream(Events),
}

/// The events of a streamed answer, in order; the last is [`Event::Done`]
/// or [`Event::Failed`].
pub type Events = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `chat.completion.chunk` (the usage chunk among them, when the
    /// request asked for usage).
    Chunk(Value),
    /// Data the upstream sent that is not JSON, passed on as it came.
    Raw(String),
    /// The answer is complete and saved. `last` is an empty chunk in the
    /// upstream's id and time, for protocols that end with one.
    Done { last: Value },
    /// The stream broke off; `upstream` is the upstream's own error object
    /// when it sent one.
    Failed {
        message: String,
        upstream: Option<Value>,
    },
}
