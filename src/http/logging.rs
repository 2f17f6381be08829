//! The request log's middleware (and the request metrics'): every `/v1/*` request gets an entry in its
//! extensions (the handlers add the key, model, tokens…); its bodies are
//! counted as they pass, and the entry goes to the log when the response
//! body ends, or when it is dropped because the client went away.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::error::ErrorNote;
use crate::state::AppState;
use crate::usage::{Entry, LogHandle};

/// Log `/v1/*` requests, Gemini's `/v1beta/*` and the MCP server's `/mcp`
/// (everything else passes untouched).
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/v1/") && !path.starts_with("/v1beta/") && path != "/mcp" {
        return next.run(request).await;
    }
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    // The route's template, not the path: ids would make a label per request.
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let mut entry = Entry::new(parts.method.as_str(), parts.uri.path());
    entry.request_id = parts
        .extensions
        .get::<super::request_id::RequestId>()
        .map(|super::request_id::RequestId(id)| id.to_string());
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        let ip = state.client_ips.resolve(peer.ip(), &parts.headers);
        entry.client_ip = Some(ip.to_string());
    }
    entry.user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect());
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let handle = LogHandle::new(entry);
    parts.extensions.insert(handle.clone());
    let read = Arc::new(AtomicU64::new(0));
    let request = Request::from_parts(
        parts,
        Body::new(Counted::new(body, Tally::Request(read.clone()))),
    );

    let response = next.run(request).await;

    let status = response.status().as_u16();
    let note = response
        .extensions()
        .get::<ErrorNote>()
        .map(|n| n.0.clone());
    handle.update(|e| {
        e.status = status;
        if let Some(note) = note {
            e.error.get_or_insert(note);
        }
    });
    let finish = Finish {
        state,
        route,
        handle,
        started,
        declared,
        read,
    };
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        Body::new(Counted::new(body, Tally::Response(Some(finish)))),
    )
}

/// What a counted body reports to.
enum Tally {
    /// Bytes read from the request body.
    Request(Arc<AtomicU64>),
    /// The response: sends the entry once the body ends (taken then).
    Response(Option<Finish>),
}

/// A body that counts its bytes on the way through.
struct Counted {
    inner: Body,
    tally: Tally,
    bytes: u64,
    first_byte: Option<Instant>,
}

impl Counted {
    fn new(inner: Body, tally: Tally) -> Self {
        Self {
            inner,
            tally,
            bytes: 0,
            first_byte: None,
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Tally::Response(finish) = &mut self.tally {
            if let Some(finish) = finish.take() {
                finish.send(self.bytes, self.first_byte, outcome);
            }
        }
    }
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                    this.first_byte.get_or_insert_with(Instant::now);
                    if let Tally::Request(read) = &this.tally {
                        read.fetch_add(data.len() as u64, Ordering::Relaxed);
                    }
                }
                if this.inner.is_end_stream() {
                    this.finish(Outcome::Complete);
                }
            }
            Poll::Ready(Some(Err(err))) => {
                let message = err.to_string();
                this.finish(Outcome::Failed(message));
            }
            Poll::Ready(None) => this.finish(Outcome::Complete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // An empty body (204) is never polled: dropped at its end, it is complete.
        let outcome = if http_body::Body::is_end_stream(&self.inner) {
            Outcome::Complete
        } else {
            Outcome::Abandoned
        };
        self.finish(outcome);
    }
}

enum Outcome {
    Complete,
    Failed(String),
    /// The body was dropped before its end: the client went away.
    Abandoned,
}

/// The rest of a request's entry, filled in when its response body ends.
struct Finish {
    state: AppState,
    route: String,
    handle: LogHandle,
    started: Instant,
    /// The request's `Content-Length`, for a body the handler never read.
    declared: u64,
    read: Arc<AtomicU64>,
}

impl Finish {
    fn send(self, bytes: u64, first_byte: Option<Instant>, outcome: Outcome) {
        let Some(mut entry) = self.handle.take() else {
            return;
        };
        let started = self.started;
        let ms = move |at: Instant| at.duration_since(started).as_millis() as i64;
        entry.ttft_ms = first_byte.map(ms);
        entry.latency_ms = started.elapsed().as_millis() as i64;
        entry.response_bytes = bytes;
        entry.request_bytes = self.read.load(Ordering::Relaxed).max(self.declared);
        match outcome {
            Outcome::Complete => {}
            Outcome::Failed(message) => {
                entry.error.get_or_insert(message);
            }
            Outcome::Abandoned => {
                entry.error.get_or_insert_with(|| {
                    "The client closed the connection before the answer was complete.".into()
                });
            }
        }
        self.state.metrics.request(&self.route, &entry);
        // The usage is counted either way: `tokens_per_day` reads it.
        if self.state.settings.request_logs {
            self.state.request_log.record(entry);
        } else {
            self.state.request_log.count(&entry);
        }
    }
}

/// The request's log entry, for the handlers to fill in: the one this
/// middleware put in the request's extensions, or a detached one (on a
/// route it does not log) that records nothing.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for LogHandle {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<LogHandle>()
            .cloned()
            .unwrap_or_default())
    }
}
