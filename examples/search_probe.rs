//! Times chat's two searches on an existing data directory's chunk table,
//! alone and together, without the rest of the chat path: where
//! `bench/rag_overhead.sh`'s stage timings say retrieval is slow, this says
//! what each search costs by itself on the same data.
//!
//!   search_probe LANCEDB_DIR TABLE EMBEDDINGS_URL MODEL "QUESTION" [N=200]
//!
//! The question is embedded once through `EMBEDDINGS_URL` (an
//! OpenAI-compatible `/v1/embeddings`), then each mode runs N times, one
//! query after another, without the scope filter. Prints a markdown table.

use std::time::{Duration, Instant};

use ragway::store::vectors::{Scope, VectorStore};

/// Candidates per search, as chat takes them for the default top-k.
const WANTED: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[at].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() >= 6,
        "usage: search_probe LANCEDB_DIR TABLE EMBEDDINGS_URL MODEL QUESTION [N]"
    );
    let (dir, table, url, model, question) = (&args[1], &args[2], &args[3], &args[4], &args[5]);
    let n: usize = args.get(6).map_or(Ok(200), |s| s.parse())?;
    let body: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"model": model, "input": [question]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let vector: Vec<f32> = serde_json::from_value(body["data"][0]["embedding"].clone())?;
    let store = VectorStore::open(dir).await?;
    let scope = Scope {
        collections: None,
        private_space: None,
        everything: true,
    };
    // Warm the caches (index, metadata) as a running server's would be.
    for _ in 0..20 {
        store.search(table, &vector, WANTED, scope).await?;
        store.text_search(table, question, WANTED, scope).await?;
    }
    println!("| mode | runs | p50 ms | p90 ms | p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for mode in ["vector", "full text", "both at once"] {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            match mode {
                "vector" => {
                    store.search(table, &vector, WANTED, scope).await?;
                }
                "full text" => {
                    store.text_search(table, question, WANTED, scope).await?;
                }
                _ => {
                    let (a, b) = tokio::join!(
                        store.search(table, &vector, WANTED, scope),
                        store.text_search(table, question, WANTED, scope)
                    );
                    a?;
                    b?;
                }
            }
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "| {mode} | {n} | {:.2} | {:.2} | {:.2} |",
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 0.99)
        );
    }
    Ok(())
}
