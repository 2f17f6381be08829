//! An open-loop load generator for the benchmarks in `bench/`.
//!
//! Sends POST requests at a fixed rate (not "as fast as answers come back", so
//! a slow response cannot hide the requests that should have followed it) and
//! measures each latency from the moment the request was due to the last
//! byte of the answer. Prints one JSON line with percentiles in milliseconds.
//!
//! `cargo run --release --example loadgen -- --url URL --key KEY --rate 200 --seconds 10 --body '{…}'`

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
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = args.rate as u64 * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, latencies, errors) = (client.clone(), latencies.clone(), errors.clone());
        let (url, key, body) = (args.url.clone(), args.key.clone(), args.body.clone());
        let first_byte = args.first_byte;
        tasks.push(tokio::spawn(async move {
            let result = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let measured = match result {
                Ok(mut response) if response.status().is_success() => {
                    let first = response.chunk().await.ok().flatten().map(|_| due.elapsed());
                    let rest_ok = async {
                        while let Some(_chunk) = response.chunk().await? {}
                        Ok::<_, reqwest::Error>(())
                    }
                    .await
                    .is_ok();
                    match (first, rest_ok) {
                        (Some(first), true) if first_byte => Some(first),
                        (Some(_), true) => Some(due.elapsed()),
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(latency) = measured {
                latencies.lock().await.push(latency);
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
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
