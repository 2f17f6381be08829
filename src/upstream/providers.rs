//! Providers saved through the admin: per role, a base URL, a model and an
//! API key (sealed, see `auth::secrets`), in SQL. A saved provider wins over
//! the settings (environment, file, flags); removing it brings those back.
//! Every process reads the saved providers again every [`RELOAD_EVERY`]
//! (`startup`), so a change made on one replica reaches the others within
//! that time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use sqlx::{AnyPool, Row};

use super::pool::{KeyView, Pool, Summary};
use super::{normalize_base_url, split_keys, Endpoint, Role, Upstream, Upstreams};
use crate::auth::secrets::{mask, Secrets};
use crate::domain::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::usage::LogHandle;

/// The parts the provider functions use: the providers and key-block
/// tables, the key sealer, and the upstreams they point.
#[derive(Debug, Clone, Copy)]
pub struct Providers<'a> {
    pub db: &'a AnyPool,
    pub secrets: &'a Secrets,
    pub upstreams: &'a Upstreams,
}

/// How often every process reads the saved providers again.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// One provider as the admin sees it: never its key, only a mask of it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderView {
    pub role: &'static str,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// The key, masked (`sk-…abcd`; several: `sk-…abcd, sk-…wxyz`); `null` when there is none.
    pub api_key: Option<String>,
    /// How many keys the pool has.
    pub keys: usize,
    /// Base URL and model set: calls can be made.
    pub configured: bool,
    /// `admin` (saved through the admin) or `settings` (environment, file, flags).
    pub source: &'static str,
    /// When it was saved through the admin (ms since the epoch).
    pub updated_at: Option<i64>,
    /// Why the saved key could not be used, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A change to one provider: fields left out keep their value; `null` or
/// `""` clears one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdate {
    #[serde(default, deserialize_with = "present")]
    pub base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub api_key: Option<Option<String>>,
}

/// A field that is there (`Some`), even when it is `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl ProviderUpdate {
    /// `current` with this change applied.
    pub fn applied_to(&self, current: &Endpoint) -> AppResult<Endpoint> {
        let pick = |change: &Option<Option<String>>, now: &Option<String>| match change {
            None => now.clone(),
            Some(value) => value.clone(),
        };
        if let Some(Some(url)) = &self.base_url {
            let parsed = url::Url::parse(url.trim()).map_err(|e| {
                AppError::BadRequest(format!(
                    "`base_url` {url:?} is not a URL such as https://api.siliconflow.cn/v1: {e}"
                ))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(AppError::BadRequest(
                    "`base_url` must start with http:// or https://.".into(),
                ));
            }
        }
        Ok(Endpoint::new(
            pick(&self.base_url, &current.base_url).as_deref(),
            pick(&self.api_key, &current.api_key).as_deref(),
            pick(&self.model, &current.model).as_deref(),
        ))
    }
}

/// Whether two base URLs name the same address (scheme, host, port and
/// path as `url` reads them: `HTTPS://Host:443/v1` is `https://host/v1`).
fn same_address(a: Option<&str>, b: Option<&str>) -> bool {
    let read =
        |u: Option<&str>| u.map(|u| url::Url::parse(u).map(String::from).unwrap_or(u.into()));
    read(a) == read(b)
}

/// Why an `update` may not be tried or saved: it points the saved key at
/// another address without giving a key. A test call, a model list or any
/// call after saving would send the saved key there, and whoever asks (an
/// admin key, say) could read it off their own server.
fn refuse_saved_key_elsewhere(current: &Endpoint, update: &ProviderUpdate) -> AppResult<()> {
    let keeps_saved_key = update.api_key.is_none() && current.api_key.is_some();
    let url = match &update.base_url {
        Some(Some(url)) if !url.trim().is_empty() => url,
        _ => return Ok(()), // unchanged, or cleared: no call goes anywhere new
    };
    let next = normalize_base_url(url);
    if keeps_saved_key && !same_address(current.base_url.as_deref(), Some(&next)) {
        return Err(AppError::BadRequest(
            "A changed `base_url` needs its `api_key` in the same request: ragway never sends a saved key to a new address (give the key, or `\"api_key\": null` to try without one).".into(),
        ));
    }
    Ok(())
}

