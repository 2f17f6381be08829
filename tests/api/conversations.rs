//! Conversations: saved per key, continued by id or by resent history,
//! listed, read and deleted by their owner only; trimming before the upstream.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, conversation_id, spawn_app, spawn_app_with, sse_chunks, sse_data, TestApp,
};
use crate::support::fake_upstream::Fault;

/// Chat (non-stream); the answer's text and conversation id, which the
/// header and the body field must agree on.
async fn turn(app: &TestApp, key: &str, id: Option<&str>, messages: Value) -> (String, String) {
    let response = app.chat(key, id, &app.chat_messages(messages)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = conversation_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["conversation_id"], header.as_str());
    let text = answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    (text, header)
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn assistant(text: &str) -> Value {
    json!({"role": "assistant", "content": text})
}

#[tokio::test]
async fn resent_history_continues_one_conversation() {
    let app = spawn_app().await;
    let key = &app.user_key;
    let (a1, id) = turn(&app, key, None, json!([user("Where is the harbour?")])).await;
    let (a2, same) = turn(
        &app,
        key,
        None,
        json!([
            user("Where is the harbour?"),
            assistant(&a1),
            user("And the lighthouse?")
        ]),
    )
    .await;
    assert_eq!(same, id, "the resent history found its conversation");
    let (_, again) = turn(
        &app,
        key,
        None,
        json!([
            {"role": "system", "content": "Be brief."},
            user("Where is the harbour?"), assistant(&a1),
            user("And the lighthouse?"), assistant(&a2),
            user("Thanks!")
        ]),
    )
    .await;
    assert_eq!(again, id, "a system message does not break the match");

    // A new first message is a new conversation.
    let (_, other) = turn(&app, key, None, json!([user("Where is the harbour?")])).await;
    assert_ne!(other, id);

    let conversation = app.get_json(&format!("/v1/conversations/{id}"), key).await;
    assert_eq!(conversation["title"], "Where is the harbour?");
    assert_eq!(conversation["model"], "ragway");
    let messages = conversation["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant"
        ]
    );
    assert_eq!(messages[0]["content"], "Be brief.");
    assert_eq!(messages[4]["content"], a2.as_str());
    assert!(messages[2]["usage"]["total_tokens"].as_i64().unwrap() > 0);
    assert!(messages[2]["sources"].is_array());
    assert!(messages[1]["created_at"].as_i64().unwrap() > 0);
    assert_eq!(conversation["message_count"], 6);
}

#[tokio::test]
async fn an_id_with_only_the_new_message_gets_the_stored_history() {
    let app = spawn_app().await;
    let key = &app.user_key;
    let (a1, id) = turn(&app, key, None, json!([user("first question")])).await;

    let (_, same) = turn(&app, key, Some(&id), json!([user("second question")])).await;
    assert_eq!(same, id);
    let sent = app.upstream.chat_requests().pop().unwrap();
    let texts: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first question", a1.as_str(), "second question"]);

    // The body field works as the header does.
    let mut body = app.chat_messages(json!([user("third question")]));
    body["conversation_id"] = json!(id);
    let answer: Value = app.chat(key, None, &body).await.json().await.unwrap();
    assert_eq!(answer["conversation_id"], id.as_str());
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["messages"].as_array().unwrap().len(), 5);
    assert!(sent.get("conversation_id").is_none(), "not passed upstream");

    let conversation = app.get_json(&format!("/v1/conversations/{id}"), key).await;
    assert_eq!(conversation["message_count"], 6);

    // An unknown id is a 404, not a new conversation.
    let response = app
        .chat(
            key,
            Some("no-such-conversation"),
            &app.chat_body("hi", false),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let mut bad = app.chat_body("hi", false);
    bad["conversation_id"] = json!(42);
    let response = app.chat(key, None, &bad).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn two_keys_never_see_each_others_conversations() {
    let app = spawn_app().await;
    let alice = app.new_user_key("alice").await;
    let bob = app.new_user_key("bob").await;
    let (first_a, first_b) = tokio::join!(
        turn(&app, &alice, None, json!([user("shared opening line")])),
        turn(&app, &bob, None, json!([user("shared opening line")])),
    );
    let (answer, alice_id) = first_a;
    let (_, bob_id) = first_b;
    assert_ne!(alice_id, bob_id);

    // Bob resending Alice's exact history continues his own conversation.
    let history = json!([
        user("shared opening line"),
        assistant(&answer),
        user("next")
    ]);
    let (_, continued) = turn(&app, &bob, None, history.clone()).await;
    assert_eq!(continued, bob_id);
    let (_, continued) = turn(&app, &alice, None, history).await;
    assert_eq!(continued, alice_id);

    let listed = app.get_json("/v1/conversations", &bob).await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bob_id.as_str()]);

    let path = format!("/v1/conversations/{alice_id}");
    assert_error(
        app.get(&path, &bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete(&path, &bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = app
        .chat(&bob, Some(&alice_id), &app.chat_body("let me in", false))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    // Alice's conversation is untouched by all of that.
    let conversation = app.get_json(&path, &alice).await;
    assert_eq!(conversation["message_count"], 4);

    let deleted = app.delete(&path, &alice).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(deleted.json::<Value>().await.unwrap()["deleted"], true);
    assert_error(
        app.get(&path, &alice).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let listed = app.get_json("/v1/conversations", &alice).await;
    assert_eq!(listed["data"], json!([]));
}

#[tokio::test]
async fn conversations_are_listed_newest_first_in_pages() {
    let app = spawn_app().await;
    let key = &app.user_key;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, id) = turn(&app, key, None, json!([user(&format!("question {i}"))])).await;
        ids.push(id);
    }
    // Continuing the oldest makes it the most recent.
    turn(&app, key, Some(&ids[0]), json!([user("more")])).await;

    let page = app.get_json("/v1/conversations?limit=2", key).await;
    assert_eq!(page["has_more"], true);
    let first: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, [ids[0].as_str(), ids[2].as_str()]);
    assert_eq!(page["data"][0]["title"], "question 0");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get_json(&format!("/v1/conversations?limit=2&after={cursor}"), key)
        .await;
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["data"][0]["id"], ids[1].as_str());
    assert!(rest["next_cursor"].is_null(), "{rest}");

    let response = app.get("/v1/conversations?after=garbage", key).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app.get("/v1/conversations?limit=0", key).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn trimming_keeps_system_messages_and_cuts_long_ones() {
    let app = spawn_app_with(|s| {
        s.max_messages = 3;
        s.max_message_chars = 100;
        s.max_total_chars = 1000;
    })
    .await;
    let mut messages = vec![json!({"role": "system", "content": "Rule one."})];
    for i in 0..4 {
        messages.push(user(&format!("u{i}")));
        messages.push(assistant(&format!("a{i}")));
    }
    messages.push(user(&"x".repeat(150)));
    let response = app
        .chat(&app.user_key, None, &app.chat_messages(json!(messages)))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = app.upstream.chat_requests().pop().unwrap();
    let sent = sent["messages"].as_array().unwrap();
    let texts: Vec<&str> = sent
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts[..3], ["Rule one.", "u3", "a3"]);
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[3], format!("{}\n[内容已截断]", "x".repeat(100)));

    // What is saved is what the client sent, uncut.
    let (_, id) = turn(&app, &app.user_key, None, json!([user(&"y".repeat(150))])).await;
    let conversation = app
        .get_json(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    assert_eq!(conversation["messages"][0]["content"], "y".repeat(150));
}

