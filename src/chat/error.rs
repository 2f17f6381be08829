//! How the chat side refuses or fails in its own words: a request over a
//! cap, a model or conversation that is not there, a stored row that does
//! not read back. [`AppError`] (and so each client protocol's error shape)
//! takes it in one place, below.

use crate::error::AppError;

/// Why a chat, model or conversation call did not go through.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The request says something that cannot be (a bad field, a bad model
    /// setting, no user message).
    #[error("{0}")]
    Invalid(String),
    /// The conversation or the key's stored bytes would go over a cap; the
    /// message names the setting. (A request over its own caps is
    /// `Invalid`: the protocol crate's checks say so.)
    #[error("{0}")]
    OverCap(String),
    /// The model asked for is not served here.
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// No such conversation or image (or one the caller may not see).
    #[error("No {what} with id `{id}`.")]
    NotFound { what: &'static str, id: String },
    /// The name is taken.
    #[error("{0}")]
    Taken(String),
    /// A store failed, or a stored row does not read back; the cause is
    /// logged, never shown.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// What the chat side's functions answer.
pub type ChatResult<T> = Result<T, ChatError>;

impl ChatError {
    /// A conversation or image that is not there.
    pub fn not_found(what: &'static str, id: &str) -> Self {
        ChatError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl From<sqlx::Error> for ChatError {
    fn from(err: sqlx::Error) -> Self {
        ChatError::Store(err.into())
    }
}

/// A request the protocol crate's checks refused (a field, or a cap).
impl From<ragway_protocol::RequestError> for ChatError {
    fn from(err: ragway_protocol::RequestError) -> Self {
        match err {
            ragway_protocol::RequestError::BadRequest(message) => ChatError::Invalid(message),
        }
    }
}

impl From<object_store::Error> for ChatError {
    fn from(err: object_store::Error) -> Self {
        ChatError::Store(err.into())
    }
}

impl From<crate::domain::page::BadPageLimit> for ChatError {
    fn from(err: crate::domain::page::BadPageLimit) -> Self {
        ChatError::Invalid(err.to_string())
    }
}

/// The one place the chat side's errors become the service's.
impl From<ChatError> for AppError {
    fn from(err: ChatError) -> Self {
        let message = err.to_string();
        match err {
            ChatError::Invalid(_) | ChatError::OverCap(_) => AppError::BadRequest(message),
            ChatError::ModelNotFound(name) => AppError::ModelNotFound(name),
            ChatError::NotFound { what, id } => AppError::not_found(what, &id),
            ChatError::Taken(_) => AppError::Conflict(message),
            ChatError::Store(err) => AppError::Internal(err),
        }
    }
}
