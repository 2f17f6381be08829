//! Base URLs as people type them: with or without `/v1`.

/// Accept a base URL with or without its `/v1` (or other `/vN`) suffix.
pub fn normalize_base_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or_default();
    let versioned =
        last.len() >= 2 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit());
    if versioned {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1")
    }
}
