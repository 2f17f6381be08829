//! The shared state every handler and background task sees.

use std::ops::Deref;
use std::sync::{Arc, RwLock};

use sqlx::AnyPool;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::admin::LoginGuard;
use crate::auth::secrets::Secrets;
use crate::config::Settings;
// Where tests and older code name it; it is the domain's.
use crate::auth::client_ip::ClientIps;
pub use crate::domain::IngestEvent;
use crate::runtime::Runtime;
use crate::store::blobs::BlobStore;
use crate::store::vectors::VectorStore;
use crate::upstream::Upstreams;
use crate::usage::quota::Quotas;
use crate::usage::Recorder;

/// Everything a running server holds; reached through [`AppState`].
#[derive(Debug)]
pub struct App {
    pub settings: Settings,
    /// The settings the admin changes while it runs (see [`App::runtime`]).
    pub runtime: RwLock<Arc<Runtime>>,
    pub db: AnyPool,
    pub vectors: VectorStore,
    pub blobs: BlobStore,
    pub upstreams: Upstreams,
    /// Seals and opens the upstream keys saved through the admin.
    pub secrets: Secrets,
    /// This process's name on the job leases it holds.
    pub instance: String,
    /// Woken whenever a document is queued, so idle ingest workers pick it up at once.
    pub ingest_wakeup: Notify,
    /// Every document status change, for whoever listens (tests, progress views).
    pub ingest_events: broadcast::Sender<IngestEvent>,
    /// Runs text extraction in child processes with resource limits.
    pub extractor: crate::ingest::extract::Extractor,
    /// Failed admin logins per client address.
    pub login_guard: LoginGuard,
    /// Whose word is taken for the client's address (trusted proxies).
    pub client_ips: ClientIps,
    /// The request log's queue (see [`crate::usage`]).
    pub request_log: Recorder,
    /// Per-key request counts for the per-minute limits.
    pub quotas: Quotas,
    /// Counters and histograms for `/metrics`.
    pub metrics: crate::usage::metrics::Metrics,
    /// When this process started (for `/health`'s uptime).
    pub started: std::time::Instant,
    /// The models read lately (see [`crate::known`]).
    pub known_models: crate::chat::models::KnownModels,
    /// The retrieval catalog read lately (see [`crate::retrieval::KnownCatalog`]).
    pub known_catalog: crate::retrieval::KnownCatalog,
    /// Stores the exchanges, group-committed, and keeps the keys' stored
    /// bytes (see [`crate::chat::conversations::Saver`]).
    pub saver: crate::chat::conversations::Saver,
    /// Background work; shutdown waits for it.
    pub tasks: TaskTracker,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

impl App {
    /// The runtime settings in force (cheap: one shared pointer).
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.read().expect("runtime lock").clone()
    }

    /// The parts retrieval uses.
    pub fn retriever(&self) -> crate::retrieval::Retriever<'_> {
        crate::retrieval::Retriever {
            vectors: &self.vectors,
            upstreams: &self.upstreams,
            settings: &self.settings,
        }
    }

    /// The parts the model functions use.
    pub fn models(&self) -> crate::chat::models::Models<'_> {
        crate::chat::models::Models {
            db: &self.db,
            public_model: &self.settings.public_model,
            upstreams: &self.upstreams,
            known: &self.known_models,
        }
    }

    /// Read the settings saved through the admin again and use them.
    pub async fn reload_runtime(&self) -> crate::error::AppResult<()> {
        let runtime = crate::runtime::resolve(&self.db, &self.settings).await?;
        self.set_runtime(runtime);
        Ok(())
    }

    /// The parts the provider functions use.
    pub fn providers(&self) -> crate::upstream::providers::Providers<'_> {
        crate::upstream::providers::Providers {
            db: &self.db,
            secrets: &self.secrets,
            upstreams: &self.upstreams,
        }
    }

    /// The three stores together.
    pub fn stores(&self) -> crate::store::Stores<'_> {
        crate::store::Stores {
            db: &self.db,
            vectors: &self.vectors,
            blobs: &self.blobs,
        }
    }

    /// The parts that embed and index chunks.
    pub fn indexer(&self) -> crate::ingest::worker::Indexer<'_> {
        crate::ingest::worker::Indexer {
            stores: self.stores(),
            embeddings: &self.upstreams.embeddings,
            settings: &self.settings,
        }
    }

    /// Use `runtime` from now on.
    pub fn set_runtime(&self, runtime: Runtime) {
        *self.runtime.write().expect("runtime lock") = Arc::new(runtime);
    }
}

/// Cheap, cloneable handle on [`App`], the axum state type.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
