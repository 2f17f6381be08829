//! Secrets and outbound calls under hostile input: a saved upstream key is
//! never sent to a new address, and image links from the provider are
//! downloaded within bounds (http(s) only, a size cap, a time limit, no
//! redirect to another host) with errors that never quote the link, and
//! answers of any kind are read only as far as `RAGWAY_UPSTREAM_MAX_ANSWER_BYTES`.
//! (Backups: `backup.rs`; key pools that spend retries wisely: `upstreams.rs`.)

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp};
use crate::support::fake_upstream::{FakeUpstream, Fault, ImageLink};

const SAVED_KEY: &str = "sk-saved-secret-key-4242";

/// The server still answers.
async fn assert_healthy(app: &TestApp) {
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_saved_key_is_never_sent_to_a_new_address() {
    let app = spawn_app().await;
    let saved = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/providers/chat",
            &app.admin_key,
            Some(&json!({"api_key": SAVED_KEY})),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    // Someone else's server, which records every Authorization header it gets.
    let elsewhere = FakeUpstream::start().await;

    // A new base_url without a key: refused for the test and for the model list.
    for (path, body) in [
        (
            "/api/admin/providers/chat/test",
            json!({"base_url": elsewhere.base_url}),
        ),
        (
            "/api/admin/providers/chat/test",
            json!({"base_url": format!("{}/v1/", elsewhere.base_url), "model": "x"}),
        ),
        (
            "/api/admin/providers/chat/models",
            json!({"base_url": elsewhere.base_url}),
        ),
    ] {
        let response = app.post_json(path, &app.admin_key, &body).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("api_key") && message.contains("new address"),
            "{path}: {message}"
        );
    }
    // Nor may it be saved: every chat afterwards would carry the key there.
    let moved = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/providers/chat",
            &app.admin_key,
            Some(&json!({"base_url": elsewhere.base_url})),
        )
        .await;
    assert_error(moved, StatusCode::BAD_REQUEST, "invalid_request").await;
    let answer = app
        .chat_json(&app.user_key, &app.chat_body("hello", false))
        .await;
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );
    assert!(
        elsewhere.auth_headers().is_empty() && elsewhere.chat_requests().is_empty(),
        "the other server was called: {:?}",
        elsewhere.auth_headers()
    );

    // With its own key, or explicitly none, the new address may be tried.
    let test = app
        .post_json(
            "/api/admin/providers/chat/test",
            &app.admin_key,
            &json!({"base_url": elsewhere.base_url, "api_key": "sk-for-elsewhere"}),
        )
        .await;
    assert_eq!(test.status(), StatusCode::OK);
    assert_eq!(test.json::<Value>().await.unwrap()["ok"], true);
    let listed = app
        .post_json(
            "/api/admin/providers/chat/models",
            &app.admin_key,
            &json!({"base_url": elsewhere.base_url, "api_key": null}),
        )
        .await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(elsewhere.auth_headers(), ["Bearer sk-for-elsewhere"]);

    // The saved address, however it is written, keeps the saved key.
    let same = format!("{}/v1/", app.upstream.base_url).replace("http://", "HTTP://");
    let test = app
        .post_json(
            "/api/admin/providers/chat/test",
            &app.admin_key,
            &json!({"base_url": same, "model": "fake-chat"}),
        )
        .await;
    assert_eq!(test.status(), StatusCode::OK);
    assert_eq!(test.json::<Value>().await.unwrap()["ok"], true);
    assert_eq!(
        app.upstream.auth_headers().last().unwrap(),
        &format!("Bearer {SAVED_KEY}")
    );
    assert!(!elsewhere
        .auth_headers()
        .iter()
        .any(|h| h.contains(SAVED_KEY)));
    assert_healthy(&app).await;
}

/// An app that draws through the fake, downloading at most `max` bytes per picture.
async fn drawing_app(max: usize) -> TestApp {
    spawn_app_with(move |s| {
        s.image_base_url = s.chat_base_url.clone();
        s.image_download_max_bytes = max;
    })
    .await
}

