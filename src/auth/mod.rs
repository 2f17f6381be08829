//! Who is calling: `sk-…` API keys ([`keys`]), the admin's browser session
//! ([`admin`]), and the extractors handlers use to demand one ([`Caller`],
//! [`AdminCaller`]).

pub mod admin;
pub mod client_ip;
pub mod error;
pub mod keys;
pub mod origin;
pub mod secrets;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::config::Settings;
use crate::error::AppError;
use crate::state::AppState;
pub use keys::Role;

/// An authenticated caller, from `Authorization: Bearer sk-…`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub role: Role,
    /// The key's limits (none for the admin's session).
    pub limits: keys::KeyLimits,
}

/// The admin: a caller whose key has the admin role, or the admin's browser
/// session (cookie), whose state-changing requests must come from this
/// server's own pages (`Origin`, else `Referer`).
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Option<Caller>);

/// The key id of the admin's browser session when it calls `/v1/*` routes
/// (the web admin's knowledge pages): what it saves is filed under it.
pub const ADMIN_SESSION_KEY_ID: &str = "admin-session";

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer_token(parts) {
            let log = parts.extensions.get::<crate::usage::LogHandle>();
            let caller = match keys::authenticate(&state.db, token).await {
                Ok(caller) => caller,
                Err(err) => {
                    // A revoked or expired key is still someone's: the log says whose.
                    if let (Some(log), Ok(Some(id))) = (log, keys::id_of(&state.db, token).await) {
                        log.set_key(&id);
                    }
                    return Err(err.into());
                }
            };
            if let Some(log) = log {
                log.set_key(&caller.key_id);
            }
            state.quotas.admit(&caller)?;
            return Ok(caller);
        }
        // The web admin calls the document routes with its session.
        if session_cookie(&parts.headers).is_some() {
            admin_session(parts, state).await?;
            return Ok(Caller {
                key_id: ADMIN_SESSION_KEY_ID.into(),
                role: Role::Admin,
                limits: Default::default(),
            });
        }
        Err(AppError::Unauthorized(
            "You didn't provide an API key. Send it as `Authorization: Bearer sk-…`.".into(),
        ))
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
        admin_session(parts, state).await?;
        Ok(AdminCaller(None))
    }
}

/// Whether the request carries a live admin session, and (for a request
/// that changes something) comes from this server's own pages.
async fn admin_session(parts: &Parts, state: &AppState) -> Result<(), AppError> {
    let Some(token) = session_cookie(&parts.headers) else {
        return Err(AppError::Unauthorized(
            "Log in as the admin, or send an admin key as `Authorization: Bearer sk-…`.".into(),
        ));
    };
    let max_age =
        std::time::Duration::from_secs(state.settings.admin_session_max_hours.saturating_mul(3600));
    if !admin::check_session(&state.db, token, max_age).await? {
        return Err(AppError::SessionEnded(
            "The admin session has ended; log in again.".into(),
        ));
    }
    if !parts.method.is_safe() && !from_own_origin(&parts.headers, &state.settings) {
        return Err(AppError::Forbidden(
            "This request did not come from this server's admin pages (Origin check).".into(),
        ));
    }
    // The request log names the session's requests after it.
    if let Some(log) = parts.extensions.get::<crate::usage::LogHandle>() {
        log.set_key(ADMIN_SESSION_KEY_ID);
    }
    Ok(())
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
/// server ([`origin::server_origin`]): the whole origin when
/// `RAGWAY_PUBLIC_URL` is set, else the host and port the request was sent
/// to. Neither header present counts as foreign: browsers send `Origin` with
/// every state-changing request.
pub fn from_own_origin(headers: &HeaderMap, settings: &Settings) -> bool {
    let sent = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok());
    let own = url::Url::parse(&origin::server_origin(settings, headers)).ok();
    match (sent, own) {
        (Some(sent), Some(own)) if settings.public_url.is_some() => sent.origin() == own.origin(),
        (Some(sent), Some(own)) => {
            sent.has_host() && sent.authority().eq_ignore_ascii_case(own.authority())
        }
        _ => false,
    }
}

/// The key from `Authorization: Bearer …` (or an `x-api-key` header, which some clients send).
pub fn bearer_token(parts: &Parts) -> Option<&str> {
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
