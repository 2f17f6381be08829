//! `RAGWAY_OTLP_ENDPOINT`: a real `ragway serve` sends a trace per request
//! to an OTLP/HTTP collector (a fake one here, keeping what it is sent),
//! with the request's span and, inside it, retrieval, embeddings and the
//! upstream call.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::routing::post;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::fake_upstream::FakeUpstream;

#[tokio::test]
async fn each_request_is_a_trace_with_its_retrieval_embeddings_and_upstream_spans() {
    // The collector: every body posted to /v1/traces, as sent.
    let received: Arc<Mutex<Vec<(String, Bytes)>>> = Arc::default();
    let collector = {
        let received = received.clone();
        axum::Router::new().route(
            "/v1/traces",
            post(move |headers: axum::http::HeaderMap, body: Bytes| {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                received.lock().unwrap().push((kind, body));
                async { ([("content-type", "application/x-protobuf")], Bytes::new()) }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await.unwrap() });

    let upstream = FakeUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_ragway"))
        .args(["keys", "create", "--name", "traced", "--admin"])
        .env_clear()
        .env("RAGWAY_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout).unwrap();
    let key = key.lines().last().unwrap().trim().to_string();
    let mut child = crate::helpers::serve_process(
        &upstream,
        data.path(),
        "warn,ragway=info",
        &[("RAGWAY_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next_line().await.unwrap().expect("ragway logs on");
        if let Some(at) = line.split("address=").nth(1) {
            break at.split_whitespace().next().unwrap().to_string();
        }
    };
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    // A document, so that the question is embedded and searched.
    let uploaded: Value = client
        .post(format!("{base}/v1/documents"))
        .bearer_auth(&key)
        .json(&json!({"title": "Tides", "text": "High tide at the harbour is at noon."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["id"].as_str().unwrap();
    let ready: Value = client
        .get(format!("{base}/v1/documents/{id}?wait=60"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    let answer = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(&key)
        .header("x-request-id", "trace-me-4711")
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": "When is high tide?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["sources"][0]["title"], "Tides", "{answer}");

    // A graceful stop sends what is batched.
    #[cfg(unix)]
    {
        let pid = child.id().unwrap().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
    }
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait()).await;
    assert!(stopped.is_ok(), "ragway did not stop");

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "no traces reached the collector");
    assert!(received
        .iter()
        .all(|(kind, _)| kind == "application/x-protobuf"));
    let all: Vec<u8> = received
        .iter()
        .flat_map(|(_, body)| body.to_vec())
        .collect();
    let has = |needle: &str| all.windows(needle.len()).any(|w| w == needle.as_bytes());
    for name in [
        "request",
        "retrieval",
        "embeddings",
        "upstream",
        "trace-me-4711",
        "/chat/completions",
        "ragway",
    ] {
        assert!(has(name), "{name:?} is not in what the collector got");
    }
}
