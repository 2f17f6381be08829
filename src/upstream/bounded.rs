//! Reading what an upstream sends, bounded: a provider (or whatever answers
//! at its address) is as hostile as any client. A whole answer, and the
//! whole of a stream, is read up to `RAGWAY_UPSTREAM_MAX_ANSWER_BYTES`; an
//! error body only as far as its message can be.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

/// Bytes of an upstream's error body read for its message; the rest is dropped.
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Why a bounded read stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body went on past the limit.
    #[error("it sent more than the {0} bytes ragway reads of an answer (RAGWAY_UPSTREAM_MAX_ANSWER_BYTES)")]
    TooLarge(usize),
    /// The connection failed while the body was read.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// The whole body of `response`, or [`ReadError::TooLarge`] as soon as it
/// passes `max` bytes (a `Content-Length` over it is refused before reading).
pub async fn read(mut response: reqwest::Response, max: usize) -> Result<Bytes, ReadError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge(max));
    }
    let mut body = BytesMut::new();
    while let Some(piece) = response.chunk().await? {
        if body.len() + piece.len() > max {
            return Err(ReadError::TooLarge(max));
        }
        body.extend_from_slice(&piece);
    }
    Ok(body.freeze())
}

/// The start of `response`'s body, at most `max` bytes, as text (lossy);
/// what could not be read is left out.
pub async fn read_start(mut response: reqwest::Response, max: usize) -> String {
    let mut body = BytesMut::new();
    while body.len() < max {
        match response.chunk().await {
            Ok(Some(piece)) => {
                let room = max - body.len();
                body.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// `response`'s body as a stream that ends with [`ReadError::TooLarge`]
/// once it has passed `max` bytes in all.
pub fn stream(
    response: reqwest::Response,
    max: usize,
) -> impl Stream<Item = Result<Bytes, ReadError>> + Send + 'static {
    async_stream::stream! {
        let mut body = std::pin::pin!(response.bytes_stream());
        let mut seen = 0usize;
        while let Some(piece) = body.next().await {
            match piece {
                Ok(piece) => {
                    seen = seen.saturating_add(piece.len());
                    if seen > max {
                        yield Err(ReadError::TooLarge(max));
                        break;
                    }
                    yield Ok(piece);
                }
                Err(err) => {
                    yield Err(ReadError::Transport(err));
                    break;
                }
            }
        }
    }
}
