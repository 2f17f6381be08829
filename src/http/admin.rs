//! `/api/admin/*`: the admin's own routes.
//!
//! - `GET/POST /api/admin/setup`: whether setup is needed; set the admin
//!   password once (409 afterwards), get the first user key and a session.
//! - `POST /api/admin/login`, `/logout`, `/password`; `GET /api/admin/session`.
//! - `GET/POST /api/admin/keys`, `PATCH /api/admin/keys/{id}` (name, expiry, limits),
//!   `DELETE /api/admin/keys/{id}` (revoke).
//! - `GET/POST /api/admin/reindex`: the knowledge index and any reindex
//!   under way; start moving it to the configured embedding model.
//!
//! Every route but setup and login takes the admin session cookie or an
//! admin key ([`AdminCaller`]).

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{server_origin, ApiJson};
use crate::auth::client_ip::ClientIp;
use crate::auth::keys::{self, KeyInfo, KeyLimits, NewKey, Role};
use crate::auth::{admin, from_own_origin, session_cookie, AdminCaller};
use crate::error::{AppError, AppResult};
use crate::ingest::reindex::{self, IndexStatus};
use crate::state::AppState;
use crate::upstream::providers;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/setup", get(setup_state).post(setup))
        .route("/api/admin/login", post(login))
        .route("/api/admin/logout", post(logout))
        .route("/api/admin/password", post(change_password))
        .route("/api/admin/session", get(session))
        .route("/api/admin/keys", get(list_keys).post(create_key))
        .route("/api/admin/keys/{id}", delete(revoke_key).patch(update_key))
        .route("/api/admin/reindex", get(show).post(begin))
}

