//! How authentication refuses or fails in its own words; [`AppError`]
//! (and so each client protocol's error shape) takes it in one place, below.

use crate::error::AppError;

/// Why a key, a password or a session was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No key, an unknown, revoked or expired key.
    #[error("{0}")]
    BadKey(String),
    /// The admin password given is not the admin password.
    #[error("{0}")]
    WrongPassword(String),
    /// A new password that breaks the rules.
    #[error("{0}")]
    WeakPassword(String),
    /// Too many attempts from one address, or every check slot busy.
    #[error("{message}")]
    TooManyAttempts {
        message: String,
        retry_after_secs: u64,
    },
    /// A store or the password hasher failed; the cause is logged, never shown.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// What the authentication functions answer.
pub type AuthResult<T> = Result<T, AuthError>;

impl From<sqlx::Error> for AuthError {
    fn from(err: sqlx::Error) -> Self {
        AuthError::Store(err.into())
    }
}

/// The one place authentication's errors become the service's.
impl From<AuthError> for AppError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::BadKey(message) => AppError::Unauthorized(message),
            AuthError::WrongPassword(message) => AppError::WrongPassword(message),
            AuthError::WeakPassword(message) => AppError::BadRequest(message),
            AuthError::TooManyAttempts {
                message,
                retry_after_secs,
            } => AppError::TooManyRequests {
                message,
                retry_after_secs,
            },
            AuthError::Store(err) => AppError::Internal(err),
        }
    }
}
