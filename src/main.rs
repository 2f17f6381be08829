//! The `ragway` command: `serve`, `migrate`, `reindex`, `keys`, `admin`, `backup`, `restore` and `migrate-store`.

use std::time::Duration;

use clap::{Parser, Subcommand};
use ragway::auth::admin;
use ragway::auth::keys::{self, Role};
use ragway::config::SettingsArgs;
use ragway::ingest::reindex;
use ragway::startup::{build_state, shutdown_signal, Application};
use ragway::store::sql;

/// jemalloc rather than the C library's malloc: LanceDB's searches allocate
/// and free short-lived buffers across threads, and it takes 1–1.5 ms off
/// the added time to first token of a RAG answer (BENCHMARKS.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ragway",
    version,
    about = "Self-hosted knowledge chat gateway for any OpenAI-compatible provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (applies migrations first).
    Serve(SettingsArgs),
    /// Apply database migrations and exit.
    Migrate(SettingsArgs),
    /// Re-embed the knowledge base with the configured embedding model (after
    /// RAGWAY_EMBED_MODEL changed). The old index keeps serving until the new
    /// one is complete; an interrupted run resumes where it stopped.
    Reindex(SettingsArgs),
    /// The admin account.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Copy the embedded stores (SQLite, LanceDB, blobs, the secret key file)
    /// into a new folder; safe while the server runs.
    Backup {
        /// The folder to create (it must be new or empty).
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Put a backup in place of the stores (stop the server first).
    Restore {
        /// A folder made by `ragway backup`.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Copy every row of one SQL database into another, e.g. a single
    /// machine's SQLite into the PostgreSQL its replicas will share (stop the
    /// server first; copy the blob and LanceDB folders to the bucket
    /// yourself, see docs/deploy.md).
    MigrateStore {
        /// The database to read, e.g. sqlite://data/ragway.db
        #[arg(long)]
        from: String,
        /// The database to fill, e.g. postgres://ragway@db/ragway (it must be empty)
        #[arg(long)]
        to: String,
        /// Replace whatever rows the target holds.
        #[arg(long)]
        force: bool,
    },
    /// Text of one upload, read from stdin (what `serve` runs in a child
    /// process with resource limits; not for people).
    #[command(name = "extract-child", hide = true)]
    ExtractChild {
        /// The upload's type, as stored (e.g. application/pdf).
        #[arg(long)]
        mime: String,
        /// Bytes a PDF's page content may inflate to.
        #[arg(long)]
        max_inflated_bytes: u64,
    },
    /// Fork extraction children on request (what `serve` runs, once per
    /// extraction slot; not for people).
    #[command(name = "extract-zygote", hide = true)]
    ExtractZygote,
    /// Built-in models (`local:…` embeddings and rerank models).
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Set the admin password without the setup page (once: it fails when
    /// one is set already). Reads the first line of the file.
    Init {
        /// A file holding the password (at least 12 characters); `-` reads stdin.
        #[arg(long)]
        password_file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Fetch models from the hub (HF_ENDPOINT names a mirror) into
    /// RAGWAY_MODELS_DIR ahead of time, for images and machines without the
    /// network; prints each model's folder.
    Pull {
        /// Hub repositories, e.g. BAAI/bge-small-zh-v1.5 [default: the
        /// built-in embeddings and rerank models the settings name].
        names: Vec<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; the key alone is printed on the last line of stdout.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Let the key manage documents as well as chat.
        #[arg(long)]
        admin: bool,
        /// Requests per rolling minute the key may make [default: no limit].
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        requests_per_minute: Option<i64>,
        /// Chat tokens per UTC day the key may use [default: no limit].
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        tokens_per_day: Option<i64>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id or display prefix.
    Revoke {
        /// The key's id, or its prefix as `keys list` shows it (e.g. sk-AbC123).
        id_or_prefix: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The extraction child: no logging, no runtime, no threads; just the parser.
    if let Command::ExtractChild {
        mime,
        max_inflated_bytes,
    } = &cli.command
    {
        std::process::exit(ragway::ingest::extract::run_child(
            mime,
            *max_inflated_bytes,
        ));
    }
    if let Command::ExtractZygote = &cli.command {
        std::process::exit(ragway::ingest::extract::zygote::run_zygote());
    }
    // Before any other thread exists (the runtime's included).
    give_lance_two_threads();
    let runtime = tokio::runtime::Runtime::new()?;
    // Inside the runtime: the OTLP exporter's task starts on it.
    let telemetry = {
        let _inside = runtime.enter();
        init_tracing()?
    };
    // Panics (a document parser's, say) are contained where they happen; log them as one line.
    std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "panic")));
    let result = runtime.block_on(run(cli));
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    // Blocking work still running (a LanceDB call) does not hold up the exit.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// LanceDB keeps two cores for I/O and gives its compute pool the rest, at
/// least one: on a machine of two or three cores, a question's vector and
/// full-text searches (and every other question's) queue on one thread.
/// Unless the operator set `LANCE_CPU_THREADS`, give that pool two.
fn give_lance_two_threads() {
    if std::env::var_os("LANCE_CPU_THREADS").is_some() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if (2..4).contains(&cpus) {
        std::env::set_var("LANCE_CPU_THREADS", "2");
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let settings = args.resolve()?;
            let app = Application::build(settings).await?;
            // Headless first start: the password from the environment, once.
            if let Ok(password) = std::env::var("RAGWAY_ADMIN_PASSWORD") {
                if admin::init(&app.state().db, &password).await? {
                    tracing::info!("the admin password was set from RAGWAY_ADMIN_PASSWORD");
                }
            }
            tracing::info!(address = %app.local_addr()?, "ragway listening");
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate(args) => {
            let settings = args.resolve()?;
            sql::connect(&settings.database_url()).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::MigrateStore { from, to, force } => {
            let copied = ragway::store::migrate::copy(&from, &to, force).await?;
            let rows: u64 = copied.iter().map(|(_, rows)| rows).sum();
            for (table, rows) in &copied {
                println!("{table}: {rows} rows");
            }
            println!("copied {rows} rows in {} tables", copied.len());
            Ok(())
        }
        Command::Reindex(args) => {
            let settings = args.resolve()?;
            let state = build_state(settings).await?;
            let outcome = reindex::run_to_end(&state, |line| eprintln!("{line}")).await;
            state.db.close().await;
            match outcome? {
                reindex::Outcome::UpToDate { model } => {
                    println!("the knowledge base is already embedded with {model}; nothing to do");
                }
                reindex::Outcome::Done { model, documents } => {
                    println!(
                        "reindexed {documents} documents with {model}; the new index is active"
                    );
                }
            }
            Ok(())
        }
        Command::Admin { command, settings } => {
            let settings = settings.resolve()?;
            let db = sql::connect(&settings.database_url()).await?;
            match command {
                AdminCommand::Init { password_file } => {
                    let text = if password_file == std::path::Path::new("-") {
                        std::io::read_to_string(std::io::stdin())?
                    } else {
                        std::fs::read_to_string(&password_file).map_err(|e| {
                            anyhow::anyhow!("reading {}: {e}", password_file.display())
                        })?
                    };
                    let password = text.lines().next().unwrap_or_default();
                    if !admin::init(&db, password).await? {
                        anyhow::bail!(
                            "the admin password is set already; change it from the admin pages"
                        );
                    }
                    println!("the admin password is set; log in at /admin");
                }
            }
            db.close().await;
            Ok(())
        }
        Command::Models {
            command: ModelsCommand::Pull { names },
            settings,
        } => {
            let settings = settings.resolve()?;
            for folder in ragway::upstream::local::pull(&settings, &names).await? {
                println!("{}", folder.display());
            }
            Ok(())
        }
        Command::Backup { to, settings } => {
            let settings = settings.resolve()?;
            ragway::backup::backup(&settings, &to).await?;
            println!("backed up to {}", to.display());
            Ok(())
        }
        Command::Restore {
            from,
            force,
            settings,
        } => {
            let settings = settings.resolve()?;
            let manifest = ragway::backup::restore(&settings, &from, force).await?;
            println!(
                "restored the backup of ragway {} into {}",
                manifest.ragway_version,
                settings.data_dir.display()
            );
            Ok(())
        }
        Command::ExtractChild { .. } | Command::ExtractZygote => {
            unreachable!("handled before the runtime starts")
        }
        Command::Keys { command, settings } => {
            let settings = settings.resolve()?;
            let db = sql::connect(&settings.database_url()).await?;
            match command {
                KeysCommand::Create {
                    name,
                    admin,
                    requests_per_minute,
                    tokens_per_day,
                } => {
                    let role = if admin { Role::Admin } else { Role::User };
                    let limits = keys::KeyLimits {
                        requests_per_minute,
                        tokens_per_day,
                    };
                    let key = keys::create_expiring(&db, &name, role, None, limits).await?;
                    println!(
                        "created {} key {:?} (id {}); it is shown only once:",
                        if admin { "admin" } else { "user" },
                        key.info.name,
                        key.info.id
                    );
                    println!("{}", key.secret);
                }
                KeysCommand::List => {
                    println!(
                        "{:<36}  {:<9}  {:<5}  {:<7}  NAME",
                        "ID", "PREFIX", "ROLE", "STATE"
                    );
                    for key in keys::list(&db).await? {
                        let state = if key.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        let role = if key.role == Role::Admin {
                            "admin"
                        } else {
                            "user"
                        };
                        println!(
                            "{:<36}  {:<9}  {:<5}  {:<7}  {}",
                            key.id, key.prefix, role, state, key.name
                        );
                    }
                }
                KeysCommand::Revoke { id_or_prefix } => {
                    let key = keys::revoke(&db, &id_or_prefix).await?;
                    println!("revoked key {} ({})", key.prefix, key.name);
                }
            }
            db.close().await;
            Ok(())
        }
    }
}

/// The log on stderr (`RUST_LOG`, `RAGWAY_LOG_FORMAT`), and with
/// `RAGWAY_OTLP_ENDPOINT` a trace per request to that collector (its own
/// filter: ragway's spans at info, whatever the log shows).
fn init_tracing() -> anyhow::Result<Option<ragway::telemetry::Telemetry>> {
    use anyhow::Context as _;
    use tracing_subscriber::filter::EnvFilter;
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,lance=warn,lancedb=warn,lance_core=warn,sqlx=warn")
    });
    // RAGWAY_LOG_FORMAT=json: one JSON object a line (for log shippers),
    // with the request's span (its id, method and path) in each.
    let json = std::env::var("RAGWAY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = if json {
        log.json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed()
    };
    let endpoint = std::env::var("RAGWAY_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let (otlp, telemetry) = match endpoint {
        Some(endpoint) => {
            let (layer, telemetry) = ragway::telemetry::otlp_layer(&endpoint)
                .with_context(|| format!("RAGWAY_OTLP_ENDPOINT={endpoint}"))?;
            // ragway's spans (the request's, and inside it retrieval,
            // embeddings and upstream, which are at debug level so that the
            // log's lines keep the request's span), and its events at info.
            let spans = tracing_subscriber::filter::filter_fn(|meta| {
                meta.target().starts_with("ragway")
                    && (meta.is_span() || *meta.level() <= tracing::Level::INFO)
            });
            (Some(layer.with_filter(spans)), Some(telemetry))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(log.with_filter(filter))
        .with(otlp)
        .init();
    Ok(telemetry)
}
