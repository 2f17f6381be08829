//! Where a document is on its way into the knowledge base.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A document's status, stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Stored, waiting for a worker.
    Pending,
    /// A worker is extracting, splitting and embedding it.
    Processing,
    /// Searchable.
    Ready,
    /// Could not be ingested; the document says why.
    Failed,
}

impl DocumentStatus {
    /// Every status, in the order a document goes through them.
    pub const ALL: [DocumentStatus; 4] = [
        DocumentStatus::Pending,
        DocumentStatus::Processing,
        DocumentStatus::Ready,
        DocumentStatus::Failed,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }

    /// Whether work on it is still to come (pending or processing).
    pub fn in_progress(self) -> bool {
        matches!(self, DocumentStatus::Pending | DocumentStatus::Processing)
    }

    /// Whether it is done, one way or the other (ready or failed).
    pub fn settled(self) -> bool {
        !self.in_progress()
    }
}

impl fmt::Display for DocumentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored name that is no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown document status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for DocumentStatus {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        DocumentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| UnknownStatus(name.to_string()))
    }
}

/// Compared with a name, as the API and tests spell statuses.
impl PartialEq<&str> for DocumentStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<DocumentStatus> for &str {
    fn eq(&self, other: &DocumentStatus) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in DocumentStatus::ALL {
            assert_eq!(status.as_str().parse::<DocumentStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert!("done".parse::<DocumentStatus>().is_err());
        assert!(DocumentStatus::Ready == "ready");
        assert!(DocumentStatus::Pending.in_progress());
        assert!(DocumentStatus::Failed.settled());
    }
}