#[utoipa::path(get, path = "/api/admin/setup", tag = "Admin", summary = "Whether the first visitor still has to set the admin password", security(()), responses((status = 200, description = "See docs/api.md")))]
async fn setup_state(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let required = !admin::exists(&state.db).await?;
    Ok(Json(json!({ "setup_required": required })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupBody {
    password: String,
    /// The providers to save with it: `{"chat": {"base_url", "model", "api_key"}, …}`.
    providers: Option<Map<String, Value>>,
}

/// `201` with the first user key (shown this once) and a session cookie.
#[utoipa::path(post, path = "/api/admin/setup", tag = "Admin", summary = "Set the admin password (once) and get the first key", security(()), responses((status = 200, description = "See docs/api.md")))]
async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SetupBody>,
) -> AppResult<Response> {
    refuse_foreign(&state, &headers)?;
    // Checked before the password is set, so a typo does not leave setup half done.
    let updates = super::providers::checked_updates(&state, body.providers.unwrap_or_default())?;
    let taken = || {
        AppError::Conflict(
            "The admin password is set already; log in at POST /api/admin/login.".into(),
        )
    };
    if admin::exists(&state.db).await? {
        return Err(taken());
    }
    // Two first visitors at once: the database lets one in.
    if !admin::init(&state.db, &body.password).await? {
        return Err(taken());
    }
    tracing::info!("the admin password was set through the setup page");
    for (role, update) in &updates {
        providers::save(state.providers(), *role, update).await?;
    }
    let key = keys::create(&state.db, "first key", Role::User).await?;
    let token = admin::start_session(&state.db).await?;
    let body = json!({ "key": new_key_json(&key) });
    Ok(with_session(
        &state,
        &headers,
        &token,
        (StatusCode::CREATED, Json(body)).into_response(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    password: String,
}

/// `204` with a session cookie; `401` on a wrong password; `429` while the
/// caller's address must wait after repeated failures, or while every
/// password-check slot is taken ([`admin::LoginGuard`]).
#[utoipa::path(post, path = "/api/admin/login", tag = "Admin", summary = "Log in: a session cookie", security(()), responses((status = 200, description = "See docs/api.md")))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> AppResult<Response> {
    refuse_foreign(&state, &headers)?;
    if !admin::exists(&state.db).await? {
        return Err(AppError::Conflict(
            "No admin password is set yet; set one at POST /api/admin/setup.".into(),
        ));
    }
    if !verify_guarded(&state, ip, &body.password).await? {
        return Err(AppError::WrongPassword("Incorrect password.".into()));
    }
    let token = admin::start_session(&state.db).await?;
    Ok(with_session(
        &state,
        &headers,
        &token,
        StatusCode::NO_CONTENT.into_response(),
    ))
}

/// Whether `password` is the admin password, checked under the login
/// throttle: the attempt counts against `ip` before it is verified, and is
/// refused (`429`, nothing hashed) while `ip` must wait or too many checks
/// are running.
async fn verify_guarded(state: &AppState, ip: std::net::IpAddr, password: &str) -> AppResult<bool> {
    let admission = state.login_guard.admit(ip)?;
    if !admin::verify(&state.db, password).await? {
        tracing::warn!(%ip, "a failed admin login");
        return Ok(false);
    }
    admission.succeeded();
    Ok(true)
}

/// `204`; the session (if any) ends and the cookie is cleared.
#[utoipa::path(post, path = "/api/admin/logout", tag = "Admin", summary = "End the session", security(()), responses((status = 200, description = "See docs/api.md")))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    if let Some(token) = session_cookie(&headers) {
        admin::end_session(&state.db, token).await?;
    }
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        "",
        "; Max-Age=0",
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `204` with a new session cookie; every other session has ended. The
/// current password is checked under the same throttle as a login.
#[utoipa::path(post, path = "/api/admin/password", tag = "Admin", summary = "Change the admin password (other sessions end)", responses((status = 200, description = "See docs/api.md")))]
async fn change_password(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordBody>,
) -> AppResult<Response> {
    if !verify_guarded(&state, ip, &body.current_password).await? {
        return Err(admin::wrong_current_password().into());
    }
    let token = admin::replace_password(&state.db, &body.new_password).await?;
    tracing::info!("the admin password was changed; all sessions ended");
    Ok(with_session(
        &state,
        &headers,
        &token,
        StatusCode::NO_CONTENT.into_response(),
    ))
}

#[utoipa::path(get, path = "/api/admin/session", tag = "Admin", summary = "Who is asking: a key or the session", responses((status = 200, description = "See docs/api.md")))]
async fn session(admin: AdminCaller) -> Json<Value> {
    let via = if admin.0.is_some() { "key" } else { "session" };
    Json(json!({ "admin": true, "via": via }))
}

#[utoipa::path(get, path = "/api/admin/keys", tag = "Admin", summary = "Every key (never its secret)", responses((status = 200, description = "See docs/api.md")))]
async fn list_keys(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<Value>> {
    let keys: Vec<Value> = keys::list(&state.db).await?.iter().map(key_json).collect();
    Ok(Json(json!({ "object": "list", "data": keys })))
}

/// `201` with the new key: the only time its secret is ever returned.
#[utoipa::path(post, path = "/api/admin/keys", tag = "Admin", summary = "Create a key (its secret shown once)", responses((status = 200, description = "See docs/api.md")))]
async fn create_key(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let (name, role, expires_at) = key_request(&body)?;
    let limits = KeyLimits {
        requests_per_minute: limit_field(&body, "requests_per_minute")?.flatten(),
        tokens_per_day: limit_field(&body, "tokens_per_day")?.flatten(),
    };
    let key = keys::create_expiring(&state.db, &name, role, expires_at, limits).await?;
    tracing::info!(key = %key.info.prefix, role = role.as_str(), "an API key was created");
    Ok((StatusCode::CREATED, Json(new_key_json(&key))))
}

/// The key as it is now, revoked (revoking twice is fine).
#[utoipa::path(delete, path = "/api/admin/keys/{id}", tag = "Admin", summary = "Revoke a key", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn revoke_key(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let key = keys::revoke_by_id(&state.db, &id)
        .await?
        .ok_or_else(|| AppError::not_found("key", &id))?;
    tracing::info!(key = %key.prefix, "an API key was revoked");
    Ok(Json(key_json(&key)))
}

/// Change a key's name, expiry or limits (fields left out keep their value;
/// `null` clears an expiry or a limit). The role and the secret stay.
#[utoipa::path(patch, path = "/api/admin/keys/{id}", tag = "Admin", summary = "Change a key's name, expiry and limits", params(("id" = String, Path)), responses((status = 200, description = "See docs/api.md")))]
async fn update_key(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> AppResult<Json<Value>> {
    if let Some(unknown) = body.keys().find(|k| !KEY_CHANGES.contains(&k.as_str())) {
        return Err(AppError::BadRequest(format!(
            "Unknown field `{unknown}`; a key's changes are {}.",
            KEY_CHANGES.join(", ")
        )));
    }
    let name = body.get("name").map(key_name).transpose()?;
    let expires_at = match body.get("expires_at") {
        None => None,
        Some(value) => Some(expiry(value)?),
    };
    let change = keys::KeyChange {
        name,
        expires_at,
        requests_per_minute: limit_field(&body, "requests_per_minute")?,
        tokens_per_day: limit_field(&body, "tokens_per_day")?,
    };
    let key = keys::update(&state.db, &id, change)
        .await?
        .ok_or_else(|| AppError::not_found("key", &id))?;
    tracing::info!(key = %key.prefix, "an API key was changed");
    Ok(Json(key_json(&key)))
}

const KEY_FIELDS: &[&str] = &[
    "name",
    "role",
    "expires_at",
    "requests_per_minute",
    "tokens_per_day",
];
const KEY_CHANGES: &[&str] = &[
    "name",
    "expires_at",
    "requests_per_minute",
    "tokens_per_day",
];

/// A limit field: absent → `None`, `null` → `Some(None)`, a positive integer → `Some(Some(n))`.
fn limit_field(body: &Map<String, Value>, name: &str) -> AppResult<Option<Option<i64>>> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => match value.as_i64() {
            Some(n) if n >= 1 => Ok(Some(Some(n))),
            _ => Err(AppError::BadRequest(format!(
                "`{name}` must be a whole number of at least 1, or null for no limit."
            ))),
        },
    }
}

/// Name, role and expiry from a key request, each checked.
fn key_request(body: &Map<String, Value>) -> AppResult<(String, Role, Option<i64>)> {
    if let Some(unknown) = body.keys().find(|k| !KEY_FIELDS.contains(&k.as_str())) {
        return Err(AppError::BadRequest(format!(
            "Unknown field `{unknown}`; a key takes {}.",
            KEY_FIELDS.join(", ")
        )));
    }
    let name = key_name(body.get("name").unwrap_or(&Value::Null))?;
    let role = match body.get("role") {
        None | Some(Value::Null) => Role::User,
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|_| AppError::BadRequest("`role` must be \"user\" or \"admin\".".into()))?,
    };
    let expires_at = match body.get("expires_at") {
        None => None,
        Some(value) => expiry(value)?,
    };
    Ok((name, role, expires_at))
}

/// A key's `name`: a non-empty string, trimmed.
fn key_name(value: &Value) -> AppResult<String> {
    match value {
        Value::String(name) if !name.trim().is_empty() => Ok(name.trim().to_string()),
        _ => Err(AppError::BadRequest(
            "`name` must be a non-empty string.".into(),
        )),
    }
}

/// An `expires_at` value: `null`, or an RFC 3339 time in the future (as ms).
fn expiry(value: &Value) -> AppResult<Option<i64>> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => {
            let at =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| {
                    AppError::BadRequest(format!(
                        "`expires_at` must be an RFC 3339 time such as 2027-01-31T00:00:00Z: {e}"
                    ))
                })?;
            let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
            if ms <= crate::domain::clock::now_ms() {
                return Err(AppError::BadRequest("`expires_at` is in the past.".into()));
            }
            Ok(Some(ms))
        }
        _ => Err(AppError::BadRequest(
            "`expires_at` must be an RFC 3339 time such as 2027-01-31T00:00:00Z.".into(),
        )),
    }
}

