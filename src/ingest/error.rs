//! How ingest refuses or fails, in its own words; [`AppError`] (and so
//! each client protocol's error shape) takes it in one place, below.

use crate::error::AppError;
use crate::upstream::UpstreamError;

/// Why an upload, a document or a collection call did not go through.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The request says something that cannot be (a bad collection name,
    /// a visibility that is neither shared nor private, a bad filter).
    #[error("{0}")]
    Invalid(String),
    /// The caller's key may not do this (a user key uploading a shared document).
    #[error("{0}")]
    NotAllowed(String),
    /// No such document or collection (or one the caller may not see).
    #[error("No {what} with id `{id}`.")]
    NotFound { what: &'static str, id: String },
    /// What exists stands in the way: the document is being ingested, the
    /// collection holds documents, the name is taken.
    #[error("{0}")]
    Busy(String),
    /// Over the upload limit.
    #[error("{0}")]
    TooLarge(String),
    /// A file type ragway cannot read.
    #[error("{0}")]
    Unreadable(String),
    /// Nothing to index.
    #[error("{0}")]
    Empty(String),
    /// The embeddings upstream (not configured, or failing).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A store failed; the cause is logged, never shown.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// What ingest functions answer.
pub type IngestResult<T> = Result<T, IngestError>;

impl IngestError {
    /// A document or collection that is not there.
    pub fn not_found(what: &'static str, id: &str) -> Self {
        IngestError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

impl From<sqlx::Error> for IngestError {
    fn from(err: sqlx::Error) -> Self {
        IngestError::Store(err.into())
    }
}

impl From<lancedb::Error> for IngestError {
    fn from(err: lancedb::Error) -> Self {
        IngestError::Store(err.into())
    }
}

impl From<object_store::Error> for IngestError {
    fn from(err: object_store::Error) -> Self {
        IngestError::Store(err.into())
    }
}

impl From<crate::domain::page::BadPageLimit> for IngestError {
    fn from(err: crate::domain::page::BadPageLimit) -> Self {
        IngestError::Invalid(err.to_string())
    }
}

/// The one place ingest's errors become the service's (status, type, code).
impl From<IngestError> for AppError {
    fn from(err: IngestError) -> Self {
        let message = err.to_string();
        match err {
            IngestError::Invalid(_) => AppError::BadRequest(message),
            IngestError::NotAllowed(_) => AppError::Forbidden(message),
            IngestError::NotFound { what, id } => AppError::not_found(what, &id),
            IngestError::Busy(_) => AppError::Conflict(message),
            IngestError::TooLarge(_) => AppError::PayloadTooLarge(message),
            IngestError::Unreadable(_) => AppError::UnsupportedMediaType(message),
            IngestError::Empty(_) => AppError::Unprocessable(message),
            IngestError::Upstream(err) => err.into(),
            IngestError::Store(err) => AppError::Internal(err),
        }
    }
}
