//! Keys, health, models, and every bad input with its status and error JSON.

use ragway::auth::keys;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_needs_no_key() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["vector_store"], "ok");
    assert_eq!(body["checks"]["blob_store"], "ok");
    assert!(body["uptime_secs"].is_u64(), "{body}");
    assert_eq!(body["request_log"]["enabled"], true);
    assert_eq!(body["request_log"]["dropped_rows"], 0);
    assert_eq!(body["upstreams"]["chat"], "configured");
    assert_eq!(body["upstreams"]["images"], "not configured");
}

#[tokio::test]
async fn health_is_503_when_the_blob_store_is_down() {
    let app = spawn_app_with(|settings| {
        // In a bucket: one that does not exist.
        if let Some(url) = &settings.blob_url {
            settings.blob_url = Some(url.replacen("s3://", "s3://no-such-bucket-", 1));
        }
    })
    .await;
    if !app.settings.blob_url().starts_with("s3://") {
        // In a folder: the probe's folder becomes a file, so writes under it fail.
        let probes = app.settings.data_dir.join("blobs").join(".health");
        let _ = std::fs::remove_dir_all(&probes);
        std::fs::write(&probes, b"not a folder").unwrap();
    }
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["blob_store"], "down");
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn models_lists_the_public_model() {
    let app = spawn_app_with(|s| s.public_model = "kb-assistant".into()).await;
    let body: Value = app.get_json("/v1/models", &app.user_key).await;
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], "kb-assistant");
    assert_eq!(body["data"][0]["object"], "model");
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_are_refused() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;

    let response = app.get("/v1/models", "sk-not-a-real-key").await;
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;

    let response = app
        .client
        .get(app.url("/v1/models"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;

    let key = keys::create(&app.state.db, "temp", keys::Role::User)
        .await
        .unwrap();
    assert_eq!(
        app.get("/v1/models", &key.secret).await.status(),
        StatusCode::OK
    );
    keys::revoke(&app.state.db, &key.info.id).await.unwrap();
    let response = app
        .post_json(
            "/v1/chat/completions",
            &key.secret,
            &app.chat_body("hi", false),
        )
        .await;
    let body = assert_error(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    for path in ["/v1/chat/completions", "/v1/documents"] {
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body("{\"model\": ")
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    // Well-formed JSON of the wrong shape is a 400 too, as OpenAI answers it.
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": "ragway", "messages": "hi"}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": "ragway", "messages": []}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": "ragway", "messages": [{"role": "wizard", "content": "x"}]}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(
        app.upstream.chat_requests().is_empty(),
        "nothing bad reached the upstream"
    );
}

#[tokio::test]
async fn unknown_models_are_404_model_not_found() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    let body = assert_error(response, StatusCode::NOT_FOUND, "model_not_found").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("gpt-9"));
}

#[tokio::test]
async fn unknown_routes_answer_json() {
    let app = spawn_app().await;
    let response = app.get("/v1/nothing-here", &app.user_key).await;
    assert_error(response, StatusCode::NOT_FOUND, "unknown_url").await;
}

#[tokio::test]
async fn missing_upstream_settings_give_503_naming_the_setting() {
    let app = spawn_app_with(|s| {
        s.chat_base_url = None;
        s.embed_base_url = None;
        // A provider's model named without its provider (with no model at
        // all, the built-in one would embed).
        s.embed_model = Some("BAAI/bge-large-zh-v1.5".into());
    })
    .await;
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", false),
        )
        .await;
    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "not_configured").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RAGWAY_CHAT_BASE_URL"));

    let response = app
        .post_json(
            "/v1/documents",
            &app.admin_key,
            &json!({"title": "t", "text": "x"}),
        )
        .await;
    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "not_configured").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RAGWAY_EMBED_BASE_URL"));
    // The server itself is healthy.
    assert_eq!(
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn browser_clients_may_call_the_api_cross_origin() {
    let app = spawn_app().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/chat/completions"))
        .header("origin", "https://chat.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") || allowed == "*",
        "{allowed}"
    );
}
