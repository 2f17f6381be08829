//! Runtime settings through the admin: checked, saved, used by the next
//! request, set back to their defaults with `null`, kept across a restart.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

async fn patch(app: &TestApp, body: &Value) -> reqwest::Response {
    app.request(
        Method::PATCH,
        "/api/admin/settings",
        &app.admin_key,
        Some(body),
    )
    .await
}

async fn settings(app: &TestApp) -> Value {
    let response = app.get("/api/admin/settings", &app.admin_key).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn history(turns: usize) -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": "Client rules."})];
    for i in 0..turns {
        messages.push(json!({"role": "user", "content": format!("question {i}")}));
        messages.push(json!({"role": "assistant", "content": format!("answer {i}")}));
    }
    messages.push(json!({"role": "user", "content": "the last question"}));
    messages
}

#[tokio::test]
async fn saved_settings_change_the_next_chat() {
    let app = spawn_app().await;
    let before = settings(&app).await;
    assert_eq!(before["max_messages"], 20);
    assert_eq!(before["system_prompt"], Value::Null);
    assert_eq!(before["saved"], json!([]));
    assert_eq!(before["defaults"]["max_messages"], 20);

    let response = patch(
        &app,
        &json!({"max_messages": 3, "system_prompt": "You are the harbour office.", "citation_footer": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["max_messages"], 3);
    assert_eq!(
        after["saved"],
        json!(["citation_footer", "max_messages", "system_prompt"])
    );

    app.ingest_text("Ferries", "The ferry to the island leaves at nine.")
        .await;
    let response = app
        .chat(
            &app.user_key,
            None,
            &json!({"model": "ragway", "messages": history(5)}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("\n---\n[1] Ferries"), "the footer: {text}");
    let sent = app.upstream.chat_requests().pop().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are the harbour office.\n\nClient rules."),
        "{system}"
    );
    let others = messages.iter().filter(|m| m["role"] != "system").count();
    assert_eq!(others, 3, "{sent}");

    // `null`: back to the default.
    let response = patch(
        &app,
        &json!({"max_messages": null, "citation_footer": null}),
    )
    .await;
    let reset: Value = response.json().await.unwrap();
    assert_eq!(reset["max_messages"], 20);
    assert_eq!(reset["citation_footer"], false);
    assert_eq!(reset["saved"], json!(["system_prompt"]));

    let (app, _) = app.restart().await;
    let kept = settings(&app).await;
    assert_eq!(kept["system_prompt"], "You are the harbour office.");
    assert_eq!(kept["max_messages"], 20);
}

#[tokio::test]
async fn bad_settings_are_refused_and_nothing_is_saved() {
    let app = spawn_app().await;
    for (body, needle) in [
        (json!({"max_messages": 0}), "1 to 1000"),
        (json!({"max_messages": "ten"}), "number"),
        (json!({"draw_triggers": ["画", ""]}), "non-empty"),
        (json!({"citation_footer": "yes"}), "true or false"),
        (json!({"upload_max_bytes": 1u64 << 40}), "upload_max_bytes"),
        (json!({"colour": "blue"}), "max_messages"),
        (json!({"top_k": 8, "max_total_chars": 5}), "max_total_chars"),
    ] {
        let response = patch(&app, &body).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let now = settings(&app).await;
    assert_eq!(now["saved"], json!([]));
    assert_eq!(now["top_k"], 5);
    let not_json = app
        .client
        .patch(app.url("/api/admin/settings"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_error(not_json, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn the_upload_limit_and_drawing_triggers_apply_at_once() {
    let app = spawn_app().await;
    let response = patch(
        &app,
        &json!({"upload_max_bytes": 64, "draw_triggers": ["draw:"]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post_json(
            "/v1/documents",
            &app.admin_key,
            &json!({"title": "Long", "text": "x".repeat(65)}),
        )
        .await;
    let error = assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(error["error"]["message"].as_str().unwrap().contains("64"));
    app.ingest_text("Short", "Fits in sixty-four bytes.").await;

    // An images provider saved through the admin makes the built-in model draw.
    let base = format!("{}/v1", app.upstream.base_url);
    let response = app
        .request(
            Method::PUT,
            "/api/admin/providers/images",
            &app.admin_key,
            Some(&json!({"base_url": base})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body("draw: a lighthouse", false),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.starts_with("![a lighthouse]("), "{text}");
    assert_eq!(
        app.upstream.image_requests().pop().unwrap()["prompt"],
        "a lighthouse"
    );
    // The old trigger is an ordinary message now.
    let response = app
        .chat(&app.user_key, None, &app.chat_body("画 一只猫", false))
        .await;
    let answer: Value = response.json().await.unwrap();
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!text.starts_with("!["), "{text}");
}

#[tokio::test]
async fn only_the_admin_reaches_the_settings() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::PATCH] {
        let anonymous = app
            .client
            .request(method.clone(), app.url("/api/admin/settings"))
            .json(&json!({"max_messages": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let user = app
            .request(
                method.clone(),
                "/api/admin/settings",
                &app.user_key,
                Some(&json!({"max_messages": 2})),
            )
            .await;
        assert_eq!(user.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(settings(&app).await["max_messages"], 20);
}
