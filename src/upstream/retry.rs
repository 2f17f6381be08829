//! Retrying a whole upstream call with backoff (the ingest worker's
//! embeddings batches), beside the per-key attempts of `attempts`.

use std::time::Duration;

use crate::config::Settings;
use crate::error::{AppError, AppResult};

/// How often and how patiently to retry an upstream call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The embeddings retry policy of these settings.
    pub fn for_embeddings(settings: &Settings) -> Self {
        Self {
            retries: settings.embed_retries,
            base: Duration::from_millis(settings.retry_base_ms),
            max: Duration::from_millis(settings.retry_max_ms),
        }
    }

    /// Run `call` until it succeeds, fails for good, or the retries run out.
    ///
    /// Retried: 429 (after the upstream's Retry-After when it gives one), 5xx
    /// and timeouts. A rejected key, an unknown model or a bad request fail at once.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> AppResult<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Err(AppError::Upstream {
                    status,
                    retry_after,
                    message,
                    transient: true,
                }) if attempt < self.retries => {
                    let backoff = self.base.saturating_mul(1 << attempt.min(16));
                    let asked = retry_after
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                        .map(Duration::from_secs)
                        .unwrap_or_default();
                    let delay = backoff.max(asked).min(self.max);
                    tracing::warn!(%status, %message, attempt = attempt + 1, delay_ms = delay.as_millis() as u64, "upstream call failed; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
