//! Fetching a model's files from the Hugging Face hub (or a mirror: the
//! endpoint is `HF_ENDPOINT`'s, as Hugging Face's own tools read it) into a
//! folder, once: a file already in place is never fetched again, so an
//! offline machine with the folder filled by hand never touches the network.
//!
//! Written on reqwest (already the server's client) rather than the
//! `hf-hub` crate: hf-hub 0.4 neither bounds a file's size nor times out a
//! stalled read nor checks what it fetched, and spawns tasks of its own;
//! 1.0 brings the Xet storage client and a second reqwest with features
//! that would rebuild the vector store's stack. Here every file is bounded,
//! every read has a deadline, and weights are checked against the SHA-256
//! the hub states for them before they are renamed into place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use reqwest::header::{HeaderMap, CONTENT_LENGTH, LOCATION};
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::encoder::REQUIRED_FILES;
use crate::{ModelError, Result};

/// The hub used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Files fetched when the repository has them: the sentence-transformers
/// settings (pooling, length, prompts).
pub const OPTIONAL_FILES: [&str; 4] = [
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
];

/// How to reach the hub.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// The hub's base URL (`https://huggingface.co`, `https://hf-mirror.com`).
    pub endpoint: String,
    /// The largest file accepted (bge-m3's weights are 2.3 GB).
    pub max_file_bytes: u64,
    /// How long one read may wait for bytes before the download fails.
    pub read_timeout: Duration,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            endpoint: endpoint_from_env(),
            max_file_bytes: 4 << 30,
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// `HF_ENDPOINT`, or the hub itself.
pub fn endpoint_from_env() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .map(|e| e.trim().trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
}

/// Where a download stands, for logs and `/health`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The file being fetched.
    pub file: String,
    /// Bytes of it received.
    pub done: u64,
    /// Its size, when the hub said.
    pub total: Option<u64>,
}

/// Whether every file a model needs is in `dir`.
pub fn is_complete(dir: &Path) -> bool {
    REQUIRED_FILES.iter().all(|f| dir.join(f).is_file())
}

/// Fetch the files of hub repository `repo` that `dir` lacks; `progress`
/// hears of each step.
pub async fn fetch(
    options: &HubOptions,
    repo: &str,
    dir: &Path,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<()> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(options.read_timeout)
        .user_agent(concat!("ragway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ModelError::Download(e.to_string()))?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| ModelError::Download(format!("{}: {e}", dir.display())))?;
    for (file, required) in REQUIRED_FILES
        .iter()
        .map(|f| (*f, true))
        .chain(OPTIONAL_FILES.iter().map(|f| (*f, false)))
    {
        let target = dir.join(file);
        if target.is_file() {
            continue;
        }
        let url = format!(
            "{}/{repo}/resolve/main/{file}",
            options.endpoint.trim_end_matches('/')
        );
        match fetch_file(&client, options, &url, file, &target, progress).await {
            Ok(()) => {}
            Err(Fetch::Missing) if !required => {}
            Err(Fetch::Missing) => {
                return Err(ModelError::Download(format!(
                    "{repo} has no {file} at {}: is the name right, and does the repository ship safetensors weights?",
                    options.endpoint
                )))
            }
            Err(Fetch::Failed(why)) => {
                return Err(ModelError::Download(format!("fetching {repo}/{file}: {why}")))
            }
        }
    }
    Ok(())
}

enum Fetch {
    Missing,
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> Fetch {
    Fetch::Failed(e.to_string())
}

async fn fetch_file(
    client: &reqwest::Client,
    options: &HubOptions,
    url: &str,
    file: &str,
    target: &Path,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> std::result::Result<(), Fetch> {
    // The hub answers a large file with a redirect to its storage; the
    // file's SHA-256 and size are on that first answer.
    let mut url = reqwest::Url::parse(url).map_err(failed)?;
    let mut stated: Option<(Option<String>, Option<u64>)> = None;
    let mut response = None;
    for _ in 0..6 {
        let answer = client.get(url.clone()).send().await.map_err(failed)?;
        if stated.is_none() {
            stated = Some(linked(answer.headers()));
        }
        if answer.status().is_redirection() {
            let location = answer
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| failed("a redirect without a location"))?;
            url = url.join(location).map_err(failed)?;
            continue;
        }
        response = Some(answer);
        break;
    }
    let response = response.ok_or_else(|| failed("too many redirects"))?;
    match response.status() {
        StatusCode::NOT_FOUND => return Err(Fetch::Missing),
        status if !status.is_success() => {
            return Err(Fetch::Failed(format!("the hub answered {status}")))
        }
        _ => {}
    }
    let (sha256, linked_size) = stated.unwrap_or_default();
    let length = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let total = linked_size.or(length);
    if let Some(total) = total.filter(|&t| t > options.max_file_bytes) {
        return Err(Fetch::Failed(format!(
            "it is {total} bytes, more than the {} a model file may be",
            options.max_file_bytes
        )));
    }
    let partial = partial_path(target);
    if let Some(parent) = partial.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(failed)?;
    }
    let mut out = tokio::fs::File::create(&partial).await.map_err(failed)?;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut last_report = 0u64;
    let mut body = response.bytes_stream();
    progress(Progress {
        file: file.into(),
        done,
        total,
    });
    let written: std::result::Result<(), Fetch> = async {
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(failed)?;
            done += piece.len() as u64;
            if done > options.max_file_bytes {
                return Err(Fetch::Failed(format!(
                    "it grew past the {} bytes a model file may be",
                    options.max_file_bytes
                )));
            }
            hasher.update(&piece);
            out.write_all(&piece).await.map_err(failed)?;
            // A report every 8 MiB, not every packet.
            if done - last_report >= 8 << 20 {
                last_report = done;
                progress(Progress {
                    file: file.into(),
                    done,
                    total,
                });
            }
        }
        out.flush().await.map_err(failed)?;
        out.sync_all().await.map_err(failed)?;
        if let Some(total) = total.filter(|&t| t != done) {
            return Err(Fetch::Failed(format!(
                "it ended after {done} of {total} bytes"
            )));
        }
        if let Some(expected) = &sha256 {
            let got = hex::encode(hasher.finalize());
            if &got != expected {
                return Err(Fetch::Failed(format!(
                    "its SHA-256 is {got}, not the {expected} the hub states"
                )));
            }
        }
        Ok(())
    }
    .await;
    drop(out);
    if let Err(err) = written {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(err);
    }
    tokio::fs::rename(&partial, target).await.map_err(failed)?;
    progress(Progress {
        file: file.into(),
        done,
        total: Some(done),
    });
    Ok(())
}

/// The SHA-256 (a large file's `X-Linked-Etag`, 64 hex digits; a small
/// file's etag is a git hash, not checked) and size the hub states.
fn linked(headers: &HeaderMap) -> (Option<String>, Option<u64>) {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let sha = value("x-linked-etag")
        .map(|e| {
            e.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_ascii_lowercase()
        })
        .filter(|e| e.len() == 64 && e.chars().all(|c| c.is_ascii_hexdigit()));
    let size = value("x-linked-size").and_then(|s| s.trim().parse().ok());
    (sha, size)
}

/// Where a file is written before it is complete and checked.
fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    target.with_file_name(name)
}
