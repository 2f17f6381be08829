//! Bootstrap settings: built-in defaults < `ragway.toml` < `RAGWAY_*` environment < command-line flags.
//!
//! Every setting has one name in three spellings: the flag `--chat-base-url`, the
//! environment variable `RAGWAY_CHAT_BASE_URL` and the `ragway.toml` key
//! `chat_base_url` (`DATABASE_URL` keeps its conventional unprefixed name).

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

mod args;

pub use args::SettingsArgs;

/// The public model name clients see when nothing else is configured.
pub const DEFAULT_PUBLIC_MODEL: &str = "ragway";
/// The embedding model used when none is configured.
pub const DEFAULT_EMBED_MODEL: &str = "BAAI/bge-large-zh-v1.5";
/// The image model used when none is configured.
pub const DEFAULT_IMAGE_MODEL: &str = "Kwai-Kolors/Kolors";
/// The rerank model used when none is configured.
pub const DEFAULT_RERANK_MODEL: &str = "BAAI/bge-reranker-v2-m3";

/// How the vector and full-text searches' rankings are fused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// Each search's scores normalised over the candidates, then combined
    /// half and half (weighs each search by how sure it is).
    #[default]
    Convex,
    /// Reciprocal rank fusion (k = 60): places only.
    Rrf,
}

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
    #[serde(skip_serializing)]
    pub chat_api_key: Option<SecretString>,
    pub chat_model: Option<String>,
    /// Embeddings upstream.
    pub embed_base_url: Option<String>,
    #[serde(skip_serializing)]
    pub embed_api_key: Option<SecretString>,
    pub embed_model: String,
    /// Image upstream.
    pub image_base_url: Option<String>,
    #[serde(skip_serializing)]
    pub image_api_key: Option<SecretString>,
    pub image_model: String,
    /// Size of generated images, `WIDTHxHEIGHT`.
    pub image_size: String,
    /// Messages starting with one of these go to the image upstream (where the model allows drawing).
    pub draw_triggers: Vec<String>,
    /// Rerank upstream (optional).
    pub rerank_base_url: Option<String>,
    #[serde(skip_serializing)]
    pub rerank_api_key: Option<SecretString>,
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
    #[serde(skip_serializing)]
    pub secret_key: Option<SecretString>,
    /// The model name clients send and see.
    pub public_model: String,
    /// Chunks put into the prompt per question.
    pub top_k: usize,
    /// Neighbouring chunks on each side joined to every source's passage for the model.
    pub source_window: usize,
    /// How the two searches' rankings are fused.
    pub fusion: Fusion,
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
            source_window: 1,
            fusion: Fusion::default(),
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

/// The store reads its S3 settings through this, without knowing `Settings`.
impl crate::store::s3::S3Config for Settings {
    fn s3_endpoint(&self) -> Option<&str> {
        self.s3_endpoint.as_deref()
    }
    fn s3_region(&self) -> Option<&str> {
        self.s3_region.as_deref()
    }
    fn s3_path_style(&self) -> Option<bool> {
        self.s3_path_style
    }
    fn s3_allow_http(&self) -> Option<bool> {
        self.s3_allow_http
    }
}

impl Settings {
    fn validate(&self) -> anyhow::Result<()> {
        self.listen.parse::<SocketAddr>().map_err(|e| {
            anyhow::anyhow!("RAGWAY_LISTEN={:?} is not host:port: {e}", self.listen)
        })?;
        anyhow::ensure!(self.top_k > 0, "RAGWAY_TOP_K must be at least 1");
        anyhow::ensure!(
            self.source_window <= 4,
            "RAGWAY_SOURCE_WINDOW must be between 0 and 4"
        );
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
            http::HeaderName::from_bytes(self.client_ip_header.trim().as_bytes()).is_ok(),
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
    fn secrets_reach_the_settings_but_never_their_debug_output() {
        use secrecy::ExposeSecret;
        let args = SettingsArgs {
            config: "ragway.toml".into(),
            chat_api_key: Some("sk-chat-secret-1".into()),
            secret_key: Some("c2VjcmV0LXNlcnZlci1rZXk=".into()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        let key = s.chat_api_key.as_ref().map(ExposeSecret::expose_secret);
        assert_eq!(key, Some("sk-chat-secret-1"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-chat-secret-1"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    /// docs/settings.md's table names every setting `ragway serve --help`
    /// lists, by its environment variable (a row may name several of one
    /// family: "`RAGWAY_CHAT_BASE_URL`, `_API_KEY`, `_MODEL`").
    #[test]
    fn the_settings_page_lists_every_setting() {
        use clap::Args;
        let page = include_str!("../docs/settings.md");
        let command = SettingsArgs::augment_args(clap::Command::new("serve"));
        let mut missing = Vec::new();
        for arg in command.get_arguments() {
            let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            let listed = page.contains(&format!("`{env}`"))
                || env.match_indices('_').any(|(at, _)| {
                    let (family, rest) = env.split_at(at);
                    page.lines().any(|line| {
                        line.contains(&format!("`{family}_")) && line.contains(&format!("`{rest}`"))
                    })
                });
            if !listed {
                missing.push(env.to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "docs/settings.md does not list {missing:?}"
        );
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
