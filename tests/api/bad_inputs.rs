//! The bad-input corpus in `fixtures/bad/`: each file ends with a clear
//! answer (refused at upload, or `failed` with a reason, or `ready` where it
//! is legitimately readable), nothing hangs, and the server goes on.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, wait_for};

/// What becomes of an upload.
enum Outcome {
    /// Refused at upload with this status.
    Refused(StatusCode),
    /// Accepted, then failed with a reason containing this.
    Fails(&'static str),
    /// Accepted and indexed.
    Ready,
}

#[tokio::test]
async fn every_bad_input_ends_with_a_clear_answer() {
    let app = spawn_app().await;
    let corpus = [
        ("truncated.pdf", Outcome::Fails("PDF")),
        ("encrypted.pdf", Outcome::Fails("PDF")),
        (
            "no-text-layer.pdf",
            Outcome::Fails("no text could be extracted"),
        ),
        (
            "zero-bytes.txt",
            Outcome::Refused(StatusCode::UNPROCESSABLE_ENTITY),
        ),
        (
            "binary-named.txt",
            Outcome::Refused(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        ("invalid-utf8.txt", Outcome::Ready),
        ("bomb.docx", Outcome::Fails("zip bomb")),
    ];
    let mut events = app.state.ingest_events.subscribe();
    for (name, outcome) in corpus {
        let bytes = std::fs::read(format!(
            "{}/fixtures/bad/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let form = Form::new().part("file", Part::bytes(bytes).file_name(name));
        let response = app.upload_form(&app.admin_key, form).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        match outcome {
            Outcome::Refused(expected) => {
                assert_eq!(status, expected, "{name}: {body}");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{name}"
                );
            }
            Outcome::Fails(reason) => {
                assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
                let id = body["id"].as_str().unwrap();
                assert_eq!(wait_for(&mut events, id).await, "failed", "{name}");
                let error = app.document(id).await["error"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(error.contains(reason), "{name}: {error}");
            }
            Outcome::Ready => {
                assert_eq!(status, StatusCode::ACCEPTED, "{name}: {body}");
                let id = body["id"].as_str().unwrap();
                assert_eq!(wait_for(&mut events, id).await, "ready", "{name}");
            }
        }
    }
    // The readable one was decoded, not dropped: its words are found.
    let answer: Value = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("harbour kiosk cafe au lait", false),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(answer["sources"][0]["text"]
        .as_str()
        .unwrap()
        .contains("au lait costs"));

    // A 200 MB text is over the default 50 MiB limit: a clear 413, not a stalled server.
    let huge = vec![b'a'; 200 * 1024 * 1024];
    let form = Form::new().part("file", Part::bytes(huge).file_name("huge.txt"));
    let response = app
        .client
        .post(app.url("/v1/documents"))
        .bearer_auth(&app.admin_key)
        .multipart(form)
        .send()
        .await;
    // The server answers 413 from the Content-Length alone and closes the
    // connection; a client still sending may see the reset instead.
    match response {
        Ok(response) => assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(err) => assert!(err.is_request() || err.is_body(), "{err}"),
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // A normal upload right after still works.
    app.ingest_text("After the storm", "The harbour reopened on Tuesday.")
        .await;
}
