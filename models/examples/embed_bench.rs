//! Embedding throughput of a built-in model, as the server runs it (the
//! library's pool, its batches), for bench/models/embed.sh:
//!
//!   embed_bench MODEL_FOLDER TEXTS.json
//!
//! prints one JSON line: texts, seconds, texts/s, MB/s of text, and the
//! process's resident memory after loading and at its peak.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark tool: a failure is the run's"
)]

use std::time::Instant;

use ragway_models::{Library, LibraryOptions};

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (folder, texts) = (&args[1], &args[2]);
    let texts: Vec<String> = serde_json::from_slice(&std::fs::read(texts).unwrap()).unwrap();
    let library = Library::new(LibraryOptions {
        models_dir: std::env::temp_dir(),
        hub: Default::default(),
        concurrent_runs: 1,
        allow_fetch: false,
    });
    let name = format!("local:{folder}");
    library
        .embed(&name, &texts[..16.min(texts.len())], false)
        .await
        .unwrap();
    let loaded_rss = status_kb("VmRSS:");
    let started = Instant::now();
    let vectors = library.embed(&name, &texts, false).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), texts.len());
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "{}",
        serde_json::json!({
            "texts": texts.len(),
            "secs": secs,
            "texts_per_sec": texts.len() as f64 / secs,
            "mb_per_sec": bytes as f64 / secs / 1e6,
            "rss_mb_loaded": loaded_rss / 1024,
            "rss_mb_peak": status_kb("VmHWM:") / 1024,
        })
    );
}
