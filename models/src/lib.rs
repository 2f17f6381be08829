//! ragway's built-in models: sentence embeddings ([`Embedder`]) and
//! cross-encoder reranking ([`Reranker`]) on the CPU with candle, read from
//! a folder of Hugging Face files (`config.json`, `tokenizer.json`,
//! `model.safetensors` and the sentence-transformers extras), the download
//! that fills such a folder from the hub or a mirror ([`hub`]), and the
//! [`Library`] that loads each model once and runs it on a bounded pool so
//! that inference never takes the async runtime's threads.
//!
//! A model is named `local:REPO` (`local:BAAI/bge-small-zh-v1.5`, fetched
//! into the models folder once) or `local:/a/folder` (used as it is).

mod embedder;
mod encoder;
pub mod hub;
mod library;
mod reranker;
mod runners;
mod source;

pub use embedder::{Embedder, Pooling};
pub use library::{Library, LibraryOptions, ModelState, ModelStatus};
pub use reranker::Reranker;
pub use source::{Source, LOCAL_PREFIX};

/// What can go wrong with a local model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The name is not a hub repository or an absolute folder.
    #[error("{0}")]
    Name(String),
    /// The folder lacks a file, or a file is not what the model needs.
    #[error("{0}")]
    Files(String),
    /// Fetching from the hub failed.
    #[error("{0}")]
    Download(String),
    /// The tokenizer refused the text or its settings.
    #[error("the tokenizer failed: {0}")]
    Tokenizer(String),
    /// The weights do not fit the architecture, or inference failed.
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
}

/// A result with a [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
