//! One error type for the whole service, rendered as OpenAI's error JSON:
//! `{"error":{"message","type","param","code"}}`.
//!
//! Client errors carry a message meant for the caller. Server errors are logged
//! once, at the boundary (`http::error`, which makes responses of them), and
//! the caller sees only a generic message. Each area's own error type has one
//! `From` into this one, beside it.

use http::{HeaderValue, StatusCode};
use serde_json::json;

/// Result alias used by handlers and domain functions.
pub type AppResult<T> = Result<T, AppError>;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (bad JSON, wrong field types, missing fields).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but its content cannot be processed (e.g. empty text).
    #[error("{0}")]
    Unprocessable(String),
    /// No key, an unknown key or a revoked key.
    #[error("{0}")]
    Unauthorized(String),
    /// The admin password given is not the admin password.
    #[error("{0}")]
    WrongPassword(String),
    /// No admin session, or one that has ended.
    #[error("{0}")]
    SessionEnded(String),
    /// The key is valid but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A resource that does not exist (or that the caller may not see).
    #[error("{message}")]
    NotFound { message: String, code: &'static str },
    /// The model asked for is not served here.
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// The request conflicts with what exists (a name taken, a collection not empty).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// An uploaded file of a type ragway cannot read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many attempts (failed admin logins): wait `retry_after_secs`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// The key has used what its quota allows for now: wait `retry_after_secs`.
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        retry_after_secs: u64,
    },
    /// A feature whose upstream or store is not configured.
    #[error("{0}")]
    NotConfigured(String),
    /// An upstream answered with an error; `status` is what the caller gets.
    #[error("{message}")]
    Upstream {
        status: StatusCode,
        message: String,
        retry_after: Option<HeaderValue>,
        /// Whether trying again later may succeed (rate limits, 5xx, timeouts).
        transient: bool,
    },
    /// A bug or an infrastructure failure; details go to the log only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 404 for a resource of the given kind.
    pub fn not_found(what: &str, id: &str) -> Self {
        AppError::NotFound {
            message: format!("No {what} with id `{id}`."),
            code: "not_found",
        }
    }

    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) | AppError::WrongPassword(_) | AppError::SessionEnded(_) => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } | AppError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } | AppError::QuotaExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Upstream { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's `(type, code)` pair for this error.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            AppError::BadRequest(_) => ("invalid_request_error", "invalid_request"),
            AppError::Unprocessable(_) => ("invalid_request_error", "unprocessable_entity"),
            AppError::Unauthorized(_) => ("invalid_request_error", "invalid_api_key"),
            AppError::WrongPassword(_) => ("invalid_request_error", "invalid_password"),
            AppError::SessionEnded(_) => ("invalid_request_error", "session_expired"),
            AppError::Forbidden(_) => ("permission_error", "insufficient_permissions"),
            AppError::NotFound { code, .. } => ("invalid_request_error", code),
            AppError::ModelNotFound(_) => ("invalid_request_error", "model_not_found"),
            AppError::Conflict(_) => ("invalid_request_error", "conflict"),
            AppError::PayloadTooLarge(_) => ("invalid_request_error", "payload_too_large"),
            AppError::UnsupportedMediaType(_) => {
                ("invalid_request_error", "unsupported_media_type")
            }
            AppError::TooManyRequests { .. } => ("rate_limit_error", "rate_limit_exceeded"),
            AppError::QuotaExceeded { .. } => ("insufficient_quota", "insufficient_quota"),
            AppError::NotConfigured(_) => ("server_error", "not_configured"),
            AppError::Upstream { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
                ("rate_limit_error", "rate_limit_exceeded")
            }
            AppError::Upstream { status, .. } if status.is_client_error() => {
                ("invalid_request_error", "upstream_rejected")
            }
            AppError::Upstream { .. } => ("upstream_error", "upstream_error"),
            AppError::Internal(_) => ("server_error", "internal_error"),
        }
    }

    /// What the caller is told: the message, or for an internal error a
    /// generic one (its cause goes to the log only).
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "The server had an error while processing your request.".to_string()
            }
            other => other.to_string(),
        }
    }

    /// The error as OpenAI's JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        let (kind, code) = self.kind();
        let message = self.public_message();
        json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
    }
}

/// A refused request (`ragway-protocol`'s checks): the same status and message as before
/// those checks had a crate of their own.
impl From<ragway_protocol::RequestError> for AppError {
    fn from(err: ragway_protocol::RequestError) -> Self {
        match err {
            ragway_protocol::RequestError::BadRequest(message) => AppError::BadRequest(message),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<lancedb::Error> for AppError {
    fn from(err: lancedb::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<object_store::Error> for AppError {
    fn from(err: object_store::Error) -> Self {
        AppError::Internal(err.into())
    }
}

/// A page size out of bounds is the caller's mistake.
impl From<crate::domain::page::BadPageLimit> for AppError {
    fn from(err: crate::domain::page::BadPageLimit) -> Self {
        AppError::BadRequest(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_hidden() {
        let err = AppError::Internal(anyhow::anyhow!("password=hunter2"));
        let body = err.to_json().to_string();
        assert!(!body.contains("hunter2"));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn model_not_found_has_openai_code() {
        let body = AppError::ModelNotFound("gpt-9".into()).to_json();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("gpt-9"));
    }
}
