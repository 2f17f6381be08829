//! The hub download against a fake hub on localhost (no network): large
//! files through a redirect with their SHA-256 on the first answer, as the
//! hub serves them; checked, bounded, fetched once.

#![allow(clippy::unwrap_used, reason = "test helpers: a failure is the test's")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ragway_models::hub::{self, HubOptions, Progress};
use sha2::{Digest as _, Sha256};

#[derive(Clone, Default)]
struct Hub {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// A SHA-256 to state instead of the true one.
    lie: Arc<Mutex<Option<String>>>,
    requests: Arc<AtomicUsize>,
}

async fn resolve(
    State(hub): State<Hub>,
    Path((owner, name, file)): Path<(String, String, String)>,
) -> Response {
    hub.requests.fetch_add(1, Ordering::SeqCst);
    let key = format!("{owner}/{name}/{file}");
    let Some(bytes) = hub.files.lock().unwrap().get(&key).cloned() else {
        return (StatusCode::NOT_FOUND, "Entry not found").into_response();
    };
    if file.ends_with(".safetensors") {
        // Large files: a redirect to storage, the checksum on this answer.
        let sha = hub
            .lie
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| hex::encode(Sha256::digest(&bytes)));
        let mut headers = HeaderMap::new();
        headers.insert("location", format!("/storage/{key}").parse().unwrap());
        headers.insert("x-linked-etag", format!("\"{sha}\"").parse().unwrap());
        headers.insert("x-linked-size", bytes.len().to_string().parse().unwrap());
        return (StatusCode::FOUND, headers).into_response();
    }
    bytes.into_response()
}

async fn storage(
    State(hub): State<Hub>,
    Path((owner, name, file)): Path<(String, String, String)>,
) -> Response {
    hub.requests.fetch_add(1, Ordering::SeqCst);
    let key = format!("{owner}/{name}/{file}");
    match hub.files.lock().unwrap().get(&key).cloned() {
        Some(bytes) => bytes.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn start(hub: Hub) -> String {
    let app = Router::new()
        .route("/{owner}/{name}/resolve/main/{*file}", get(resolve))
        .route("/storage/{owner}/{name}/{*file}", get(storage))
        .with_state(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "the fake hub lives as long as the test"
    )]
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn model_files(hub: &Hub, repo: &str, weights: usize) {
    let mut files = hub.files.lock().unwrap();
    files.insert(
        format!("{repo}/config.json"),
        br#"{"model_type":"bert"}"#.to_vec(),
    );
    files.insert(format!("{repo}/tokenizer.json"), b"{}".to_vec());
    files.insert(
        format!("{repo}/1_Pooling/config.json"),
        br#"{"pooling_mode_cls_token":true}"#.to_vec(),
    );
    let blob: Vec<u8> = (0..weights).map(|i| (i * 31 % 251) as u8).collect();
    files.insert(format!("{repo}/model.safetensors"), blob);
}

fn options(endpoint: &str) -> HubOptions {
    HubOptions {
        endpoint: endpoint.to_string(),
        max_file_bytes: 1 << 20,
        read_timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn a_model_is_fetched_checked_and_kept() {
    let hub = Hub::default();
    model_files(&hub, "BAAI/bge-small-zh-v1.5", 300_000);
    let endpoint = start(hub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("BAAI/bge-small-zh-v1.5");
    let heard = Mutex::new(Vec::<Progress>::new());
    hub::fetch(
        &options(&endpoint),
        "BAAI/bge-small-zh-v1.5",
        &folder,
        &|p| heard.lock().unwrap().push(p),
    )
    .await
    .unwrap();
    assert!(hub::is_complete(&folder));
    let weights = std::fs::read(folder.join("model.safetensors")).unwrap();
    assert_eq!(weights.len(), 300_000);
    assert_eq!(
        std::fs::read_to_string(folder.join("1_Pooling/config.json")).unwrap(),
        r#"{"pooling_mode_cls_token":true}"#
    );
    // Optional files the repository lacks are skipped, no partial file is left.
    assert!(!folder.join("modules.json").exists());
    let leftovers: Vec<_> = walk(&folder)
        .into_iter()
        .filter(|p| p.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let heard = heard.into_inner().unwrap();
    assert!(heard
        .iter()
        .any(|p| p.file == "model.safetensors" && p.done == 300_000 && p.total == Some(300_000)));

    // A second fetch asks only for the optional files it does not have.
    let before = hub.requests.load(Ordering::SeqCst);
    hub::fetch(
        &options(&endpoint),
        "BAAI/bge-small-zh-v1.5",
        &folder,
        &|_| {},
    )
    .await
    .unwrap();
    let asked = hub.requests.load(Ordering::SeqCst) - before;
    assert_eq!(
        asked, 3,
        "only modules.json, sentence_bert_config.json, config_sentence_transformers.json"
    );
}

#[tokio::test]
async fn bad_downloads_leave_nothing_behind() {
    let hub = Hub::default();
    model_files(&hub, "acme/model", 5_000);
    model_files(&hub, "acme/huge", 2 << 20);
    let endpoint = start(hub.clone()).await;
    let dir = tempfile::tempdir().unwrap();

    // Weights that are not what the hub says they are.
    *hub.lie.lock().unwrap() = Some("0".repeat(64));
    let folder = dir.path().join("acme/model");
    let err = hub::fetch(&options(&endpoint), "acme/model", &folder, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SHA-256"), "{err}");
    assert!(!folder.join("model.safetensors").exists());
    assert!(!folder.join("model.safetensors.partial").exists());
    *hub.lie.lock().unwrap() = None;

    // Larger than a model file may be.
    let folder = dir.path().join("acme/huge");
    let err = hub::fetch(&options(&endpoint), "acme/huge", &folder, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
    assert!(!folder.join("model.safetensors").exists());

    // A repository that is not there names the file it lacks.
    let folder = dir.path().join("acme/missing");
    let err = hub::fetch(&options(&endpoint), "acme/missing", &folder, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");

    // The same model, honest now, arrives whole.
    let folder = dir.path().join("acme/model");
    hub::fetch(&options(&endpoint), "acme/model", &folder, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(folder.join("model.safetensors"))
            .unwrap()
            .len(),
        5_000
    );
}

#[test]
fn hf_endpoint_names_the_mirror() {
    // Read once here; other tests pass their endpoint explicitly.
    std::env::set_var("HF_ENDPOINT", "https://hf-mirror.com/");
    assert_eq!(hub::endpoint_from_env(), "https://hf-mirror.com");
    std::env::remove_var("HF_ENDPOINT");
    assert_eq!(hub::endpoint_from_env(), hub::DEFAULT_ENDPOINT);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}
