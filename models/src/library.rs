//! The models a server uses, each fetched and loaded once and shared, and
//! the threads they run on: inference is CPU work of tens to hundreds of
//! milliseconds a batch, so it runs on a fixed few threads of its own
//! ([`Runners`]), one batch at a time each, never on the async runtime's.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::OnceCell;

use crate::hub::{self, HubOptions, Progress};
use crate::runners::Runners;
use crate::{Embedder, ModelError, Reranker, Result, Source};

/// Texts handed to the model a turn: a question waits behind at most
/// one such batch of each ingest under way.
const PER_TURN: usize = 32;

/// After a failed fetch or load, calls fail at once for this long instead of
/// each trying again (an unreachable hub would otherwise cost every upload
/// a connect timeout).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// How a [`Library`] finds and runs its models.
#[derive(Debug, Clone)]
pub struct LibraryOptions {
    /// Where hub models are kept (`<data>/models`).
    pub models_dir: PathBuf,
    /// The hub (or mirror) they are fetched from.
    pub hub: HubOptions,
    /// Batches run at once (each uses every core for its matrix products).
    pub concurrent_runs: usize,
    /// Whether a hub model missing from `models_dir` may be fetched.
    pub allow_fetch: bool,
}

/// Where a model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    Fetching,
    Loading,
    Ready,
    Failed,
}

/// A model's state, for `/health` and the logs.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    /// `local:…`, as configured.
    pub name: String,
    /// `embeddings` or `rerank`.
    pub role: &'static str,
    pub state: ModelState,
    /// The file being fetched, and how far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_done: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_total: Option<u64>,
    /// The vectors' width, once loaded (embeddings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dims: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

type Cell<T> = Arc<OnceCell<Arc<T>>>;

/// Loaded models, shared by every request.
pub struct Library {
    options: LibraryOptions,
    runners: std::sync::OnceLock<Runners>,
    embedders: Mutex<HashMap<String, Cell<Embedder>>>,
    rerankers: Mutex<HashMap<String, Cell<Reranker>>>,
    status: Mutex<BTreeMap<String, ModelStatus>>,
    failed_at: Mutex<HashMap<String, (Instant, String)>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("models_dir", &self.options.models_dir)
            .field("models", &self.statuses())
            .finish_non_exhaustive()
    }
}

impl Library {
    /// A library with nothing loaded yet.
    pub fn new(options: LibraryOptions) -> Self {
        Self {
            runners: std::sync::OnceLock::new(),
            options,
            embedders: Mutex::default(),
            rerankers: Mutex::default(),
            status: Mutex::default(),
            failed_at: Mutex::default(),
        }
    }

    /// The state of every model asked for so far.
    pub fn statuses(&self) -> Vec<ModelStatus> {
        self.status
            .lock()
            .expect("status lock")
            .values()
            .cloned()
            .collect()
    }

