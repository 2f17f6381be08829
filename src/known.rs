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

/// Up to a bounded number of values by name, each kept for [`FRESH_FOR`]
/// from when it was read (moka's cache, which Lance builds in the tree).
#[derive(Clone)]
pub struct Known<V: Clone + Send + Sync + 'static>(Cache<String, V>);

impl<V: Clone + Send + Sync + 'static> Known<V> {
    /// Room for `capacity` values.
    pub fn new(capacity: u64) -> Self {
        Self(
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(FRESH_FOR)
                .build(),
        )
    }

    /// The value kept for `name`, if it is fresh.
    pub fn get(&self, name: &str) -> Option<V> {
        self.0.get(name)
    }

    /// Keep `value` for `name`, fresh from now.
    pub fn keep(&self, name: String, value: V) {
        self.0.insert(name, value);
    }

    /// Forget the value kept for `name`.
    pub fn forget_one(&self, name: &str) {
        self.0.invalidate(name);
    }

    /// Forget every value: the next read of each goes to SQL.
    pub fn forget(&self) {
        self.0.invalidate_all();
    }
}

impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for Known<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Known")
            .field("entries", &self.0.entry_count())
            .finish()
    }
}
