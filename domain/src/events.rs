//! Ingest events: a document reached a new status, or a reindex ended.
//! Handlers that wait (`?wait=`), the admin and tests subscribe to them.

use super::DocumentStatus;

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A document, by id.
    Document(String),
    /// A reindex into the vector index with this id.
    Reindex(String),
}

/// A document reached a new status, or a reindex ended (ready or failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestEvent {
    pub subject: Subject,
    pub status: DocumentStatus,
}

impl IngestEvent {
    /// Document `id` reached `status`.
    pub fn document(id: &str, status: DocumentStatus) -> Self {
        Self {
            subject: Subject::Document(id.to_string()),
            status,
        }
    }

    /// The reindex into index `id` ended with `status`.
    pub fn reindex(id: &str, status: DocumentStatus) -> Self {
        Self {
            subject: Subject::Reindex(id.to_string()),
            status,
        }
    }

    /// Whether the event is about document `id`.
    pub fn is_document(&self, id: &str) -> bool {
        matches!(&self.subject, Subject::Document(document) if document == id)
    }

    /// Whether the event is about the reindex into index `id`.
    pub fn is_reindex(&self, id: &str) -> bool {
        matches!(&self.subject, Subject::Reindex(index) if index == id)
    }
}
