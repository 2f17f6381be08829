//! The per-key daily usage, counted apart from the request log's rows.
//!
//! Every finished request with a key adds to a sum in memory, one per key
//! and UTC day (so it is bounded by the keys, not by the requests), and the
//! writer moves the sums into `usage_daily` with each batch of rows. A row
//! that the full log queue drops has still been counted here, so a flood
//! cannot escape `tokens_per_day`.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::{day_of, Entry};

/// Requests and tokens of one key on one day.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sum {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl Sum {
    fn add(&mut self, other: &Sum) {
        self.requests += other.requests;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// Sums per (key id, UTC day `YYYY-MM-DD`).
pub type Sums = HashMap<(String, String), Sum>;

/// The usage not yet in `usage_daily`.
#[derive(Debug, Default)]
pub struct Daily {
    sums: Mutex<Sums>,
    /// Wakes the writer when no queued row will (a dropped row, logs off).
    pub(super) wake: Notify,
}

impl Daily {
    /// Count `entry` (if it has a key) for its key and day.
    pub fn add(&self, entry: &Entry) {
        let Some(key) = entry.key_id.as_deref() else {
            return;
        };
        let sum = Sum {
            requests: 1,
            prompt_tokens: entry.prompt_tokens.unwrap_or(0),
            completion_tokens: entry.completion_tokens.unwrap_or(0),
            total_tokens: entry.total_tokens.unwrap_or(0),
        };
        let day = day_of(entry.created_at);
        let mut sums = self.sums.lock().expect("usage lock");
        sums.entry((key.to_string(), day)).or_default().add(&sum);
    }

    /// Tokens counted for `key_id` on `day` that are not stored yet.
    pub fn pending_tokens(&self, key_id: &str, day: &str) -> i64 {
        let sums = self.sums.lock().expect("usage lock");
        sums.get(&(key_id.to_string(), day.to_string()))
            .map_or(0, |s| s.total_tokens)
    }

    /// Everything counted so far, taken out (for the writer to store).
    pub(super) fn take(&self) -> Sums {
        std::mem::take(&mut *self.sums.lock().expect("usage lock"))
    }

    /// Sums the writer could not store, back in for its next batch.
    pub(super) fn restore(&self, taken: Sums) {
        let mut sums = self.sums.lock().expect("usage lock");
        for (at, sum) in taken {
            sums.entry(at).or_default().add(&sum);
        }
    }
}

/// Add `sums` to `usage_daily` in `tx`.
pub(super) async fn store(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sums: &Sums,
) -> sqlx::Result<()> {
    for ((key_id, day), sum) in sums {
        sqlx::query(
            "INSERT INTO usage_daily (key_id, day, requests, prompt_tokens, completion_tokens, total_tokens) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id, day) DO UPDATE SET \
             requests = usage_daily.requests + excluded.requests, \
             prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens, \
             total_tokens = usage_daily.total_tokens + excluded.total_tokens",
        )
        .bind(key_id)
        .bind(day)
        .bind(sum.requests)
        .bind(sum.prompt_tokens)
        .bind(sum.completion_tokens)
        .bind(sum.total_tokens)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_summed_per_key_and_utc_day() {
        let day = 1_764_720_000_000; // 2025-12-03T00:00:00Z
        let entry = |key: Option<&str>, at: i64, tokens: Option<i64>| Entry {
            key_id: key.map(str::to_string),
            created_at: at,
            prompt_tokens: tokens,
            completion_tokens: tokens.map(|t| t * 2),
            total_tokens: tokens.map(|t| t * 3),
            ..Entry::default()
        };
        let daily = Daily::default();
        for e in [
            entry(Some("a"), day + 1, Some(10)),
            entry(Some("a"), day + 2, None),
            entry(Some("a"), day - 1, Some(1)),
            entry(Some("b"), day + 3, Some(5)),
            entry(None, day, Some(100)),
        ] {
            daily.add(&e);
        }
        assert_eq!(daily.pending_tokens("a", "2025-12-03"), 30);
        let sums = daily.take();
        assert_eq!(sums.len(), 3);
        let at = |key: &str, day: &str| sums[&(key.to_string(), day.to_string())];
        assert_eq!(
            at("a", "2025-12-03"),
            Sum {
                requests: 2,
                prompt_tokens: 10,
                completion_tokens: 20,
                total_tokens: 30
            }
        );
        assert_eq!(at("a", "2025-12-02").requests, 1);
        assert_eq!(at("b", "2025-12-03").total_tokens, 15);
        assert_eq!(daily.pending_tokens("a", "2025-12-03"), 0);
        // What could not be stored comes back, added to what came since.
        daily.add(&entry(Some("b"), day, Some(1)));
        daily.restore(sums);
        assert_eq!(daily.pending_tokens("b", "2025-12-03"), 18);
    }
}
