//! Errors as responses: the status, `Retry-After`, the note the request
//! log reads and the log line of a server error, the same for every
//! protocol, with the body in the caller's protocol's shape; and axum's
//! rejections (bad JSON, a path, a query, a multipart body) taken into
//! [`AppError`] with their status.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

impl AppError {
    /// The error as a response whose body is `shape`'s (a client
    /// protocol's error shape; OpenAI's is [`Self::to_json`]). Everything
    /// else is the same for every protocol: the status, `Retry-After`, the
    /// note the request log reads, and the log line of a server error.
    pub fn into_response_shaped(self, shape: impl FnOnce(&Self) -> serde_json::Value) -> Response {
        let status = self.status();
        let note = ErrorNote(match &self {
            AppError::Internal(err) => format!("internal error: {err:#}"),
            other => other.to_string(),
        });
        if let AppError::Internal(err) = &self {
            tracing::error!(error = ?err, "internal error");
        } else if status.is_server_error() {
            tracing::warn!(%status, error = %self, "request failed");
        }
        let body = axum::Json(shape(&self));
        let mut response = (status, body).into_response();
        response.extensions_mut().insert(note);
        match self {
            AppError::Upstream {
                retry_after: Some(value),
                ..
            } => {
                response.headers_mut().insert("retry-after", value);
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            }
            | AppError::QuotaExceeded {
                retry_after_secs, ..
            } => {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

/// The message of an error response, for the request log (which may see
/// what clients do not, such as an internal error's cause).
#[derive(Debug, Clone)]
pub struct ErrorNote(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.into_response_shaped(Self::to_json)
    }
}

/// Axum's body and path rejections keep their status but take our JSON shape.
fn from_rejection(status: StatusCode, text: String) -> AppError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(
            "The request body is larger than this server accepts (RAGWAY_MAX_BODY_BYTES).".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType(text),
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => AppError::BadRequest(text),
        s if s.is_server_error() => AppError::Internal(anyhow::anyhow!(text)),
        _ => AppError::BadRequest(text),
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<MultipartRejection> for AppError {
    fn from(rejection: MultipartRejection) -> Self {
        from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<MultipartError> for AppError {
    fn from(err: MultipartError) -> Self {
        from_rejection(err.status(), err.body_text())
    }
}
