//! The admin account: one password, set once by the first visitor (or
//! `ragway admin init`, or `RAGWAY_ADMIN_PASSWORD` on first start), kept as
//! an argon2id hash; and server-side sessions behind an HttpOnly cookie.
//!
//! A session is a random token in the cookie and its SHA-256 in
//! `admin_sessions`: logging out, or changing the password, deletes rows,
//! which ends those sessions everywhere at once (every replica reads the same
//! table). Sessions expire after [`IDLE`] without a request.
//!
//! Failed logins are counted per client address ([`LoginGuard`]): after a
//! few, each further attempt must wait twice as long as the last, up to a
//! temporary lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyPool;

use crate::error::{AppError, AppResult};
use crate::store::sql::now_ms;

/// The session cookie's name.
pub const COOKIE: &str = "ragway_session";
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session's `last_seen_at` is written at most this often (a write per
/// request would make every admin page view a database write).
const TOUCH_EVERY_MS: i64 = 60_000;

/// Whether the admin password has been set.
pub async fn exists(db: &AnyPool) -> AppResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM admin_account WHERE id = 1")
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Refuse a password the admin account may not have, saying why.
pub fn check_password_rules(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters long (this one has {chars})."
        )));
    }
    if password.trim().is_empty() {
        return Err(AppError::BadRequest(
            "The password must not be only spaces.".into(),
        ));
    }
    Ok(())
}

