//! Every `/api/admin/*` route refuses whoever is not the admin: no
//! credentials, a forged or expired session, a user key; a live session
//! from another site's page (CSRF) is refused on every route that changes
//! something. The admin's browser session also works the document routes
//! and browses every key's conversations; user keys never see another
//! key's data.

use reqwest::header::{COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin::{as_browser, set_up};
use crate::helpers::{conversation_id, spawn_app, TestApp};

/// Every admin route that needs the admin (setup and login take a password instead).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/admin/session"),
    ("POST", "/api/admin/password"),
    ("GET", "/api/admin/keys"),
    ("POST", "/api/admin/keys"),
    ("DELETE", "/api/admin/keys/some-id"),
    ("PATCH", "/api/admin/keys/some-id"),
    ("GET", "/api/admin/reindex"),
    ("POST", "/api/admin/reindex"),
    ("GET", "/api/admin/models"),
    ("POST", "/api/admin/models"),
    ("GET", "/api/admin/models/ragway"),
    ("PATCH", "/api/admin/models/ragway"),
    ("DELETE", "/api/admin/models/ragway"),
    ("GET", "/api/admin/providers"),
    ("PUT", "/api/admin/providers"),
    ("PUT", "/api/admin/providers/chat"),
    ("DELETE", "/api/admin/providers/chat"),
    ("POST", "/api/admin/providers/chat/test"),
    ("GET", "/api/admin/providers/chat/models"),
    ("POST", "/api/admin/providers/chat/models"),
    ("GET", "/api/admin/settings"),
    ("PATCH", "/api/admin/settings"),
    ("GET", "/api/admin/conversations"),
    ("GET", "/api/admin/conversations/some-id"),
    ("DELETE", "/api/admin/conversations/some-id"),
    ("GET", "/api/admin/logs"),
    ("GET", "/api/admin/usage"),
    ("GET", "/api/admin/upstreams"),
    ("POST", "/api/admin/upstreams/chat/keys"),
    ("DELETE", "/api/admin/upstreams/chat/keys/0123abcd"),
    ("POST", "/api/admin/upstreams/chat/keys/0123abcd/enable"),
    ("GET", "/v1/collections"),
    ("POST", "/v1/collections"),
    ("DELETE", "/v1/collections/some-name"),
];

/// Setup, as the first visitor: the admin session cookie.
async fn session(app: &TestApp) -> String {
    set_up(app).await.0
}

/// GET `path` with the admin's session, as its browser does: the JSON body.
async fn browse(app: &TestApp, path: &str, cookie: &str) -> Value {
    let response = as_browser(app, Method::GET, path, cookie, None).await;
    response.json().await.unwrap()
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    key: Option<&str>,
    origin: Option<&str>,
) -> StatusCode {
    let mut request = app
        .client
        .request(
            Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        )
        .json(&json!({}));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn every_admin_route_refuses_whoever_is_not_the_admin() {
    let app = spawn_app().await;
    let cookie = session(&app).await;
    let forged = "ragway_session=0123456789abcdef0123456789abcdef";
    for &(method, path) in ROUTES {
        let what = format!("{method} {path}");
        assert_eq!(
            send(&app, method, path, None, None, None).await,
            StatusCode::UNAUTHORIZED,
            "{what}: nobody"
        );
        assert_eq!(
            send(&app, method, path, Some(forged), None, None).await,
            StatusCode::UNAUTHORIZED,
            "{what}: forged session"
        );
        assert_eq!(
            send(&app, method, path, None, Some(&app.user_key), None).await,
            StatusCode::FORBIDDEN,
            "{what}: user key"
        );
        assert_eq!(
            send(
                &app,
                method,
                path,
                None,
                Some("sk-forged-0000000000000000"),
                None
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "{what}: unknown key"
        );
        if method != "GET" {
            let foreign = send(
                &app,
                method,
                path,
                Some(&cookie),
                None,
                Some("https://evil.example"),
            )
            .await;
            assert_eq!(foreign, StatusCode::FORBIDDEN, "{what}: foreign Origin");
            let no_origin = send(&app, method, path, Some(&cookie), None, None).await;
            assert_eq!(
                no_origin,
                StatusCode::FORBIDDEN,
                "{what}: no Origin with a cookie"
            );
        } else {
            let own = send(&app, method, path, Some(&cookie), None, None).await;
            assert_ne!(own, StatusCode::UNAUTHORIZED, "{what}: the session works");
            assert_ne!(own, StatusCode::FORBIDDEN, "{what}: the session works");
        }
    }
    // Still nothing changed by all that.
    let models = app.get_json("/api/admin/models", &app.admin_key).await;
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "ragway"));

    // An expired session is refused everywhere too.
    sqlx::query("UPDATE admin_sessions SET last_seen_at = $1")
        .bind(0i64)
        .execute(&app.state.db)
        .await
        .unwrap();
    for &(method, path) in ROUTES {
        let origin = app.address.clone();
        let status = send(&app, method, path, Some(&cookie), None, Some(&origin)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: expired session"
        );
    }

    // Setup cannot be replayed, not even by the admin.
    let again = app
        .client
        .post(app.url("/api/admin/setup"))
        .header(COOKIE, &cookie)
        .json(&json!({"password": "another password entirely"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_admin_session_works_documents_and_reads_every_keys_conversations() {
    let app = spawn_app().await;
    let cookie = session(&app).await;
    // Upload and list through the session, as the web admin does.
    let upload = json!({"title": "Tides", "text": "High tide is at six."});
    let response = as_browser(&app, Method::POST, "/v1/documents", &cookie, Some(&upload)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let forged_upload = app
        .client
        .post(app.url("/v1/documents"))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "https://evil.example")
        .json(&json!({"title": "Spam", "text": "buy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged_upload.status(), StatusCode::FORBIDDEN);
    let list = browse(&app, "/v1/documents", &cookie).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");

    // Two keys' conversations: each key sees its own, the admin both.
    let other = app.new_user_key("other").await;
    let mine = app
        .chat(&app.user_key, None, &app.chat_body("mine", false))
        .await;
    let mine = conversation_id(&mine);
    let theirs = app
        .chat(&other, None, &app.chat_body("theirs", false))
        .await;
    let theirs = conversation_id(&theirs);
    let all = browse(&app, "/api/admin/conversations", &cookie).await;
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&mine.as_str()) && ids.contains(&theirs.as_str()),
        "{all}"
    );
    let key_of_theirs = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == theirs.as_str())
        .unwrap()["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let one_key = app
        .get_json(
            &format!("/api/admin/conversations?key_id={key_of_theirs}"),
            &app.admin_key,
        )
        .await;
    let ids: Vec<&str> = one_key["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [theirs.as_str()]);
    let read = app
        .get_json(
            &format!("/api/admin/conversations/{theirs}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(read["messages"][0]["content"], "theirs");
    // A user key: another key's conversation is a 404 through every route.
    for method in [Method::GET, Method::DELETE] {
        let response = app
            .request(
                method,
                &format!("/v1/conversations/{theirs}"),
                &app.user_key,
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let response = app
        .request(
            Method::DELETE,
            &format!("/api/admin/conversations/{theirs}"),
            &app.admin_key,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let gone = app
        .get(&format!("/v1/conversations/{theirs}"), &other)
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/v1/conversations/{mine}"), &app.user_key)
            .await
            .status(),
        StatusCode::OK
    );
}
