//! OpenAI-compatible upstreams: chat, embeddings, images and rerank, each a base URL,
//! an optional key and a model.
//!
//! Upstream failures are an [`error::UpstreamError`], which decides in one
//! place the status that tells the caller whose fault it is: 429 stays 429,
//! a rejected upstream key or an unknown upstream model is ragway's
//! configuration (502), a 5xx is 502, a timeout is 504.
//!
//! Each upstream's keys form a [`pool::Pool`]: calls go round-robin to the
//! keys usable now; a call that meets a 429, a refused key, a 5xx, a
//! connection error or a timeout before the first byte is tried again on
//! another key (`attempts`: only the slow failures count against
//! `RAGWAY_UPSTREAM_ATTEMPTS`).

mod attempts;
mod base_url;
pub mod bounded;
mod embeddings;
pub mod error;
pub use embeddings::{EmbedOptions, Embedded, InputType};
mod images;
pub mod local;
pub mod pool;
pub mod providers;
mod rerank;
pub use rerank::Ranked;
mod retry;

pub use self::error::UpstreamError;
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::attempts::Failed;
use self::pool::Pool;
use crate::config::Settings;
use crate::error::{AppError, AppResult};
use crate::usage::LogHandle;

pub use self::base_url::normalize_base_url;
pub use self::retry::RetryPolicy;

/// Which upstream, for messages and for the names of its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Chat,
    Embeddings,
    Images,
    Rerank,
}

impl Role {
    /// Every role, in the order people see them.
    pub const ALL: [Role; 4] = [Role::Chat, Role::Embeddings, Role::Images, Role::Rerank];

    /// The role named `name` (`chat`, `embeddings`, `images`, `rerank`).
    pub fn parse(name: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    fn env_prefix(self) -> &'static str {
        match self {
            Role::Chat => "RAGWAY_CHAT",
            Role::Embeddings => "RAGWAY_EMBED",
            Role::Images => "RAGWAY_IMAGE",
            Role::Rerank => "RAGWAY_RERANK",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Chat => "chat",
            Role::Embeddings => "embeddings",
            Role::Images => "images",
            Role::Rerank => "rerank",
        }
    }
}

/// Where an upstream is and how it is called. Replaced whole when an admin
/// saves the provider, so a request sees one consistent endpoint.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL ending in the API version (`…/v1`), without a trailing slash.
    pub base_url: Option<String>,
    /// The key, or several separated by commas (a pool).
    pub api_key: Option<String>,
    pub model: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "…"))
            .field("model", &self.model)
            .finish()
    }
}

impl Endpoint {
    /// An endpoint from settings as people type them: blanks are unset, the
    /// base URL gets its `/v1`.
    pub fn new(base_url: Option<&str>, api_key: Option<&str>, model: Option<&str>) -> Self {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        Self {
            base_url: given(base_url).map(normalize_base_url),
            api_key: given(api_key).and_then(|keys| {
                let keys = split_keys(keys);
                (!keys.is_empty()).then(|| keys.join(","))
            }),
            model: given(model).map(str::to_string),
        }
    }

    /// The keys of the pool, in order (none for a keyless upstream).
    pub fn keys(&self) -> Vec<String> {
        self.api_key.as_deref().map(split_keys).unwrap_or_default()
    }
}

/// Keys as people list them: separated by commas, spaces or new lines.
pub fn split_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if !key.is_empty() && !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }
    keys
}

/// One configured (or not) upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    role: Role,
    endpoint: Arc<RwLock<Arc<Endpoint>>>,
    /// What the settings (environment, file, flags) gave: used again when an
    /// admin's saved provider is removed.
    configured: Arc<Endpoint>,
    http: reqwest::Client,
    /// The whole of a call that is read at once.
    timeout: Duration,
    /// Until the response head (the first byte of a stream).
    first_byte: Duration,
    /// Between two pieces of a stream.
    idle: Duration,
    /// Attempts per call, each on another key.
    attempts: usize,
    /// The keys and their states.
    pool: Arc<Pool>,
    /// Downloads of image links: redirects within the link's host only.
    downloads: reqwest::Client,
    /// The largest image downloaded (`RAGWAY_IMAGE_DOWNLOAD_MAX_BYTES`).
    image_max_bytes: usize,
    /// Bytes read of one answer, whole or streamed (`RAGWAY_UPSTREAM_MAX_ANSWER_BYTES`).
    max_answer_bytes: usize,
    /// The built-in models, for a model named `local:…`.
    local: Arc<ragway_models::Library>,
    /// Set once the upstream refused base64 embeddings: floats from then on.
    floats_only: Arc<AtomicBool>,
}

