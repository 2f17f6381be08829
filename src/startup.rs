//! Building the state, binding the listener (port 0 in tests) and shutting down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::client_ip::ClientIps;
use crate::auth::secrets::Secrets;
use crate::config::Settings;
use crate::ingest;
use crate::runtime::Runtime;
use crate::state::{App, AppState};
use crate::store::blobs::BlobStore;
use crate::store::s3::S3Options;
use crate::store::vectors::VectorStore;
use crate::store::{indexes, leases, sql};
use crate::upstream::{providers, Upstreams};
use crate::usage::Recorder;

/// How long shutdown waits for background work before giving up on it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Open the stores, apply migrations and bind the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listen = settings.listen.clone();
        let state = build_state(settings).await?;
        let listener = TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        Ok(Self { listener, state })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state, for tests and tools that run beside the server.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Start the ingest workers and serve until `stop` resolves, then finish
    /// in-flight requests and background work.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        ingest::worker::start(&state).await?;
        crate::upstream::local::preload(&state.upstreams, &state.tasks);
        keep_admin_changes_loaded(&state);
        sweep_orphans_now_and_then(&state);
        hold_upkeep_lease(&state);
        crate::usage::start_writer(
            &state.request_log,
            &state.db,
            state.settings.log_retention_days,
        );
        state.saver.start_writer(&state.db);
        let token = state.shutdown.clone();
        let router = crate::http::router(state.clone());
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = crate::http::server::Limits::from_settings(&state.settings);
        let serve = crate::http::server::serve(self.listener, router, limits, async move {
            stop.await;
            token.cancel();
            let _ = stopping.send(());
        });
        // In-flight requests (long answer streams among them) may finish
        // within the grace period; after it they are cut off.
        let grace = Duration::from_secs(state.settings.shutdown_grace_secs);
        let cut_off = async move {
            if stopped.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = serve => served.context("serving HTTP")?,
            _ = cut_off => tracing::warn!(
                "requests still running after the {grace:?} shutdown grace period were cut off"
            ),
        }
        // Every request has ended: store the last saves and log rows.
        state.saver.flush().await;
        state.request_log.flush().await;
        state.shutdown.cancel();
        state.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not finish within {SHUTDOWN_GRACE:?}");
        }
        state.db.close().await;
        Ok(())
    }
}

/// Open the stores and apply migrations: the state of a server, or of a
/// one-off command such as `ragway reindex`.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let db = sql::connect(&settings.database_url()).await?;
    let s3 = S3Options::from_settings(&settings);
    let vectors = VectorStore::open_with(&settings.vector_url(), &s3)
        .await
        .with_context(|| format!("opening the vector store at {}", settings.vector_url()))?;
    let blobs = BlobStore::open(&settings.blob_url(), &s3)?;
    let upstreams = Upstreams::from_settings(&settings)?;
    let secrets = Secrets::load(&settings).context("loading the server's secret key")?;
    let runtime = std::sync::RwLock::new(Arc::new(Runtime::from_settings(&settings)));
    let client_ips = ClientIps::from_settings(&settings)?;
    let login_guard = crate::auth::admin::LoginGuard::new(settings.login_concurrency);
    let extractor = crate::ingest::extract::Extractor::from_settings(&settings)?;
    let log_queue = settings.log_queue;
    let state = AppState(Arc::new(App {
        settings,
        runtime,
        db,
        vectors,
        blobs,
        upstreams,
        secrets,
        instance: uuid::Uuid::new_v4().simple().to_string(),
        ingest_wakeup: Notify::new(),
        ingest_events: tokio::sync::broadcast::channel(1024).0,
        extractor,
        login_guard,
        client_ips,
        request_log: Recorder::new(log_queue),
        quotas: Default::default(),
        metrics: Default::default(),
        started: std::time::Instant::now(),
        known_models: crate::chat::models::KnownModels::new(crate::chat::models::MODELS_KEPT),
        known_catalog: Default::default(),
        saver: Default::default(),
        tasks: TaskTracker::new(),
        shutdown: CancellationToken::new(),
    }));
    providers::load(state.providers())
        .await
        .context("reading the providers saved through the admin")?;
    state
        .reload_runtime()
        .await
        .context("reading the settings saved through the admin")?;
    Ok(state)
}

/// Read what the admin saves (providers, settings) again every
/// [`providers::RELOAD_EVERY`] until shutdown: a change made through
/// another replica reaches this one within that time.
fn keep_admin_changes_loaded(state: &AppState) {
    let state = state.clone();
    let tracker = state.tasks.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(providers::RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(err) = providers::load(state.providers()).await {
                        tracing::warn!(error = %err, "could not read the saved providers");
                    }
                    if let Err(err) = state.reload_runtime().await {
                        tracing::warn!(error = %err, "could not read the saved settings");
                    }
                }
            }
        }
    });
}

/// How often chunks of deleted documents are looked for (and once at start).
const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);

/// Remove chunks whose document is gone, at start and every [`SWEEP_EVERY`].
fn sweep_orphans_now_and_then(state: &AppState) {
    let state = state.clone();
    let tracker = state.tasks.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(err) = ingest::documents::sweep_orphans(state.stores()).await {
                        tracing::warn!(error = %err, "looking for chunks of deleted documents failed");
                    }
                }
            }
        }
    });
}

/// How long the vector upkeep lease lasts unrenewed: a replica that dies
/// holding it is replaced by another within this.
const UPKEEP_LEASE: Duration = Duration::from_secs(30);

/// Ask for (or renew) the upkeep lease every [`providers::RELOAD_EVERY`]:
/// only its holder compacts the vector tables and maintains their indexes,
/// including for rows other replicas wrote; the others only read and write
/// rows. Given back on shutdown.
fn hold_upkeep_lease(state: &AppState) {
    let state = state.clone();
    let tracker = state.tasks.clone();
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(providers::RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut held = false;
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let now_held = leases::hold(&state.db, leases::VECTOR_UPKEEP, &state.instance, UPKEEP_LEASE)
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "renewing the vector upkeep lease failed");
                    false
                });
            if now_held != held {
                tracing::info!(held = now_held, "vector upkeep lease");
                held = now_held;
            }
            state.vectors.allow_upkeep(held);
            if !held {
                continue;
            }
            let live = indexes::live(&state.db).await.unwrap_or_default();
            for index in live {
                if let Err(err) = state.vectors.upkeep_if_changed(&index.table_name).await {
                    tracing::warn!(table = %index.table_name, error = %err, "starting the vector upkeep failed");
                }
            }
        }
        if held {
            if let Err(err) = leases::release(&state.db, leases::VECTOR_UPKEEP, &state.instance).await {
                tracing::warn!(error = %err, "giving back the vector upkeep lease failed");
            }
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