/// The sealed key's purpose: a key sealed for one role opens for no other.
fn purpose(role: Role) -> String {
    format!("provider:{}", role.name())
}

/// A saved provider as read from SQL.
struct Saved {
    base_url: Option<String>,
    model: Option<String>,
    sealed_key: Option<String>,
    updated_at: i64,
}

async fn saved(db: &AnyPool, role: Role) -> AppResult<Option<Saved>> {
    let row =
        sqlx::query("SELECT base_url, model, api_key, updated_at FROM providers WHERE role = $1")
            .bind(role.name())
            .fetch_optional(db)
            .await?;
    Ok(row.map(|row| Saved {
        base_url: row.get("base_url"),
        model: row.get("model"),
        sealed_key: row.get("api_key"),
        updated_at: row.get("updated_at"),
    }))
}

/// The endpoint a saved provider describes, and why its key could not be
/// opened if it could not.
fn endpoint_of(secrets: &Secrets, role: Role, saved: &Saved) -> (Endpoint, Option<String>) {
    let (key, error) = match &saved.sealed_key {
        None => (None, None),
        Some(sealed) => match secrets.open(&purpose(role), sealed) {
            Ok(key) => (Some(key), None),
            Err(err) => (None, Some(err.to_string())),
        },
    };
    let endpoint = Endpoint {
        base_url: saved.base_url.clone(),
        api_key: key,
        model: saved.model.clone(),
    };
    (endpoint, error)
}

/// Point every upstream at its saved provider, or back at the settings.
pub async fn load(parts: Providers<'_>) -> AppResult<()> {
    // One load at a time: two that overlap (the periodic reload and one
    // asked for) could otherwise end out of order, the one that read SQL
    // first applying its older view last (an unblocked key, say).
    static LOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = LOADING.lock().await;
    for role in Role::ALL {
        let upstream = parts.upstreams.get(role);
        match saved(parts.db, role).await? {
            Some(saved) => {
                let (endpoint, error) = endpoint_of(parts.secrets, role, &saved);
                if let Some(error) = error {
                    tracing::error!(role = role.name(), %error, "the saved provider's API key cannot be used");
                }
                upstream.set_endpoint(Arc::new(endpoint));
            }
            None => upstream.set_endpoint(upstream.configured()),
        }
        sync_blocks(parts.db, role, upstream.pool()).await?;
    }
    Ok(())
}

/// Write the keys this process blocked to SQL, then take SQL's blocks as
/// the truth: blocks made on other replicas apply here, and a key an admin
/// enabled anywhere is unblocked here.
async fn sync_blocks(db: &AnyPool, role: Role, pool: &Pool) -> AppResult<()> {
    let _one_at_a_time = pool.syncing().await;
    for (fingerprint, block) in pool.unpersisted_blocks() {
        sqlx::query(
            "INSERT INTO upstream_key_blocks (role, fingerprint, reason, blocked_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (role, fingerprint) DO NOTHING",
        )
        .bind(role.name())
        .bind(&fingerprint)
        .bind(&block.reason)
        .bind(block.since_ms)
        .execute(db)
        .await?;
        pool.mark_persisted(&fingerprint, block.since_ms);
    }
    let rows = sqlx::query(
        "SELECT fingerprint, reason, blocked_at FROM upstream_key_blocks WHERE role = $1",
    )
    .bind(role.name())
    .fetch_all(db)
    .await?;
    let stored: HashMap<String, (String, i64)> = rows
        .into_iter()
        .map(|row| {
            (
                row.get("fingerprint"),
                (row.get("reason"), row.get("blocked_at")),
            )
        })
        .collect();
    pool.apply_blocks(&stored);
    Ok(())
}

/// One role's key pool as `GET /api/admin/upstreams` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PoolView {
    pub role: &'static str,
    pub configured: bool,
    pub model: Option<String>,
    pub summary: Summary,
    pub keys: Vec<KeyView>,
    /// Failed calls since this process started, by what went wrong (`429`, `500`, `timeout`, …).
    pub errors: BTreeMap<String, u64>,
    /// Calls tried again on another key since this process started.
    pub retries: u64,
}

