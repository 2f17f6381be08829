//! Integration tests: the real app on port 0 with temp directories, against the fake upstream.

// Tests may unwrap (clippy.toml allows it in `#[test]` functions; this is for their helpers)
// and spawn bare tasks (the server under test and its clients, not its background work).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod admin_security;
mod helpers;
mod ingest_cli;

mod backup;
mod bad_inputs;
mod chat;
mod clients;
mod conversations;
mod crash_recovery;
mod documents;
mod drawing;
mod embeddings;
mod errors;
mod file_search;
mod gemini;
mod grounding;
mod hostile_extract;
mod hostile_outbound;
mod hostile_requests;
mod hostile_server;
mod index;
mod library;
mod local_models;
mod log_hygiene;
mod logs;
mod migrate_store;
mod models;
mod openapi;
mod providers;
mod replicas;
mod request_ids;
mod responses;
mod retrieval;
mod retrieval_test;
mod saves;
mod settings;
mod telemetry;
mod upstreams;
mod vector_store_requests;
mod vector_store_variants;
mod vector_stores;
