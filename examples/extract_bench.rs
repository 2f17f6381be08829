//! Extraction throughput: every file of a folder extracted in-process (on the
//! blocking pool, as ragway did before isolation) and in child processes (as
//! it does now), with the same concurrency, in alternating rounds; prints a
//! markdown row per way plus the ratio. Driven by `bench/extract.sh`.
//!
//!     extract_bench DIR [ROUNDS=3] [CONCURRENCY=2]
//!
//! The child is `RAGWAY_BIN` (default: the `ragway` beside this executable);
//! `DOCS_PER_PROCESS` (default 64, the server's) how many documents one
//! forked child reads before a fresh fork replaces it.

// Its extractions are tasks of its own, not the server's background work.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ragway::ingest::extract::child::Limits;
use ragway::ingest::extract::{detect, extract, Extractor, Format};
use tokio::sync::Semaphore;

type Files = Arc<Vec<(Format, Bytes)>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: extract_bench DIR [ROUNDS] [CONCURRENCY]"),
    );
    let rounds: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let concurrency: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let program = match std::env::var_os("RAGWAY_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .map(|release| release.join("ragway"))
            .expect("a target directory"),
    };
    let mut files = Vec::new();
    for entry in walk(&dir)? {
        let bytes = std::fs::read(&entry)?;
        let name = entry.file_name().and_then(|n| n.to_str());
        if let Ok(format) = detect(&bytes, name) {
            files.push((format, Bytes::from(bytes)));
        }
    }
    let files: Files = Arc::new(files);
    let megabytes = files.iter().map(|(_, b)| b.len()).sum::<usize>() as f64 / 1e6;
    let limits = Limits {
        memory_bytes: 1024 * 1024 * 1024,
        cpu_secs: 120,
        open_files: 64,
        wall: Duration::from_secs(120),
        max_inflated: 400 * 1024 * 1024,
        max_text: 200 * 1024 * 1024,
        docs_per_process: docs_per_process(),
    };
    let extractor = Extractor::new(Some(program), limits.clone(), concurrency)?;
    let (mut inside, mut child) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        inside.push(in_process(&files, concurrency, limits.max_inflated).await?);
        child.push(in_children(&files, &extractor).await?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (inside, child) = (median(inside), median(child));
    println!(
        "| {} | {} | {megabytes:.1} | {} | {inside:.3} | {child:.3} | {:.2} |",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        files.len(),
        docs_per_process(),
        inside / child
    );
    Ok(())
}

fn docs_per_process() -> u32 {
    std::env::var("DOCS_PER_PROCESS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// Every file under `dir`, sorted.
fn walk(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Seconds to extract all files on the blocking pool, `concurrency` at a time.
async fn in_process(files: &Files, concurrency: usize, max_inflated: u64) -> anyhow::Result<f64> {
    let permits = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..files.len() {
        let (files, permits) = (files.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("open");
            // The text comes back to the task, as it did to the ingest
            // pipeline (which split it next), and is dropped there.
            let text = tokio::task::spawn_blocking(move || {
                let (format, bytes) = &files[i];
                std::panic::catch_unwind(|| extract(*format, bytes, max_inflated))
            })
            .await
            .expect("joined");
            text.is_ok()
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds to extract all files in child processes (the extractor's own bound).
async fn in_children(files: &Files, extractor: &Extractor) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (format, bytes) in files.iter().cloned() {
        let extractor = extractor.clone();
        // As in `in_process`, the text is dropped by the task that asked
        // for it; kept until the join below, every answer would live at
        // once and each 1 MB text would cost its pages afresh.
        tasks.push(tokio::spawn(async move {
            extractor.extract(format, bytes).await.is_err()
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += usize::from(task.await?);
    }
    anyhow::ensure!(failed == 0, "{failed} files failed in children");
    Ok(started.elapsed().as_secs_f64())
}