/// Every role's key pool (this process's counters; blocks as all replicas see them).
pub async fn pools(parts: Providers<'_>) -> AppResult<Vec<PoolView>> {
    let mut views = Vec::new();
    for role in Role::ALL {
        let upstream = parts.upstreams.get(role);
        sync_blocks(parts.db, role, upstream.pool()).await?;
        views.push(pool_view(upstream));
    }
    Ok(views)
}

fn pool_view(upstream: &Upstream) -> PoolView {
    let pool = upstream.pool();
    let (errors, retries) = pool.error_counts();
    PoolView {
        role: upstream.role().name(),
        configured: upstream.is_configured(),
        model: upstream.model(),
        summary: pool.summary(),
        keys: pool.views(),
        errors,
        retries,
    }
}

/// Enable `role`'s key `fingerprint` again (unblock it and end its cooling), on every replica.
pub async fn enable_key(
    parts: Providers<'_>,
    role: Role,
    fingerprint: &str,
) -> AppResult<PoolView> {
    let upstream = parts.upstreams.get(role);
    forget_block(parts.db, role, fingerprint).await?;
    if !upstream.pool().enable(fingerprint) {
        return Err(no_such_key(role, fingerprint));
    }
    tracing::info!(
        role = role.name(),
        key = fingerprint,
        "upstream key enabled"
    );
    Ok(pool_view(upstream))
}

/// Lift the stored block of `role`'s key `fingerprint` (every replica
/// takes SQL's blocks as the truth at its next sync).
async fn forget_block(db: &AnyPool, role: Role, fingerprint: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM upstream_key_blocks WHERE role = $1 AND fingerprint = $2")
        .bind(role.name())
        .bind(fingerprint)
        .execute(db)
        .await?;
    Ok(())
}

/// Add `keys` (one, or several separated by commas) to `role`'s pool, saved
/// as the role's provider.
pub async fn add_keys(parts: Providers<'_>, role: Role, keys: &str) -> AppResult<PoolView> {
    let added = split_keys(keys);
    if added.is_empty() {
        return Err(AppError::BadRequest(
            "`key` must hold an API key (several may be separated by commas).".into(),
        ));
    }
    let upstream = parts.upstreams.get(role);
    let mut all = upstream.endpoint().keys();
    all.extend(added);
    save_keys(parts, role, all).await?;
    Ok(pool_view(upstream))
}

/// Take the key `fingerprint` out of `role`'s pool, saved as the role's provider.
pub async fn remove_key(
    parts: Providers<'_>,
    role: Role,
    fingerprint: &str,
) -> AppResult<PoolView> {
    let upstream = parts.upstreams.get(role);
    let mut all = upstream.endpoint().keys();
    let before = all.len();
    all.retain(|k| super::pool::fingerprint(Some(k)) != fingerprint);
    if all.len() == before {
        return Err(no_such_key(role, fingerprint));
    }
    save_keys(parts, role, all).await?;
    forget_block(parts.db, role, fingerprint).await?;
    Ok(pool_view(upstream))
}

async fn save_keys(parts: Providers<'_>, role: Role, keys: Vec<String>) -> AppResult<()> {
    let update = ProviderUpdate {
        api_key: Some((!keys.is_empty()).then(|| keys.join(","))),
        ..ProviderUpdate::default()
    };
    save(parts, role, &update).await
}

fn no_such_key(role: Role, fingerprint: &str) -> AppError {
    AppError::NotFound {
        message: format!(
            "The {} upstream has no key {fingerprint:?} (GET /api/admin/upstreams lists the fingerprints).",
            role.name()
        ),
        code: "upstream_key_not_found",
    }
}

/// Every provider as the admin sees it.
pub async fn list(parts: Providers<'_>) -> AppResult<Vec<ProviderView>> {
    let mut views = Vec::new();
    for role in Role::ALL {
        views.push(view(parts, role).await?);
    }
    Ok(views)
}

