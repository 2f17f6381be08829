//! What the model is told when the knowledge base has nothing on a
//! question (a rerank floor leaves it without sources), and follow-ups
//! rewritten into standalone queries by a chat model the model names.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

const NOTHING_FOUND: &str = "holds nothing on it";

/// The system message of the last answer asked of the chat upstream.
fn last_system(app: &TestApp) -> String {
    let sent = app.upstream.chat_requests().pop().unwrap();
    let first = &sent["messages"][0];
    if first["role"] == "system" {
        first["content"].as_str().unwrap().to_string()
    } else {
        String::new()
    }
}

async fn answer(app: &TestApp, model: &str, question: &str) -> Value {
    let mut body = app.chat_body(question, false);
    body["model"] = json!(model);
    app.chat_json(&app.user_key, &body).await
}

#[tokio::test]
async fn a_rerank_floor_leaves_an_unanswerable_question_without_sources() {
    let app = spawn_app_with(|s| {
        s.rerank_base_url = s.chat_base_url.clone();
        s.top_k = 3;
    })
    .await;
    for (title, text) in [
        ("Tide one", "High tide reaches the harbour wall at noon."),
        ("Tide two", "Low tide uncovers the harbour sand at dusk."),
        ("Tide three", "The harbour master posts tide tables weekly."),
    ] {
        app.ingest_text(title, text).await;
    }
    // Scores 1, 1/2, 1/3 in the reranker's order.
    app.upstream.set_rerank_reversed(true);
    app.create_model(&json!({"id": "floored", "rerank": true, "rerank_threshold": 0.4}))
        .await;
    let kept = answer(&app, "floored", "When is the harbour tide?").await;
    let scores: Vec<f64> = kept["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rerank_score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, [1.0, 0.5], "{kept}");
    assert!(!last_system(&app).contains(NOTHING_FOUND));

    // A floor nothing reaches: no sources, and the model is told the
    // knowledge base has nothing, rather than left to guess.
    app.create_model(&json!({"id": "strict", "rerank": true, "rerank_threshold": 2.0}))
        .await;
    let none = answer(&app, "strict", "When is the harbour tide?").await;
    assert_eq!(none["sources"], json!([]), "{none}");
    let system = last_system(&app);
    assert!(system.contains(NOTHING_FOUND), "{system}");
    assert!(!system.contains("Sources:"), "{system}");

    // The retrieval test takes the floor as an override, and shows it.
    let test = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"question": "When is the harbour tide?", "model": "floored", "rerank_threshold": 0.9}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(test["rerank_threshold"], 0.9);
    assert_eq!(test["sources"].as_array().unwrap().len(), 1, "{test}");

    // A model without retrieval is told nothing about the knowledge base.
    app.create_model(&json!({"id": "bare", "retrieval": false}))
        .await;
    answer(&app, "bare", "When is the harbour tide?").await;
    assert_eq!(last_system(&app), "");
}

#[tokio::test]
async fn an_empty_knowledge_base_is_not_reported_as_searched() {
    let app = spawn_app_with(|_| {}).await;
    let reply = answer(&app, "ragway", "When is the harbour tide?").await;
    assert_eq!(reply["sources"], json!([]));
    assert!(!last_system(&app).contains(NOTHING_FOUND));
}

#[tokio::test]
async fn bad_floors_and_rewriters_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    for (body, field) in [
        (
            json!({"id": "m", "rerank_threshold": "high"}),
            "rerank_threshold",
        ),
        (
            json!({"id": "m", "rerank_threshold": 1e300}),
            "rerank_threshold",
        ),
        (
            json!({"id": "m", "condense_model": "x".repeat(201)}),
            "condense_model",
        ),
        (
            json!({"id": "m", "condense_model": "a\u{7}b"}),
            "condense_model",
        ),
    ] {
        let response = app
            .post_json("/api/admin/models", &app.admin_key, &body)
            .await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{message}");
    }
    // Blank means off; both fields come back as set.
    app.create_model(&json!({"id": "m", "condense_model": "  ", "rerank_threshold": 0.25}))
        .await;
    let model = app.get_json("/api/admin/models/m", &app.admin_key).await;
    assert_eq!(model["condense_model"], Value::Null, "{model}");
    assert_eq!(model["rerank_threshold"], 0.25, "{model}");
}

#[tokio::test]
async fn a_condensing_model_rewrites_the_follow_up_before_the_search() {
    let app = spawn_app_with(|s| s.top_k = 1).await;
    app.ingest_text(
        "Ferries",
        "Ferries to the island leave at eight and at ten.",
    )
    .await;
    app.ingest_text(
        "Lighthouse",
        "Lighthouse tours climb the tower every Saturday afternoon.",
    )
    .await;
    app.upstream
        .set_canned_reply("rewriter", "\"Lighthouse tower tours Saturday\"");
    app.create_model(&json!({"id": "condensed", "condense_model": "rewriter"}))
        .await;
    let conversation = json!([
        {"role": "user", "content": "Is there anything to see on the island?"},
        {"role": "assistant", "content": "The lighthouse, mostly."},
        {"role": "user", "content": "When can I go up?"},
    ]);
    let mut body = app.chat_messages(conversation.clone());
    body["model"] = json!("condensed");
    let reply = app.chat_json(&app.user_key, &body).await;
    assert_eq!(reply["sources"][0]["title"], "Lighthouse", "{reply}");
    let requests = app.upstream.chat_requests();
    let [rewrite, asked] = &requests[..] else {
        panic!("a rewrite and the answer: {requests:?}");
    };
    assert_eq!(rewrite["model"], "rewriter");
    assert_eq!(rewrite["stream"], false);
    let prompt = rewrite["messages"][0]["content"].as_str().unwrap();
    assert!(
        prompt.contains("Assistant: The lighthouse, mostly."),
        "{prompt}"
    );
    assert!(
        prompt.contains("Last message: When can I go up?"),
        "{prompt}"
    );
    assert_eq!(asked["model"], "fake-chat");
    // The search embedded the question as asked and the rewrite, unquoted.
    let embedded = app.upstream.embedding_requests().pop().unwrap();
    assert_eq!(
        embedded["input"],
        json!(["When can I go up?", "Lighthouse tower tours Saturday"])
    );

    // The retrieval test searches the same way.
    let test = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"messages": conversation, "model": "condensed"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        test["queries"][1], "Lighthouse tower tours Saturday",
        "{test}"
    );

    // An empty rewrite is ignored: the rule's text is searched.
    app.upstream.set_canned_reply("rewriter", "  ");
    app.chat_json(&app.user_key, &body).await;
    let embedded = app.upstream.embedding_requests().pop().unwrap();
    assert_eq!(
        embedded["input"][1],
        "Is there anything to see on the island?\nThe lighthouse, mostly.\nWhen can I go up?"
    );

    // A question with nothing before it is not rewritten.
    let before = app.upstream.chat_requests().len();
    let mut single = app.chat_body("When do ferries leave?", false);
    single["model"] = json!("condensed");
    app.chat_json(&app.user_key, &single).await;
    assert_eq!(app.upstream.chat_requests().len(), before + 1);
}
