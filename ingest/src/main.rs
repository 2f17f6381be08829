//! `ragway-ingest`: bulk-load a folder into a ragway server over its HTTP API.
//!
//! This crate is a placeholder in the first slice; the ingestion issue fills it
//! (walk a folder, skip files the server already has by SHA-256, upload with
//! bounded concurrency, resume after a crash, show progress). Until then, use
//! `POST /v1/documents` directly (see the README).

fn main() {
    eprintln!(
        "ragway-ingest {}: bulk ingestion is not implemented yet; upload with POST /v1/documents (see README.md)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
