//! OpenAI's protocol: the chat completions and Responses faces of the
//! pipeline (their JSON and SSE shapes), and embeddings and rerank for a key's own texts.
//! Resources OpenAI clients also call (models, documents) have their own
//! files beside this folder.

pub mod chat;
pub mod embeddings;
pub mod files;
pub mod responses;
pub mod vector_stores;
