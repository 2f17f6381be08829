//! The admin account: one password, set once by the first visitor (or
//! `ragway admin init`, or `RAGWAY_ADMIN_PASSWORD` on first start), kept as
//! an argon2id hash; and server-side sessions behind an HttpOnly cookie.
//!
//! A session is a random token in the cookie and its SHA-256 in
//! `admin_sessions`: logging out, or changing the password, deletes rows,
//! which ends those sessions everywhere at once (every replica reads the same
//! table). Sessions expire after [`IDLE`] without a request, and in any
//! case `admin_session_max_hours` after they began.
//!
//! Password checks go through [`LoginGuard`]: each attempt is counted as a
//! failure per client address (an IPv6 address by its /64) before the
//! password is verified, so concurrent guesses cannot slip past the count;
//! after a few, each further attempt must wait twice as long as the last, up
//! to a temporary lock. And only `login_concurrency` verifications (argon2:
//! 19 MiB and a core each) run at once; beyond that a check is refused at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::{AuthError, AuthResult};
use crate::domain::clock::now_ms;

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
pub async fn exists(db: &AnyPool) -> AuthResult<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM admin_account WHERE id = 1")
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Refuse a password the admin account may not have, saying why.
pub fn check_password_rules(password: &str) -> AuthResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters long (this one has {chars})."
        )));
    }
    if password.trim().is_empty() {
        return Err(AuthError::WeakPassword(
            "The password must not be only spaces.".into(),
        ));
    }
    Ok(())
}

/// Set the admin password if none is set yet: `false` when one exists
/// already (the first visitor won; setup cannot be replayed).
pub async fn init(db: &AnyPool, password: &str) -> AuthResult<bool> {
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
pub async fn verify(db: &AnyPool, password: &str) -> AuthResult<bool> {
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
                AuthError::Store(anyhow::anyhow!(
                    "the stored password hash is unreadable: {e}"
                ))
            })
    })
    .await
    .map_err(|e| AuthError::Store(e.into()))?
}

/// Replace the admin password after checking the current one; every
/// session ends. Answers a new session for the caller.
pub async fn change_password(db: &AnyPool, current: &str, new: &str) -> AuthResult<String> {
    if !verify(db, current).await? {
        return Err(wrong_current_password());
    }
    replace_password(db, new).await
}

/// The error for a password change whose current password is wrong.
pub fn wrong_current_password() -> AuthError {
    AuthError::WrongPassword("The current password is not correct.".into())
}

