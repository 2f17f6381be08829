//! `X-Request-Id` on every response: the caller's own when it sent a
//! usable one (1–128 characters of letters, digits and `-_.:`), else a new
//! one. The id is in the request's extensions ([`RequestId`]) for the
//! request log, and in the tracing span every log line of the request is
//! written in, so a client's report leads to the server's log lines.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The header, both ways.
pub const HEADER: &str = "x-request-id";

/// Longest id taken from a caller.
const MAX_LEN: usize = 128;

/// The request's id.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Give the request its id, and the response the same id.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| usable(id))
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::now_v7().simple().to_string()));
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Whether a caller's id is taken as it is: short, and only characters
/// that cannot break a log line or a header.
fn usable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The span every log line of a request is written in: its id, method and
/// path (never the query, which may hold a key).
pub fn span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("-", |RequestId(id)| id);
    tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken() {
        assert!(usable("3f2a-9c:client.7_b"));
        assert!(!usable(""));
        assert!(!usable(&"a".repeat(MAX_LEN + 1)));
        assert!(!usable("two words"));
        assert!(!usable("line\nbreak"));
        assert!(!usable("é"));
    }
}
