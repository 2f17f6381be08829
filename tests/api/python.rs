//! The official `openai` Python package against a running ragway.

use std::process::Command;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openai_python_sdk_works_unchanged() {
    let app = spawn_app().await;
    app.ingest_text(
        "Lighthouse",
        "The lighthouse keeper logs the tide every morning at six.",
    )
    .await;
    let script = format!("{}/tests/python/openai_sdk.py", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking({
        let address = app.address.clone();
        let key = app.user_key.clone();
        move || {
            Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
                .arg(script)
                .env("RAGWAY_BASE_URL", format!("{address}/v1"))
                .env("RAGWAY_API_KEY", key)
                .env("RAGWAY_MODEL", "ragway")
                .env("NO_PROXY", "127.0.0.1")
                .output()
                .expect("python3 runs (the README's test command installs the openai package)")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("openai sdk: all checks passed"), "{stdout}");
    // The SDK's question reached the upstream with the retrieved chunk.
    let sent = app.upstream.chat_requests();
    assert!(sent.iter().any(|r| r["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .contains("every morning at six")));
}
