//! An upstream's key pool: round-robin over the keys that can be used now.
//!
//! A 429 cools the key down for the model it was used with (for the
//! upstream's `Retry-After`, else [`Pool::cooldown`]; a daily-quota message
//! for 24 h); a 401/403 blocks it until an admin enables it again. Blocks are
//! also written to SQL by `providers::load`, so every replica, and the next
//! start, keeps them; cooling is per process (it ends by itself).
//!
//! A key is named by its fingerprint: the first 8 hex digits of its SHA-256,
//! as the request log shows it. The key itself never leaves the pool except
//! to be sent upstream.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::auth::secrets::mask;
use crate::domain::clock::now_ms;

/// How long a key that hit a provider's daily quota rests.
pub const DAILY_COOLDOWN: Duration = Duration::from_secs(24 * 3600);

/// The fingerprint a key is known by: the first 8 hex digits of its SHA-256.
/// A keyless upstream (a local server) has the one slot `-`.
pub fn fingerprint(key: Option<&str>) -> String {
    match key.filter(|k| !k.is_empty()) {
        Some(key) => hex::encode(&Sha256::digest(key.as_bytes())[..4]),
        None => "-".into(),
    }
}

/// What one upstream call told about the key it used.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answered (any status the pool does not act on, 400 included).
    Ok,
    /// 429: rest for this model.
    RateLimited {
        retry_after: Option<Duration>,
        daily: bool,
    },
    /// 401/403: the key is refused; blocked until enabled.
    Rejected { reason: String },
    /// A 5xx, a connection error or a timeout before the first byte: try
    /// another key. `label` is the status code or `connect` / `timeout`.
    Transient { label: String },
    /// Refused for what was asked (a 400, a 404): nothing against the key,
    /// and another key would be refused too. `label` is the status code.
    Refused { label: String },
}

impl Outcome {
    /// Whether the call may go on to another key.
    pub fn try_another_key(&self) -> bool {
        matches!(
            self,
            Outcome::RateLimited { .. } | Outcome::Rejected { .. } | Outcome::Transient { .. }
        )
    }
}

/// A key chosen for one attempt.
#[derive(Debug, Clone)]
pub struct Pick {
    pub key: Option<String>,
    pub fingerprint: String,
}

/// Why no key can take a call now.
#[derive(Debug, Clone, PartialEq)]
pub enum Unavailable {
    /// Every key is blocked.
    Blocked,
    /// Every unblocked key is cooling for this model; the first is free again after this.
    Cooling { retry_after: Duration },
    /// Every usable key was tried in this call already.
    Tried,
}

#[derive(Debug, Clone)]
struct Cooling {
    until: Instant,
    until_ms: i64,
    reason: String,
}

/// Why and since when a key is blocked.
#[derive(Debug, Clone)]
pub struct Block {
    pub reason: String,
    pub since_ms: i64,
    /// Written to SQL already (or read from it).
    pub persisted: bool,
}

#[derive(Debug)]
struct Slot {
    key: Option<String>,
    fingerprint: String,
    cooling: HashMap<String, Cooling>,
    blocked: Option<Block>,
    requests: u64,
    failures: u64,
    rate_limited: u64,
    last_used_ms: Option<i64>,
    last_error: Option<String>,
}

impl Slot {
    fn new(key: Option<String>) -> Self {
        Self {
            fingerprint: fingerprint(key.as_deref()),
            key,
            cooling: HashMap::new(),
            blocked: None,
            requests: 0,
            failures: 0,
            rate_limited: 0,
            last_used_ms: None,
            last_error: None,
        }
    }

    /// When this key is free again for `model`, if it is cooling for it.
    fn cooling_for(&self, model: &str, now: Instant) -> Option<Duration> {
        self.cooling
            .get(model)
            .filter(|c| c.until > now)
            .map(|c| c.until - now)
    }
}

#[derive(Debug, Default)]
struct Inner {
    slots: Vec<Slot>,
    /// Failed calls by what went wrong (`429`, `500`, `timeout`, …), for `/metrics`.
    errors: BTreeMap<String, u64>,
    /// Attempts made on another key after a failure.
    retries: u64,
}

/// One upstream's keys and what is known about each.
#[derive(Debug)]
pub struct Pool {
    inner: Mutex<Inner>,
    next: AtomicUsize,
    /// Rest after a 429 without `Retry-After`.
    cooldown: Duration,
    /// Held while the blocks are synced with SQL ([`Pool::syncing`]).
    syncing: tokio::sync::Mutex<()>,
}

/// A key as `GET /api/admin/upstreams` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub fingerprint: String,
    /// `sk-…abcd`, or `null` for a keyless upstream.
    pub key: Option<String>,
    /// `active`, `cooling` (for at least one model) or `blocked`.
    pub state: &'static str,
    /// The models it rests for, and until when (ms since the epoch).
    pub cooling: Vec<CoolingView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_at: Option<i64>,
    pub requests: u64,
    pub failures: u64,
    pub rate_limited: u64,
    pub last_used_at: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoolingView {
    pub model: String,
    pub until: i64,
    pub reason: String,
}

