//! Rows read on every request (API keys, models), kept in this process
//! for at most [`FRESH_FOR`], so a chat request does not read them from
//! SQL each time. The staleness bound is the promise: a change made in
//! this process (a key revoked or changed, a model saved, through the
//! admin or the CLI's functions) forgets what is kept at once; one made by
//! another process (another replica, `ragway keys revoke`) applies here
//! within [`FRESH_FOR`]. Each cache holds a bounded number of entries, so
//! callers that send many different keys or model names cannot grow it.

use std::time::Duration;

use moka::sync::Cache;

/// The longest a kept row answers for SQL's.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// A cache of up to `capacity` entries, each kept for [`FRESH_FOR`] from
/// when it was read.
pub fn cache<V: Clone + Send + Sync + 'static>(capacity: u64) -> Cache<String, V> {
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(FRESH_FOR)
        .build()
}