/// Ask for a picture; the answer's text.
async fn draw(app: &TestApp) -> String {
    let answer = app
        .chat_json(&app.user_key, &app.chat_body("画 一座灯塔", false))
        .await;
    answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The drawing failed with a message containing `reason`, without the link;
/// nothing was stored and the server goes on.
async fn assert_refused(app: &TestApp, content: &str, reason: &str, link: &str) {
    assert!(content.starts_with("图片生成失败"), "{content}");
    assert!(content.contains(reason), "{reason:?} not in {content}");
    for secret in [link, "linked.png", app.upstream.addr.to_string().as_str()] {
        assert!(!content.contains(secret), "{secret:?} quoted in {content}");
    }
    if app.settings.blob_url.is_none() {
        let images = app.settings.data_dir.join("blobs").join("images");
        assert!(!images.exists(), "a picture was stored");
    }
    assert_healthy(app).await;
}

#[tokio::test]
async fn image_links_are_downloaded_within_bounds() {
    let app = drawing_app(4096).await;
    let base = app.upstream.base_url.clone();
    let linked = format!("{base}/files/linked.png");

    // Too large: said up front, or found out while streaming.
    for declared in [true, false] {
        app.upstream.set_image_link(ImageLink::Oversized {
            bytes: 4 * 1024 * 1024,
            declared,
        });
        let content = draw(&app).await;
        assert_refused(&app, &content, "RAGWAY_IMAGE_DOWNLOAD_MAX_BYTES", &linked).await;
    }

    // Not http(s).
    let passwd = "file:///etc/passwd";
    app.upstream.set_image_link(ImageLink::Raw(passwd.into()));
    let content = draw(&app).await;
    assert_refused(&app, &content, "http(s)", passwd).await;
    assert!(!content.contains("root:"), "{content}");

    // A redirect to another host (this same fake under another name) is not followed.
    let port = app.upstream.addr.port();
    let other_host = format!("http://localhost:{port}/files/image.png");
    app.upstream
        .set_image_link(ImageLink::RedirectTo(other_host.clone()));
    let content = draw(&app).await;
    assert_refused(&app, &content, "another host", &other_host).await;
    assert!(
        !app.upstream
            .file_hosts()
            .iter()
            .any(|h| h.starts_with("localhost")),
        "{:?}",
        app.upstream.file_hosts()
    );

    // The request log keeps no link either.
    app.logged(4).await;
    let logs = app.logs("endpoint=/v1/chat/completions").await.to_string();
    assert!(
        !logs.contains("linked.png") && !logs.contains(passwd),
        "{logs}"
    );

    // Within the same host, a redirect is followed and the picture stored.
    app.upstream
        .set_image_link(ImageLink::RedirectTo(format!("{base}/files/image.png")));
    let content = draw(&app).await;
    assert!(content.starts_with("![一座灯塔]("), "{content}");
}

#[tokio::test]
async fn an_image_link_that_never_answers_times_out() {
    let app = spawn_app_with(|s| {
        s.image_base_url = s.chat_base_url.clone();
        s.upstream_timeout_secs = 1;
    })
    .await;
    app.upstream.set_image_link(ImageLink::Hang);
    let content = draw(&app).await;
    let link = format!("{}/files/linked.png", app.upstream.base_url);
    assert_refused(&app, &content, "longer than 1 s", &link).await;
}

#[tokio::test]
async fn an_upstream_that_never_stops_sending_is_cut_off() {
    let app = spawn_app_with(|s| s.upstream_max_answer_bytes = 1 << 20).await;

    // A whole answer: a 502 that says why, once the limit is passed.
    app.upstream.set_fault(Fault::Flood);
    let response = app
        .chat(&app.user_key, None, &app.chat_body("Hello?", false))
        .await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("1048576 bytes"), "{message}");

    // A stream: the relay ends with an error event at the limit.
    let response = app
        .chat(&app.user_key, None, &app.chat_body("Hello?", true))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("stream_interrupted"),
        "{}",
        &text[..text.len().min(500)]
    );
    assert!(
        text.contains("1048576 bytes"),
        "{}",
        &text[..text.len().min(500)]
    );
    assert!(
        text.len() < 64 * 1024,
        "nothing of the flood is relayed: {}",
        text.len()
    );

    // An error body that never ends: its start is read for the message.
    app.upstream.set_fault(Fault::FloodError);
    let response = app
        .chat(&app.user_key, None, &app.chat_body("Hello?", false))
        .await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("status 500"),
        "{}",
        &message[..message.len().min(300)]
    );
    assert!(
        message.len() <= 80 * 1024,
        "the message is bounded: {}",
        message.len()
    );

    app.upstream.set_fault(Fault::None);
    let answer = app
        .chat_json(&app.user_key, &app.chat_body("Hello?", false))
        .await;
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo: Hello?");
    assert_healthy(&app).await;
}