/// One provider as the admin sees it.
pub async fn view(parts: Providers<'_>, role: Role) -> AppResult<ProviderView> {
    let saved = saved(parts.db, role).await?;
    let (endpoint, error, updated_at) = match &saved {
        Some(saved) => {
            let (endpoint, error) = endpoint_of(parts.secrets, role, saved);
            (endpoint, error, Some(saved.updated_at))
        }
        None => (
            (*parts.upstreams.get(role).configured()).clone(),
            None,
            None,
        ),
    };
    let keys = endpoint.keys();
    let key = match (&endpoint.api_key, &error) {
        (Some(_), _) => Some(keys.iter().map(|k| mask(k)).collect::<Vec<_>>().join(", ")),
        // There is a key, but it does not open: say there is one.
        (None, Some(_)) => Some("…".into()),
        (None, None) => None,
    };
    Ok(ProviderView {
        role: role.name(),
        configured: endpoint.base_url.is_some() && endpoint.model.is_some(),
        base_url: endpoint.base_url,
        model: endpoint.model,
        api_key: key,
        keys: keys.len(),
        source: if saved.is_some() { "admin" } else { "settings" },
        updated_at,
        error,
    })
}

/// Save `update` to `role`'s provider and use it at once.
pub async fn save(parts: Providers<'_>, role: Role, update: &ProviderUpdate) -> AppResult<()> {
    let current = parts.upstreams.get(role).endpoint();
    // Saved, every later call would carry the saved key to the new address.
    refuse_saved_key_elsewhere(&current, update)?;
    let next = update.applied_to(&current)?;
    let sealed = match &next.api_key {
        Some(key) => Some(
            parts
                .secrets
                .seal(&purpose(role), key)
                .map_err(|e| AppError::NotConfigured(e.to_string()))?,
        ),
        None => None,
    };
    sqlx::query(
        "INSERT INTO providers (role, base_url, model, api_key, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (role) DO UPDATE SET base_url = excluded.base_url, model = excluded.model, \
         api_key = excluded.api_key, updated_at = excluded.updated_at",
    )
    .bind(role.name())
    .bind(next.base_url.clone())
    .bind(next.model.clone())
    .bind(sealed)
    .bind(now_ms())
    .execute(parts.db)
    .await?;
    tracing::info!(role = role.name(), base_url = ?next.base_url, model = ?next.model, "provider saved");
    parts.upstreams.get(role).set_endpoint(Arc::new(next));
    Ok(())
}

/// Forget `role`'s saved provider: the settings apply again.
pub async fn remove(parts: Providers<'_>, role: Role) -> AppResult<()> {
    sqlx::query("DELETE FROM providers WHERE role = $1")
        .bind(role.name())
        .execute(parts.db)
        .await?;
    let upstream = parts.upstreams.get(role);
    upstream.set_endpoint(upstream.configured());
    Ok(())
}

/// What a provider test found.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub role: &'static str,
    pub ok: bool,
    pub latency_ms: u64,
    /// The model the test used.
    pub model: Option<String>,
    /// What the provider said, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The upstream's HTTP status as ragway reports it, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Anything else worth knowing (the embedding width, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// Try `role`'s provider with the smallest call that proves it works: a
