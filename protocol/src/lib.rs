//! The request side of each client protocol ragway speaks: OpenAI's chat
//! completions ([`chat`]), Anthropic's Messages API ([`anthropic`],
//! translated into a chat request), OpenAI's Responses API ([`responses`],
//! translated too), Google's Gemini API ([`gemini`], translated too),
//! embeddings and rerank ([`embeddings`]), OpenAI's vector stores
//! ([`vector_stores`]: stores, files, batches, searches and their filters),
//! with the caps on what one request may carry ([`caps`]). Pure functions
//! over parsed JSON, no I/O: the server (the `ragway` crate) runs them on
//! every request body, and `fuzz/` links this crate alone, without the
//! server's LanceDB stack, to throw arbitrary bytes at them.

pub mod anthropic;
pub mod caps;
pub mod chat;
pub mod embeddings;
pub mod gemini;
pub mod responses;
pub mod vector_stores;

pub use caps::Caps;
pub use chat::{ChatRequest, Message};

/// Why a request was refused. Every refusal is the client's to fix: the
/// server answers it as a 400 with the message as it stands, so the
/// messages are written for the caller (and name the setting behind a cap).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A malformed request, or one over a cap.
    #[error("{0}")]
    BadRequest(String),
}

/// What the request checks and translations return.
pub type RequestResult<T> = Result<T, RequestError>;

pub(crate) fn bad(message: impl Into<String>) -> RequestError {
    RequestError::BadRequest(message.into())
}