    /// Unit vectors of `texts` with embedding model `name` (`local:…`),
    /// fetched and loaded on first use; `query` marks questions.
    pub async fn embed(&self, name: &str, texts: &[String], query: bool) -> Result<Vec<Vec<f32>>> {
        let model = self.embedder(name).await?;
        // Texts of like length in the same batches (less padding), across
        // the whole call, not only within each turn.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for group in order.chunks(PER_TURN) {
            let model = model.clone();
            let inputs: Vec<String> = group.iter().map(|&i| texts[i].clone()).collect();
            let part = self.run(move || model.embed(&inputs, query)).await?;
            for (&i, vector) in group.iter().zip(part) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    /// Relevance in 0..1 of each passage to `query` with cross-encoder `name`.
    pub async fn rerank(&self, name: &str, query: &str, passages: &[String]) -> Result<Vec<f32>> {
        let model = self.reranker(name).await?;
        let mut scores = Vec::with_capacity(passages.len());
        for group in passages.chunks(PER_TURN) {
            let model = model.clone();
            let query = query.to_string();
            let group = group.to_vec();
            let part = self
                .run(move || {
                    let refs: Vec<&str> = group.iter().map(String::as_str).collect();
                    model.score(&query, &refs)
                })
                .await?;
            scores.extend(part);
        }
        Ok(scores)
    }

    /// Embedding model `name`, loaded (and fetched) if it is not yet.
    pub async fn embedder(&self, name: &str) -> Result<Arc<Embedder>> {
        let cell = cell(&self.embedders, name);
        cell.get_or_try_init(|| async {
            let source = Source::parse(name)?;
            let dir = self.ready_folder(name, "embeddings", &source).await?;
            let label = source.name();
            let model = self
                .load(name, "embeddings", move || Embedder::load(&dir, &label))
                .await?;
            self.set(name, "embeddings", |s| {
                s.state = ModelState::Ready;
                s.dims = Some(model.dims());
            });
            tracing::info!(model = %name, dims = model.dims(), pooling = ?model.pooling(), max_tokens = model.max_tokens(), "local embedding model ready");
            Ok(model)
        })
        .await
        .cloned()
    }

    /// Cross-encoder `name`, loaded (and fetched) if it is not yet.
    pub async fn reranker(&self, name: &str) -> Result<Arc<Reranker>> {
        let cell = cell(&self.rerankers, name);
        cell.get_or_try_init(|| async {
            let source = Source::parse(name)?;
            let dir = self.ready_folder(name, "rerank", &source).await?;
            let model = self
                .load(name, "rerank", move || Reranker::load(&dir))
                .await?;
            self.set(name, "rerank", |s| s.state = ModelState::Ready);
            tracing::info!(model = %name, "local rerank model ready");
            Ok(model)
        })
        .await
        .cloned()
    }

    /// Fetch hub model `name` into the models folder if it is not there
    /// (`ragway models pull`); answers its folder.
    pub async fn pull(&self, name: &str) -> Result<PathBuf> {
        let source = Source::parse(name)?;
        self.ready_folder(name, "embeddings", &source).await
    }

    async fn ready_folder(
        &self,
        name: &str,
        role: &'static str,
        source: &Source,
    ) -> Result<PathBuf> {
        if let Some((at, why)) = self.failed_at.lock().expect("failed lock").get(name) {
            if at.elapsed() < RETRY_AFTER {
                return Err(ModelError::Download(why.clone()));
            }
        }
        let dir = source.folder(&self.options.models_dir);
        if hub::is_complete(&dir) {
            return Ok(dir);
        }
        let repo = match source {
            Source::Folder(_) => {
                let err = ModelError::Files(format!(
                    "the model folder {} needs config.json, tokenizer.json and model.safetensors",
                    dir.display()
                ));
                return Err(self.failed(name, role, err));
            }
            Source::Hub(repo) => repo,
        };
        if !self.options.allow_fetch {
            let err = ModelError::Files(format!(
                "{name} is not in {} and fetching models is off: run `ragway models pull {}` where the hub is reachable, or copy its files there",
                dir.display(),
                source.name()
            ));
            return Err(self.failed(name, role, err));
        }
        self.set(name, role, |s| s.state = ModelState::Fetching);
        tracing::info!(model = %name, endpoint = %self.options.hub.endpoint, folder = %dir.display(), "fetching a local model");
        let report = |p: Progress| {
            tracing::info!(model = %name, file = %p.file, bytes = p.done, total = p.total, "fetching");
            self.set(name, role, |s| {
                s.file = Some(p.file.clone());
                s.bytes_done = Some(p.done);
                s.bytes_total = p.total;
            });
        };
        match hub::fetch(&self.options.hub, repo, &dir, &report).await {
            Ok(()) => Ok(dir),
            Err(err) => Err(self.failed(name, role, err)),
        }
    }

    async fn load<T: Send + Sync + 'static>(
        &self,
        name: &str,
        role: &'static str,
        load: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<Arc<T>> {
        self.set(name, role, |s| s.state = ModelState::Loading);
        match tokio::task::spawn_blocking(load).await {
            Ok(Ok(model)) => Ok(Arc::new(model)),
            Ok(Err(err)) => Err(self.failed(name, role, err)),
            Err(join) => Err(self.failed(
                name,
                role,
                ModelError::Files(format!("loading panicked: {join}")),
            )),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let runners = self
            .runners
            .get_or_init(|| Runners::new(self.options.concurrent_runs));
        runners
            .run(work)
            .await
            .ok_or_else(|| ModelError::Files("inference panicked".into()))?
    }

    fn failed(&self, name: &str, role: &'static str, err: ModelError) -> ModelError {
        let why = err.to_string();
        tracing::error!(model = %name, error = %why, "a local model is unusable");
        self.set(name, role, |s| {
            s.state = ModelState::Failed;
            s.error = Some(why.clone());
        });
        self.failed_at
            .lock()
            .expect("failed lock")
            .insert(name.to_string(), (Instant::now(), why));
        err
    }

    fn set(&self, name: &str, role: &'static str, change: impl FnOnce(&mut ModelStatus)) {
        let mut all = self.status.lock().expect("status lock");
        let status = all.entry(name.to_string()).or_insert_with(|| ModelStatus {
            name: name.to_string(),
            role,
            state: ModelState::Loading,
            file: None,
            bytes_done: None,
            bytes_total: None,
            dims: None,
            error: None,
        });
        change(status);
        if status.state != ModelState::Failed {
            status.error = None;
        }
    }

    /// The models folder.
    pub fn models_dir(&self) -> &Path {
        &self.options.models_dir
    }
}

fn cell<T>(cells: &Mutex<HashMap<String, Cell<T>>>, name: &str) -> Cell<T> {
    cells
        .lock()
        .expect("cells lock")
        .entry(name.to_string())
        .or_default()
        .clone()
}
