//! OpenAI's protocol: the chat completions face of the pipeline (its JSON
//! and SSE shapes). Resources OpenAI clients also call (models, documents)
//! have their own files beside this folder.

pub mod chat;
