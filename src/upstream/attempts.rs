//! One upstream call over the key pool: which key each attempt uses, when
//! to go on to the next, and what each failure tells about the key.
//!
//! A 429, 401 or 403 is an answer about the key, given at once: the call
//! goes on to the next key without spending an attempt. A 5xx, a connection
//! error or a timeout before the first byte costs time, so those are bounded
//! by `RAGWAY_UPSTREAM_ATTEMPTS`. Each key is tried at most once per call.

use std::time::Duration;

use serde_json::Value;

use super::bounded::{self, ReadError};
use super::error::UpstreamError;
use super::pool::{self, Outcome, Unavailable};
use super::{error_chain, Upstream};
use crate::error::{AppError, AppResult};
use crate::usage::LogHandle;

/// One attempt's failure: the error for the caller and what it tells of the key.
pub(super) struct Failed {
    pub(super) error: AppError,
    pub(super) outcome: Outcome,
}

/// Whether a failure spends one of the call's attempts: only the slow ones
/// do (a 5xx, a connection error, a timeout). A rate-limited or refused key
/// answered at once, and the pool keeps it out of the next calls anyway.
fn counts_as_attempt(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Transient { .. })
}

impl Upstream {
    /// Run `attempt` with a key from the pool (the key as its argument),
    /// again on another key after a failure that says nothing of the
    /// request itself. The pool learns from each outcome; `log` gets the
    /// last key used and the retries.
    ///
    /// A key that answers 429, 401 or 403 answered at once: the next key is
    /// tried without counting an attempt. Only the slow failures (5xx,
    /// connection errors, timeouts) use up the configured attempts, so a
    /// pool with a few bad keys still serves every call. Each key is tried
    /// at most once per call, which ends the loop when the pool runs out.
    pub(super) async fn attempts<T, F, Fut>(
        &self,
        model: &str,
        log: &LogHandle,
        mut attempt: F,
    ) -> AppResult<T>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failed>>,
    {
        let mut tried: Vec<String> = Vec::new();
        let mut slow = 0;
        let mut last: Option<AppError> = None;
        loop {
            let pick = match self.pool.pick(model, &tried) {
                Ok(pick) => pick,
                Err(why) => return Err(last.unwrap_or_else(|| self.unavailable(model, why))),
            };
            if !tried.is_empty() {
                self.pool.retried();
                log.add_retry();
            }
            log.set_upstream_key(&pick.fingerprint);
            tried.push(pick.fingerprint.clone());
            match attempt(pick.key).await {
                Ok(value) => {
                    self.pool.report(&pick.fingerprint, model, &Outcome::Ok, "");
                    return Ok(value);
                }
                Err(Failed { error, outcome }) => {
                    self.pool
                        .report(&pick.fingerprint, model, &outcome, &error.to_string());
                    if !outcome.try_another_key() {
                        return Err(error);
                    }
                    if counts_as_attempt(&outcome) {
                        slow += 1;
                        if slow >= self.attempts {
                            return Err(error);
                        }
                    }
                    tracing::warn!(role = self.role.name(), key = %pick.fingerprint, error = %error, "upstream call failed; trying another key");
                    last = Some(error);
                }
            }
        }
    }

    /// The error when no key can take a call.
    fn unavailable(&self, model: &str, why: Unavailable) -> AppError {
        let role = self.role.name();
        match why {
            Unavailable::Blocked => UpstreamError::KeysBlocked { role },
            Unavailable::Cooling { retry_after } => UpstreamError::KeysResting {
                role,
                model: model.to_string(),
                secs: retry_after.as_secs_f64().ceil().max(1.0) as u64,
            },
            Unavailable::Tried => UpstreamError::NoKeyFree { role },
        }
        .into()
    }

    pub(super) fn failed_by_timeout(&self, limit: Duration) -> Failed {
        Failed {
            error: UpstreamError::TimedOut {
                role: self.role.name(),
                secs: limit.as_secs(),
            }
            .into(),
            outcome: Outcome::Transient {
                label: "timeout".into(),
            },
        }
    }

