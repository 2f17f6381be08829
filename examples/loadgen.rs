//! A load generator for the benchmarks in `bench/`.
//!
//! Open loop (the default): sends POST requests at a fixed rate (not "as
//! fast as answers come back", so a slow response cannot hide the requests
//! that should have followed it) and measures each latency from the moment
//! the request was due to the last byte of the answer.
//!
//! Closed loop (`--concurrency N`): N clients, each sending its next
//! request as soon as its last answer has ended, for the whole time;
//! latency runs from each request's start.
//!
//! Prints one JSON line with percentiles in milliseconds.
//!
//! `cargo run --release --example loadgen -- --url URL --key KEY --rate 200 --seconds 10 --body '{…}'`
//! `cargo run --release --example loadgen -- --url URL --key KEY --concurrency 500 --seconds 60 --body '{…}'`

// Its clients are tasks of its own, not the server's background work.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::Mutex;

#[derive(Parser)]
struct Args {
    /// Full URL to POST to.
    #[arg(long)]
    url: String,
    /// Bearer key.
    #[arg(long, default_value = "")]
    key: String,
    /// Requests per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// JSON body.
    #[arg(long)]
    body: String,
    /// Measure to the first byte of the answer's body (time to first token
    /// of a stream) instead of the last.
    #[arg(long)]
    first_byte: bool,
    /// Closed loop: this many clients, each sending again once its answer has ended.
    #[arg(long)]
    concurrency: Option<usize>,
}

/// One request: its latency from `due` (to the first or the last byte), or
/// `None` when it failed (a transport error, a non-2xx status, a broken body).
async fn measure(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &str,
    first_byte: bool,
    due: Instant,
) -> Option<Duration> {
    let mut response = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())?;
    let first = response
        .chunk()
        .await
        .ok()
        .flatten()
        .map(|_| due.elapsed())?;
    while let Some(chunk) = response.chunk().await.ok()? {
        // An SSE error event (an error object, in any protocol's shape) is a
        // failed answer too; a response's `"error":null` is not.
        if chunk.windows(9).any(|w| w == b"\"error\":{")
            || chunk.windows(10).any(|w| w == b"\"error\": {")
        {
            return None;
        }
    }
    Some(if first_byte { first } else { due.elapsed() })
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("building the HTTP client");
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let record = |latencies: Arc<Mutex<Vec<Duration>>>,
                  errors: Arc<std::sync::atomic::AtomicU64>,
                  measured: Option<Duration>| async move {
        match measured {
            Some(latency) => latencies.lock().await.push(latency),
            None => {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    let mut tasks = Vec::new();
    if let Some(clients) = args.concurrency {
        let deadline = start + Duration::from_secs(args.seconds);
        for _ in 0..clients {
            let (client, latencies, errors) = (client.clone(), latencies.clone(), errors.clone());
            let (url, key, body) = (args.url.clone(), args.key.clone(), args.body.clone());
            let first_byte = args.first_byte;
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let measured =
                        measure(&client, &url, &key, &body, first_byte, Instant::now()).await;
                    record(latencies.clone(), errors.clone(), measured).await;
                }
            }));
        }
    } else {
        let total = args.rate as u64 * args.seconds;
        let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
        for i in 0..total {
            let due = start + interval * i as u32;
            tokio::time::sleep_until(due.into()).await;
            let (client, latencies, errors) = (client.clone(), latencies.clone(), errors.clone());
            let (url, key, body) = (args.url.clone(), args.key.clone(), args.body.clone());
            let first_byte = args.first_byte;
            tasks.push(tokio::spawn(async move {
                let measured = measure(&client, &url, &key, &body, first_byte, due).await;
                record(latencies, errors, measured).await;
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut latencies = latencies.lock().await.clone();
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    let achieved = latencies.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "{{\"requests\":{},\"errors\":{},\"rate\":{:.1},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        latencies.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        achieved,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}