/// Replace the admin password (the caller has checked the current one);
/// every session ends. Answers a new session for the caller.
pub async fn replace_password(db: &AnyPool, new: &str) -> AuthResult<String> {
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
pub async fn start_session(db: &AnyPool) -> AuthResult<String> {
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

/// Whether `token` is a live session: used within [`IDLE`] and begun at most
/// `max_age` ago (however active: a stolen cookie does not last forever).
/// Keeps it alive; expired rows go.
pub async fn check_session(db: &AnyPool, token: &str, max_age: Duration) -> AuthResult<bool> {
    let hash = token_hash(token);
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT created_at, last_seen_at FROM admin_sessions WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(db)
            .await?;
    let Some((created, seen)) = row else {
        return Ok(false);
    };
    let now = now_ms();
    let idle_ms = IDLE.as_millis() as i64;
    let max_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    if now - seen > idle_ms || now.saturating_sub(created) > max_ms {
        sqlx::query("DELETE FROM admin_sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(now - idle_ms)
            .bind(now.saturating_sub(max_ms))
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
pub async fn end_session(db: &AnyPool, token: &str) -> AuthResult<()> {
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
async fn hash_password(password: String) -> AuthResult<String> {
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
    .map_err(|e| AuthError::Store(e.into()))?
    .map_err(AuthError::Store)
}

/// Password attempts per client address, and how long each must now wait;
/// and the bound on verifications running at once.
///
/// Every attempt counts as a failure from the moment it is admitted
/// ([`LoginGuard::admit`]), before its password is verified; a correct
/// password then forgets the address ([`Admission::succeeded`]). So of any
/// number of concurrent guesses from one address, at most [`FREE_FAILURES`]
/// are verified before the rest must wait. After the free ones each failure
/// makes the next attempt wait [`FIRST_DELAY`], doubling per failure, until
/// the wait reaches [`LOCK`] (a temporary lock). An IPv6 client is counted by
/// its /64 ([`throttle_key`]). Kept in memory: a restart, or another replica,
/// starts afresh.
#[derive(Debug)]
pub struct LoginGuard {
    failures: Mutex<HashMap<IpAddr, Failures>>,
    /// One permit per verification allowed to run at once.
    verifying: Semaphore,
    /// Verifications admitted so far (for tests and curious admins).
    admitted: AtomicU64,
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
/// What a caller refused for want of a free verification slot is told to wait.
pub const BUSY_RETRY_SECS: u64 = 1;

/// The address an attempt is counted under: an IPv4 address itself, an IPv6
/// address by its /64 (one subscriber's network: whoever holds a /64 could
/// otherwise try from 2^64 addresses).
pub fn throttle_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (!0u128 << 64))),
        v4 => v4,
    }
}

/// An attempt admitted by [`LoginGuard::admit`]: it holds a verification
/// slot until dropped, and stays counted as a failure unless
/// [`Admission::succeeded`] is called.
#[derive(Debug)]
pub struct Admission<'a> {
    guard: &'a LoginGuard,
    key: IpAddr,
    _slot: SemaphorePermit<'a>,
}

impl Admission<'_> {
    /// The password was right: the address's failures are forgotten.
    pub fn succeeded(self) {
        self.guard
            .failures
            .lock()
            .expect("login guard lock")
            .remove(&self.key);
    }
}

impl LoginGuard {
    /// A guard letting `concurrency` verifications run at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Self {
            failures: Mutex::default(),
            verifying: Semaphore::new(concurrency.max(1)),
            admitted: AtomicU64::new(0),
        }
    }

    /// Admit a password attempt from `ip`, counting it as a failure now:
    /// `429` (with how long to wait) when the address must wait, or when
    /// every verification slot is taken. Nothing is hashed for a refusal.
    pub fn admit(&self, ip: IpAddr) -> AuthResult<Admission<'_>> {
        let slot = self
            .verifying
            .try_acquire()
            .map_err(|_| AuthError::TooManyAttempts {
                message: format!(
                    "Too many password checks are running; try again in {BUSY_RETRY_SECS} s."
                ),
                retry_after_secs: BUSY_RETRY_SECS,
            })?;
        let key = throttle_key(ip);
        if let Err(wait) = self.reserve(key) {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            return Err(AuthError::TooManyAttempts {
                message: format!(
                    "Too many failed logins from this address; try again in {secs} s."
                ),
                retry_after_secs: secs,
            });
        }
        self.admitted.fetch_add(1, Ordering::Relaxed);
        Ok(Admission {
            guard: self,
            key,
            _slot: slot,
        })
    }

    /// How many attempts have been admitted to verification so far.
    pub fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Count a failure for `key` unless it must wait first (`Err(wait)`).
    fn reserve(&self, key: IpAddr) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("login guard lock");
        let now = Instant::now();
        if let Some(f) = failures.get(&key) {
            if f.until > now {
                return Err(f.until - now);
            }
        }
        if failures.len() >= REMEMBERED && !failures.contains_key(&key) {
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
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            until: now,
        });
        // A lock long over starts the count afresh.
        if entry.until + LOCK < now {
            entry.count = 0;
        }
        entry.count += 1;
        entry.until = now + delay_after(entry.count);
        Ok(())
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

    fn waits(result: AuthResult<Admission<'_>>) -> u64 {
        match result {
            Err(AuthError::TooManyAttempts {
                retry_after_secs, ..
            }) => retry_after_secs,
            other => panic!("expected a 429, got {other:?}"),
        }
    }

    #[test]
    fn an_attempt_counts_before_it_is_verified_and_success_forgets_it() {
        let guard = LoginGuard::new(16);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        // Attempts still being verified (held admissions) already count:
        // concurrent guesses cannot pass the free ones.
        let held: Vec<_> = (0..FREE_FAILURES)
            .map(|_| guard.admit(ip).expect("a free attempt"))
            .collect();
        let wait = waits(guard.admit(ip));
        assert!((1..=FIRST_DELAY.as_secs()).contains(&wait), "{wait}");
        assert_eq!(guard.admitted(), u64::from(FREE_FAILURES));
        assert!(guard.admit(other).is_ok(), "only that address waits");
        // One of them had the right password: the address is forgotten.
        held.into_iter().next().unwrap().succeeded();
        assert!(guard.admit(ip).is_ok());
    }

    #[test]
    fn verifications_beyond_the_concurrency_are_refused_at_once() {
        let guard = LoginGuard::new(2);
        let a = guard.admit("192.0.2.1".parse().unwrap()).unwrap();
        let _b = guard.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(
            waits(guard.admit("192.0.2.3".parse().unwrap())),
            BUSY_RETRY_SECS
        );
        drop(a);
        assert!(guard.admit("192.0.2.3".parse().unwrap()).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let key = |s: &str| throttle_key(s.parse().unwrap());
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));

        let guard = LoginGuard::new(16);
        for n in 0..FREE_FAILURES {
            let ip = format!("2001:db8:1:2::{n:x}").parse().unwrap();
            let _ = guard.admit(ip).unwrap();
        }
        // Another address of the same /64 waits; another /64 does not.
        waits(guard.admit("2001:db8:1:2:abcd::1".parse().unwrap()));
        assert!(guard.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

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
        assert!(check_session(&db, &token, WEEK).await.unwrap());
        assert!(!check_session(&db, "forged", WEEK).await.unwrap());
        let renewed = change_password(&db, "correct horse battery", "a brand new passphrase")
            .await
            .unwrap();
        assert!(
            !check_session(&db, &token, WEEK).await.unwrap(),
            "a password change ends sessions"
        );
        assert!(check_session(&db, &renewed, WEEK).await.unwrap());
        end_session(&db, &renewed).await.unwrap();
        assert!(!check_session(&db, &renewed, WEEK).await.unwrap());
    }
}
