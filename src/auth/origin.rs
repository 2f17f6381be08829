//! Where clients reach this server, for the links it hands out and the
//! admin's Origin check.

use http::{header, HeaderMap};

use crate::config::Settings;

/// Where clients reach this server: `RAGWAY_PUBLIC_URL`, or the request's
/// `X-Forwarded-Proto`/`X-Forwarded-Host` (behind a proxy) or `Host`.
pub fn server_origin(settings: &Settings, headers: &HeaderMap) -> String {
    if let Some(url) = &settings.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = header_text("x-forwarded-host")
        .or_else(|| header_text(header::HOST.as_str()))
        .unwrap_or(&settings.listen);
    let scheme = header_text("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}")
}
