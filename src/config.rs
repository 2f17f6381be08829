//! Bootstrap settings: built-in defaults < `ragway.toml` < `RAGWAY_*` environment < command-line flags.
//!
//! Every setting has one name in three spellings: the flag `--chat-base-url`, the
//! environment variable `RAGWAY_CHAT_BASE_URL` and the `ragway.toml` key
//! `chat_base_url` (`DATABASE_URL` keeps its conventional unprefixed name).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod args;
mod declare;
mod fields;

pub use fields::{Settings, SettingsArgs};

/// The public model name clients see when nothing else is configured.
pub const DEFAULT_PUBLIC_MODEL: &str = "ragway";
/// The embedding model used when none is configured.
pub const DEFAULT_EMBED_MODEL: &str = "BAAI/bge-large-zh-v1.5";
/// The embedding model used when neither a model nor an embeddings
/// upstream is configured: built in, 24M parameters (95 MB), 512
/// dimensions, Chinese first and fair on English, quick on a laptop's CPU.
pub const DEFAULT_LOCAL_EMBED_MODEL: &str = "local:BAAI/bge-small-zh-v1.5";
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

    /// The embeddings model: the configured one, else a provider's default
    /// when an embeddings upstream is set, else the built-in default.
    pub fn embed_model_name(&self) -> String {
        match (&self.embed_model, &self.embed_base_url) {
            (Some(model), _) if !model.trim().is_empty() => model.trim().to_string(),
            (_, Some(_)) => DEFAULT_EMBED_MODEL.to_string(),
            _ => DEFAULT_LOCAL_EMBED_MODEL.to_string(),
        }
    }

    /// Where built-in models are kept.
    pub fn models_dir(&self) -> PathBuf {
        absolute(
            &self
                .models_dir
                .clone()
                .unwrap_or_else(|| self.data_dir.join("models")),
        )
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
        assert_eq!(s.embed_model_name(), DEFAULT_LOCAL_EMBED_MODEL);
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
