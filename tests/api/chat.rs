//! Grounded chat, streaming and not, and upstream failures.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    assert_error, conversation_id, spawn_app, spawn_app_with, sse_chunks, sse_data,
};
use crate::support::fake_upstream::Fault;

#[tokio::test]
async fn the_retrieved_chunk_reaches_the_upstream_prompt() {
    let app = spawn_app().await;
    let vacation = app
        .ingest_text(
            "Handbook",
            "Every employee receives twenty-five vacation days per year.",
        )
        .await;
    app.ingest_text("Garage", "The parking garage on Elm Street opens at seven.")
        .await;

    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("How many vacation days per year?", false),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["model"], "ragway");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Echo: How many vacation days per year?"
    );
    assert_eq!(answer["sources"][0]["document_id"], vacation.as_str());
    assert_eq!(answer["sources"][0]["index"], 1);

    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["model"], "fake-chat");
    assert_eq!(sent["messages"][0]["role"], "system");
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("twenty-five vacation days"), "{system}");
    let vacation_at = system.find("twenty-five").unwrap();
    let garage_at = system.find("Elm Street").unwrap_or(usize::MAX);
    assert!(vacation_at < garage_at, "the best match comes first");
    assert_eq!(
        sent["messages"][1]["content"],
        "How many vacation days per year?"
    );
    assert_eq!(
        app.upstream.auth_headers().pop().unwrap(),
        "Bearer sk-upstream-chat"
    );
}

#[tokio::test]
async fn chinese_questions_find_chinese_documents() {
    let app = spawn_app().await;
    let leave = app
        .ingest_text("年假", "每位员工每年享有十五天带薪年假。")
        .await;
    app.ingest_text("报销", "差旅费用须在出差结束后十个工作日内提交发票。")
        .await;
    let answer: Value = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("我每年有几天年假？", false),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["sources"][0]["document_id"], leave.as_str());
}

#[tokio::test]
async fn streamed_chunks_concatenate_to_the_non_streamed_answer() {
    let app = spawn_app().await;
    app.ingest_text("Tides", "High tide is at noon on Mondays.")
        .await;
    let question = "When is high tide on Monday?";

    let whole: Value = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body(question, false),
        )
        .await
        .json()
        .await
        .unwrap();
    let expected = whole["choices"][0]["message"]["content"].as_str().unwrap();

    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body(question, true),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().get("content-length").is_none());
    let chunks = sse_chunks(&response.text().await.unwrap());
    assert!(chunks.len() > 3, "the answer arrives in pieces");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, expected);
    assert!(chunks.iter().all(|c| c["model"] == "ragway"));
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], serde_json::json!([]));
    assert_eq!(last["sources"][0]["title"], "Tides");
    assert!(app.upstream.chat_requests().last().unwrap()["stream"] == true);
}

#[tokio::test]
async fn chat_works_with_an_empty_knowledge_base() {
    let app = spawn_app().await;
    let answer: Value = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", false),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo: hi");
    assert_eq!(answer["sources"], serde_json::json!([]));
    assert!(
        app.upstream.embedding_requests().is_empty(),
        "no embedding call without documents"
    );
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn other_parameters_pass_through() {
    let app = spawn_app().await;
    let mut body = app.chat_body("hi", false);
    body["temperature"] = 0.25.into();
    body["max_tokens"] = 7.into();
    body["messages"][0]["name"] = "alice".into();
    app.post_json("/v1/chat/completions", &app.user_key, &body)
        .await;
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["max_tokens"], 7);
    assert_eq!(sent["messages"][0]["name"], "alice");
}

