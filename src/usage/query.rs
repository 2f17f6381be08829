//! Reading the request log and the daily usage back, for the admin.

use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

use super::error::{UsageError, UsageResult};
use super::{day_of, Entry};
use crate::domain::clock::now_ms;
use crate::domain::page::{page_limit, Page};

/// A stored request log row: the entry as it was written.
#[derive(Debug, Clone, Serialize)]
pub struct LogRow {
    pub object: &'static str,
    #[serde(flatten)]
    pub entry: Entry,
}

fn log_row(row: &sqlx::any::AnyRow) -> sqlx::Result<LogRow> {
    let count =
        |name: &str| -> sqlx::Result<u64> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
    let entry = Entry {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        key_id: row.try_get("key_id")?,
        method: row.try_get("method")?,
        endpoint: row.try_get("endpoint")?,
        model: row.try_get("model")?,
        upstream_model: row.try_get("upstream_model")?,
        client_ip: row.try_get("client_ip")?,
        user_agent: row.try_get("user_agent")?,
        request_bytes: count("request_bytes")?,
        response_bytes: count("response_bytes")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        total_tokens: row.try_get("total_tokens")?,
        stream: row.try_get::<i64, _>("stream")? != 0,
        status: row.try_get::<i64, _>("status")? as u16,
        error: row.try_get("error")?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
        retrieval_ms: row.try_get("retrieval_ms")?,
        upstream_key: row.try_get("upstream_key")?,
        retries: row.try_get("retries")?,
        conversation_id: row.try_get("conversation_id")?,
        request_id: row.try_get("request_id")?,
    };
    Ok(LogRow {
        object: "request_log",
        entry,
    })
}

/// Filters and page of a log listing.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    pub key_id: Option<String>,
    pub model: Option<String>,
    /// A status code, or `ok` (below 400) or `error` (400 and up).
    pub status: Option<String>,
    /// Endpoints that start with this (`/v1/chat`).
    pub endpoint: Option<String>,
    /// The request with this `X-Request-Id`.
    pub request_id: Option<String>,
    /// Only rows from (inclusive) and before (exclusive) these times, ms since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub after: Option<String>,
}

/// Log rows matching `query`, newest first (ids are UUIDv7: time order).
pub async fn logs(db: &AnyPool, query: &LogQuery) -> UsageResult<Page<LogRow>> {
    let limit = page_limit(query.limit)?;
    enum Bind {
        Text(String),
        Number(i64),
    }
    let mut conditions: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    // `?` in `condition` becomes the next placeholder.
    let mut add = |condition: &str, bind: Option<Bind>| {
        if let Some(bind) = bind {
            binds.push(bind);
        }
        conditions.push(condition.replace('?', &format!("${}", binds.len())));
    };
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let Some(key) = nonempty(&query.key_id) {
        add("key_id = ?", Some(Bind::Text(key)));
    }
    if let Some(model) = nonempty(&query.model) {
        add("model = ?", Some(Bind::Text(model)));
    }
    if let Some(id) = nonempty(&query.request_id) {
        add("request_id = ?", Some(Bind::Text(id)));
    }
    if let Some(endpoint) = nonempty(&query.endpoint) {
        let escaped = endpoint
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        add(
            "endpoint LIKE ? ESCAPE '\\'",
            Some(Bind::Text(format!("{escaped}%"))),
        );
    }
    match nonempty(&query.status).as_deref() {
        None => {}
        Some("ok") => add("status < 400", None),
        Some("error") => add("status >= 400", None),
        Some(code) => {
            let code: i64 = code
                .parse()
                .ok()
                .filter(|c| (100..600).contains(c))
                .ok_or_else(|| {
                    UsageError::Invalid(
                        "`status` must be an HTTP status code, `ok` or `error`.".into(),
                    )
                })?;
            add("status = ?", Some(Bind::Number(code)));
        }
    }
    if let Some(since) = query.since {
        add("created_at >= ?", Some(Bind::Number(since)));
    }
    if let Some(until) = query.until {
        add("created_at < ?", Some(Bind::Number(until)));
    }
    if let Some(after) = nonempty(&query.after) {
        add("id < ?", Some(Bind::Text(after)));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT * FROM request_logs {filter} ORDER BY id DESC LIMIT {}",
        limit + 1
    );
    let mut statement = sqlx::query(&sql);
    for bind in binds {
        statement = match bind {
            Bind::Text(t) => statement.bind(t),
            Bind::Number(v) => statement.bind(v),
        };
    }
    let rows = statement.fetch_all(db).await?;
    let data = rows.iter().map(log_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::new(data, limit, |r| r.entry.id.clone()))
}

/// One key's requests and tokens on one UTC day.
#[derive(Debug, Clone, Serialize)]
pub struct UsageRow {
    pub key_id: String,
    /// The key's name, when the key still exists.
    pub key_name: Option<String>,
    pub day: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsageQuery {
    pub key_id: Option<String>,
    /// First and last UTC day, `YYYY-MM-DD` [default: the last 7 days].
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The usage rows of `query`'s days, newest day first, and their sums.
pub async fn usage(
    db: &AnyPool,
    query: &UsageQuery,
) -> UsageResult<(Vec<UsageRow>, super::Sum, String, String)> {
    let day = |name: &str, value: &Option<String>, default: String| -> UsageResult<String> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(text) => parse_day(text).ok_or_else(|| {
                UsageError::Invalid(format!("`{name}` must be a day such as 2026-12-31."))
            }),
        }
    };
    let now = now_ms();
    let to = day("to", &query.to, day_of(now))?;
    let from = day("from", &query.from, day_of(now - 6 * 86_400_000))?;
    if from > to {
        return Err(UsageError::Invalid("`from` must not be after `to`.".into()));
    }
    let mut sql = String::from(
        "SELECT u.key_id, k.name AS key_name, u.day, u.requests, u.prompt_tokens, u.completion_tokens, \
         u.total_tokens FROM usage_daily u LEFT JOIN api_keys k ON k.id = u.key_id \
         WHERE u.day >= $1 AND u.day <= $2",
    );
    let key = query
        .key_id
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if key.is_some() {
        sql.push_str(" AND u.key_id = $3");
    }
    sql.push_str(" ORDER BY u.day DESC, u.total_tokens DESC, u.key_id");
    let mut statement = sqlx::query(&sql).bind(&from).bind(&to);
    if let Some(key) = key {
        statement = statement.bind(key);
    }
    let rows = statement.fetch_all(db).await?;
    let mut total = super::Sum::default();
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        let usage = UsageRow {
            key_id: row.try_get("key_id")?,
            key_name: row.try_get("key_name")?,
            day: row.try_get("day")?,
            requests: row.try_get("requests")?,
            prompt_tokens: row.try_get("prompt_tokens")?,
            completion_tokens: row.try_get("completion_tokens")?,
            total_tokens: row.try_get("total_tokens")?,
        };
        total.requests += usage.requests;
        total.prompt_tokens += usage.prompt_tokens;
        total.completion_tokens += usage.completion_tokens;
        total.total_tokens += usage.total_tokens;
        data.push(usage);
    }
    Ok((data, total, from, to))
}

/// `YYYY-MM-DD` as a real calendar day, normalised.
fn parse_day(text: &str) -> Option<String> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    time::Date::from_calendar_date(year, month, day)
        .ok()
        .map(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_checked_and_normalised() {
        assert_eq!(parse_day("2026-12-03").as_deref(), Some("2026-12-03"));
        assert_eq!(parse_day("2026-2-3").as_deref(), Some("2026-02-03"));
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(parse_day("yesterday"), None);
    }
}