/// Set the admin password if none is set yet: `false` when one exists
/// already (the first visitor won; setup cannot be replayed).
pub async fn init(db: &AnyPool, password: &str) -> AppResult<bool> {
    check_password_rules(password)?;
    let hash = hash_password(password.to_string()).await?;
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO admin_account (id, password_hash, created_at, updated_at) VALUES (1, $1, $2, $2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Whether `password` is the admin password (`false` while none is set).
pub async fn verify(db: &AnyPool, password: &str) -> AppResult<bool> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM admin_account WHERE id = 1")
            .fetch_optional(db)
            .await?;
    let Some(stored) = stored else {
        return Ok(false);
    };
    let password = password.to_string();
    // Argon2 is deliberately slow (tens of milliseconds): off the async threads.
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .map_err(|e| {
                AppError::Internal(anyhow::anyhow!(
                    "the stored password hash is unreadable: {e}"
                ))
            })
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

/// Replace the admin password after checking the current one; every
/// session ends. Answers a new session for the caller.
pub async fn change_password(db: &AnyPool, current: &str, new: &str) -> AppResult<String> {
    if !verify(db, current).await? {
        return Err(AppError::WrongPassword(
            "The current password is not correct.".into(),
        ));
    }
    check_password_rules(new)?;
    let hash = hash_password(new.to_string()).await?;
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE admin_account SET password_hash = $1, updated_at = $2 WHERE id = 1")
        .bind(hash)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM admin_sessions")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    start_session(db).await
}

/// A new session: the token for the cookie (only its hash is stored).
pub async fn start_session(db: &AnyPool) -> AppResult<String> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let now = now_ms();
    sqlx::query(
        "INSERT INTO admin_sessions (token_hash, created_at, last_seen_at) VALUES ($1, $2, $2)",
    )
    .bind(token_hash(&token))
    .bind(now)
    .execute(db)
    .await?;
    Ok(token)
}

/// Whether `token` is a live session; keeps it alive. Expired rows go.
pub async fn check_session(db: &AnyPool, token: &str) -> AppResult<bool> {
    let hash = token_hash(token);
    let seen: Option<i64> =
        sqlx::query_scalar("SELECT last_seen_at FROM admin_sessions WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(db)
            .await?;
    let Some(seen) = seen else {
        return Ok(false);
    };
    let now = now_ms();
    let idle_ms = IDLE.as_millis() as i64;
    if now - seen > idle_ms {
        sqlx::query("DELETE FROM admin_sessions WHERE last_seen_at < $1")
            .bind(now - idle_ms)
            .execute(db)
            .await?;
        return Ok(false);
    }
    if now - seen > TOUCH_EVERY_MS {
        sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(db)
            .await?;
    }
    Ok(true)
}

/// End the session with this token (nothing if there is none).
pub async fn end_session(db: &AnyPool, token: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
        .bind(token_hash(token))
        .execute(db)
        .await?;
    Ok(())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// argon2id (the crate's defaults: 19 MiB, 2 passes, the OWASP baseline),
/// with a random salt, as a PHC string.
async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
    .map_err(AppError::Internal)
}

/// Failed logins per client address, and how long each must now wait.
///
/// The first [`FREE_FAILURES`] failures cost nothing; after that each one
/// makes the next attempt wait [`FIRST_DELAY`], doubling per failure, until
/// the wait reaches [`LOCK`] (a temporary lock). A success forgets the
/// address. Kept in memory: a restart, or another replica, starts afresh.
#[derive(Debug, Default)]
pub struct LoginGuard {
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// No attempt before this.
    until: Instant,
}

/// Failed logins allowed before attempts must wait.
pub const FREE_FAILURES: u32 = 3;
/// The wait after the first failure past the free ones.
pub const FIRST_DELAY: Duration = Duration::from_secs(5);
/// The longest wait: the address is locked out this long.
pub const LOCK: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most (the oldest locks are forgotten first).
const REMEMBERED: usize = 10_000;

impl LoginGuard {
    /// `Err(wait)` while `ip` must wait before trying again.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let failures = self.failures.lock().expect("login guard lock");
        match failures.get(&ip) {
            Some(f) => {
                let now = Instant::now();
                if f.until > now {
                    Err(f.until - now)
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Count a failed attempt from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().expect("login guard lock");
        let now = Instant::now();
        if failures.len() >= REMEMBERED {
            // Forget addresses whose last wait ended long ago, then the oldest.
            failures.retain(|_, f| f.until + LOCK > now);
            if failures.len() >= REMEMBERED {
                if let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, f)| f.until)
                    .map(|(ip, _)| *ip)
                {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(ip).or_insert(Failures {
            count: 0,
            until: now,
        });
        // A lock long over starts the count afresh.
        if entry.until + LOCK < now {
            entry.count = 0;
        }
        entry.count += 1;
        entry.until = now + delay_after(entry.count);
    }

    /// A successful login from `ip`: its failures are forgotten.
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().expect("login guard lock").remove(&ip);
    }
}

/// The wait imposed after the `count`th failure in a row.
fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(16);
    (FIRST_DELAY * 2u32.pow(doublings)).min(LOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_up_to_the_lock() {
        let waits: Vec<u64> = (1..=12).map(|n| delay_after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
    }

    #[test]
    fn a_guard_makes_an_address_wait_and_forgets_it_on_success() {
        let guard = LoginGuard::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..FREE_FAILURES - 1 {
            guard.failed(ip);
            assert!(guard.check(ip).is_ok());
        }
        guard.failed(ip);
        let wait = guard.check(ip).unwrap_err();
        assert!(wait > FIRST_DELAY - Duration::from_secs(1) && wait <= FIRST_DELAY);
        assert!(guard.check(other).is_ok(), "only that address waits");
        guard.succeeded(ip);
        assert!(guard.check(ip).is_ok());
    }

    #[tokio::test]
    async fn the_password_is_set_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::store::sql::connect(&url).await.unwrap();
        assert!(!exists(&db).await.unwrap());
        assert!(init(&db, "short").await.is_err());
        assert!(init(&db, "correct horse battery").await.unwrap());
        assert!(!init(&db, "another long password").await.unwrap());
        assert!(verify(&db, "correct horse battery").await.unwrap());
        assert!(!verify(&db, "another long password").await.unwrap());
        let stored: String = sqlx::query_scalar("SELECT password_hash FROM admin_account")
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");

        let token = start_session(&db).await.unwrap();
        assert!(check_session(&db, &token).await.unwrap());
        assert!(!check_session(&db, "forged").await.unwrap());
        let renewed = change_password(&db, "correct horse battery", "a brand new passphrase")
            .await
            .unwrap();
        assert!(
            !check_session(&db, &token).await.unwrap(),
            "a password change ends sessions"
        );
        assert!(check_session(&db, &renewed).await.unwrap());
        end_session(&db, &renewed).await.unwrap();
        assert!(!check_session(&db, &renewed).await.unwrap());
    }
}