/// The endpoint of an upstream that is ready to call: base URL and model set.
#[derive(Debug, Clone)]
pub struct Ready(Arc<Endpoint>);

impl Ready {
    pub fn base_url(&self) -> &str {
        self.0.base_url.as_deref().unwrap_or_default()
    }

    pub fn model(&self) -> &str {
        self.0.model.as_deref().unwrap_or_default()
    }
}

/// The upstreams of a running server.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub chat: Upstream,
    pub embeddings: Upstream,
    pub images: Upstream,
    pub rerank: Upstream,
}

impl Upstreams {
    /// Build all upstreams from the settings, sharing one HTTP connection pool.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(settings.upstream_connect_timeout_secs))
            .tcp_nodelay(true)
            .user_agent(concat!("ragway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let downloads = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(settings.upstream_connect_timeout_secs))
            .redirect(images::same_host_redirects())
            .user_agent(concat!("ragway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let timeout = Duration::from_secs(settings.upstream_timeout_secs);
        let first_byte = Duration::from_secs(
            settings
                .upstream_first_byte_timeout_secs
                .unwrap_or(settings.upstream_timeout_secs),
        );
        let idle = Duration::from_secs(
            settings
                .upstream_idle_timeout_secs
                .unwrap_or(settings.upstream_timeout_secs),
        );
        let cooldown = Duration::from_secs(settings.upstream_cooldown_secs);
        let local = local::library(settings);
        let embed_model = settings.embed_model_name();
        let make =
            |role, base: &Option<String>, key: &Option<SecretString>, model: Option<&str>| {
                let key = key.as_ref().map(ExposeSecret::expose_secret);
                let configured = Arc::new(Endpoint::new(base.as_deref(), key, model));
                Upstream {
                    role,
                    endpoint: Arc::new(RwLock::new(configured.clone())),
                    pool: Arc::new(Pool::new(&configured.keys(), cooldown)),
                    configured,
                    http: http.clone(),
                    downloads: downloads.clone(),
                    image_max_bytes: settings.image_download_max_bytes,
                    max_answer_bytes: settings.upstream_max_answer_bytes,
                    timeout,
                    first_byte,
                    idle,
                    attempts: settings.upstream_attempts.max(1) as usize,
                    floats_only: Arc::default(),
                    local: local.clone(),
                }
            };
        Ok(Self {
            chat: make(
                Role::Chat,
                &settings.chat_base_url,
                &settings.chat_api_key,
                settings.chat_model.as_deref(),
            ),
            embeddings: make(
                Role::Embeddings,
                &settings.embed_base_url,
                &settings.embed_api_key,
                Some(&embed_model),
            ),
            images: make(
                Role::Images,
                &settings.image_base_url,
                &settings.image_api_key,
                Some(&settings.image_model),
            ),
            rerank: make(
                Role::Rerank,
                &settings.rerank_base_url,
                &settings.rerank_api_key,
                Some(&settings.rerank_model),
            ),
        })
    }

    /// The embedding model new vectors are made with.
    pub fn embed_model(&self) -> String {
        self.embeddings
            .model()
            .unwrap_or_else(|| crate::config::DEFAULT_EMBED_MODEL.into())
    }

    /// The upstream of `role`.
    pub fn get(&self, role: Role) -> &Upstream {
        match role {
            Role::Chat => &self.chat,
            Role::Embeddings => &self.embeddings,
            Role::Images => &self.images,
            Role::Rerank => &self.rerank,
        }
    }
}

impl Upstream {
    pub fn role(&self) -> Role {
        self.role
    }

    /// The endpoint calls go to now.
    pub fn endpoint(&self) -> Arc<Endpoint> {
        self.endpoint.read().expect("endpoint lock").clone()
    }

    /// What the settings gave, before any provider saved through the admin.
    pub fn configured(&self) -> Arc<Endpoint> {
        self.configured.clone()
    }

    /// Send calls to `endpoint` from now on (calls under way finish where
    /// they started).
    pub fn set_endpoint(&self, endpoint: Arc<Endpoint>) {
        let mut current = self.endpoint.write().expect("endpoint lock");
        if **current != *endpoint {
            // A new provider may take base64 vectors again.
            self.floats_only.store(false, Ordering::Relaxed);
            self.pool.sync(&endpoint.keys());
            *current = endpoint;
        }
    }

    /// The keys and what is known about them.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// How long a stream may pause between two pieces.
    pub fn idle_timeout(&self) -> Duration {
        self.idle
    }

    /// Bytes read of one answer, whole or streamed.
    pub fn max_answer_bytes(&self) -> usize {
        self.max_answer_bytes
    }

    /// A copy of this upstream calling `endpoint`, apart from it: changing
    /// one changes nothing in the other (to try settings before saving them).
    pub fn detached(&self, endpoint: Arc<Endpoint>) -> Upstream {
        Upstream {
            pool: Arc::new(Pool::new(&endpoint.keys(), self.pool.cooldown())),
            endpoint: Arc::new(RwLock::new(endpoint)),
            floats_only: Arc::default(),
            ..self.clone()
        }
    }

    /// The ids of the models the upstream offers (its `/models`), sorted.
    pub async fn list_models(&self) -> AppResult<Vec<String>> {
        let endpoint = self.endpoint();
        let base_url = endpoint.base_url.as_deref().ok_or_else(|| {
            AppError::NotConfigured(format!(
                "The {} upstream has no base URL yet.",
                self.role.name()
            ))
        })?;
        let url = format!("{base_url}/models");
        let bytes = self
            .attempts("", &LogHandle::detached(), |key| {
                let mut request = self.http.get(&url);
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
                let work = async {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| self.failed_in_transport(e))?;
                    if !response.status().is_success() {
                        return Err(self.failed_with_status(response).await);
                    }
                    bounded::read(response, self.max_answer_bytes)
                        .await
                        .map_err(|e| self.failed_reading(e))
                };
                async move {
                    tokio::time::timeout(self.timeout, work)
                        .await
                        .map_err(|_| self.failed_by_timeout(self.timeout))?
                }
            })
            .await?;
        #[derive(Deserialize)]
        struct Item {
            id: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Answer {
            Data { data: Vec<Item> },
            Models { models: Vec<Item> },
            List(Vec<Item>),
        }
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|e| {
            UpstreamError::Unusable(format!(
                "The {} upstream's model list is not in OpenAI's shape: {e}",
                self.role.name()
            ))
        })?;
        let (Answer::Data { data: items } | Answer::Models { models: items } | Answer::List(items)) =
            answer;
        let mut ids: Vec<String> = items.into_iter().map(|i| i.id).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// This upstream's model, if one is set.
    pub fn model(&self) -> Option<String> {
        self.endpoint().model.clone()
    }

    /// The endpoint, or a 503 naming what is missing.
    pub fn ready(&self) -> Result<Ready, UpstreamError> {
        Self::ready_at(self.role, self.endpoint())
    }

    fn ready_at(role: Role, endpoint: Arc<Endpoint>) -> Result<Ready, UpstreamError> {
        let prefix = role.env_prefix();
        let name = role.name();
        match (&endpoint.base_url, &endpoint.model) {
            (Some(_), Some(_)) => Ok(Ready(endpoint)),
            // A built-in model needs no provider.
            (None, Some(model)) if local::Source::is_local(model) => Ok(Ready(endpoint)),
            (None, _) => Err(UpstreamError::NotConfigured(format!(
                "The {name} upstream is not configured: set its base URL in the admin (Providers), or {prefix}_BASE_URL (and {prefix}_API_KEY)."
            ))),
            (_, None) => Err(UpstreamError::NotConfigured(format!(
                "The {name} upstream is not configured: set its model in the admin (Providers), or {prefix}_MODEL."
            ))),
        }
    }

    /// Whether the base URL and model are set.
    pub fn is_configured(&self) -> bool {
        self.ready().is_ok()
    }

    /// One attempt: POST `body` with `key` and wait for the response head.
    async fn post_once(
        &self,
        ready: &Ready,
        path: &str,
        key: Option<String>,
        body: Bytes,
    ) -> Result<reqwest::Response, Failed> {
        let mut request = self
            .http
            .post(format!("{}{path}", ready.base_url()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = tokio::time::timeout(self.first_byte, request.send())
            .await
            .map_err(|_| self.failed_by_timeout(self.first_byte))?
            .map_err(|e| self.failed_in_transport(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.failed_with_status(response).await)
    }

    /// Send `body` (for `model`) and wait for the response head, on
    /// another key after a failure; errors carry the upstream's message.
    ///
    /// The first-byte limit covers the head only: a stream may then run as long as it keeps sending.
    #[tracing::instrument(level = "debug", name = "upstream", skip_all, fields(path = %path, model = %model))]
    pub async fn send<B: Serialize + ?Sized>(
        &self,
        path: &str,
        model: &str,
        body: &B,
        log: &LogHandle,
    ) -> AppResult<reqwest::Response> {
        let ready = self.ready()?;
        let body = encode(body)?;
        self.attempts(model, log, |key| {
            self.post_once(&ready, path, key, body.clone())
        })
        .await
    }

    /// Send `body` and read the whole JSON answer, as `T`, within the time
    /// limit; another key is tried when the answer fails before it is whole.
    #[tracing::instrument(level = "debug", name = "upstream", skip_all, fields(path = %path, model = %model))]
    pub async fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        path: &str,
        model: &str,
        body: &B,
        log: &LogHandle,
    ) -> AppResult<T> {
        let ready = self.ready()?;
        let body = encode(body)?;
        let bytes = self
            .attempts(model, log, |key| {
                let work = async {
                    let response = self.post_once(&ready, path, key, body.clone()).await?;
                    bounded::read(response, self.max_answer_bytes)
                        .await
                        .map_err(|e| self.failed_reading(e))
                };
                async move {
                    tokio::time::timeout(self.timeout, work)
                        .await
                        .map_err(|_| self.failed_by_timeout(self.timeout))?
                }
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            UpstreamError::Unusable(format!(
                "The {} upstream sent an unexpected answer: {e}",
                self.role.name()
            ))
            .into()
        })
    }
}

/// A request body as bytes, encoded once and sent again as they are on another key.
fn encode<B: Serialize + ?Sized>(body: &B) -> AppResult<Bytes> {
    Ok(Bytes::from(
        serde_json::to_vec(body).map_err(anyhow::Error::from)?,
    ))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::embeddings::embedding_vector;
    use super::*;

    #[test]
    fn base_urls_gain_v1_once() {
        assert_eq!(
            normalize_base_url("https://api.siliconflow.cn"),
            "https://api.siliconflow.cn/v1"
        );
        assert_eq!(
            normalize_base_url("https://api.siliconflow.cn/v1/"),
            "https://api.siliconflow.cn/v1"
        );
        assert_eq!(
            normalize_base_url("https://ark.example.com/api/v3"),
            "https://ark.example.com/api/v3"
        );
        assert_eq!(
            normalize_base_url("http://localhost:11434/"),
            "http://localhost:11434/v1"
        );
    }

    #[test]
    fn embeddings_are_read_as_floats_or_base64() {
        #[derive(Debug, Deserialize)]
        struct Item {
            #[serde(deserialize_with = "embedding_vector")]
            embedding: Vec<f32>,
        }
        let floats: Item = serde_json::from_str(r#"{"embedding":[0.5,-1,2e-3]}"#).unwrap();
        assert_eq!(floats.embedding, vec![0.5, -1.0, 0.002]);
        let bytes: Vec<u8> = [0.5f32, -1.0, 0.002]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let packed: Item = serde_json::from_str(&format!(r#"{{"embedding":"{text}"}}"#)).unwrap();
        assert_eq!(packed.embedding, floats.embedding);
        let odd = serde_json::from_str::<Item>(r#"{"embedding":"AAAA"}"#);
        assert!(odd.unwrap_err().to_string().contains("32-bit floats"));
        assert!(serde_json::from_str::<Item>(r#"{"embedding":{"x":1}}"#).is_err());
    }

    #[test]
    fn missing_settings_are_named() {
        let settings = Settings::default();
        let ups = Upstreams::from_settings(&settings).unwrap();
        let err = ups.chat.ready().unwrap_err().to_string();
        assert!(err.contains("RAGWAY_CHAT_BASE_URL"), "{err}");
        let settings = Settings {
            chat_base_url: Some("http://x".into()),
            ..Settings::default()
        };
        let ups = Upstreams::from_settings(&settings).unwrap();
        let err = ups.chat.ready().unwrap_err().to_string();
        assert!(err.contains("RAGWAY_CHAT_MODEL"), "{err}");
    }
}