/// 1-token chat answer, one embedding, a rerank of two texts, and (as
/// drawing costs) the model list for images. `update`, when given, is
/// tried instead of what is saved, without saving it.
pub async fn test(current: &Upstream, update: Option<&ProviderUpdate>) -> AppResult<TestReport> {
    let role = current.role();
    let upstream = candidate(current, update)?;
    let model = upstream.model();
    let started = Instant::now();
    let outcome: AppResult<Option<Value>> = async {
        match role {
            Role::Chat => {
                let ready = upstream.ready()?;
                let body = json!({
                    "model": ready.model(),
                    "messages": [{"role": "user", "content": "ping"}],
                    "max_tokens": 1,
                    "stream": false,
                });
                let _: Value = upstream
                    .send_json(
                        "/chat/completions",
                        ready.model(),
                        &body,
                        &LogHandle::detached(),
                    )
                    .await?;
                Ok(None)
            }
            Role::Embeddings => {
                let ready = upstream.ready()?;
                let vectors = upstream
                    .embed_with(ready.model(), &["ping".to_string()], None)
                    .await?;
                let width = vectors.first().map_or(0, Vec::len);
                Ok(Some(json!({ "dimension": width })))
            }
            Role::Rerank => {
                upstream.rerank("ping", &["ping", "pong"], 1).await?;
                Ok(None)
            }
            Role::Images => {
                upstream.ready()?;
                let models = upstream.list_models().await?;
                Ok(Some(json!({ "models": models.len() })))
            }
        }
    }
    .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    Ok(match outcome {
        Ok(detail) => TestReport {
            role: role.name(),
            ok: true,
            latency_ms,
            model,
            error: None,
            status: None,
            detail,
        },
        Err(err) => TestReport {
            role: role.name(),
            ok: false,
            latency_ms,
            model,
            status: Some(err.status().as_u16()),
            error: Some(err.to_string()),
            detail: None,
        },
    })
}

/// The models `role`'s provider (or `update`, unsaved) offers, by id.
pub async fn models(current: &Upstream, update: Option<&ProviderUpdate>) -> AppResult<Vec<String>> {
    let upstream = candidate(current, update)?;
    upstream.list_models().await
}

/// `upstream`, or a copy of it pointed at `update` applied to its endpoint
/// (never the saved key at a new address).
fn candidate(upstream: &Upstream, update: Option<&ProviderUpdate>) -> AppResult<Upstream> {
    match update {
        None => Ok(upstream.clone()),
        Some(update) => {
            let current = upstream.endpoint();
            refuse_saved_key_elsewhere(&current, update)?;
            let endpoint = update.applied_to(&current)?;
            Ok(upstream.detached(Arc::new(endpoint)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_keep_what_they_leave_out() {
        let current = Endpoint::new(Some("https://a.example"), Some("sk-old"), Some("m1"));
        let update: ProviderUpdate = serde_json::from_str(r#"{"model": "m2"}"#).unwrap();
        let next = update.applied_to(&current).unwrap();
        assert_eq!(next.base_url.as_deref(), Some("https://a.example/v1"));
        assert_eq!(next.api_key.as_deref(), Some("sk-old"));
        assert_eq!(next.model.as_deref(), Some("m2"));
        let cleared: ProviderUpdate =
            serde_json::from_str(r#"{"api_key": null, "model": ""}"#).unwrap();
        let next = cleared.applied_to(&current).unwrap();
        assert_eq!(next.api_key, None);
        assert_eq!(next.model, None);
        let bad: ProviderUpdate = serde_json::from_str(r#"{"base_url": "ftp://x"}"#).unwrap();
        assert!(bad.applied_to(&current).is_err());
        assert!(serde_json::from_str::<ProviderUpdate>(r#"{"key": "x"}"#).is_err());
    }

    #[test]
    fn a_saved_key_goes_to_no_new_address() {
        let current = Endpoint::new(Some("https://a.example"), Some("sk-old"), Some("m1"));
        let check = |body: &str| {
            let update: ProviderUpdate = serde_json::from_str(body).unwrap();
            refuse_saved_key_elsewhere(&current, &update).is_ok()
        };
        assert!(!check(r#"{"base_url": "https://b.example"}"#));
        assert!(!check(r#"{"base_url": "https://a.example:8443/v1"}"#));
        assert!(check(
            r#"{"base_url": "https://b.example", "api_key": "sk-new"}"#
        ));
        assert!(check(
            r#"{"base_url": "https://b.example", "api_key": null}"#
        ));
        // The same address, however it is written, keeps the saved key.
        assert!(check(r#"{"base_url": "HTTPS://A.example:443/v1/"}"#));
        assert!(check(r#"{"model": "m2"}"#));
        let keyless = Endpoint::new(Some("https://a.example"), None, None);
        let update: ProviderUpdate =
            serde_json::from_str(r#"{"base_url": "https://b.example"}"#).unwrap();
        assert!(refuse_saved_key_elsewhere(&keyless, &update).is_ok());
    }
}
