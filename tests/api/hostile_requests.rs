//! Hostile requests: oversized chat requests and conversations, log rows and usage under floods.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, conversation_id, spawn_app, spawn_app_with, stored_totals, TestApp,
};

/// `/health` still answers 200.
async fn assert_healthy(app: &TestApp) {
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// The message of a 400 `invalid_request` error, which must name `setting`.
async fn refused_naming(response: reqwest::Response, setting: &str) -> String {
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains(setting), "{message}");
    message
}

/// The caller's conversations.
async fn conversations(app: &TestApp, key: &str) -> Vec<Value> {
    app.get_json("/v1/conversations?limit=100", key).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// The id of the key whose secret is `secret`.
async fn key_id(app: &TestApp, secret: &str) -> String {
    ragway::auth::keys::id_of(&app.state.db, secret)
        .await
        .unwrap()
        .expect("the key exists")
}

#[tokio::test]
async fn fifty_thousand_messages_are_refused_before_any_work() {
    let app = spawn_app().await;
    let flood: Vec<Value> = (0..50_000)
        .map(|_| json!({"role": "user", "content": "a"}))
        .collect();
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_messages(json!(flood)),
        )
        .await;
    let message = refused_naming(response, "RAGWAY_MAX_REQUEST_MESSAGES=2000").await;
    assert!(message.contains("50000 messages"), "{message}");

    // The Messages API refuses it too, in Anthropic's shape.
    let response = app
        .post_json(
            "/v1/messages",
            &app.user_key,
            &json!({"model": app.settings.public_model, "max_tokens": 10, "messages": flood}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RAGWAY_MAX_REQUEST_MESSAGES"));

    assert!(conversations(&app, &app.user_key).await.is_empty());
    assert!(app.upstream.chat_requests().is_empty());
    assert!(app.upstream.embedding_requests().is_empty());
    assert_healthy(&app).await;
    // An ordinary request still works.
    let answer = app
        .chat_json(&app.user_key, &app.chat_body("Still there?", false))
        .await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Echo: Still there?"
    );
}

#[tokio::test]
async fn a_message_over_the_byte_cap_is_refused() {
    let app = spawn_app_with(|s| s.max_message_bytes = 1000).await;
    let response = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body(&"x".repeat(1001), false),
        )
        .await;
    let message = refused_naming(response, "RAGWAY_MAX_MESSAGE_BYTES=1000").await;
    assert!(message.contains("messages[0] has 1001 bytes"), "{message}");
    // Text parts count together; bytes, not characters (字 is three).
    let parts = json!([{"type": "text", "text": "字".repeat(200)}, {"type": "text", "text": "字".repeat(200)}]);
    let response = app
        .chat(
            &app.user_key,
            None,
            &app.chat_messages(json!([{"role": "user", "content": parts}])),
        )
        .await;
    refused_naming(response, "RAGWAY_MAX_MESSAGE_BYTES").await;
    assert!(conversations(&app, &app.user_key).await.is_empty());
    assert!(app.upstream.chat_requests().is_empty());

    // At the cap exactly, it is answered.
    let answer = app
        .chat_json(&app.user_key, &app.chat_body(&"y".repeat(1000), false))
        .await;
    assert!(answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Echo: yyy"));
    assert_healthy(&app).await;
}

#[tokio::test]
async fn a_conversation_at_its_cap_refuses_the_next_turn() {
    let app = spawn_app_with(|s| s.max_conversation_messages = 4).await;
    let first = app
        .chat(&app.user_key, None, &app.chat_body("Turn one", false))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let id = conversation_id(&first);
    let second = app
        .chat(&app.user_key, Some(&id), &app.chat_body("Turn two", false))
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    second.bytes().await.unwrap();
    let asked = app.upstream.chat_requests().len();

    // Id-only: 4 stored + 1 + the answer would be 6.
    let third = app
        .chat(
            &app.user_key,
            Some(&id),
            &app.chat_body("Turn three", false),
        )
        .await;
    let message = refused_naming(third, "RAGWAY_MAX_CONVERSATION_MESSAGES=4").await;
    assert!(message.contains("would hold 6 messages"), "{message}");
    // The whole history resent (found by its hash) is refused the same way.
    let resent = app.chat_messages(json!([
        {"role": "user", "content": "Turn one"},
        {"role": "assistant", "content": "Echo: Turn one"},
        {"role": "user", "content": "Turn two"},
        {"role": "assistant", "content": "Echo: Turn two"},
        {"role": "user", "content": "Turn three"},
    ]));
    let response = app.chat(&app.user_key, None, &resent).await;
    refused_naming(response, "RAGWAY_MAX_CONVERSATION_MESSAGES").await;

    // Nothing was called upstream, nothing stored, nothing dropped.
    assert_eq!(app.upstream.chat_requests().len(), asked);
    let stored = app
        .get_json(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    assert_eq!(stored["message_count"], 4, "{stored}");
    assert_eq!(stored["messages"][0]["content"], "Turn one");
    // A new conversation is fine.
    let fresh = app
        .chat(&app.user_key, None, &app.chat_body("A new start", false))
        .await;
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_ne!(conversation_id(&fresh), id);
    assert_healthy(&app).await;
}

#[tokio::test]
async fn a_key_at_its_stored_bytes_cap_is_refused_until_it_deletes() {
    let app = spawn_app_with(|s| s.max_key_stored_bytes = 1500).await;
    let question = "q".repeat(200);
    let mut answered = Vec::new();
    let refusal = loop {
        let response = app
            .chat(&app.user_key, None, &app.chat_body(&question, false))
            .await;
        if response.status() != StatusCode::OK {
            break response;
        }
        answered.push(conversation_id(&response));
        assert!(answered.len() < 10, "the cap never applied");
    };
    assert!(!answered.is_empty(), "the first exchanges fit");
    refused_naming(refusal, "RAGWAY_MAX_KEY_STORED_BYTES=1500").await;
    let asked = app.upstream.chat_requests().len();
    let stored = conversations(&app, &app.user_key).await.len();
    assert_eq!(stored, answered.len(), "the refused request stored nothing");

    // Another key has its own total.
    let other = app.new_user_key("other").await;
    let response = app
        .chat(&other, None, &app.chat_body(&question, false))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.upstream.chat_requests().len(), asked + 1);

    // Deleting conversations makes room again.
    for id in &answered {
        let deleted = app
            .delete(&format!("/v1/conversations/{id}"), &app.user_key)
            .await;
        assert_eq!(deleted.status(), StatusCode::OK);
    }
    let response = app
        .chat(&app.user_key, None, &app.chat_body(&question, false))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_healthy(&app).await;
}

#[tokio::test]
async fn the_stored_total_follows_saves_replacements_and_deletes() {
    let app = spawn_app().await;
    let key = key_id(&app, &app.user_key).await;
    let first = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body("How deep is it?", false),
        )
        .await;
    let id = conversation_id(&first);
    let (total, summed) = stored_totals(&app, &key).await;
    assert!(total > 0);
    assert_eq!(total, summed);
    // An edited history replaces the stored one.
    let edited = app.chat_messages(json!([
        {"role": "user", "content": "How wide is it?"},
        {"role": "assistant", "content": "Quite."},
        {"role": "user", "content": "In metres, please, with all the details you have."},
    ]));
    let replaced = app.chat(&app.user_key, Some(&id), &edited).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let (total, summed) = stored_totals(&app, &key).await;
    assert_eq!(total, summed, "the replaced history left the total");
    let other = app
        .chat(&app.user_key, None, &app.chat_body("Another one", false))
        .await;
    let other = conversation_id(&other);
    let deleted = app
        .delete(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let (total, summed) = stored_totals(&app, &key).await;
    assert_eq!(total, summed);
    let deleted = app
        .delete(&format!("/api/admin/conversations/{other}"), &app.admin_key)
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(stored_totals(&app, &key).await, (0, 0));
}

#[tokio::test]
async fn id_only_turns_send_the_newest_history_and_the_question_before_it() {
    let app = spawn_app_with(|s| s.max_messages = 3).await;
    app.ingest_text(
        "Ferries",
        "Ferries to the island leave at eight and at ten.",
    )
    .await;
    let first = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body("When do ferries leave for the island?", false),
        )
        .await;
    let id = conversation_id(&first);
    for turn in ["Two", "Three"] {
        let response = app
            .chat(&app.user_key, Some(&id), &app.chat_body(turn, false))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .chat(&app.user_key, Some(&id), &app.chat_body("Four", false))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = app.upstream.chat_requests().pop().unwrap();
    let turns: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(turns, ["Three", "Echo: Three", "Four"]);

    // A model that sends one message: none of the history goes upstream,
    // but a follow-up is still searched after the exchange before it.
    app.create_model(&json!({"id": "terse", "max_messages": 1}))
        .await;
    let first = app
        .chat(
            &app.user_key,
            None,
            &json!({"model": "terse", "messages": [{"role": "user", "content": "When do ferries leave for the island?"}]}),
        )
        .await;
    let id = conversation_id(&first);
    let follow_up = app
        .chat(
            &app.user_key,
            Some(&id),
            &json!({"model": "terse", "messages": [{"role": "user", "content": "And the second one?"}]}),
        )
        .await;
    assert_eq!(follow_up.status(), StatusCode::OK);
    let asked = app.upstream.embedding_requests().pop().unwrap();
    assert_eq!(
        asked["input"],
        json!([
            "And the second one?",
            "When do ferries leave for the island?\nEcho: When do ferries leave for the island?\nAnd the second one?"
        ])
    );
    let sent = app.upstream.chat_requests().pop().unwrap();
    let turns: Vec<&Value> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .collect();
    assert_eq!(turns.len(), 1, "{sent}");
    assert_eq!(turns[0]["content"], "And the second one?");
}

#[tokio::test]
async fn log_rows_keep_every_text_field_bounded() {
    let app = spawn_app().await;
    let model = "m".repeat(4 << 20);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    response.bytes().await.unwrap();
    // Unauthenticated, a path near the longest a URI may be (65,534 bytes).
    let path = format!("/v1/{}", "p".repeat(65_000));
    let response = app
        .client
        .get(app.url(&path))
        .header("user-agent", "u".repeat(8 << 10))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    response.bytes().await.unwrap();
    app.logged(2).await;

    // endpoint, model, error, user agent
    type Row = (String, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> =
        sqlx::query_as("SELECT endpoint, model, error, user_agent FROM request_logs ORDER BY id")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    use ragway::usage::field_bytes;
    for (endpoint, model, error, agent) in &rows {
        assert!(
            endpoint.len() <= field_bytes::ENDPOINT,
            "{}",
            endpoint.len()
        );
        assert!(model.as_ref().is_none_or(|m| m.len() <= field_bytes::MODEL));
        assert!(error.as_ref().is_none_or(|e| e.len() <= field_bytes::ERROR));
        assert!(agent
            .as_ref()
            .is_none_or(|a| a.len() <= field_bytes::USER_AGENT));
    }
    assert!(rows[1].0.starts_with("/v1/ppp") && rows[1].0.ends_with('…'));
    let error = rows[0].2.as_deref().expect("the unknown model is named");
    assert!(
        error.contains("mmmm") && error.ends_with('…'),
        "a cut field is marked"
    );
    assert_healthy(&app).await;
}

/// The usage stored for `key_id` today: (requests, total tokens).
async fn usage_today(app: &TestApp, key_id: &str) -> (i64, i64) {
    let today = ragway::usage::day_of(ragway::domain::clock::now_ms());
    sqlx::query_as("SELECT requests, total_tokens FROM usage_daily WHERE key_id = $1 AND day = $2")
        .bind(key_id)
        .bind(today)
        .fetch_optional(&app.state.db)
        .await
        .unwrap()
        .unwrap_or((0, 0))
}

#[tokio::test]
async fn a_flood_past_the_log_queue_still_counts_every_token() {
    let app = spawn_app_with(|s| s.log_queue = 1).await;
    let created = app
        .post_json(
            "/api/admin/keys",
            &app.admin_key,
            &json!({"name": "flooder", "tokens_per_day": 1_000_000_000}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap().to_string(),
        created["key"].as_str().unwrap().to_string(),
    );
    // Rounds of 40 at once until the one-row queue has dropped some.
    let (mut requests, mut tokens) = (0_i64, 0_i64);
    for round in 0..20 {
        let answers = futures::future::join_all((0..40).map(|i| {
            let body = app.chat_body(&format!("Flood {round} {i}"), false);
            let secret = secret.clone();
            let app = &app;
            async move { app.chat_json(&secret, &body).await }
        }))
        .await;
        for answer in answers {
            requests += 1;
            tokens += answer["usage"]["total_tokens"].as_i64().unwrap();
        }
        if app.state.request_log.dropped() > 0 {
            break;
        }
    }
    let dropped = app.state.request_log.dropped();
    assert!(dropped > 0, "the flood never filled the queue");
    app.logged(requests as u64).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_logs WHERE key_id = $1")
        .bind(&id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, requests - dropped as i64, "the dropped rows are gone");
    assert_eq!(usage_today(&app, &id).await, (requests, tokens));

    // At exactly what it used, the key is refused.
    let patched = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/keys/{id}"),
            &app.admin_key,
            Some(&json!({"tokens_per_day": tokens})),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let refused = app
        .chat(&secret, None, &app.chat_body("One more?", false))
        .await;
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "insufficient_quota").await;
    assert_healthy(&app).await;
}

#[tokio::test]
async fn usage_is_counted_with_the_request_log_off() {
    let app = spawn_app_with(|s| s.request_logs = false).await;
    let answer = app
        .chat_json(&app.user_key, &app.chat_body("Counted?", false))
        .await;
    let tokens = answer["usage"]["total_tokens"].as_i64().unwrap();
    app.state.request_log.flush().await;
    let key = key_id(&app, &app.user_key).await;
    assert_eq!(usage_today(&app, &key).await, (1, tokens));
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_logs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}
