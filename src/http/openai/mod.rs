//! OpenAI's protocol: the chat completions face of the pipeline (its JSON
//! and SSE shapes), and embeddings and rerank for a key's own texts.
//! Resources OpenAI clients also call (models, documents) have their own
//! files beside this folder.

pub mod chat;
pub mod embeddings;