#[tokio::test]
async fn a_model_can_send_fewer_messages() {
    let app = spawn_app().await;
    app.create_model(&json!({"id": "short-memory", "max_messages": 1}))
        .await;
    let body = json!({
        "model": "short-memory",
        "messages": [user("old"), assistant("older answer"), user("new")],
    });
    let response = app.chat(&app.user_key, None, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["messages"], json!([user("new")]));
}

#[tokio::test]
async fn streamed_answers_are_saved_and_end_with_sources() {
    let app = spawn_app().await;
    app.ingest_text("Tides", "High tide is at noon on Mondays.")
        .await;
    let key = &app.user_key;
    let mut body = app.chat_body("When is high tide?", true);
    let response = app.chat(key, None, &body).await;
    let id = conversation_id(&response);
    let chunks = sse_chunks(&response.text().await.unwrap());
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["sources"][0]["title"], "Tides");
    assert_eq!(last["conversation_id"], id.as_str());
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "no usage chunk unless asked for"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let conversation = app.get_json(&format!("/v1/conversations/{id}"), key).await;
    let answer = &conversation["messages"][1];
    assert_eq!(answer["content"], text.as_str());
    assert!(answer["usage"]["total_tokens"].as_i64().unwrap() > 0);
    assert_eq!(answer["sources"][0]["title"], "Tides");
    assert!(answer.get("incomplete").is_none());

    // Asked for, the usage chunk is relayed (before the sources chunk).
    body["stream_options"] = json!({"include_usage": true});
    let events = sse_data(&app.chat(key, None, &body).await.text().await.unwrap());
    let usage: Value = serde_json::from_str(&events[events.len() - 3]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["total_tokens"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn a_broken_stream_is_saved_as_incomplete() {
    let app = spawn_app().await;
    app.upstream.set_fault(Fault::CutStream);
    let response = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body("tell me a long story", true),
        )
        .await;
    let id = conversation_id(&response);
    let events = sse_data(&response.text().await.unwrap());
    let error: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "stream_interrupted");
    let conversation = app
        .get_json(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    let answer = &conversation["messages"][1];
    assert_eq!(answer["incomplete"], true);
    assert_eq!(answer["content"], "Echo: te", "the two chunks that came");
}

#[tokio::test]
async fn a_model_can_append_a_source_footer() {
    let app = spawn_app().await;
    app.ingest_text("Tides", "High tide is at noon on Mondays.")
        .await;
    app.create_model(&json!({"id": "cited", "citation_footer": true}))
        .await;
    let mut body = app.chat_body("When is high tide?", false);
    body["model"] = json!("cited");
    let answer: Value = app.chat_json(&app.user_key, &body).await;
    let text = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.ends_with("\n\n---\n[1] Tides"), "{text}");

    body["stream"] = json!(true);
    let events = sse_data(
        &app.chat(&app.user_key, None, &body)
            .await
            .text()
            .await
            .unwrap(),
    );
    let streamed: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(streamed, text);
}
