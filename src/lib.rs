//! ragway: a self-hosted knowledge chat gateway.
//!
//! Module map (see ARCHITECTURE.md for the tour):
//! - [`backup`]: `ragway backup` / `ragway restore` of the embedded stores
//! - [`config`]: bootstrap settings (defaults < `ragway.toml` < `RAGWAY_*` env < flags)
//! - [`runtime`]: settings the admin changes while ragway runs
//! - [`startup`]: build state, bind, serve, shut down
//! - [`state`]: the shared [`state::AppState`]
//! - [`error`]: one [`error::AppError`] rendered as OpenAI's error JSON
//! - [`http`]: routes, one file per resource
//! - [`auth`]: `sk-…` API keys, the admin account, sealed secrets, and the extractors that demand them
//! - [`chat`]: the chat pipeline and SSE relay
//! - [`retrieval`]: finding chunks for a question, prompt context
//! - [`ingest`]: extract, split, embed, index; the worker pool
//! - [`upstream`]: OpenAI-compatible upstream client; providers saved through the admin
//! - [`store`]: SQL (sqlx), vectors (LanceDB), blobs (object_store)
//! - [`usage`]: the request log, per-key daily usage, per-key limits
//! - [`web`]: the web admin's page, script and stylesheet, embedded

pub mod auth;
pub mod backup;
pub mod chat;
pub mod config;
pub use ragway_domain as domain;
pub mod error;
pub mod http;
pub mod ingest;
pub mod knowledge;
pub mod known;
pub mod relay;
pub mod retrieval;
pub mod runtime;
pub mod startup;
pub mod state;
pub mod telemetry;
pub use ragway_store as store;
pub mod upstream;
pub mod usage;
pub mod vector_stores;
pub mod web;
