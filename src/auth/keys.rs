//! API keys: `sk-` plus 48 URL-safe random characters, stored only as a SHA-256
//! hash and a short display prefix.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use super::error::{AuthError, AuthResult};
use super::Caller;
use crate::domain::clock::now_ms;
use crate::known::Known;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Chat only.
    User,
    /// Chat and manage documents.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Role {
        if text == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// What one key may use; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// Requests per rolling minute, on each server process.
    pub requests_per_minute: Option<i64>,
    /// Chat tokens (prompt and completion) per UTC day.
    pub tokens_per_day: Option<i64>,
}

/// A key as listed: never the secret itself.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// After this (ms since the epoch) the key is refused.
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub limits: KeyLimits,
}

/// A freshly created key: the only time its secret exists in clear.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub info: KeyInfo,
    pub secret: String,
}

/// Characters of the secret kept for display, after `sk-`.
const PREFIX_CHARS: usize = 6;

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> String {
    // 36 random bytes are exactly 48 URL-safe base64 characters.
    let mut bytes = [0u8; 36];
    rand::rng().fill_bytes(&mut bytes);
    format!("sk-{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Create a key and return it with its secret.
pub async fn create(db: &AnyPool, name: &str, role: Role) -> anyhow::Result<NewKey> {
    create_expiring(db, name, role, None, KeyLimits::default()).await
}

/// Create a key that is refused after `expires_at` (ms since the epoch), if given.
pub async fn create_expiring(
    db: &AnyPool,
    name: &str,
    role: Role,
    expires_at: Option<i64>,
    limits: KeyLimits,
) -> anyhow::Result<NewKey> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "a key needs a name");
    let secret = generate_secret();
    let info = KeyInfo {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        prefix: secret[..3 + PREFIX_CHARS].to_string(),
        role,
        created_at: now_ms(),
        last_used_at: None,
        expires_at,
        revoked_at: None,
        limits,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, name, prefix, key_hash, role, created_at, expires_at, \
         requests_per_minute, tokens_per_day) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&info.id)
    .bind(&info.name)
    .bind(&info.prefix)
    .bind(hash(&secret))
    .bind(role.as_str())
    .bind(info.created_at)
    .bind(info.expires_at)
    .bind(limits.requests_per_minute)
    .bind(limits.tokens_per_day)
    .execute(db)
    .await?;
    Ok(NewKey { info, secret })
}

const KEY_COLUMNS: &str =
    "id, name, prefix, role, created_at, last_used_at, expires_at, revoked_at, \
     requests_per_minute, tokens_per_day";

fn limits(row: &sqlx::any::AnyRow) -> sqlx::Result<KeyLimits> {
    Ok(KeyLimits {
        requests_per_minute: row.try_get("requests_per_minute")?,
        tokens_per_day: row.try_get("tokens_per_day")?,
    })
}

fn key_info(row: &sqlx::any::AnyRow) -> sqlx::Result<KeyInfo> {
    Ok(KeyInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        role: Role::parse(&row.try_get::<String, _>("role")?),
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        limits: limits(row)?,
    })
}

/// All keys, newest first.
pub async fn list(db: &AnyPool) -> anyhow::Result<Vec<KeyInfo>> {
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(key_info).collect::<sqlx::Result<_>>()?)
}

/// Revoke the key with this id or display prefix; the prefix must name exactly one key.
pub async fn revoke(db: &AnyPool, id_or_prefix: &str) -> anyhow::Result<KeyInfo> {
    let wanted = id_or_prefix.trim();
    let matches: Vec<KeyInfo> = list(db)
        .await?
        .into_iter()
        .filter(|k| k.id == wanted || (wanted.len() >= 4 && k.prefix.starts_with(wanted)))
        .collect();
    let mut key = match matches.len() {
        0 => anyhow::bail!("no key has the id or prefix {wanted:?}"),
        1 => matches.into_iter().next().expect("one match"),
        n => anyhow::bail!("{n} keys start with {wanted:?}; give the id instead"),
    };
    if key.revoked_at.is_none() {
        let now = now_ms();
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&key.id)
            .execute(db)
            .await?;
        key.revoked_at = Some(now);
    }
    forget_known();
    Ok(key)
}

/// Don't write `last_used_at` more often than this per key: a write per chat
/// request would serialise SQLite writers for no gain.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// Revoke the key with exactly this id; `None` if there is none.
pub async fn revoke_by_id(db: &AnyPool, id: &str) -> anyhow::Result<Option<KeyInfo>> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(id)
        .execute(db)
        .await?;
    forget_known();
    let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(key_info).transpose().map_err(Into::into)
}

/// A key's changes: each field given replaces the stored one (`None`: keep).
#[derive(Debug, Default)]
pub struct KeyChange {
    pub name: Option<String>,
    pub expires_at: Option<Option<i64>>,
    pub requests_per_minute: Option<Option<i64>>,
    pub tokens_per_day: Option<Option<i64>>,
}

