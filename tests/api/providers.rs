//! Providers through the admin: saved over the settings with their keys
//! sealed and shown masked, used at once, tried before saving, their model
//! lists read, removed back to the settings, kept across a restart.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

use crate::helpers::{assert_error, spawn_app, TestApp};

const SAVED_KEY: &str = "sk-saved-chat-key-9876";

async fn providers(app: &TestApp) -> Value {
    let response = app.get("/api/admin/providers", &app.admin_key).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains(SAVED_KEY), "a stored key came back: {text}");
    assert!(
        !text.contains("sk-upstream-chat"),
        "a configured key came back: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

async fn put(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.request(Method::PUT, path, &app.admin_key, Some(body))
        .await
}

async fn ask(app: &TestApp) {
    let response = app
        .chat(
            &app.user_key,
            None,
            &json!({"model": "ragway", "messages": [{"role": "user", "content": "hello"}]}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_saved_provider_is_used_at_once_shown_masked_and_sealed_at_rest() {
    let app = spawn_app().await;
    let before = providers(&app).await;
    assert_eq!(before["chat"]["source"], "settings");
    assert_eq!(before["chat"]["api_key"], "sk-…chat");
    assert_eq!(before["chat"]["model"], "fake-chat");
    assert_eq!(before["chat"]["configured"], true);
    assert_eq!(before["images"]["configured"], false);

    let response = put(
        &app,
        "/api/admin/providers",
        &json!({"chat": {"api_key": SAVED_KEY, "model": "fake-chat-2"}}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["chat"]["source"], "admin");
    assert_eq!(after["chat"]["api_key"], "sk-…9876");
    assert_eq!(after["chat"]["model"], "fake-chat-2");
    // Left out: kept.
    assert_eq!(after["chat"]["base_url"], before["chat"]["base_url"]);
    assert_eq!(providers(&app).await["chat"], after["chat"]);

    ask(&app).await;
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["model"], "fake-chat-2");
    assert_eq!(
        app.upstream.auth_headers().last().unwrap(),
        &format!("Bearer {SAVED_KEY}")
    );

    // At rest the key is sealed, not written out.
    let row = sqlx::query("SELECT api_key FROM providers WHERE role = 'chat'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let stored: String = row.get("api_key");
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains("9876"));

    // Removed: back to the settings.
    let response = app
        .delete("/api/admin/providers/chat", &app.admin_key)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["source"], "settings");
    ask(&app).await;
    assert_eq!(
        app.upstream.chat_requests().pop().unwrap()["model"],
        "fake-chat"
    );
    assert_eq!(
        app.upstream.auth_headers().last().unwrap(),
        "Bearer sk-upstream-chat"
    );
}

#[tokio::test]
async fn saved_providers_survive_a_restart_and_bad_ones_are_refused_whole() {
    let app = spawn_app().await;
    let base = format!("{}/v1", app.upstream.base_url);
    let response = put(
        &app,
        "/api/admin/providers/images",
        &json!({"base_url": base, "api_key": "sk-image-key-0001", "model": "fake-image"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["configured"], true);
    assert_eq!(view["api_key"], "sk-…0001");

    // One bad role: nothing of the request is saved.
    let response = put(
        &app,
        "/api/admin/providers",
        &json!({"rerank": {"base_url": base, "model": "r"}, "chat": {"base_url": "ftp://nowhere"}}),
    )
    .await;
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("http"));
    assert_eq!(providers(&app).await["rerank"]["source"], "settings");
    let unknown = put(
        &app,
        "/api/admin/providers",
        &json!({"video": {"model": "x"}}),
    )
    .await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "invalid_request").await;
    let typo = put(&app, "/api/admin/providers/chat", &json!({"modle": "x"})).await;
    assert_error(typo, StatusCode::BAD_REQUEST, "invalid_request").await;
    let missing = app
        .delete("/api/admin/providers/video", &app.admin_key)
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "provider_not_found").await;

    let (app, _) = app.restart().await;
    let view = &providers(&app).await["images"];
    assert_eq!(view["source"], "admin");
    assert_eq!(view["api_key"], "sk-…0001");
    assert!(view.get("error").is_none(), "{view}");
    assert_eq!(
        app.state.upstreams.images.endpoint().api_key.as_deref(),
        Some("sk-image-key-0001")
    );
}

#[tokio::test]
async fn a_provider_test_reports_latency_or_the_upstreams_error() {
    let app = spawn_app().await;
    let test = |role: &'static str, body: Option<Value>| {
        let app = &app;
        async move {
            let path = format!("/api/admin/providers/{role}/test");
            let response = match body {
                Some(body) => app.post_json(&path, &app.admin_key, &body).await,
                None => app.request(Method::POST, &path, &app.admin_key, None).await,
            };
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let chat = test("chat", None).await;
    assert_eq!(chat["ok"], true, "{chat}");
    assert!(chat["latency_ms"].is_u64());
    assert_eq!(chat["model"], "fake-chat");
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["max_tokens"], 1);

    let embeddings = test("embeddings", None).await;
    assert_eq!(embeddings["ok"], true, "{embeddings}");
    assert!(embeddings["detail"]["dimension"].as_u64().unwrap() > 0);

    app.upstream
        .set_fault_times(crate::support::fake_upstream::Fault::Unauthorized, 1);
    let refused = test("chat", None).await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["status"], 502);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("Invalid API key"),
        "{refused}"
    );

    // Unsaved values are tried, and stay unsaved (a new address with its own key).
    let nowhere = test(
        "chat",
        Some(json!({"base_url": "http://127.0.0.1:9", "api_key": "sk-x"})),
    )
    .await;
    assert_eq!(nowhere["ok"], false);
    assert!(
        nowhere["error"]
            .as_str()
            .unwrap()
            .contains("Could not reach"),
        "{nowhere}"
    );
    assert_eq!(providers(&app).await["chat"]["source"], "settings");

    let unconfigured = test("images", None).await;
    assert_eq!(unconfigured["ok"], false);
    assert_eq!(unconfigured["status"], 503);
}

