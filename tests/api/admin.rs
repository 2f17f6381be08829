//! The admin account: first-visit setup, login with a session cookie,
//! logout, password change, failed-login throttling, the Origin check, and
//! the keys API, each route refusing whoever is not the admin.

use reqwest::header::{HeaderMap, COOKIE, ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp};

pub(crate) const PASSWORD: &str = "lighthouse keeper 1907";

/// `ragway_session=…` from a response's `Set-Cookie`, and the whole header.
fn session_from(headers: &HeaderMap) -> (String, String) {
    let set = headers
        .get(SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string();
    let pair = set.split(';').next().unwrap().trim().to_string();
    assert!(pair.starts_with("ragway_session="), "{set}");
    (pair, set)
}

/// A request as the admin's browser sends it: the cookie, and this server as `Origin`.
pub(crate) async fn as_browser(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header(COOKIE, cookie)
        .header(ORIGIN, &app.address);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn post_anonymous(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Set up the admin password; answers the session cookie and the first key.
pub(crate) async fn set_up(app: &TestApp) -> (String, Value) {
    let response = post_anonymous(app, "/api/admin/setup", &json!({"password": PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (cookie, _) = session_from(response.headers());
    let body: Value = response.json().await.unwrap();
    (cookie, body["key"].clone())
}

async fn log_in(app: &TestApp, password: &str) -> reqwest::Response {
    post_anonymous(app, "/api/admin/login", &json!({"password": password})).await
}

#[tokio::test]
async fn the_first_visitor_sets_the_password_once_and_gets_a_key() {
    let app = spawn_app().await;
    let state = app.get_json("/api/admin/setup", "").await;
    assert_eq!(state["setup_required"], true);

    let short = post_anonymous(&app, "/api/admin/setup", &json!({"password": "too short"})).await;
    let body = assert_error(short, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("12"));
    let unknown = post_anonymous(
        &app,
        "/api/admin/setup",
        &json!({"password": PASSWORD, "colour": "blue"}),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get_json("/api/admin/setup", "").await["setup_required"],
        true
    );

    let (cookie, key) = set_up(&app).await;
    assert_eq!(key["role"], "user");
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("sk-") && secret.starts_with(key["prefix"].as_str().unwrap()));
    assert_eq!(app.get("/v1/models", secret).await.status(), StatusCode::OK);

    let session = as_browser(&app, Method::GET, "/api/admin/session", &cookie, None).await;
    assert_eq!(session.status(), StatusCode::OK);
    assert_eq!(session.json::<Value>().await.unwrap()["via"], "session");
    assert_eq!(
        app.get_json("/api/admin/setup", "").await["setup_required"],
        false
    );

    // Setup cannot be replayed, with any password.
    for password in [PASSWORD, "someone else's password"] {
        let again = post_anonymous(&app, "/api/admin/setup", &json!({"password": password})).await;
        assert_error(again, StatusCode::CONFLICT, "conflict").await;
    }
    assert_eq!(
        log_in(&app, PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        log_in(&app, "someone else's password").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn login_sets_a_strict_cookie_and_logout_and_password_change_end_sessions() {
    let app = spawn_app().await;
    let none_yet = log_in(&app, PASSWORD).await;
    assert_error(none_yet, StatusCode::CONFLICT, "conflict").await;
    let (first, _) = set_up(&app).await;

    let wrong = log_in(&app, "not the password at all").await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_password").await;
    let response = log_in(&app, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (second, header) = session_from(response.headers());
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Strict"),
        "{header}"
    );
    assert!(!header.contains("Secure"), "plain HTTP: {header}");
    let behind_tls = app
        .client
        .post(app.url("/api/admin/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (third, header) = session_from(behind_tls.headers());
    assert!(header.contains("; Secure"), "{header}");

    // Logout ends that session only.
    let out = as_browser(&app, Method::POST, "/api/admin/logout", &second, None).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(session_from(out.headers()).1.contains("Max-Age=0"));
    let ended = as_browser(&app, Method::GET, "/api/admin/keys", &second, None).await;
    assert_error(ended, StatusCode::UNAUTHORIZED, "session_expired").await;
    let still = as_browser(&app, Method::GET, "/api/admin/keys", &first, None).await;
    assert_eq!(still.status(), StatusCode::OK);

    // A password change needs the current one, and ends every other session.
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let refused = as_browser(
        &app,
        Method::POST,
        "/api/admin/password",
        &first,
        Some(&change("a wrong current password", "a new long passphrase")),
    )
    .await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_password").await;
    let too_short = as_browser(
        &app,
        Method::POST,
        "/api/admin/password",
        &first,
        Some(&change(PASSWORD, "short")),
    )
    .await;
    assert_eq!(too_short.status(), StatusCode::BAD_REQUEST);
    let changed = as_browser(
        &app,
        Method::POST,
        "/api/admin/password",
        &first,
        Some(&change(PASSWORD, "a new long passphrase")),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let (fourth, _) = session_from(changed.headers());
    for old in [&first, &third] {
        let response = as_browser(&app, Method::GET, "/api/admin/keys", old, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = as_browser(&app, Method::GET, "/api/admin/keys", &fourth, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        log_in(&app, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        log_in(&app, "a new long passphrase").await.status(),
        StatusCode::NO_CONTENT
    );

    // A session idle for longer than 12 hours has ended.
    sqlx::query("UPDATE admin_sessions SET last_seen_at = $1")
        .bind(ragway::domain::clock::now_ms() - 13 * 3600 * 1000)
        .execute(&app.state.db)
        .await
        .unwrap();
    let response = as_browser(&app, Method::GET, "/api/admin/keys", &fourth, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_failed_logins_make_the_address_wait() {
    let app = spawn_app().await;
    set_up(&app).await;
    for _ in 0..ragway::auth::admin::FREE_FAILURES {
        assert_eq!(
            log_in(&app, "guessing the password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password waits now.
    let response = log_in(&app, PASSWORD).await;
    let retry: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
}

/// A login as relayed by a reverse proxy for `client`.
async fn log_in_via_proxy(app: &TestApp, client: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/admin/login"))
        .header("x-forwarded-for", client)
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_failures_count_per_forwarded_client() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    set_up(&app).await;
    for _ in 0..ragway::auth::admin::FREE_FAILURES {
        let response = log_in_via_proxy(&app, "203.0.113.7", "guessing").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = log_in_via_proxy(&app, "203.0.113.7", PASSWORD).await;
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    // Another client behind the same proxy is not held up by the first one's failures,
    // and one that forges a list is judged by the hop the proxy appended.
    let response = log_in_via_proxy(&app, "198.51.100.2", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = log_in_via_proxy(&app, "198.51.100.9, 203.0.113.7", PASSWORD).await;
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
}

#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    set_up(&app).await;
    // Each failure claims a new address; with no trusted proxy they all count against the peer.
    for n in 0..ragway::auth::admin::FREE_FAILURES {
        let response = log_in_via_proxy(&app, &format!("203.0.113.{n}"), "guessing").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = log_in_via_proxy(&app, "198.51.100.2", PASSWORD).await;
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
}

#[tokio::test]
async fn a_session_cookie_from_a_foreign_page_is_refused() {
    let app = spawn_app().await;
    let (cookie, _) = set_up(&app).await;
    let body = json!({"name": "csrf"});
    let send = |origin: Option<(&'static str, &'static str)>| {
        let mut request = app
            .client
            .post(app.url("/api/admin/keys"))
            .header(COOKIE, &cookie)
            .json(&body);
        if let Some((name, value)) = origin {
            request = request.header(name, value);
        }
        request.send()
    };
    for origin in [
        None,
        Some(("origin", "https://evil.example")),
        Some(("origin", "null")),
        Some(("referer", "https://evil.example/admin")),
    ] {
        let response = send(origin).await.unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "insufficient_permissions").await;
    }
    assert_eq!(
        app.get_json("/api/admin/keys", &app.admin_key).await["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["name"] == "csrf")
            .count(),
        0,
        "no key was made"
    );
    // Reading needs no Origin; the server's own page may write.
    let read = app
        .client
        .get(app.url("/api/admin/keys"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let own = as_browser(&app, Method::POST, "/api/admin/keys", &cookie, Some(&body)).await;
    assert_eq!(own.status(), StatusCode::CREATED);
    let referer = app
        .client
        .post(app.url("/api/admin/keys"))
        .header(COOKIE, &cookie)
        .header("referer", app.url("/admin/keys"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(referer.status(), StatusCode::CREATED);

    // A foreign page cannot log a browser in either.
    let login = app
        .client
        .post(app.url("/api/admin/login"))
        .header(ORIGIN, "https://evil.example")
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_admin_route_refuses_whoever_is_not_the_admin() {
    let app = spawn_app().await;
    set_up(&app).await;
    let routes = [
        (Method::GET, "/api/admin/session"),
        (Method::GET, "/api/admin/keys"),
        (Method::POST, "/api/admin/keys"),
        (Method::DELETE, "/api/admin/keys/some-id"),
        (Method::POST, "/api/admin/password"),
        (Method::GET, "/api/admin/models"),
        (Method::POST, "/api/admin/models"),
        (Method::PATCH, "/api/admin/models/ragway"),
        (Method::DELETE, "/api/admin/models/ragway"),
        (Method::GET, "/api/admin/reindex"),
        (Method::POST, "/api/admin/reindex"),
    ];
    let body = json!({});
    for (method, path) in routes {
        let nobody = app
            .client
            .request(method.clone(), app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let forged = as_browser(
            &app,
            method.clone(),
            path,
            "ragway_session=forged-session-token",
            Some(&body),
        )
        .await;
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let user = app
            .request(method.clone(), path, &app.user_key, Some(&body))
            .await;
        assert_eq!(user.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
}

#[tokio::test]
async fn keys_are_created_shown_once_listed_and_revoked() {
    let app = spawn_app().await;
    let created = app
        .post_json(
            "/api/admin/keys",
            &app.admin_key,
            &json!({"name": "Ferry office", "role": "user", "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let key: Value = created.json().await.unwrap();
    let secret = key["key"].as_str().unwrap().to_string();
    assert_eq!(key["name"], "Ferry office");
    assert_eq!(key["expires_at"], 32_472_144_000_000i64);
    assert_eq!(
        app.get("/v1/models", &secret).await.status(),
        StatusCode::OK
    );

    let listed = app.get_json("/api/admin/keys", &app.admin_key).await;
    let text = listed.to_string();
    assert!(!text.contains(&secret[3..]), "no secret in the list");
    let row = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key["id"])
        .unwrap()
        .clone();
    assert!(row.get("key").is_none());
    assert!(row["last_used_at"].is_i64(), "the key was used: {row}");
    assert_eq!(row["revoked"], false);

    for (bad, why) in [
        (json!({"role": "user"}), "name"),
        (json!({"name": "x", "role": "root"}), "role"),
        (
            json!({"name": "x", "expires_at": "next week"}),
            "expires_at",
        ),
        (
            json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
            "past",
        ),
        (json!({"name": "x", "scope": "all"}), "scope"),
    ] {
        let response = app.post_json("/api/admin/keys", &app.admin_key, &bad).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }

    let id = key["id"].as_str().unwrap();
    let revoked = app
        .delete(&format!("/api/admin/keys/{id}"), &app.admin_key)
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(revoked.json::<Value>().await.unwrap()["revoked"], true);
    let refused = app.get("/v1/models", &secret).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    let again = app
        .delete(&format!("/api/admin/keys/{id}"), &app.admin_key)
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let missing = app
        .delete("/api/admin/keys/no-such-key", &app.admin_key)
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;

    // An admin key made here can manage; an expired key is refused.
    let admin: Value = app
        .post_json(
            "/api/admin/keys",
            &app.admin_key,
            &json!({"name": "ops", "role": "admin"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let admin_secret = admin["key"].as_str().unwrap();
    assert_eq!(
        app.get("/api/admin/keys", admin_secret).await.status(),
        StatusCode::OK
    );
    sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE id = $2")
        .bind(ragway::domain::clock::now_ms() - 1)
        .bind(admin["id"].as_str().unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    // Written behind the server's back: tell it, as a change through it would.
    ragway::auth::keys::forget_known();
    let expired = app.get("/api/admin/keys", admin_secret).await;
    let body = assert_error(expired, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}