/// Change the key with this id; `None` if there is none.
pub async fn update(db: &AnyPool, id: &str, change: KeyChange) -> anyhow::Result<Option<KeyInfo>> {
    let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    let Some(mut key) = row.as_ref().map(key_info).transpose()? else {
        return Ok(None);
    };
    if let Some(name) = change.name {
        key.name = name;
    }
    if let Some(at) = change.expires_at {
        key.expires_at = at;
    }
    if let Some(n) = change.requests_per_minute {
        key.limits.requests_per_minute = n;
    }
    if let Some(n) = change.tokens_per_day {
        key.limits.tokens_per_day = n;
    }
    sqlx::query(
        "UPDATE api_keys SET name = $1, expires_at = $2, requests_per_minute = $3, tokens_per_day = $4 \
         WHERE id = $5",
    )
    .bind(&key.name)
    .bind(key.expires_at)
    .bind(key.limits.requests_per_minute)
    .bind(key.limits.tokens_per_day)
    .bind(id)
    .execute(db)
    .await?;
    forget_known();
    Ok(Some(key))
}

/// The id of the key whose secret is `secret`, revoked and expired ones included.
pub async fn id_of(db: &AnyPool, secret: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM api_keys WHERE key_hash = $1")
        .bind(hash(secret))
        .fetch_optional(db)
        .await
}

/// A key as `authenticate` keeps it between requests (see [`crate::known`]).
#[derive(Debug, Clone)]
struct KnownKey {
    id: String,
    role: Role,
    revoked: bool,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    limits: KeyLimits,
}

/// Keys found by `authenticate`, by their secret's hash. Unknown keys are
/// not kept: a key made on another replica works there and here at once.
/// Process-wide (not one per app) because it is keyed by the secret's hash,
/// which no two apps share, and so that every change made through this
/// module, the CLI's included, forgets it.
static KNOWN: std::sync::LazyLock<Known<KnownKey>> =
    std::sync::LazyLock::new(|| Known::new(100_000));

/// Forget every key kept by `authenticate`: called by every change to a
/// key made in this process, so it applies here at once. (Changes made
/// elsewhere apply within [`crate::known::FRESH_FOR`].)
pub fn forget_known() {
    KNOWN.forget();
}

/// The key whose secret hashes to `hash`, from [`KNOWN`] or SQL.
async fn known(db: &AnyPool, hash: &str) -> AuthResult<Option<KnownKey>> {
    if let Some(key) = KNOWN.get(hash) {
        return Ok(Some(key));
    }
    let row = sqlx::query(
        "SELECT id, role, revoked_at, expires_at, last_used_at, requests_per_minute, tokens_per_day \
         FROM api_keys WHERE key_hash = $1",
    )
    .bind(hash)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let key = KnownKey {
        id: row.try_get("id")?,
        role: Role::parse(&row.try_get::<String, _>("role")?),
        revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        limits: limits(&row)?,
    };
    KNOWN.keep(hash.to_string(), key.clone());
    Ok(Some(key))
}

/// The caller holding `secret`, or 401 (unknown, revoked or expired). The
/// key is read from SQL at most once a [`crate::known::FRESH_FOR`] per
/// process (and again after any change to a key made in this process).
pub async fn authenticate(db: &AnyPool, secret: &str) -> AuthResult<Caller> {
    let hash = hash(secret);
    let Some(mut key) = known(db, &hash).await? else {
        return Err(AuthError::BadKey("Incorrect API key provided.".into()));
    };
    if key.revoked {
        return Err(AuthError::BadKey("This API key has been revoked.".into()));
    }
    let now = now_ms();
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(AuthError::BadKey("This API key has expired.".into()));
    }
    if key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_EVERY_MS)
    {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&key.id)
            .execute(db)
            .await?;
        key.last_used_at = Some(now);
        KNOWN.keep(hash, key.clone());
    }
    Ok(Caller {
        key_id: key.id,
        role: key.role,
        limits: key.limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape() {
        let secret = generate_secret();
        assert_eq!(secret.len(), 3 + 48);
        assert!(secret.starts_with("sk-"));
        assert!(secret[3..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(secret, generate_secret());
    }

    #[tokio::test]
    async fn create_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::store::sql::connect(&url).await.unwrap();
        let key = create(&db, "alice", Role::Admin).await.unwrap();
        let caller = authenticate(&db, &key.secret).await.unwrap();
        assert_eq!(caller.role, Role::Admin);
        assert!(authenticate(&db, "sk-nope").await.is_err());
        revoke(&db, &key.info.prefix).await.unwrap();
        let err = authenticate(&db, &key.secret).await.unwrap_err();
        assert!(err.to_string().contains("revoked"));
        let stored: String = sqlx::query_scalar("SELECT key_hash FROM api_keys")
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(!stored.contains(&key.secret[3..]));
    }
}