#[tokio::test]
async fn the_model_list_comes_from_the_provider() {
    let app = spawn_app().await;
    let list = app
        .get_json("/api/admin/providers/chat/models", &app.admin_key)
        .await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"fake-chat"), "{list}");
    // For values not saved yet (a provider being added).
    let base = format!("{}/v1", app.upstream.base_url);
    let response = app
        .post_json(
            "/api/admin/providers/images/models",
            &app.admin_key,
            &json!({"base_url": base, "api_key": "sk-x"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = response.json().await.unwrap();
    assert!(!list["data"].as_array().unwrap().is_empty());
    let unreachable = app
        .post_json(
            "/api/admin/providers/images/models",
            &app.admin_key,
            &json!({"base_url": "http://127.0.0.1:9"}),
        )
        .await;
    assert_error(unreachable, StatusCode::BAD_GATEWAY, "upstream_error").await;
}

#[tokio::test]
async fn setup_saves_the_providers_it_is_given() {
    let app = spawn_app().await;
    let base = format!("{}/v1", app.upstream.base_url);
    let response = app
        .client
        .post(app.url("/api/admin/setup"))
        .json(&json!({
            "password": "lighthouse keeper 1907",
            "providers": {"rerank": {"base_url": base, "model": "fake-rerank", "api_key": "sk-rerank-key-42"}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let view = &providers(&app).await["rerank"];
    assert_eq!(view["source"], "admin");
    assert_eq!(view["api_key"], "sk-…y-42");
    assert!(app.state.upstreams.rerank.is_configured());
}

#[tokio::test]
async fn only_the_admin_reaches_the_providers() {
    let app = spawn_app().await;
    let routes: [(Method, &str); 6] = [
        (Method::GET, "/api/admin/providers"),
        (Method::PUT, "/api/admin/providers"),
        (Method::PUT, "/api/admin/providers/chat"),
        (Method::DELETE, "/api/admin/providers/chat"),
        (Method::POST, "/api/admin/providers/chat/test"),
        (Method::GET, "/api/admin/providers/chat/models"),
    ];
    for (method, path) in routes {
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let user = app
            .request(method.clone(), path, &app.user_key, Some(&json!({})))
            .await;
        assert_eq!(user.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(providers(&app).await["chat"]["source"], "settings");
}
