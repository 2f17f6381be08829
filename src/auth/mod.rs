//! Who is calling: `sk-…` API keys ([`keys`]) and the extractors handlers use
//! to demand one ([`Caller`], [`AdminCaller`]).

pub mod keys;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::state::AppState;
pub use keys::Role;

/// An authenticated caller, from `Authorization: Bearer sk-…`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub role: Role,
}

/// A caller whose key has the admin role.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or_else(|| {
            AppError::Unauthorized(
                "You didn't provide an API key. Send it as `Authorization: Bearer sk-…`.".into(),
            )
        })?;
        keys::authenticate(&state.db, token).await
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.role != Role::Admin {
            return Err(AppError::Forbidden(
                "This action needs an admin key.".into(),
            ));
        }
        Ok(AdminCaller(caller))
    }
}

/// The key from `Authorization: Bearer …` (or an `x-api-key` header, which some clients send).
fn bearer_token(parts: &Parts) -> Option<&str> {
    let from_authorization = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    from_authorization
        .or_else(|| {
            parts
                .headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|t| !t.is_empty())
}
