//! `ragway-ingest`: bulk-load folders into a ragway server over its HTTP API.
//!
//! Walk the paths, hash every file, ask the server which hashes it already
//! has (`POST /v1/documents/lookup`), upload the rest with bounded
//! concurrency and retries, follow each document until it is `ready` or
//! `failed`, and report. A re-run skips what is done, so an interrupted load
//! is finished by running the same command again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures::StreamExt;
use globset::{Glob, GlobSet, GlobSetBuilder};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Extensions uploaded when no `--include` is given: what the server reads.
pub const DEFAULT_EXTENSIONS: &[&str] = &[
    "txt", "text", "md", "markdown", "html", "htm", "pdf", "docx", "csv", "json",
];

/// Command-line options.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ragway-ingest",
    version,
    about = "Bulk-load files and folders into a ragway server"
)]
pub struct Options {
    /// The ragway server, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "RAGWAY_URL")]
    pub server: String,
    /// An admin key (a user key with --private).
    #[arg(long, env = "RAGWAY_KEY", hide_env_values = true)]
    pub key: String,
    /// Collection to load into [default: the server's `default`].
    #[arg(long)]
    pub collection: Option<String>,
    /// Upload as private documents of the key.
    #[arg(long)]
    pub private: bool,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Only files matching one of these globs (e.g. '**/*.pdf'); default: every supported extension.
    #[arg(long)]
    pub include: Vec<String>,
    /// Skip files matching any of these globs (e.g. '**/drafts/**').
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Show what would be uploaded, upload nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write a JSON report of every file to this path.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// No progress bars (a log line per file instead).
    #[arg(long)]
    pub quiet: bool,
    /// Files and folders to load.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// What became of one file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Uploaded and indexed.
    Ingested,
    /// The server already had these bytes.
    Duplicate,
    /// Would be uploaded (dry run).
    Planned,
    /// Refused or failed; see `error`.
    Failed,
    /// Not attempted because of Ctrl-C.
    Interrupted,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub files: Vec<FileReport>,
    pub ingested: usize,
    pub duplicates: usize,
    pub failed: usize,
    pub interrupted: usize,
}

impl Report {
    fn new(files: Vec<FileReport>) -> Self {
        let count = |o: Outcome| files.iter().filter(|f| f.outcome == o).count();
        Self {
            ingested: count(Outcome::Ingested),
            duplicates: count(Outcome::Duplicate),
            failed: count(Outcome::Failed),
            interrupted: count(Outcome::Interrupted),
            files,
        }
    }

    /// Whether every file ended well.
    pub fn success(&self) -> bool {
        self.failed == 0 && self.interrupted == 0
    }

    /// The summary table printed at the end.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "\n  ingested    {:>6}\n  duplicates  {:>6}\n  failed      {:>6}\n",
            self.ingested, self.duplicates, self.failed
        ));
        if self.interrupted > 0 {
            out.push_str(&format!(
                "  interrupted {:>6}  (run again to finish)\n",
                self.interrupted
            ));
        }
        let planned = self
            .files
            .iter()
            .filter(|f| f.outcome == Outcome::Planned)
            .count();
        if planned > 0 {
            out.push_str(&format!(
                "  to upload   {planned:>6}  (dry run: nothing was sent)\n"
            ));
        }
        for file in self.files.iter().filter(|f| f.outcome == Outcome::Failed) {
            out.push_str(&format!(
                "  FAILED {}: {}\n",
                file.path.display(),
                file.error.as_deref().unwrap_or("unknown error")
            ));
        }
        out
    }
}

