//! The `file_search` tool: an answer grounded in the vector stores a
//! request names (Responses API; chat completions as ragway's extension),
//! never sent upstream, reported as a `file_search_call` item with
//! `file_citation` annotations; another key's store is not found.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::vector_stores::{post, ready_file};

/// A store of `key`'s holding one file saying `text`; (store id, file id).
async fn store_with(app: &TestApp, key: &str, name: &str, text: &str) -> (String, String) {
    let file_id = ready_file(app, key, name, text).await;
    let store = post(app, key, "/v1/vector_stores", json!({"name": name})).await;
    let store_id = store["id"].as_str().unwrap().to_string();
    let files = format!("/v1/vector_stores/{store_id}/files");
    post(
        app,
        key,
        &files,
        json!({"file_id": file_id, "attributes": {"kind": "schedule"}}),
    )
    .await;
    (store_id, file_id)
}

/// The system prompt of the last chat request the upstream got.
fn last_prompt(app: &TestApp) -> String {
    let sent = app.upstream.chat_requests();
    let last = sent.last().expect("a chat request went upstream");
    assert!(
        last.get("tools").is_none(),
        "the file search went upstream: {last}"
    );
    last["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn responses_search_the_named_stores_instead_of_the_models_knowledge() {
    let app = spawn_app().await;
    app.ingest_text(
        "Lighthouse",
        "The lighthouse keeper logs the tide every morning at six.",
    )
    .await;
    let (store, file) = store_with(
        &app,
        &app.user_key,
        "ferries.md",
        "The ferry to the island leaves every morning at six.",
    )
    .await;
    let body = json!({"model": app.settings.public_model, "input": "When does it leave every morning?",
        "tools": [{"type": "file_search", "vector_store_ids": [store], "max_num_results": 3}],
        "include": ["file_search_call.results"]});
    let response: Value = app
        .post_json("/v1/responses", &app.user_key, &body)
        .await
        .json()
        .await
        .unwrap();
    let output = response["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "file_search_call", "{response}");
    assert_eq!(output[0]["queries"][0], "When does it leave every morning?");
    let result = &output[0]["results"][0];
    assert_eq!(
        (&result["file_id"], &result["filename"]),
        (&json!(file), &json!("ferries.md"))
    );
    assert_eq!(result["attributes"], json!({"kind": "schedule"}));
    assert!(result["text"]
        .as_str()
        .unwrap()
        .contains("ferry to the island"));
    let annotation = &output[1]["content"][0]["annotations"][0];
    assert_eq!(
        (
            &annotation["type"],
            &annotation["file_id"],
            &annotation["filename"]
        ),
        (&json!("file_citation"), &json!(file), &json!("ferries.md"))
    );
    let prompt = last_prompt(&app);
    assert!(
        prompt.contains("ferry to the island") && !prompt.contains("lighthouse keeper"),
        "{prompt}"
    );
    // The tools are repeated as sent; without `include`, no results.
    assert_eq!(response["tools"][0]["type"], "file_search");
    let mut plain = body.clone();
    plain.as_object_mut().unwrap().remove("include");
    let response: Value = app
        .post_json("/v1/responses", &app.user_key, &plain)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(response["output"][0]["results"], Value::Null);
    // Streamed: the search's events come first, whole.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let text = app
        .post_json("/v1/responses", &app.user_key, &streamed)
        .await
        .text()
        .await
        .unwrap();
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds[2..7],
        [
            "response.output_item.added",
            "response.file_search_call.in_progress",
            "response.file_search_call.searching",
            "response.file_search_call.completed",
            "response.output_item.done"
        ]
    );
    assert_eq!(kinds.last(), Some(&"response.completed"));
}

#[tokio::test]
async fn chat_completions_take_the_tool_too_and_keep_their_functions() {
    let app = spawn_app().await;
    let (store, file) = store_with(
        &app,
        &app.user_key,
        "tides.md",
        "High water at the pier is at noon.",
    )
    .await;
    let body = json!({"model": app.settings.public_model,
        "messages": [{"role": "user", "content": "When is high water at the pier?"}],
        "tools": [{"type": "file_search", "vector_store_ids": [store],
                   "filters": {"type": "eq", "key": "kind", "value": "schedule"}},
                  {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]});
    let answer = app.chat_json(&app.user_key, &body).await;
    assert_eq!(answer["sources"][0]["document_id"], json!(file), "{answer}");
    let sent = app.upstream.chat_requests();
    let last = sent.last().unwrap();
    assert_eq!(last["tools"].as_array().map(Vec::len), Some(1), "{last}");
    assert_eq!(last["tools"][0]["function"]["name"], "lookup");
    // A filter no file passes: nothing found, and the model is told so.
    let mut none = body.clone();
    none["tools"][0]["filters"] = json!({"type": "eq", "key": "kind", "value": "menu"});
    none["tools"].as_array_mut().unwrap().pop();
    let answer = app.chat_json(&app.user_key, &none).await;
    assert_eq!(answer["sources"], json!([]));
    assert!(app
        .upstream
        .chat_requests()
        .last()
        .unwrap()
        .get("tools")
        .is_none());
}

#[tokio::test]
async fn another_keys_store_is_not_found_inside_the_tool() {
    let app = spawn_app().await;
    let (store, _) = store_with(
        &app,
        &app.user_key,
        "private.md",
        "The safe's code is kept in the red folder.",
    )
    .await;
    let other = app.new_user_key("other").await;
    let responses = json!({"model": app.settings.public_model, "input": "Where is the safe's code?",
        "tools": [{"type": "file_search", "vector_store_ids": [store]}]});
    let refused = app.post_json("/v1/responses", &other, &responses).await;
    assert_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    let chat = json!({"model": app.settings.public_model,
        "messages": [{"role": "user", "content": "Where is the safe's code?"}],
        "tools": [{"type": "file_search", "vector_store_ids": [store]}]});
    let refused = app.post_json("/v1/chat/completions", &other, &chat).await;
    assert_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    assert!(
        app.upstream.chat_requests().is_empty(),
        "nothing went upstream"
    );
    let bad = json!({"model": app.settings.public_model, "input": "x",
        "tools": [{"type": "file_search", "vector_store_ids": [store], "max_num_results": 0}]});
    assert_error(
        app.post_json("/v1/responses", &app.user_key, &bad).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}
