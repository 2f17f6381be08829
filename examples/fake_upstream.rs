//! The test suite's fake OpenAI-compatible upstream as a standalone server,
//! for the Python client test and the load benchmark.
//!
//! `cargo run --example fake_upstream -- 127.0.0.1:9100`
//!
//! `FAKE_STREAM_DELAY_MS` pauses before each piece of a streamed answer, as
//! a model generating would (default 0).

#[path = "../tests/support/fake_upstream.rs"]
mod fake_upstream;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let fake = fake_upstream::FakeUpstream::start_on(&addr).await;
    let delay: u64 = std::env::var("FAKE_STREAM_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    fake.set_stream_delay(std::time::Duration::from_millis(delay));
    println!("{}", fake.base_url);
    std::future::pending::<()>().await;
}