fn key_json(key: &KeyInfo) -> Value {
    json!({
        "object": "api_key",
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "revoked": key.revoked_at.is_some(),
        "requests_per_minute": key.limits.requests_per_minute,
        "tokens_per_day": key.limits.tokens_per_day,
    })
}

fn new_key_json(key: &NewKey) -> Value {
    let mut value = key_json(&key.info);
    value["key"] = Value::String(key.secret.clone());
    value
}

/// `response` with the session cookie for `token` set, `Secure` when this
/// server is reached over HTTPS (or `RAGWAY_COOKIE_SECURE` says so).
fn with_session(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    response: Response,
) -> Response {
    let over_tls = server_origin(&state.settings, headers).starts_with("https://");
    let secure = state.settings.cookie_secure.unwrap_or(over_tls);
    // No Max-Age: the browser drops it when closed, the server after 12 idle hours.
    with_cookie(response, token, if secure { "; Secure" } else { "" })
}

/// `response` setting the session cookie to `value`, with `extra` attributes.
fn with_cookie(mut response: Response, value: &str, extra: &str) -> Response {
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{extra}",
        admin::COOKIE
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a cookie is a header value"),
    );
    response
}

/// 403 when a browser sent this from another site's page: setup and login
/// take a password, not a session, and a foreign page must not log a
/// browser in. Scripts (no `Origin` or `Referer` at all) pass.
fn refuse_foreign(state: &AppState, headers: &HeaderMap) -> AppResult<()> {
    let sent_by_a_page =
        headers.contains_key(header::ORIGIN) || headers.contains_key(header::REFERER);
    if sent_by_a_page && !from_own_origin(headers, &state.settings) {
        return Err(AppError::Forbidden(
            "This request came from another site's page (Origin check).".into(),
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/admin/reindex", tag = "Admin", summary = "The active index and a running reindex", responses((status = 200, description = "See docs/api.md")))]
async fn show(State(state): State<AppState>, _admin: AdminCaller) -> AppResult<Json<IndexStatus>> {
    Ok(Json(
        reindex::status(&state.db, &state.upstreams, &state.settings).await?,
    ))
}

/// `202` with the status when a reindex was started (or is already running),
/// `200` when the index already uses the configured model.
#[utoipa::path(post, path = "/api/admin/reindex", tag = "Admin", summary = "Move the knowledge base to the configured embedding model", responses((status = 200, description = "See docs/api.md")))]
async fn begin(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> AppResult<(StatusCode, Json<IndexStatus>)> {
    let started = reindex::start(&state).await?;
    let code = if started.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        code,
        Json(reindex::status(&state.db, &state.upstreams, &state.settings).await?),
    ))
}
