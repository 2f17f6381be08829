//! The official client packages against a running ragway: `openai` (chat
//! and Responses), `anthropic` and Google's `google-genai` for Python, and
//! `openai` for Node (its Responses stream parser is the stricter one).

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// An app with the lighthouse document, and the output of `script` (in
/// tests/python/, or tests/node/ for a `.mjs`) run against it with
/// `base_url` (the app's address and this suffix), after checking it passed
/// and printed `done`.
async fn run_script(script: &str, suffix: &str, done: &str) -> TestApp {
    let app = spawn_app().await;
    app.ingest_text(
        "Lighthouse",
        "The lighthouse keeper logs the tide every morning at six.",
    )
    .await;
    run_against(&app, script, suffix, done, &[]).await;
    app
}

/// Run `script` against `app` as [`run_script`] does, with `env` besides.
async fn run_against(
    app: &TestApp,
    script: &str,
    suffix: &str,
    done: &str,
    env: &[(&str, String)],
) {
    let (folder, program) = if script.ends_with(".mjs") {
        (
            "node",
            std::env::var("NODE").unwrap_or_else(|_| "node".into()),
        )
    } else {
        (
            "python",
            std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
        )
    };
    let script = format!("{}/tests/{folder}/{script}", env!("CARGO_MANIFEST_DIR"));
    let other = app.new_user_key("other").await;
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let output = tokio::task::spawn_blocking({
        let base_url = format!("{}{suffix}", app.address);
        let key = app.user_key.clone();
        move || {
            Command::new(program)
                .arg(script)
                .env("RAGWAY_BASE_URL", base_url)
                .env("RAGWAY_API_KEY", key)
                .env("RAGWAY_OTHER_KEY", other)
                .env("RAGWAY_MODEL", "ragway")
                .env("NO_PROXY", "127.0.0.1")
                .envs(env)
                .output()
                .expect(
                    "python3 and node run (the README's test command installs the client packages)",
                )
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(done), "{stdout}");
}

/// The retrieved chunk of the lighthouse document reached the upstream's
/// prompt: the answer was grounded.
fn assert_grounded(app: &TestApp) {
    let sent = app.upstream.chat_requests();
    assert!(sent.iter().any(|r| r["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .contains("every morning at six")));
}

/// Whether any message of any chat request sent upstream is `wanted`.
fn sent_any(sent: &[serde_json::Value], wanted: impl Fn(&serde_json::Value) -> bool) -> bool {
    sent.iter()
        .filter_map(|r| r["messages"].as_array())
        .flatten()
        .any(wanted)
}

#[tokio::test]
async fn the_openai_python_sdk_works_unchanged() {
    let app = run_script("openai_sdk.py", "/v1", "openai sdk: all checks passed").await;
    // The SDK's question reached the upstream with the retrieved chunk.
    assert_grounded(&app);
}

#[tokio::test]
async fn the_openai_python_sdk_uses_vector_stores() {
    let app = run_script(
        "openai_vector_stores.py",
        "/v1",
        "openai vector stores: all checks passed",
    )
    .await;
    // Its searches embedded their queries upstream.
    assert!(app
        .upstream
        .embedding_requests()
        .iter()
        .any(|r| r.to_string().contains("harbour every morning at six")));
}

#[tokio::test]
async fn the_openai_node_package_uses_vector_stores() {
    run_script(
        "vector_stores.mjs",
        "/v1",
        "openai node vector stores: all checks passed",
    )
    .await;
}

#[tokio::test]
async fn the_official_mcp_client_searches_and_fetches_over_mcp() {
    let app = spawn_app().await;
    app.ingest_text(
        "Lighthouse",
        "The lighthouse keeper logs the tide every morning at six.",
    )
    .await;
    let mut events = app.state.ingest_events.subscribe();
    let private: Value = app
        .post_json(
            "/v1/documents",
            &app.user_key,
            &json!({"title": "Diary", "text": "My private diary: the lighthouse lamp was cleaned on Tuesday.",
                    "visibility": "private"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let private = private["id"].as_str().unwrap().to_string();
    assert_eq!(
        crate::helpers::wait_for(&mut events, &private).await,
        "ready"
    );
    let env = [("RAGWAY_PRIVATE_DOC", private)];
    run_against(
        &app,
        "mcp_client.py",
        "",
        "mcp client: all checks passed",
        &env,
    )
    .await;
    // Every MCP request is in the request log, under its key.
    app.state.request_log.flush().await;
    let logged = app.logs("endpoint=/mcp").await;
    let rows = logged["data"].as_array().unwrap();
    assert!(rows.len() >= 10, "{logged}");
    assert!(
        rows.iter()
            .any(|r| r["status"] == 401 && r["key_id"].is_null()),
        "{logged}"
    );
    assert!(
        rows.iter()
            .any(|r| r["status"] == 200 && r["key_id"].is_string()),
        "{logged}"
    );
}

#[tokio::test]
async fn the_anthropic_python_sdk_works_unchanged() {
    let app = run_script("anthropic_sdk.py", "", "anthropic sdk: all checks passed").await;
    let sent = app.upstream.chat_requests();
    // The system prompt came first, with the retrieved chunk after it.
    let first = &sent[0]["messages"][0]["content"];
    assert!(
        first
            .as_str()
            .unwrap()
            .starts_with("Answer from the sources."),
        "{first}"
    );
    assert!(
        first.as_str().unwrap().contains("every morning at six"),
        "{first}"
    );
    // The tool result went upstream as a `tool` message.
    assert!(sent_any(&sent, |m| m["role"] == "tool"
        && m["content"] == "Rain, 4 °C"));
    // Logged like any chat.
    app.logged(1).await;
    let rows = app.logs("endpoint=/v1/messages").await;
    assert!(rows["data"].as_array().unwrap().len() >= 8, "{rows}");
}

#[tokio::test]
async fn the_openai_python_sdk_speaks_responses() {
    let app = run_script(
        "openai_responses.py",
        "/v1",
        "openai responses: all checks passed",
    )
    .await;
    // The instructions came first, the retrieved chunk after them.
    let sent = app.upstream.chat_requests();
    let first = sent[0]["messages"][0]["content"].as_str().unwrap();
    assert!(first.starts_with("Be brief."), "{first}");
    assert!(first.contains("every morning at six"), "{first}");
    // The function's output went upstream as a `tool` message.
    assert!(sent_any(&sent, |m| m["role"] == "tool"
        && m["content"] == "six o'clock"));
}

#[tokio::test]
async fn the_google_genai_sdk_works_unchanged() {
    let app = run_script("gemini_sdk.py", "", "google-genai sdk: all checks passed").await;
    let sent = app.upstream.chat_requests();
    // The system instruction came first, the retrieved chunk after it.
    let first = sent[0]["messages"][0]["content"].as_str().unwrap();
    assert!(first.starts_with("Be brief."), "{first}");
    assert!(first.contains("every morning at six"), "{first}");
    // The chat's second turn went with the first one's history.
    assert!(sent_any(&sent, |m| m["role"] == "assistant"
        && m["content"]
            == "Echo: When does the lighthouse keeper log the tide?"));
    // The function's response went upstream as a `tool` message.
    assert!(sent_any(&sent, |m| m["role"] == "tool"
        && m["content"] == r#"{"result":"six o'clock"}"#));
    // Logged like any chat (this SDK's default is `/v1/models/…`).
    app.logged(1).await;
    let rows = app.logs("endpoint=/v1/models/ragway:generateContent").await;
    assert!(rows["data"].as_array().unwrap().len() >= 4, "{rows}");
}

#[tokio::test]
async fn the_openai_node_package_streams_responses() {
    let app = run_script("responses.mjs", "/v1", "openai node: all checks passed").await;
    // Grounded: the document's text reached the upstream prompt.
    assert_grounded(&app);
}