#[tokio::test]
async fn upstream_rate_limits_and_errors_are_reported() {
    let app = spawn_app().await;
    app.upstream.set_fault(Fault::RateLimit);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", false),
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "7");
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    // The only key now rests for that model: refused at once, without a call.
    let calls = app.upstream.chat_requests().len();
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi again", false),
        )
        .await;
    let seconds: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=7).contains(&seconds), "{seconds}");
    let body = assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("resting"));
    assert_eq!(app.upstream.chat_requests().len(), calls);

    app.heal_upstream().await;
    app.upstream.set_fault(Fault::ServerError);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", true),
        )
        .await;
    assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;

    app.upstream.set_fault(Fault::Unauthorized);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", false),
        )
        .await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RAGWAY_CHAT_API_KEY"));
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let app = spawn_app().await;
    app.upstream.set_fault(Fault::CutStream);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("tell me a long story", true),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = sse_data(&response.text().await.unwrap());
    assert!(events.len() >= 2, "the chunks before the cut were relayed");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted");
    assert!(!events.contains(&"[DONE]".to_string()));
}

#[tokio::test]
async fn shutdown_cuts_off_requests_still_running_after_the_grace_period() {
    let app = spawn_app_with(|s| s.shutdown_grace_secs = 0).await;
    app.upstream.set_fault(Fault::Hang);
    let request = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&app.user_key)
        .json(&app.chat_body("Are you there?", true))
        .send();
    let in_flight = tokio::spawn(request);
    app.upstream.chats_arrived(1).await;
    // The upstream never answers; with no grace, stopping does not wait for
    // it (the process then exits, which closes the connection).
    let (_db, _data) = app.stopped().await;
    assert!(!in_flight.is_finished(), "the request had an answer");
    in_flight.abort();
}

#[tokio::test]
async fn a_silent_upstream_times_out() {
    let app = spawn_app_with(|s| s.upstream_timeout_secs = 1).await;
    app.upstream.set_fault(Fault::Hang);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", false),
        )
        .await;
    assert_error(response, StatusCode::GATEWAY_TIMEOUT, "upstream_error").await;
}

#[tokio::test]
async fn a_failing_embeddings_upstream_fails_the_chat_clearly() {
    let app = spawn_app().await;
    app.ingest_text("Doc", "Some content.").await;
    app.upstream.set_fault(Fault::ServerError);
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("content?", false),
        )
        .await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("embeddings"));
}

#[tokio::test]
async fn tool_calls_pass_through_both_ways() {
    let app = spawn_app().await;
    let tools = serde_json::json!([{"type": "function", "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    }}]);
    let mut body = app.chat_body("weather in Oslo", false);
    body["tools"] = tools.clone();
    body["tool_choice"] = "auto".into();
    let response = app.chat(&app.user_key, None, &body).await;
    let id = response.headers()["x-conversation-id"].clone();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let call = answer["choices"][0]["message"]["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "lookup");
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["tools"], tools);
    assert_eq!(sent["tool_choice"], "auto");

    // The client runs the tool and sends its result back with the history.
    body["messages"] = serde_json::json!([
        {"role": "user", "content": "weather in Oslo"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "12 degrees"},
    ]);
    let response = app.chat(&app.user_key, None, &body).await;
    assert_eq!(
        response.headers()["x-conversation-id"],
        id,
        "one conversation"
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Echo: weather in Oslo"
    );
    let sent = app.upstream.chat_requests().pop().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool["tool_call_id"], "call_1");
    assert_eq!(tool["content"], "12 degrees");
    let asked = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(asked["tool_calls"][0]["id"], "call_1");

    // Streamed: the call's pieces are relayed, and saved whole.
    let mut body = app.chat_body("weather in Bergen", true);
    body["tools"] = tools;
    let response = app.chat(&app.user_key, None, &body).await;
    let id = conversation_id(&response);
    let events = sse_data(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let arguments: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let expected = serde_json::json!({"q": "weather in Bergen"}).to_string();
    assert_eq!(arguments, expected);
    let conversation = app
        .get_json(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    let saved = &conversation["messages"][1];
    assert_eq!(
        saved["tool_calls"][0]["function"]["arguments"],
        expected.as_str()
    );
    assert_eq!(saved["tool_calls"][0]["function"]["name"], "lookup");
    assert_eq!(saved["content"], Value::Null);
}
