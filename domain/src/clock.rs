//! The one clock: every stored time is milliseconds since the Unix epoch.

/// Now, in milliseconds since the Unix epoch (0 if the system clock is
/// before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