/// Counts for `/health` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub keys: usize,
    pub active: usize,
    pub cooling: usize,
    pub blocked: usize,
}

impl Pool {
    pub fn new(keys: &[String], cooldown: Duration) -> Self {
        let pool = Self {
            inner: Mutex::default(),
            next: AtomicUsize::new(0),
            cooldown,
            syncing: tokio::sync::Mutex::new(()),
        };
        pool.sync(keys);
        pool
    }

    /// The rest after a 429 without `Retry-After`.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("key pool lock")
    }

    /// Take `keys` as the pool's keys: a key kept keeps its state, new keys
    /// start active, removed keys are forgotten. No keys: one keyless slot.
    pub fn sync(&self, keys: &[String]) {
        let mut inner = self.lock();
        let mut seen = std::collections::HashSet::new();
        let wanted: Vec<Option<String>> = if keys.is_empty() {
            vec![None]
        } else {
            // The same key twice is one key.
            keys.iter()
                .filter(|k| seen.insert(k.as_str()))
                .cloned()
                .map(Some)
                .collect()
        };
        let mut old: HashMap<String, Slot> = inner
            .slots
            .drain(..)
            .map(|s| (s.fingerprint.clone(), s))
            .collect();
        inner.slots = wanted
            .into_iter()
            .map(|key| {
                old.remove(&fingerprint(key.as_deref()))
                    .filter(|s| s.key == key)
                    .unwrap_or_else(|| Slot::new(key))
            })
            .collect();
    }

    /// The next key for `model`, round-robin, skipping blocked keys, keys
    /// cooling for `model` and those in `tried`.
    pub fn pick(&self, model: &str, tried: &[String]) -> Result<Pick, Unavailable> {
        let mut inner = self.lock();
        let now = Instant::now();
        let n = inner.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut soonest: Option<Duration> = None;
        let mut unblocked = 0;
        for i in 0..n {
            let slot = &inner.slots[(start + i) % n];
            if slot.blocked.is_some() {
                continue;
            }
            unblocked += 1;
            if let Some(wait) = slot.cooling_for(model, now) {
                soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
                continue;
            }
            if tried.contains(&slot.fingerprint) {
                continue;
            }
            let slot = &mut inner.slots[(start + i) % n];
            slot.requests += 1;
            slot.last_used_ms = Some(now_ms());
            return Ok(Pick {
                key: slot.key.clone(),
                fingerprint: slot.fingerprint.clone(),
            });
        }
        Err(match (unblocked, soonest) {
            (0, _) => Unavailable::Blocked,
            (_, Some(wait)) if tried.is_empty() => Unavailable::Cooling { retry_after: wait },
            _ => Unavailable::Tried,
        })
    }

    /// Note a retry on another key.
    pub fn retried(&self) {
        self.lock().retries += 1;
    }

    /// Record what a call with the key `fingerprint` for `model` came to.
    pub fn report(&self, fingerprint: &str, model: &str, outcome: &Outcome, detail: &str) {
        let mut inner = self.lock();
        let label = match outcome {
            Outcome::Ok => None,
            Outcome::RateLimited { .. } => Some("429".to_string()),
            Outcome::Rejected { reason } => Some(reason.clone()),
            Outcome::Transient { label } | Outcome::Refused { label } => Some(label.clone()),
        };
        if let Some(label) = label {
            *inner.errors.entry(label).or_default() += 1;
        }
        let cooldown = self.cooldown;
        let Some(slot) = inner
            .slots
            .iter_mut()
            .find(|s| s.fingerprint == fingerprint)
        else {
            return; // the key was removed meanwhile
        };
        let detail: String = detail.chars().take(300).collect();
        match outcome {
            Outcome::Ok | Outcome::Refused { .. } => {}
            Outcome::RateLimited { retry_after, daily } => {
                let rest = if *daily {
                    DAILY_COOLDOWN
                } else {
                    retry_after.unwrap_or(cooldown)
                };
                slot.failures += 1;
                slot.rate_limited += 1;
                slot.last_error = Some(detail.clone());
                slot.cooling.insert(
                    model.to_string(),
                    Cooling {
                        until: Instant::now() + rest,
                        until_ms: now_ms() + rest.as_millis() as i64,
                        reason: if *daily {
                            format!("daily quota: {detail}")
                        } else {
                            detail
                        },
                    },
                );
                tracing::warn!(key = %slot.fingerprint, model, rest_secs = rest.as_secs(), "upstream key rate limited; cooling down");
            }
            Outcome::Rejected { reason } => {
                slot.failures += 1;
                slot.last_error = Some(detail.clone());
                if slot.blocked.is_none() {
                    tracing::error!(key = %slot.fingerprint, %reason, "upstream key refused; blocked until an admin enables it");
                    slot.blocked = Some(Block {
                        reason: format!("{reason}: {detail}"),
                        since_ms: now_ms(),
                        persisted: false,
                    });
                }
            }
            Outcome::Transient { .. } => {
                slot.failures += 1;
                slot.last_error = Some(detail);
            }
        }
    }

    /// Unblock the key `fingerprint` and end its cooling; false if there is no such key.
    pub fn enable(&self, fingerprint: &str) -> bool {
        let mut inner = self.lock();
        match inner
            .slots
            .iter_mut()
            .find(|s| s.fingerprint == fingerprint)
        {
            Some(slot) => {
                slot.blocked = None;
                slot.cooling.clear();
                true
            }
            None => false,
        }
    }

    /// One sync of the blocks with SQL at a time: two interleaved (the
    /// periodic reload and an admin's listing) could read SQL before the
    /// other's new block was written, and lift it.
    pub async fn syncing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.syncing.lock().await
    }

    /// Blocks not yet written to SQL.
    pub fn unpersisted_blocks(&self) -> Vec<(String, Block)> {
        let inner = self.lock();
        inner
            .slots
            .iter()
            .filter_map(|slot| {
                let block = slot.blocked.as_ref().filter(|b| !b.persisted)?;
                Some((slot.fingerprint.clone(), block.clone()))
            })
            .collect()
    }

    /// The block of `fingerprint` made at `since_ms` is now in SQL (a block
    /// lifted or made again meanwhile is left as it is).
    pub fn mark_persisted(&self, fingerprint: &str, since_ms: i64) {
        let mut inner = self.lock();
        if let Some(block) = inner
            .slots
            .iter_mut()
            .find(|s| s.fingerprint == fingerprint)
            .and_then(|s| s.blocked.as_mut())
            .filter(|b| b.since_ms == since_ms)
        {
            block.persisted = true;
        }
    }

    /// Put the blocks SQL holds (`fingerprint → (reason, since)`) in force:
    /// keys without a row are unblocked (an admin enabled them elsewhere),
    /// except blocks not written yet.
    pub fn apply_blocks(&self, stored: &HashMap<String, (String, i64)>) {
        let mut inner = self.lock();
        for slot in &mut inner.slots {
            match stored.get(&slot.fingerprint) {
                Some((reason, since_ms)) => {
                    slot.blocked = Some(Block {
                        reason: reason.clone(),
                        since_ms: *since_ms,
                        persisted: true,
                    });
                }
                None => {
                    if slot.blocked.as_ref().is_some_and(|b| b.persisted) {
                        slot.blocked = None;
                    }
                }
            }
        }
    }

    /// Every key's state, in the configured order.
    pub fn views(&self) -> Vec<KeyView> {
        let inner = self.lock();
        let now = Instant::now();
        inner
            .slots
            .iter()
            .map(|slot| {
                let mut cooling: Vec<CoolingView> = slot
                    .cooling
                    .iter()
                    .filter(|(_, c)| c.until > now)
                    .map(|(model, c)| CoolingView {
                        model: model.clone(),
                        until: c.until_ms,
                        reason: c.reason.clone(),
                    })
                    .collect();
                cooling.sort_by(|a, b| a.model.cmp(&b.model));
                let state = if slot.blocked.is_some() {
                    "blocked"
                } else if !cooling.is_empty() {
                    "cooling"
                } else {
                    "active"
                };
                KeyView {
                    fingerprint: slot.fingerprint.clone(),
                    key: slot.key.as_deref().map(mask),
                    state,
                    cooling,
                    blocked_reason: slot.blocked.as_ref().map(|b| b.reason.clone()),
                    blocked_at: slot.blocked.as_ref().map(|b| b.since_ms),
                    requests: slot.requests,
                    failures: slot.failures,
                    rate_limited: slot.rate_limited,
                    last_used_at: slot.last_used_ms,
                    last_error: slot.last_error.clone(),
                }
            })
            .collect()
    }

    /// How many keys are in each state.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for view in self.views() {
            summary.keys += 1;
            match view.state {
                "blocked" => summary.blocked += 1,
                "cooling" => summary.cooling += 1,
                _ => summary.active += 1,
            }
        }
        summary
    }

    /// Failed calls by what went wrong, and retries made, since the start.
    pub fn error_counts(&self) -> (BTreeMap<String, u64>, u64) {
        let inner = self.lock();
        (inner.errors.clone(), inner.retries)
    }
}

/// Whether a 429's text says a quota for the day is used up (rather than a
/// rate per minute): OpenAI's `insufficient_quota`, "daily"/"per day" limits.
pub fn is_daily_quota(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "insufficient_quota",
        "daily",
        "per day",
        "perday",
        "per_day",
    ]
    .iter()
    .any(|needle| text.contains(needle))
        || text.contains("每日")
        || text.contains("今日")
}

/// Seconds of a `Retry-After` header (delta-seconds; an HTTP date is read as
/// its distance from now).
pub fn retry_after(value: Option<&http::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (when - time::OffsetDateTime::now_utc())
        .whole_seconds()
        .max(0);
    Some(Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests;
