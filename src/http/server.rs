//! Serving the router on a listener, with the limits `axum::serve` lacks: a
//! cap on open connections (`max_connections`: more wait in the listen
//! backlog until one closes), a time limit for a request's headers
//! (`header_read_timeout_secs`: slowloris) and one for a kept-alive
//! connection with nothing to do (`idle_connection_timeout_secs`). Graceful
//! shutdown and the client's address (`ConnectInfo<SocketAddr>`) work as
//! they did with `axum::serve`.
//!
//! Why not hyper's own `header_read_timeout`: its clock also runs while a
//! kept-alive connection waits for its next request, so it would close idle
//! connections after the (short) header limit. Each connection has instead
//! a small watchdog ([`Watch`]) that knows which state it is in: waiting for
//! a request (the idle limit, or the header limit on a new connection),
//! reading one's headers (the header limit, from their first byte), or
//! answering (no limit here: long answers stream for minutes).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;

/// The connection limits, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a connection's start, or a request's first byte, to its last header.
    pub header_read: Duration,
    /// A kept-alive connection waiting for its next request.
    pub idle: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            header_read: Duration::from_secs(settings.header_read_timeout_secs.max(1)),
            idle: Duration::from_secs(settings.idle_connection_timeout_secs.max(1)),
            max_connections: settings.max_connections.max(1),
        }
    }
}

/// Serve `router` on `listener` until `signal` resolves; then accept no
/// more, let each connection finish its requests (idle ones close at once)
/// and return when all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    signal: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut signal = pin!(signal);
    loop {
        // A slot first: beyond the cap, connections wait in the backlog unaccepted.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = signal.as_mut() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = signal.as_mut() => break,
        };
        connections.spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            limits,
            stopping.clone(),
            slot,
        ));
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// After a failed accept: a connection that died in the backlog is nothing;
/// anything else (out of file descriptors…) is logged and waited out for a
/// second rather than retried in a hot loop (as `axum::serve` does).
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One connection, HTTP/1 or HTTP/2 (as `axum::serve`), under its watchdog;
/// `_slot` is its place under the connection cap.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    stopping: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    // A streamed answer is many small writes: without this, each one after
    // the first waits for the client's delayed ACK (up to 40 ms) before it
    // leaves (Nagle's algorithm).
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(error = %err, "TCP_NODELAY could not be set");
    }
    let watch = Arc::new(Watch::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
    });
    let service = ConnectionService {
        router: TowerToHyperService::new(router),
        peer,
        watch: watch.clone(),
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut shutting_down = false;
    loop {
        let deadline = watch.deadline(&limits);
        let expired = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::trace!(error = %err, "a connection ended with an error");
                }
                return;
            }
            () = stopping.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            () = watch.changed.notified() => {}
            () = expired => {
                // The state may have moved on while the timer ran out.
                if let Some((at, why)) = watch.deadline(&limits) {
                    if at <= Instant::now() {
                        tracing::debug!(%peer, "closing a connection: {why}");
                        return;
                    }
                }
            }
        }
    }
}

/// Where a connection stands, for its time limits.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// No request under way since `since`; `fresh`: none yet on this connection.
    Waiting { since: Instant, fresh: bool },
    /// A request's first bytes arrived at `since`; its headers are not complete.
    Head { since: Instant },
    /// Requests being answered (HTTP/2 may have several).
    Answering { requests: usize },
}

/// A connection's phase, moved on by its reads ([`Watched`]) and by its
/// requests starting and their answers ending ([`InFlight`]).
#[derive(Debug)]
struct Watch {
    phase: Mutex<Phase>,
    /// Woken when a deadline comes nearer (the watchdog is sleeping to a later one).
    changed: Notify,
}

impl Watch {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                fresh: true,
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().expect("connection watch lock")
    }

    /// When the connection must be closed (and why), if nothing changes.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        match *self.phase() {
            // A new connection's first request is all header-reading: a client that
            // connects and sends nothing is held to the header limit.
            Phase::Waiting { since, fresh: true } | Phase::Head { since } => Some((
                since + limits.header_read,
                "no complete request headers within the header-read timeout",
            )),
            Phase::Waiting { since, .. } => {
                Some((since + limits.idle, "idle past the idle-connection timeout"))
            }
            Phase::Answering { .. } => None,
        }
    }

    /// Bytes came in: while waiting, a request has begun.
    fn bytes_read(&self) {
        let mut phase = self.phase();
        if let Phase::Waiting { since, fresh } = *phase {
            // A new connection's header clock started when it was accepted.
            let since = if fresh { since } else { Instant::now() };
            *phase = Phase::Head { since };
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Answering { requests } => Phase::Answering {
                requests: requests + 1,
            },
            _ => Phase::Answering { requests: 1 },
        };
    }

    fn request_ended(&self) {
        let mut phase = self.phase();
        if let Phase::Answering { requests } = *phase {
            *phase = if requests > 1 {
                Phase::Answering {
                    requests: requests - 1,
                }
            } else {
                Phase::Waiting {
                    since: Instant::now(),
                    fresh: false,
                }
            };
            drop(phase);
            self.changed.notify_one();
        }
    }
}

/// The socket, telling its [`Watch`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request under way, until its answer's body is dropped (sent, or the
/// client gone).
struct InFlight(Arc<Watch>);

impl InFlight {
    fn start(watch: &Arc<Watch>) -> Self {
        watch.request_started();
        Self(watch.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The router as one connection's hyper service: the peer's address in
/// each request's extensions (what `into_make_service_with_connect_info`
/// did), and each request tracked until its answer ends.
#[derive(Clone)]
struct ConnectionService {
    router: TowerToHyperService<Router>,
    peer: SocketAddr,
    watch: Arc<Watch>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::start(&self.watch);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let answer = hyper::service::Service::call(&self.router, request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody {
                inner: body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// An answer's body, keeping its request counted as under way until dropped.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(75),
        max_connections: 1,
    };

    /// How long until the watch's deadline, to the nearest second.
    fn after(watch: &Watch) -> Option<u64> {
        watch.deadline(&LIMITS).map(|(at, _)| {
            at.saturating_duration_since(Instant::now())
                .as_secs_f64()
                .round() as u64
        })
    }

    #[test]
    fn a_connection_is_held_to_the_header_limit_then_the_idle_one() {
        let watch = Watch::new();
        assert_eq!(after(&watch), Some(10), "a new connection");
        // Accepted three seconds ago, its first bytes arrive now.
        *watch.phase() = Phase::Waiting {
            since: Instant::now() - Duration::from_secs(3),
            fresh: true,
        };
        watch.bytes_read();
        assert_eq!(
            after(&watch),
            Some(7),
            "the first request's clock began at accept"
        );
        watch.request_started();
        assert_eq!(after(&watch), None, "answering has no limit here");
        watch.request_started();
        watch.request_ended();
        assert_eq!(after(&watch), None, "one request is still under way");
        watch.request_ended();
        assert_eq!(after(&watch), Some(75), "kept alive, idle");
        *watch.phase() = Phase::Waiting {
            since: Instant::now() - Duration::from_secs(60),
            fresh: false,
        };
        watch.bytes_read();
        assert_eq!(
            after(&watch),
            Some(10),
            "the next request's headers have their own clock"
        );
    }
}
