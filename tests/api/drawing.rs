//! 画: drawing requests go to the image upstream, come back as a markdown
//! image served by ragway, stream and not, and are saved in the history.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{conversation_id, spawn_app_with, sse_chunks, TestApp};
use crate::support::fake_upstream::{Fault, PNG_1X1};

async fn drawing_app() -> TestApp {
    spawn_app_with(|s| s.image_base_url = s.chat_base_url.clone()).await
}

/// The image URL inside a markdown answer `![alt](url)`.
fn image_url(markdown: &str, alt: &str) -> String {
    let prefix = format!("![{alt}](");
    assert!(markdown.starts_with(&prefix), "{markdown}");
    markdown[prefix.len()..markdown.len() - 1].to_string()
}

async fn assert_serves_the_picture(app: &TestApp, url: &str) {
    assert!(url.starts_with(&app.address), "{url} is absolute");
    assert!(url.ends_with(".png"));
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG_1X1)
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().as_ref(), png.as_slice());
}

#[tokio::test]
async fn a_drawing_request_returns_a_stored_picture() {
    let app = drawing_app().await;
    let response = app
        .chat(&app.user_key, None, &app.chat_body("画 一只橘猫", false))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = conversation_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "ragway");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    let url = image_url(content, "一只橘猫");
    assert_serves_the_picture(&app, &url).await;

    let sent = app.upstream.image_requests().pop().unwrap();
    assert_eq!(sent["prompt"], "一只橘猫");
    assert_eq!(sent["model"], "Kwai-Kolors/Kolors");
    assert_eq!(sent["size"], "1024x1024");
    assert_eq!(sent["image_size"], "1024x1024");
    assert_eq!(sent["n"], 1);
    assert_eq!(sent["batch_size"], 1);
    assert!(
        app.upstream.chat_requests().is_empty(),
        "the chat model is not asked"
    );

    let conversation = app
        .get_json(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    assert_eq!(conversation["messages"][0]["content"], "画 一只橘猫");
    assert_eq!(conversation["messages"][1]["content"], content);
}

#[tokio::test]
async fn a_streamed_drawing_is_an_ordinary_sse_answer() {
    let app = drawing_app().await;
    app.upstream.set_images_as_urls(true);
    let response = app
        .chat(&app.user_key, None, &app.chat_body("画：雪山", true))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let chunks = sse_chunks(&response.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    let url = image_url(&text, "雪山");
    assert_serves_the_picture(&app, &url).await;
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.last().unwrap()["conversation_id"].is_string());
}

#[tokio::test]
async fn a_failing_image_upstream_answers_with_a_readable_message() {
    let app = drawing_app().await;
    app.upstream.set_fault(Fault::ServerError);
    let response = app
        .chat(&app.user_key, None, &app.chat_body("画 一座桥", false))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("图片生成失败"), "{content}");
    assert!(content.contains("images upstream"), "{content}");

    app.heal_upstream().await;
    let answer: Value = app
        .chat(&app.user_key, None, &app.chat_body("画", false))
        .await
        .json()
        .await
        .unwrap();
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.contains("描述"),
        "an empty prompt asks for one: {content}"
    );
}

#[tokio::test]
async fn models_choose_whether_and_how_to_draw() {
    let app = drawing_app().await;
    for model in [
        json!({"id": "no-drawing"}),
        json!({"id": "painter", "drawing": true, "draw_triggers": ["/draw"]}),
    ] {
        app.create_model(&model).await;
    }
    let mut body = app.chat_body("画 一只猫", false);
    body["model"] = json!("no-drawing");
    let answer: Value = app.chat_json(&app.user_key, &body).await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Echo: 画 一只猫"
    );

    body["model"] = json!("painter");
    let answer: Value = app.chat_json(&app.user_key, &body).await;
    assert_eq!(
        answer["choices"][0]["message"]["content"], "Echo: 画 一只猫",
        "画 is not this model's trigger"
    );
    body["messages"][0]["content"] = json!("/draw a red fox");
    let answer: Value = app.chat_json(&app.user_key, &body).await;
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("![a red fox]("), "{content}");
}

#[tokio::test]
async fn unknown_images_are_not_found() {
    let app = drawing_app().await;
    for path in [
        "/v1/images/0123456789abcdef0123456789abcdef.png",
        "/v1/images/../../etc/passwd",
        "/v1/images/short.png",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
