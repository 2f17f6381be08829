//! OpenAI's Responses API: `POST /v1/responses` whole and streamed through
//! the chat pipeline (sources as citations, conversations saved),
//! `previous_response_id` continuing (and forking) a conversation, function
//! calls both ways, and the stored responses each key alone reads.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, conversation_id, spawn_app, TestApp};

async fn respond(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.post_json("/v1/responses", key, body).await
}

async fn respond_json(app: &TestApp, body: &Value) -> Value {
    let response = respond(app, &app.user_key, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The typed events of a streamed response: (name, data).
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let mut lines = event.lines();
            let name = lines
                .next()
                .unwrap()
                .trim_start_matches("event: ")
                .to_string();
            let data = lines.next().unwrap().trim_start_matches("data: ");
            (name, serde_json::from_str(data).unwrap())
        })
        .collect()
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().unwrap().iter())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

#[tokio::test]
async fn a_response_is_grounded_kept_and_continued() {
    let app = spawn_app().await;
    let tides = app
        .ingest_text("Tides", "High tide at the harbour is at noon on Sundays.")
        .await;
    let question = "When is high tide at the harbour?";
    let response = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": question, "instructions": "Be brief.",
                "metadata": {"team": "harbour"}, "max_output_tokens": 100}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let conversation = conversation_id(&response);
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["object"], "response");
    assert!(first["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(first["status"], "completed");
    assert_eq!(first["model"], "ragway");
    assert_eq!(output_text(&first), format!("Echo: {question}"));
    let annotation = &first["output"][0]["content"][0]["annotations"][0];
    assert_eq!(annotation["type"], "file_citation");
    assert_eq!(annotation["file_id"], tides.as_str());
    assert_eq!(annotation["filename"], "Tides");
    assert_eq!(first["ragway"]["sources"][0]["title"], "Tides");
    assert_eq!(first["ragway"]["conversation_id"], conversation.as_str());
    assert_eq!(first["instructions"], "Be brief.");
    assert_eq!(first["metadata"], json!({"team": "harbour"}));
    assert!(first["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert!(sent["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("Be brief."));
    assert_eq!(sent["max_tokens"], 100);

    // Kept: read back as returned, its input items listed.
    let id = first["id"].as_str().unwrap();
    let shown = app
        .get_json(&format!("/v1/responses/{id}"), &app.user_key)
        .await;
    assert_eq!(shown, first);

    // Continued: the stored history goes upstream before the new input.
    let second = respond_json(
        &app,
        &json!({"model": "ragway", "input": "And on Mondays?", "previous_response_id": id}),
    )
    .await;
    assert_eq!(second["previous_response_id"], id);
    assert_eq!(second["conversation"]["id"], conversation.as_str());
    let sent = app.upstream.chat_requests().pop().unwrap();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(sent["messages"][1]["content"], question);
    let second_id = second["id"].as_str().unwrap();
    let items = app
        .get_json(
            &format!("/v1/responses/{second_id}/input_items"),
            &app.user_key,
        )
        .await;
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"].as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items["data"][0]["content"][0]["text"], "And on Mondays?");
    assert_eq!(items["has_more"], false);

    // From the first response again: a fork, in a new conversation.
    let fork = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": "And on Fridays?", "previous_response_id": id}),
    )
    .await;
    assert_eq!(fork.status(), StatusCode::OK);
    let forked = conversation_id(&fork);
    assert_ne!(forked, conversation);
    let sent = app.upstream.chat_requests().pop().unwrap();
    let texts: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [question, &format!("Echo: {question}"), "And on Fridays?"]
    );
    let stored = app
        .get_json(&format!("/v1/conversations/{conversation}"), &app.user_key)
        .await;
    assert_eq!(stored["message_count"], 4, "the fork left it: {stored}");
    let fork: Value = fork.json().await.unwrap();
    let fork_items = app
        .get_json(
            &format!("/v1/responses/{}/input_items", fork["id"].as_str().unwrap()),
            &app.user_key,
        )
        .await;
    assert_eq!(fork_items["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_streamed_response_sends_the_typed_events_and_is_kept_before_it_ends() {
    let app = spawn_app().await;
    app.ingest_text("Tides", "High tide at the harbour is at noon on Sundays.")
        .await;
    let question = "When is high tide at the harbour?";
    let response = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": question, "stream": true}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        names[names.len() - 6..],
        [
            "response.output_text.delta",
            "response.output_text.annotation.added",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n);
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, format!("Echo: {question}"));
    let (_, completed) = events.last().unwrap();
    let response = &completed["response"];
    assert_eq!(output_text(response), text);
    assert_eq!(
        response["output"][0]["content"][0]["annotations"][0]["filename"],
        "Tides"
    );
    assert!(response["usage"]["output_tokens"].as_u64().unwrap() > 0);
    // Kept before the last event: continued at once.
    let id = response["id"].as_str().unwrap();
    let shown = app
        .get_json(&format!("/v1/responses/{id}"), &app.user_key)
        .await;
    assert_eq!(&shown, response);
    let next = respond_json(
        &app,
        &json!({"model": "ragway", "input": "And on Mondays?", "previous_response_id": id}),
    )
    .await;
    assert_eq!(next["conversation"], response["conversation"]);
}

#[tokio::test]
async fn function_calls_go_out_as_items_and_their_outputs_come_back() {
    let app = spawn_app().await;
    let tools = json!([{"type": "function", "name": "lookup", "description": "Look it up",
                        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]);
    let asked = respond_json(
        &app,
        &json!({"model": "ragway", "input": "weather in Oslo", "tools": tools, "tool_choice": "auto"}),
    )
    .await;
    let call = &asked["output"][0];
    assert_eq!(call["type"], "function_call", "{asked}");
    assert_eq!(call["name"], "lookup");
    assert_eq!(call["call_id"], "call_1");
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["q"], "weather in Oslo");
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "lookup");
    assert_eq!(sent["tool_choice"], "auto");

    let answered = respond_json(
        &app,
        &json!({"model": "ragway", "tools": tools, "previous_response_id": asked["id"],
                "input": [{"type": "function_call_output", "call_id": "call_1", "output": "12 degrees"}]}),
    )
    .await;
    assert_eq!(output_text(&answered), "Echo: weather in Oslo");
    let sent = app.upstream.chat_requests().pop().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let n = messages.len();
    assert_eq!(messages[n - 2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(messages[n - 1]["role"], "tool");
    assert_eq!(messages[n - 1]["content"], "12 degrees");

    // Streamed: the call's arguments arrive in pieces, whole at the end.
    let response = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": "weather in Bergen", "tools": tools, "stream": true}),
    )
    .await;
    let events = events(&response.text().await.unwrap());
    let pieces: String = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    let done = events
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(done.1["arguments"], pieces.as_str());
    let (_, completed) = events.last().unwrap();
    assert_eq!(
        completed["response"]["output"][0]["arguments"],
        pieces.as_str()
    );
}

#[tokio::test]
async fn responses_are_each_keys_own_and_go_with_their_conversation() {
    let app = spawn_app().await;
    let other = app.new_user_key("other").await;
    let first = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": "Hello"}),
    )
    .await;
    let conversation = conversation_id(&first);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    for path in [
        format!("/v1/responses/{id}"),
        format!("/v1/responses/{id}/input_items"),
    ] {
        assert_error(
            app.get(&path, &other).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    assert_error(
        app.delete(&format!("/v1/responses/{id}"), &other).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let continued = respond(
        &app,
        &other,
        &json!({"model": "ragway", "input": "Hi", "previous_response_id": id}),
    )
    .await;
    assert_error(continued, StatusCode::NOT_FOUND, "not_found").await;

    // `store: false`: answered, saved in the conversation, never kept.
    let unkept = respond_json(
        &app,
        &json!({"model": "ragway", "input": "Hi", "store": false}),
    )
    .await;
    assert_eq!(unkept["store"], false);
    let path = format!("/v1/responses/{}", unkept["id"].as_str().unwrap());
    assert_error(
        app.get(&path, &app.user_key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Deleting the conversation forgets its responses.
    let deleted = app
        .delete(&format!("/v1/conversations/{conversation}"), &app.user_key)
        .await;
    assert!(deleted.status().is_success());
    let path = format!("/v1/responses/{id}");
    assert_error(
        app.get(&path, &app.user_key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Deleting a response leaves its conversation.
    let kept = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": "Again"}),
    )
    .await;
    let conversation = conversation_id(&kept);
    let kept: Value = kept.json().await.unwrap();
    let path = format!("/v1/responses/{}", kept["id"].as_str().unwrap());
    let gone: Value = app.delete(&path, &app.user_key).await.json().await.unwrap();
    assert_eq!(gone["deleted"], true);
    assert_error(
        app.get(&path, &app.user_key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let stored = app
        .get(&format!("/v1/conversations/{conversation}"), &app.user_key)
        .await;
    assert_eq!(stored.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_are_refused_in_openais_shape_and_usage_is_logged() {
    let app = spawn_app().await;
    let cases = [
        json!({"model": "ragway"}),
        json!({"model": "ragway", "input": []}),
        json!({"model": "ragway", "input": "x", "tools": [{"type": "web_search"}]}),
        json!({"model": "ragway", "input": "x", "background": true}),
        json!({"model": "ragway", "input": [{"type": "item_reference", "id": "x"}]}),
        json!({"model": "ragway", "input": "x", "conversation": "c", "previous_response_id": "resp_1"}),
    ];
    for body in cases {
        let refused = respond(&app, &app.user_key, &body).await;
        assert_error(refused, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let unknown = respond(&app, &app.user_key, &json!({"model": "nope", "input": "x"})).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "model_not_found").await;
    let missing = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": "x", "previous_response_id": "resp_none"}),
    )
    .await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let many: Vec<Value> = (0..=app.settings.max_request_messages)
        .map(|_| json!({"role": "user", "content": "x"}))
        .collect();
    let over = respond(
        &app,
        &app.user_key,
        &json!({"model": "ragway", "input": many}),
    )
    .await;
    let body = assert_error(over, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RAGWAY_MAX_REQUEST_MESSAGES"));

    let answered = respond_json(&app, &json!({"model": "ragway", "input": "Count me"})).await;
    let tokens = answered["usage"]["total_tokens"].as_u64().unwrap();
    app.logged(10).await;
    let logs = app.logs("endpoint=/v1/responses&status=ok").await;
    let newest = &logs["data"][0];
    assert_eq!(newest["total_tokens"], tokens, "{logs}");
    assert_eq!(newest["model"], "ragway");
}
