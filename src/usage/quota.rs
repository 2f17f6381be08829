//! Per-key limits: requests per rolling minute (counted in this process)
//! and chat tokens per UTC day (the daily usage stored, plus what this
//! process has counted and not stored yet; counted for every request, even
//! one whose log row was dropped). Over either, the caller gets a 429 in OpenAI's shape with
//! `Retry-After`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::Row;

use super::error::{UsageError, UsageResult};
use super::{day_of, Recorder};
use crate::auth::Caller;
use crate::domain::clock::now_ms;

const MINUTE: Duration = Duration::from_secs(60);

/// The recent requests of each key that has a per-minute limit.
#[derive(Debug, Default)]
pub struct Quotas {
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Quotas {
    /// Count a request of `caller` against its per-minute limit, or refuse it.
    pub fn admit(&self, caller: &Caller) -> UsageResult<()> {
        self.admit_at(caller, Instant::now())
    }

    fn admit_at(&self, caller: &Caller, now: Instant) -> UsageResult<()> {
        let Some(limit) = caller.limits.requests_per_minute else {
            return Ok(());
        };
        let limit = limit.max(0) as usize;
        let mut windows = self.windows.lock().expect("quota lock");
        let window = windows.entry(caller.key_id.clone()).or_default();
        while window
            .front()
            .is_some_and(|at| now.duration_since(*at) >= MINUTE)
        {
            window.pop_front();
        }
        if window.len() >= limit {
            let wait = window.front().map_or(MINUTE, |oldest| {
                MINUTE.saturating_sub(now.duration_since(*oldest))
            });
            return Err(UsageError::RateLimited {
                message: format!(
                    "Rate limit reached for this key: {limit} requests per minute. Try again in {} s.",
                    wait.as_secs().max(1)
                ),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        window.push_back(now);
        Ok(())
    }
}

/// Refuse a chat request from a key that has used its tokens for today.
pub async fn check_tokens(db: &sqlx::AnyPool, log: &Recorder, caller: &Caller) -> UsageResult<()> {
    let Some(limit) = caller.limits.tokens_per_day else {
        return Ok(());
    };
    let now = now_ms();
    let day = day_of(now);
    let stored: i64 =
        sqlx::query("SELECT total_tokens FROM usage_daily WHERE key_id = $1 AND day = $2")
            .bind(&caller.key_id)
            .bind(&day)
            .fetch_optional(db)
            .await?
            .map(|row| row.try_get("total_tokens"))
            .transpose()?
            .unwrap_or(0);
    let used = stored + log.pending_tokens(&caller.key_id, &day);
    if used < limit {
        return Ok(());
    }
    let midnight = (now / 86_400_000 + 1) * 86_400_000;
    let wait = ((midnight - now) / 1000).max(1) as u64;
    Err(UsageError::QuotaUsed {
        message: format!(
            "This key has used its {limit} tokens for today ({used} so far); the quota renews at 00:00 UTC, in {wait} s."
        ),
        retry_after_secs: wait,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::KeyLimits;
    use crate::auth::Role;

    fn caller(key: &str, per_minute: Option<i64>) -> Caller {
        Caller {
            key_id: key.into(),
            role: Role::User,
            limits: KeyLimits {
                requests_per_minute: per_minute,
                tokens_per_day: None,
            },
        }
    }

    #[test]
    fn a_key_gets_its_requests_per_rolling_minute() {
        let quotas = Quotas::default();
        let start = Instant::now();
        let two = caller("a", Some(2));
        quotas.admit_at(&two, start).unwrap();
        quotas
            .admit_at(&two, start + Duration::from_secs(20))
            .unwrap();
        let Err(UsageError::RateLimited {
            retry_after_secs, ..
        }) = quotas.admit_at(&two, start + Duration::from_secs(30))
        else {
            panic!("the third request in a minute passed");
        };
        assert_eq!(retry_after_secs, 30);
        // Other keys are counted apart; keys without a limit are not counted.
        quotas.admit_at(&caller("b", Some(1)), start).unwrap();
        for _ in 0..100 {
            quotas.admit_at(&caller("c", None), start).unwrap();
        }
        // A minute after the first, one place is free again.
        quotas
            .admit_at(&two, start + Duration::from_secs(60))
            .unwrap();
        assert!(quotas
            .admit_at(&two, start + Duration::from_secs(61))
            .is_err());
    }
}
