//! The test suite's fake OpenAI-compatible upstream as a standalone server,
//! for the Python client test and the load benchmark.
//!
//! `cargo run --example fake_upstream -- 127.0.0.1:9100`

#[path = "../tests/support/fake_upstream.rs"]
mod fake_upstream;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let fake = fake_upstream::FakeUpstream::start_on(&addr).await;
    println!("{}", fake.base_url);
    std::future::pending::<()>().await;
}
