//! Google's Gemini API: keys as `x-goog-api-key` or `?key=`, the models,
//! `generateContent` and `streamGenerateContent` (SSE and the JSON array)
//! through the chat pipeline, and errors in Google's shape.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

async fn generate(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-goog-api-key", &app.user_key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Assert Google's error shape with this status; returns the message.
async fn google_error(response: reqwest::Response, status: StatusCode, name: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], status.as_u16(), "{body}");
    assert_eq!(body["error"]["status"], name, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

fn text_of(response: &Value) -> String {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[tokio::test]
async fn keys_come_three_ways_and_models_are_listed() {
    let app = spawn_app().await;
    let by_header = app
        .client
        .get(app.url("/v1beta/models"))
        .header("x-goog-api-key", &app.user_key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), StatusCode::OK);
    let listed: Value = by_header.json().await.unwrap();
    assert_eq!(listed["models"][0]["name"], "models/ragway", "{listed}");
    let by_query = app
        .client
        .get(app.url(&format!("/v1beta/models/ragway?key={}", app.user_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), StatusCode::OK);
    let shown: Value = by_query.json().await.unwrap();
    assert_eq!(
        shown["supportedGenerationMethods"],
        json!(["generateContent", "streamGenerateContent"])
    );
    let by_bearer = app.get("/v1beta/models/models/ragway", &app.user_key).await;
    assert_eq!(by_bearer.status(), StatusCode::OK);

    let none = app
        .client
        .get(app.url("/v1beta/models"))
        .send()
        .await
        .unwrap();
    google_error(none, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let wrong = app
        .client
        .get(app.url("/v1beta/models?key=sk-wrong"))
        .send()
        .await
        .unwrap();
    google_error(wrong, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let unknown = app.get("/v1beta/models/nope", &app.user_key).await;
    google_error(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    // Under `/v1/` (newer SDKs' default): Gemini's shape for a key sent
    // Gemini's way, OpenAI's for a Bearer key.
    let gemini: Value = app
        .client
        .get(app.url("/v1/models"))
        .header("x-goog-api-key", &app.user_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gemini["models"][0]["name"], "models/ragway", "{gemini}");
    let openai = app.get_json("/v1/models", &app.user_key).await;
    assert_eq!(openai["object"], "list", "{openai}");
    let shown = app
        .client
        .get(app.url(&format!("/v1/models/ragway?key={}", app.user_key)))
        .send()
        .await
        .unwrap();
    let shown: Value = shown.json().await.unwrap();
    assert_eq!(shown["name"], "models/ragway", "{shown}");
    let wrong = app
        .client
        .get(app.url("/v1/models"))
        .header("x-goog-api-key", "sk-wrong")
        .send()
        .await
        .unwrap();
    google_error(wrong, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let answered = generate(
        &app,
        "/v1/models/ragway:generateContent",
        &json!({"contents": [{"parts": [{"text": "Hi"}]}]}),
    )
    .await;
    assert_eq!(answered.status(), StatusCode::OK);
    let answered: Value = answered.json().await.unwrap();
    assert_eq!(text_of(&answered), "Echo: Hi");

    // countTokens: estimated here, nothing sent upstream.
    let asked = app.upstream.chat_requests().len();
    let short = json!({"contents": [{"parts": [{"text": "Hi"}]}]});
    let long = json!({"generateContentRequest": {"model": "models/ragway",
        "contents": [{"parts": [{"text": "High tide at the harbour is at noon on Sundays."}]}]}});
    let mut counts = Vec::new();
    for body in [&short, &long] {
        let counted: Value = generate(&app, "/v1beta/models/ragway:countTokens", body)
            .await
            .json()
            .await
            .unwrap();
        counts.push(counted["totalTokens"].as_u64().unwrap());
    }
    assert!(0 < counts[0] && counts[0] < counts[1], "{counts:?}");
    assert_eq!(app.upstream.chat_requests().len(), asked);
    let unknown = generate(&app, "/v1beta/models/nope:countTokens", &short).await;
    google_error(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn generate_content_is_grounded_saved_and_streamed() {
    let app = spawn_app().await;
    app.ingest_text("Tides", "High tide at the harbour is at noon on Sundays.")
        .await;
    let question = "When is high tide at the harbour?";
    let body = json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": question}]}],
        "generationConfig": {"maxOutputTokens": 50, "temperature": 0.1},
    });
    let response = generate(&app, "/v1beta/models/ragway:generateContent", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let conversation = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let whole: Value = response.json().await.unwrap();
    assert_eq!(text_of(&whole), format!("Echo: {question}"));
    assert_eq!(whole["candidates"][0]["finishReason"], "STOP");
    assert!(whole["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);
    assert_eq!(whole["ragway"]["sources"][0]["title"], "Tides");
    assert_eq!(whole["ragway"]["conversation_id"], conversation.as_str());
    let cited = &whole["candidates"][0]["citationMetadata"]["citationSources"][0];
    assert_eq!(cited["title"], "Tides");
    assert!(cited["uri"].as_str().unwrap().contains("/v1/documents/"));
    assert_eq!(cited["endIndex"], format!("Echo: {question}").len());
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert!(sent["messages"][0]["content"]
        .as_str()
        .unwrap()
        .starts_with("Be brief."));
    assert_eq!(sent["max_tokens"], 50);

    // The history resent continues the conversation.
    let next = json!({"contents": [
        {"role": "user", "parts": [{"text": question}]},
        {"role": "model", "parts": [{"text": format!("Echo: {question}")}]},
        {"role": "user", "parts": [{"text": "And on Mondays?"}]},
    ]});
    let response = generate(&app, "/v1beta/models/ragway:generateContent", &next).await;
    assert_eq!(
        response.headers()["x-conversation-id"],
        conversation.as_str()
    );

    // Streamed as server-sent events: the pieces, then the end.
    let response = generate(
        &app,
        "/v1beta/models/ragway:streamGenerateContent?alt=sse",
        &body,
    )
    .await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let chunks: Vec<Value> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(chunks.len() > 2, "{text}");
    let streamed: String = chunks.iter().map(text_of).collect();
    assert_eq!(streamed, format!("Echo: {question}"));
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(last["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);
    assert_eq!(last["ragway"]["sources"][0]["title"], "Tides");
    assert_eq!(
        last["candidates"][0]["citationMetadata"]["citationSources"][0]["title"],
        "Tides"
    );

    // Without `alt=sse`: one JSON array, sent as it grows.
    let response = generate(&app, "/v1beta/models/ragway:streamGenerateContent", &body).await;
    let array: Vec<Value> = response.json().await.unwrap();
    let streamed: String = array.iter().map(text_of).collect();
    assert_eq!(streamed, format!("Echo: {question}"));
}

#[tokio::test]
async fn function_calls_go_out_and_their_responses_come_back() {
    let app = spawn_app().await;
    let tools = json!([{"functionDeclarations": [{"name": "lookup", "description": "Look it up",
        "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}}}]}]);
    let asked: Value = generate(
        &app,
        "/v1beta/models/ragway:generateContent",
        &json!({"contents": [{"role": "user", "parts": [{"text": "weather in Oslo"}]}], "tools": tools}),
    )
    .await
    .json()
    .await
    .unwrap();
    let call = &asked["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "lookup", "{asked}");
    assert_eq!(call["args"], json!({"q": "weather in Oslo"}));
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["properties"]["q"]["type"],
        "string"
    );

    let answered: Value = generate(
        &app,
        "/v1beta/models/ragway:generateContent",
        &json!({"tools": tools, "contents": [
            {"role": "user", "parts": [{"text": "weather in Oslo"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "weather in Oslo"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"temp": 12}}}]},
        ]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(text_of(&answered), "Echo: weather in Oslo");
    let sent = app.upstream.chat_requests().pop().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
    let asked = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(tool["tool_call_id"], asked["tool_calls"][0]["id"]);
    assert_eq!(tool["content"], r#"{"temp":12}"#);

    // Streamed: the call comes whole in the last chunk.
    let response = generate(
        &app,
        "/v1beta/models/ragway:streamGenerateContent?alt=sse",
        &json!({"contents": [{"parts": [{"text": "weather in Bergen"}]}], "tools": tools}),
    )
    .await;
    let text = response.text().await.unwrap();
    let last: Value = serde_json::from_str(
        text.split("\r\n\r\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .last()
            .unwrap(),
    )
    .unwrap();
    let call = &last["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["args"], json!({"q": "weather in Bergen"}), "{text}");
}

#[tokio::test]
async fn bad_requests_are_refused_in_googles_shape() {
    let app = spawn_app().await;
    let user = json!([{"role": "user", "parts": [{"text": "x"}]}]);
    for body in [
        json!({}),
        json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}),
        json!({"contents": user, "tools": [{"googleSearch": {}}]}),
        json!({"contents": "not a list"}),
    ] {
        let refused = generate(&app, "/v1beta/models/ragway:generateContent", &body).await;
        google_error(refused, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT").await;
    }
    let unknown = generate(
        &app,
        "/v1beta/models/nope:generateContent",
        &json!({"contents": user}),
    )
    .await;
    google_error(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let method = generate(&app, "/v1beta/models/ragway:embedContent", &json!({})).await;
    let message = google_error(method, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert!(message.contains("generateContent"), "{message}");
    let many: Vec<Value> = (0..=app.settings.max_request_messages)
        .map(|_| json!({"role": "user", "parts": [{"text": "x"}]}))
        .collect();
    let over = generate(
        &app,
        "/v1beta/models/ragway:generateContent",
        &json!({"contents": many}),
    )
    .await;
    let message = google_error(over, StatusCode::BAD_REQUEST, "INVALID_ARGUMENT").await;
    assert!(message.contains("RAGWAY_MAX_REQUEST_MESSAGES"), "{message}");
}