    pub(super) fn failed_in_transport(&self, err: reqwest::Error) -> Failed {
        let timed_out = err.is_timeout();
        Failed {
            error: UpstreamError::Unreachable {
                role: self.role.name(),
                detail: error_chain(&err),
                timed_out,
            }
            .into(),
            outcome: Outcome::Transient {
                label: if timed_out { "timeout" } else { "connect" }.into(),
            },
        }
    }

    /// A body that could not be read whole: cut off (another key may do
    /// better), or larger than ragway reads (no key will).
    pub(super) fn failed_reading(&self, err: ReadError) -> Failed {
        let role = self.role.name();
        match err {
            ReadError::Transport(err) => Failed {
                error: UpstreamError::Cut {
                    role,
                    detail: error_chain(&err),
                }
                .into(),
                outcome: Outcome::Transient {
                    label: "cut".into(),
                },
            },
            too_large @ ReadError::TooLarge(_) => Failed {
                error: UpstreamError::TooLarge {
                    role,
                    detail: too_large.to_string(),
                }
                .into(),
                outcome: Outcome::Refused {
                    label: "too large".into(),
                },
            },
        }
    }

    pub(super) async fn failed_with_status(&self, response: reqwest::Response) -> Failed {
        let upstream_status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let text = bounded::read_start(response, bounded::MAX_ERROR_BYTES).await;
        let detail = upstream_message(&text);
        let role = self.role.name();
        let prefix = self.role.env_prefix();
        // Whose fault it is (the status) is `UpstreamError::status`'s choice.
        let message = match upstream_status.as_u16() {
            429 => format!("The {role} upstream is rate limiting requests: {detail}"),
            401 | 403 => format!("The {role} upstream rejected ragway's credentials (check the provider's API key in the admin, or {prefix}_API_KEY): {detail}"),
            404 => format!("The {role} upstream answered 404 (check the provider's base URL and model in the admin, or {prefix}_BASE_URL and {prefix}_MODEL): {detail}"),
            400 | 413 | 422 => format!("The {role} upstream refused the request: {detail}"),
            code => format!("The {role} upstream failed with status {code}: {detail}"),
        };
        let outcome = match upstream_status.as_u16() {
            429 => Outcome::RateLimited {
                retry_after: pool::retry_after(retry_after.as_ref()),
                daily: pool::is_daily_quota(&text),
            },
            401 | 403 => Outcome::Rejected {
                reason: upstream_status.as_u16().to_string(),
            },
            code if upstream_status.is_server_error() => Outcome::Transient {
                label: code.to_string(),
            },
            code => Outcome::Refused {
                label: code.to_string(),
            },
        };
        Failed {
            error: UpstreamError::Status {
                upstream: upstream_status,
                message,
                retry_after,
            }
            .into(),
            outcome,
        }
    }
}

/// The most useful line of an upstream error body.
fn upstream_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let error = v.get("error").unwrap_or(&v);
        error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .or_else(|| v.get("message").and_then(Value::as_str))
            .map(str::to_string)
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let text = if text.is_empty() {
        "(no details)".to_string()
    } else {
        text
    };
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_messages_are_extracted() {
        assert_eq!(
            upstream_message(r#"{"error":{"message":"slow down"}}"#),
            "slow down"
        );
        assert_eq!(upstream_message(r#"{"message":"bad"}"#), "bad");
        assert_eq!(upstream_message("plain"), "plain");
        assert_eq!(upstream_message(""), "(no details)");
    }

    #[test]
    fn only_slow_failures_spend_attempts() {
        assert!(counts_as_attempt(&Outcome::Transient {
            label: "500".into()
        }));
        assert!(!counts_as_attempt(&Outcome::RateLimited {
            retry_after: None,
            daily: false
        }));
        assert!(!counts_as_attempt(&Outcome::Rejected {
            reason: "401".into()
        }));
    }
}
