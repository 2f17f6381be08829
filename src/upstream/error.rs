//! How an upstream call fails, as one type, and the one place that decides
//! what each failure means to ragway's caller: its HTTP status (whose fault
//! it is), whether trying again may help, and when. 429 stays 429; a key or
//! model the provider refuses, a 5xx, an answer ragway cannot use are 502;
//! a timeout is 504; no key free now is 503.

use http::{HeaderValue, StatusCode};

use crate::error::AppError;

/// One failed upstream call. `role` is `chat`, `embeddings`, `images` or `rerank`.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No base URL or no model: the message names the setting to make.
    #[error("{0}")]
    NotConfigured(String),
    /// Every key was refused by the provider (401/403) and is blocked.
    #[error("Every key of the {role} upstream was refused by the provider and is blocked; fix or replace them, then enable them in the admin (GET /api/admin/upstreams).")]
    KeysBlocked { role: &'static str },
    /// Every key rests after a rate limit for this model.
    #[error("Every key of the {role} upstream is resting after a rate limit for model {model}; retry in {secs} s.")]
    KeysResting {
        role: &'static str,
        model: String,
        secs: u64,
    },
    /// Every key was tried in this call.
    #[error("No key of the {role} upstream can take the call now.")]
    NoKeyFree { role: &'static str },
    /// No answer within the time limit.
    #[error("The {role} upstream did not answer within {secs} s.")]
    TimedOut { role: &'static str, secs: u64 },
    /// The connection failed (or timed out) before an answer.
    #[error("Could not reach the {role} upstream: {detail}")]
    Unreachable {
        role: &'static str,
        detail: String,
        timed_out: bool,
    },
    /// The answer broke off while it was read.
    #[error("The {role} upstream's answer was cut off: {detail}")]
    Cut { role: &'static str, detail: String },
    /// The answer was larger than ragway reads.
    #[error("The {role} upstream's answer was refused: {detail}.")]
    TooLarge { role: &'static str, detail: String },
    /// The upstream answered with an error status; `message` says it as
    /// ragway's caller reads it.
    #[error("{message}")]
    Status {
        upstream: StatusCode,
        message: String,
        retry_after: Option<HeaderValue>,
    },
    /// An answer ragway cannot use (not the shape asked for, the wrong
    /// number of vectors, an index out of range…).
    #[error("{0}")]
    Unusable(String),
}

impl UpstreamError {
    /// The status ragway answers its caller with.
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::KeysResting { .. } => StatusCode::TOO_MANY_REQUESTS,
            UpstreamError::NoKeyFree { .. } | UpstreamError::NotConfigured(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            UpstreamError::TimedOut { .. }
            | UpstreamError::Unreachable {
                timed_out: true, ..
            } => StatusCode::GATEWAY_TIMEOUT,
            UpstreamError::Status { upstream, .. } => match upstream.as_u16() {
                429 => StatusCode::TOO_MANY_REQUESTS,
                400 | 413 | 422 => StatusCode::BAD_REQUEST,
                _ => StatusCode::BAD_GATEWAY,
            },
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    /// Whether the same call may succeed if tried again (a rate limit, a
    /// 5xx, a timeout, a broken connection).
    pub fn transient(&self) -> bool {
        match self {
            UpstreamError::KeysBlocked { .. }
            | UpstreamError::NotConfigured(_)
            | UpstreamError::TooLarge { .. }
            | UpstreamError::Unusable(_) => false,
            UpstreamError::Status { upstream, .. } => {
                *upstream == StatusCode::TOO_MANY_REQUESTS || upstream.is_server_error()
            }
            _ => true,
        }
    }

    /// When to try again, for a rate limit.
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            UpstreamError::KeysResting { secs, .. } => {
                HeaderValue::from_str(&secs.to_string()).ok()
            }
            UpstreamError::Status {
                upstream,
                retry_after,
                ..
            } if *upstream == StatusCode::TOO_MANY_REQUESTS => retry_after.clone(),
            _ => None,
        }
    }
}

impl From<UpstreamError> for AppError {
    fn from(err: UpstreamError) -> Self {
        if let UpstreamError::NotConfigured(message) = err {
            return AppError::NotConfigured(message);
        }
        AppError::Upstream {
            status: err.status(),
            retry_after: err.retry_after(),
            transient: err.transient(),
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> UpstreamError {
        UpstreamError::Status {
            upstream: StatusCode::from_u16(code).unwrap(),
            message: format!("the provider said {code}"),
            retry_after: HeaderValue::from_str("7").ok(),
        }
    }

    #[test]
    fn each_failure_says_whose_fault_it_is_in_one_place() {
        let cases = [
            (status(429), StatusCode::TOO_MANY_REQUESTS, true, true),
            (status(401), StatusCode::BAD_GATEWAY, false, false),
            (status(404), StatusCode::BAD_GATEWAY, false, false),
            (status(422), StatusCode::BAD_REQUEST, false, false),
            (status(503), StatusCode::BAD_GATEWAY, true, false),
            (
                UpstreamError::TimedOut {
                    role: "chat",
                    secs: 5,
                },
                StatusCode::GATEWAY_TIMEOUT,
                true,
                false,
            ),
            (
                UpstreamError::Unreachable {
                    role: "chat",
                    detail: "refused".into(),
                    timed_out: false,
                },
                StatusCode::BAD_GATEWAY,
                true,
                false,
            ),
            (
                UpstreamError::KeysResting {
                    role: "chat",
                    model: "m".into(),
                    secs: 3,
                },
                StatusCode::TOO_MANY_REQUESTS,
                true,
                true,
            ),
            (
                UpstreamError::NoKeyFree { role: "chat" },
                StatusCode::SERVICE_UNAVAILABLE,
                true,
                false,
            ),
            (
                UpstreamError::Unusable("no vectors".into()),
                StatusCode::BAD_GATEWAY,
                false,
                false,
            ),
        ];
        for (err, want, transient, waits) in cases {
            assert_eq!(err.status(), want, "{err}");
            assert_eq!(err.transient(), transient, "{err}");
            assert_eq!(err.retry_after().is_some(), waits, "{err}");
            let app = AppError::from(err);
            assert_eq!(app.status(), want);
        }
    }
}