/// Run a whole load. `stop` turns true on Ctrl-C: no new uploads start, and
/// what was not reached is reported as interrupted.
pub async fn run(options: &Options, stop: Arc<AtomicBool>) -> anyhow::Result<Report> {
    let client = Client::new(options)?;
    let files = collect(options)?;
    let progress = Progress::new(options, &files);

    let hashed: Vec<(PathBuf, u64, String)> = futures::stream::iter(files)
        .map(|(path, bytes)| async move {
            let hash = hash_file(path.clone()).await;
            (path, bytes, hash)
        })
        .buffer_unordered(options.concurrency.max(1) * 2)
        .filter_map(|(path, bytes, hash)| async move {
            match hash {
                Ok(hash) => Some((path, bytes, hash)),
                Err(err) => {
                    eprintln!("skipping {}: {err:#}", path.display());
                    None
                }
            }
        })
        .collect()
        .await;

    let present = client
        .present(hashed.iter().map(|(_, _, h)| h.clone()).collect())
        .await?;
    let mut reports = Vec::with_capacity(hashed.len());
    let mut todo = Vec::new();
    for (path, bytes, sha256) in hashed {
        if present.contains(&sha256) {
            progress.skip(bytes);
            reports.push(FileReport {
                path,
                bytes,
                sha256,
                outcome: Outcome::Duplicate,
                document_id: None,
                chunks: None,
                error: None,
            });
        } else {
            todo.push((path, bytes, sha256));
        }
    }

    if options.dry_run {
        for (path, bytes, sha256) in todo {
            reports.push(FileReport {
                path,
                bytes,
                sha256,
                outcome: Outcome::Planned,
                document_id: None,
                chunks: None,
                error: None,
            });
        }
        progress.finish();
        return Ok(Report::new(reports));
    }

    let uploaded: Vec<FileReport> = futures::stream::iter(todo)
        .map(|(path, bytes, sha256)| {
            let (client, progress, stop) = (&client, &progress, stop.clone());
            async move {
                let mut report = FileReport {
                    path,
                    bytes,
                    sha256,
                    outcome: Outcome::Interrupted,
                    document_id: None,
                    chunks: None,
                    error: None,
                };
                if stop.load(Ordering::SeqCst) {
                    return report;
                }
                match client.ingest(&report.path).await {
                    Ok((id, duplicate, document)) => {
                        report.document_id = Some(id);
                        if duplicate {
                            report.outcome = Outcome::Duplicate;
                        } else if document["status"] == "ready" {
                            report.outcome = Outcome::Ingested;
                            report.chunks = document["chunk_count"].as_u64();
                        } else {
                            report.outcome = Outcome::Failed;
                            report.error = document["error"].as_str().map(str::to_string);
                        }
                    }
                    Err(err) => {
                        report.outcome = Outcome::Failed;
                        report.error = Some(format!("{err:#}"));
                    }
                }
                progress.done(&report);
                report
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    reports.extend(uploaded);
    progress.finish();
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    let report = Report::new(reports);
    if let Some(path) = &options.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(report)
}

/// Every file under the paths that passes the filters, with its size.
fn collect(options: &Options) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let include = globs(&options.include)?;
    let exclude = globs(&options.exclude)?;
    let mut files = Vec::new();
    for root in &options.paths {
        anyhow::ensure!(root.exists(), "{} does not exist", root.display());
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.with_context(|| format!("walking {}", root.display()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let wanted = match &include {
                Some(set) => set.is_match(path),
                None => has_supported_extension(path),
            };
            let excluded = exclude.as_ref().is_some_and(|set| set.is_match(path));
            if wanted && !excluded {
                files.push((path.to_path_buf(), entry.metadata()?.len()));
            }
        }
    }
    Ok(files)
}

fn has_supported_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| DEFAULT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn globs(patterns: &[String]) -> anyhow::Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(Glob::new(pattern).with_context(|| format!("bad glob {pattern:?}"))?);
    }
    Ok(Some(builder.build()?))
}

async fn hash_file(path: PathBuf) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(hex::encode(hasher.finalize()))
    })
    .await?
}

/// The server's API, as this tool uses it.
struct Client {
    http: reqwest::Client,
    server: String,
    key: String,
    collection: Option<String>,
    private: bool,
}

/// Attempts per request on 429, 5xx and connection errors.
const ATTEMPTS: u32 = 5;

