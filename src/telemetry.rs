//! `RAGWAY_OTLP_ENDPOINT`: a trace per request sent to an OpenTelemetry
//! collector over OTLP/HTTP (protobuf, `{endpoint}/v1/traces`, as
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is read). The `tracing` spans become its
//! spans: the request's (`request`, with its id, method and path) and,
//! inside it, `retrieval`, `embeddings` and `upstream` (the chat, image or
//! rerank call). Spans are batched and sent by a task on the server's
//! runtime; a collector that is down costs dropped spans (the queue is
//! bounded), never a slower request.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::{runtime, Resource};
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The exporter running; [`Self::shutdown`] sends what is still batched.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Send the spans still batched, and stop (outside the runtime's
    /// threads, while it still runs: the exporter's task does the sending).
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("the OTLP exporter did not stop cleanly: {err}");
        }
    }
}

/// The endpoint's traces URL: `…/v1/traces` added unless it is there.
fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim().trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") {
        endpoint.to_string()
    } else {
        format!("{endpoint}/v1/traces")
    }
}

/// The layer that sends spans to `endpoint`, and its exporter to shut down
/// at exit (before the runtime). Call it inside the tokio runtime: the
/// exporter's task starts on it.
pub fn otlp_layer<S>(endpoint: &str) -> anyhow::Result<(impl Layer<S>, Telemetry)>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .build()?;
    let batches = BatchSpanProcessor::builder(exporter, runtime::Tokio).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(batches)
        .with_resource(
            Resource::builder()
                .with_service_name("ragway")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let tracer = provider.tracer("ragway");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    Ok((layer, Telemetry { provider }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
