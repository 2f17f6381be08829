//! Who is calling: `sk-…` API keys ([`keys`]), the admin's browser session
//! ([`admin`]), and the extractors handlers use to demand one ([`Caller`],
//! [`AdminCaller`]).

pub mod admin;
pub mod keys;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::error::AppError;
use crate::state::AppState;
pub use keys::Role;

/// An authenticated caller, from `Authorization: Bearer sk-…`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub role: Role,
}

/// The admin: a caller whose key has the admin role, or the admin's browser
/// session (cookie), whose state-changing requests must come from this
/// server's own pages (`Origin`, else `Referer`).
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Option<Caller>);

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
        if bearer_token(parts).is_some() {
            let caller = Caller::from_request_parts(parts, state).await?;
            if caller.role != Role::Admin {
                return Err(AppError::Forbidden(
                    "This action needs an admin key.".into(),
                ));
            }
            return Ok(AdminCaller(Some(caller)));
        }
        let Some(token) = session_cookie(&parts.headers) else {
            return Err(AppError::Unauthorized(
                "Log in as the admin, or send an admin key as `Authorization: Bearer sk-…`.".into(),
            ));
        };
        if !admin::check_session(&state.db, token).await? {
            return Err(AppError::Unauthorized(
                "The admin session has ended; log in again.".into(),
            ));
        }
        if !parts.method.is_safe() && !from_own_origin(parts, state.settings.public_url.as_deref())
        {
            return Err(AppError::Forbidden(
                "This request did not come from this server's admin pages (Origin check).".into(),
            ));
        }
        Ok(AdminCaller(None))
    }
}

/// The admin session token from the `Cookie` header, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == admin::COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Whether the request's `Origin` (or, without one, its `Referer`) is this
/// server: `public_url` when configured, else the `Host` it was sent to.
/// Neither header present counts as foreign: browsers send `Origin` with
/// every state-changing request.
pub fn from_own_origin(parts: &Parts, public_url: Option<&str>) -> bool {
    let header_text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(sent) = header_text(header::ORIGIN).or_else(|| header_text(header::REFERER)) else {
        return false;
    };
    let Ok(sent) = url::Url::parse(&sent) else {
        return false;
    };
    let sent_authority = match (sent.host_str(), sent.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => return false,
    };
    if let Some(public) = public_url.and_then(|u| url::Url::parse(u).ok()) {
        return sent.origin() == public.origin();
    }
    let host = parts
        .headers
        .get("x-forwarded-host")
        .or_else(|| parts.headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    host.is_some_and(|host| host.eq_ignore_ascii_case(&sent_authority))
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