impl Client {
    fn new(options: &Options) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            server: options.server.trim_end_matches('/').to_string(),
            key: options.key.clone(),
            collection: options.collection.clone(),
            private: options.private,
        })
    }

    /// Send a request built by `build`, retrying transient failures with backoff.
    async fn send(
        &self,
        build: impl Fn() -> anyhow::Result<reqwest::RequestBuilder>,
    ) -> anyhow::Result<Value> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = build()?.bearer_auth(&self.key).send().await;
            let retry = match result {
                Ok(response) if response.status().is_success() => {
                    return Ok(response.json().await?)
                }
                Ok(response) => {
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let message = body["error"]["message"]
                        .as_str()
                        .unwrap_or("no details")
                        .to_string();
                    if !(status.as_u16() == 429 || status.is_server_error()) || attempt >= ATTEMPTS
                    {
                        anyhow::bail!("{status}: {message}");
                    }
                    format!("{status}: {message}")
                }
                Err(err) if attempt < ATTEMPTS && (err.is_connect() || err.is_timeout()) => {
                    err.to_string()
                }
                Err(err) => return Err(err.into()),
            };
            let delay = Duration::from_millis(250 * (1 << attempt.min(6)));
            eprintln!("retrying in {delay:?} after {retry}");
            tokio::time::sleep(delay).await;
        }
    }

    /// Which of `hashes` the server already has (in the target collection).
    async fn present(&self, hashes: Vec<String>) -> anyhow::Result<HashSet<String>> {
        let mut found = HashSet::new();
        for batch in hashes.chunks(1000) {
            // The server files uploads without a collection under `default`; private ones it scopes itself.
            let collection = self.collection.as_deref().unwrap_or("default");
            let body = json!({ "sha256": batch, "collection": collection });
            let answer = self
                .send(|| {
                    Ok(self
                        .http
                        .post(format!("{}/v1/documents/lookup", self.server))
                        .json(&body))
                })
                .await
                .context("asking the server which files it has")?;
            // A document that failed is sent again: the server queues it anew,
            // and the report gives this run's reason.
            let stored = answer["data"].as_array().into_iter().flatten();
            for document in stored.filter(|d| d["status"] != "failed") {
                if let Some(hash) = document["sha256"].as_str() {
                    found.insert(hash.to_string());
                }
            }
        }
        Ok(found)
    }

    /// Upload one file and follow it until it is ready or failed; answers
    /// the id, whether the server already had it, and the final document.
    async fn ingest(&self, path: &Path) -> anyhow::Result<(String, bool, Value)> {
        let bytes = tokio::fs::read(path).await?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
            .to_string();
        let created = self
            .send(|| {
                let mut form = reqwest::multipart::Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone()),
                );
                if let Some(collection) = &self.collection {
                    form = form.text("collection", collection.clone());
                }
                if self.private {
                    form = form.text("visibility", "private");
                }
                Ok(self
                    .http
                    .post(format!("{}/v1/documents", self.server))
                    .multipart(form))
            })
            .await?;
        let id = created["id"]
            .as_str()
            .context("the server answered no document id")?
            .to_string();
        let duplicate = created["duplicate"] == true && created["status"] != "pending";
        let mut document = created;
        // A duplicate the server knew already needs no following.
        // The server answers when the document is done (or after 30 s).
        let follow = format!("{}/v1/documents/{id}?wait=30", self.server);
        while !matches!(document["status"].as_str(), Some("ready" | "failed")) {
            document = self.send(|| Ok(self.http.get(&follow))).await?;
        }
        Ok((id, duplicate, document))
    }
}

/// Progress bars for files, bytes and chunks.
struct Progress {
    files: ProgressBar,
    bytes: ProgressBar,
    chunks: ProgressBar,
    _multi: MultiProgress,
    quiet: bool,
}

impl Progress {
    fn new(options: &Options, files: &[(PathBuf, u64)]) -> Self {
        let target = if options.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> ")
        };
        let total_bytes: u64 = files.iter().map(|(_, b)| b).sum();
        let files_bar = multi.add(ProgressBar::new(files.len() as u64));
        files_bar.set_style(style("files  [{bar:30}] {pos}/{len} {msg}"));
        let bytes_bar = multi.add(ProgressBar::new(total_bytes));
        bytes_bar.set_style(style(
            "bytes  [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        ));
        let chunks_bar = multi.add(ProgressBar::no_length());
        chunks_bar.set_style(style("chunks {pos} indexed"));
        Self {
            files: files_bar,
            bytes: bytes_bar,
            chunks: chunks_bar,
            _multi: multi,
            quiet: options.quiet,
        }
    }

    fn skip(&self, bytes: u64) {
        self.files.inc(1);
        self.bytes.inc(bytes);
    }

    fn done(&self, report: &FileReport) {
        self.skip(report.bytes);
        self.chunks.inc(report.chunks.unwrap_or(0));
        if report.outcome == Outcome::Failed {
            self.files
                .set_message(format!("last failure: {}", report.path.display()));
        }
        if self.quiet {
            eprintln!("{:?} {}", report.outcome, report.path.display());
        }
    }

    fn finish(&self) {
        self.files.finish();
        self.bytes.finish();
        self.chunks.finish();
    }
}
