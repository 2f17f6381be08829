//! How exchanges are stored: group-committed ordinary saves, large saves in
//! short transactions beside them, a large save's leftovers written over.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, conversation_id, spawn_app, stored_totals, TestApp};

/// `count` messages of about `bytes` each, users and assistants in turn
/// (a user's last), each its own text.
fn large_history(count: usize, bytes: usize) -> Value {
    let messages: Vec<Value> = (0..count)
        .map(|i| {
            let role = if (count - 1 - i).is_multiple_of(2) {
                "user"
            } else {
                "assistant"
            };
            json!({"role": role, "content": format!("{i}:{}", "x".repeat(bytes))})
        })
        .collect();
    Value::Array(messages)
}

/// Conversation `id` as its owner reads it.
async fn read(app: &TestApp, key: &str, id: &str) -> Value {
    app.get_json(&format!("/v1/conversations/{id}"), key).await
}

/// The stored totals of the key whose secret is `key` (see [`stored_totals`]).
async fn totals(app: &TestApp, key: &str) -> (i64, i64) {
    let key_id = ragway::auth::keys::id_of(&app.state.db, key)
        .await
        .unwrap()
        .unwrap();
    stored_totals(app, &key_id).await
}

/// A conversation of one exchange, by the user key: its id.
async fn first_exchange(app: &TestApp) -> String {
    let first = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body("Where is the pier?", false),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    conversation_id(&first)
}

// On worker threads, as the server runs: a large request's hashing and
// serialising leave the workers' queues (`block_in_place`) there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_request_is_saved_beside_ordinary_ones() {
    let app = &spawn_app().await;
    let other = app.new_user_key("other").await;
    // About 7 MB in 13 messages: seven transactions or more.
    let big = app.chat_messages(large_history(13, 540_000));
    let ordinary = (0..24).map(|i| {
        let body = app.chat_body(&format!("Ordinary question {i}"), i % 2 == 0);
        let other = other.clone();
        async move {
            let response = app.chat(&other, None, &body).await;
            let status = response.status();
            let _ = response.text().await;
            status
        }
    });
    let (large, ordinary) = tokio::join!(app.chat(&app.user_key, None, &big), join_all(ordinary));
    assert_eq!(large.status(), StatusCode::OK);
    assert!(
        ordinary.iter().all(|s| *s == StatusCode::OK),
        "{ordinary:?}"
    );
    let id = conversation_id(&large);

    let stored = read(app, &app.user_key, &id).await;
    assert_eq!(stored["message_count"], 14, "13 sent and the answer");
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 14);
    assert!(messages[6]["content"]
        .as_str()
        .unwrap()
        .starts_with("6:xxx"));
    assert_eq!(messages[13]["role"], "assistant");
    let listed = app.get_json("/v1/conversations?limit=100", &other).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        24,
        "every ordinary exchange saved"
    );
    let (total, summed) = totals(app, &app.user_key).await;
    assert_eq!(total, summed);

    // Two more large messages sent with the id only: appended the same way.
    let more = app.chat_messages(json!([
        {"role": "user", "content": format!("more:{}", "y".repeat(700_000))},
        {"role": "user", "content": format!("again:{}", "z".repeat(700_000))},
    ]));
    let appended = app.chat(&app.user_key, Some(&id), &more).await;
    assert_eq!(appended.status(), StatusCode::OK);
    let stored = read(app, &app.user_key, &id).await;
    assert_eq!(stored["message_count"], 17);
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 17);
    assert!(messages[15]["content"]
        .as_str()
        .unwrap()
        .starts_with("again:"));
    let (total, summed) = totals(app, &app.user_key).await;
    assert_eq!(total, summed);
}

#[tokio::test]
async fn messages_left_past_the_stored_count_are_hidden_and_written_over() {
    let app = spawn_app().await;
    let id = first_exchange(&app).await;
    // What a large save leaves when the process stops before it counts its messages.
    sqlx::query(
        "INSERT INTO messages (conversation_id, seq, role, body, incomplete, created_at) \
         VALUES ($1, 2, 'user', $2, 0, 0)",
    )
    .bind(&id)
    .bind(json!({"role": "user", "content": "left over"}).to_string())
    .execute(&app.state.db)
    .await
    .unwrap();
    let stored = read(&app, &app.user_key, &id).await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 2);

    let next = app
        .chat(
            &app.user_key,
            Some(&id),
            &app.chat_body("And the lighthouse?", false),
        )
        .await;
    assert_eq!(next.status(), StatusCode::OK);
    let stored = read(&app, &app.user_key, &id).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["content"], "And the lighthouse?");
    assert!(!stored.to_string().contains("left over"));
}

#[tokio::test]
async fn a_large_history_is_not_put_in_place_of_a_stored_one() {
    let app = spawn_app().await;
    let id = first_exchange(&app).await;
    let asked = app.upstream.chat_requests().len();
    // A different history with the same id, over a megabyte.
    let other = app.chat_messages(large_history(3, 600_000));
    let refused = app.chat(&app.user_key, Some(&id), &other).await;
    let body = assert_error(refused, StatusCode::BAD_REQUEST, "invalid_request").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("replace"), "{message}");
    assert_eq!(
        app.upstream.chat_requests().len(),
        asked,
        "nothing asked upstream"
    );
    let stored = read(&app, &app.user_key, &id).await;
    assert_eq!(
        stored["message_count"], 2,
        "the stored history is untouched"
    );
}
