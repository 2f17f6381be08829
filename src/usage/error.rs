//! How usage limits and usage queries refuse in their own words;
//! [`AppError`] (and so each client protocol's error shape) takes it in
//! one place, below.

use crate::error::AppError;

/// Why a request was refused for its key's limits, or a log query failed.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The key's requests per minute are used: wait `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The key's tokens for today are used: wait `retry_after_secs`.
    #[error("{message}")]
    QuotaUsed {
        message: String,
        retry_after_secs: u64,
    },
    /// A bad filter or page (a day that is not a day, a bad cursor).
    #[error("{0}")]
    Invalid(String),
    /// The store failed; the cause is logged, never shown.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// What the usage functions answer.
pub type UsageResult<T> = Result<T, UsageError>;

impl From<sqlx::Error> for UsageError {
    fn from(err: sqlx::Error) -> Self {
        UsageError::Store(err.into())
    }
}

impl From<crate::domain::page::BadPageLimit> for UsageError {
    fn from(err: crate::domain::page::BadPageLimit) -> Self {
        UsageError::Invalid(err.to_string())
    }
}

/// The one place the usage errors become the service's.
impl From<UsageError> for AppError {
    fn from(err: UsageError) -> Self {
        match err {
            UsageError::RateLimited {
                message,
                retry_after_secs,
            } => AppError::TooManyRequests {
                message,
                retry_after_secs,
            },
            UsageError::QuotaUsed {
                message,
                retry_after_secs,
            } => AppError::QuotaExceeded {
                message,
                retry_after_secs,
            },
            UsageError::Invalid(message) => AppError::BadRequest(message),
            UsageError::Store(err) => AppError::Internal(err),
        }
    }
}
