//! `X-Request-Id`: on every response, the caller's own kept when usable,
//! in the request's log row, and in the server's log lines (as JSON with
//! `RAGWAY_LOG_FORMAT=json`).

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::spawn_app;
use crate::support::fake_upstream::FakeUpstream;

#[tokio::test]
async fn every_response_carries_a_request_id_that_finds_its_log_row() {
    let app = spawn_app().await;
    // Ragway's own id where the caller sent none, on every route.
    for path in ["/health", "/v1/models", "/no/such/route"] {
        let response = app.get(path, &app.user_key).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 32, "{path}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{path}: {id}");
    }
    // The caller's own id is kept, and names the request in the log.
    let response = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&app.user_key)
        .header("x-request-id", "client-7f3a.turn:2")
        .json(&app.chat_body("How deep is the harbour?", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "client-7f3a.turn:2");
    response.bytes().await.unwrap();
    // One the caller made up badly is replaced, not passed on.
    let replaced = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&app.user_key)
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(id, "two words");
    assert_eq!(id.len(), 32);
    // /v1/models twice and the chat: /health and unknown routes are not logged.
    app.logged(3).await;
    let logs = app.logs("request_id=client-7f3a.turn:2").await;
    let rows = logs["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{logs}");
    assert_eq!(rows[0]["endpoint"], "/v1/chat/completions");
    assert_eq!(rows[0]["request_id"], "client-7f3a.turn:2");
    let logs = app.logs(&format!("request_id={id}")).await;
    assert_eq!(logs["data"][0]["endpoint"], "/v1/models", "{logs}");
}

#[tokio::test]
async fn json_logs_carry_the_request_id_in_each_line_of_the_request() {
    let upstream = FakeUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut child = crate::helpers::serve_process(
        &upstream,
        data.path(),
        "info,tower_http=debug,lance=warn,lancedb=warn",
        &[("RAGWAY_LOG_FORMAT", "json")],
    );
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // Every line is a JSON object; the first one that matters says where it listens.
    let listening = next_where(&mut lines, |entry| {
        entry["fields"]["message"] == "ragway listening"
    })
    .await;
    let address = listening["fields"]["address"].as_str().unwrap();
    let response = reqwest::Client::new()
        .get(format!("http://{address}/health"))
        .header("x-request-id", "follow-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "follow-me-42");
    // tower-http's debug line for the request, in the request's span.
    let entry = next_where(&mut lines, |entry| entry["span"]["id"] == "follow-me-42").await;
    let span = &entry["span"];
    assert_eq!(span["method"], "GET", "{span}");
    assert_eq!(span["path"], "/health", "{span}");
}

/// The first of the next JSON log lines that is `wanted`:
/// a line that is not JSON fails the test, and so does waiting more than
/// 60 s (the server runs on: its log never ends by itself).
async fn next_where<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let search = async {
        loop {
            let line = lines.next_line().await.unwrap().expect("ragway logs on");
            let entry: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if wanted(&entry) {
                return entry;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), search)
        .await
        .expect("the log line came")
}
