//! `/metrics`: counters and histograms in Prometheus' text format.
//!
//! Each server holds its own recorder instead of installing one for the
//! whole process (tests run many servers in one process); everything is
//! recorded through [`Metrics::record`].

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::Entry;

/// Latency buckets, in seconds: from a cached answer to a long stream.
const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// This server's metrics.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        Self { recorder, handle }
    }

    /// Run `f`, whose `metrics` macros then record here.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// One finished request: `route` is its route template (`/v1/documents/{id}`).
    pub fn request(&self, route: &str, entry: &Entry) {
        self.record(|| {
            let status = entry.status.to_string();
            let labels = [
                ("route", route.to_string()),
                // Any token is a method: a label per made-up one would grow without end.
                ("method", known_method(&entry.method).to_string()),
                ("status", status),
            ];
            counter!("ragway_http_requests_total", &labels).increment(1);
            histogram!("ragway_http_request_duration_seconds", "route" => route.to_string())
                .record(entry.latency_ms as f64 / 1000.0);
            if let (Some(ttft), true) = (entry.ttft_ms, entry.stream) {
                histogram!("ragway_time_to_first_byte_seconds", "route" => route.to_string())
                    .record(ttft as f64 / 1000.0);
            }
            if let Some(ms) = entry.retrieval_ms {
                histogram!("ragway_retrieval_seconds").record(ms as f64 / 1000.0);
            }
            let model = entry.model.clone().unwrap_or_default();
            if let Some(n) = entry.prompt_tokens {
                counter!("ragway_tokens_total", "kind" => "prompt", "model" => model.clone())
                    .increment(n.max(0) as u64);
            }
            if let Some(n) = entry.completion_tokens {
                counter!("ragway_tokens_total", "kind" => "completion", "model" => model)
                    .increment(n.max(0) as u64);
            }
            if entry.error.is_some() && entry.status < 400 {
                // Failed after the answer started (a stream cut off).
                counter!("ragway_streams_interrupted_total", "route" => route.to_string())
                    .increment(1);
            }
        });
    }

    /// The text to answer a scrape with, after `gauges` set the values read now.
    pub fn render(&self, gauges: impl FnOnce()) -> String {
        self.record(gauges);
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// `method` if it is a standard one, else `OTHER`.
fn known_method(method: &str) -> &str {
    const KNOWN: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    if KNOWN.contains(&method) {
        method
    } else {
        "OTHER"
    }
}

/// Set a gauge (for the scrape-time values).
pub fn set_gauge(name: &'static str, labels: &[(&'static str, String)], value: f64) {
    gauge!(name, labels).set(value);
}
