//! Request logs and usage: one row per `/v1/*` request (who, what, how big,
//! how long, tokens, errors), and per key per day the requests and tokens
//! they add up to.
//!
//! The request path never waits for the database: a finished request's
//! [`Entry`] goes into a bounded channel, and one writer task stores what
//! has gathered in a single transaction (rows and usage together). When the
//! channel is full the entry is counted and dropped (see
//! [`Recorder::dropped`]) rather than slowing requests down; its usage is
//! not: that is summed in memory per key and day ([`daily`]) before the
//! row is queued, and the writer stores the sums with every batch.
//!
//! Every text field of a row is cut to a fixed size ([`Entry::bound`]), so
//! a request cannot make its row large (a 40 MB model name, a 64 KB path).

pub mod daily;
pub mod error;
pub mod metrics;
pub mod query;
pub mod quota;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, watch};

use crate::domain::clock::now_ms;
use daily::Daily;
pub use daily::Sum;

/// Rows stored per transaction at most.
const BATCH: usize = 500;
/// How often rows older than the retention are deleted.
const CLEAN_EVERY: Duration = Duration::from_secs(3600);

/// One request, as it is stored (and listed).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Entry {
    pub id: String,
    pub created_at: i64,
    pub key_id: Option<String>,
    pub method: String,
    pub endpoint: String,
    /// The public model asked for.
    pub model: Option<String>,
    pub upstream_model: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub stream: bool,
    pub status: u16,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub retrieval_ms: Option<i64>,
    /// The first 8 hex digits of the upstream key's SHA-256.
    pub upstream_key: Option<String>,
    pub retries: i64,
    pub conversation_id: Option<String>,
    /// The request's `X-Request-Id` (the caller's, or ragway's).
    pub request_id: Option<String>,
}

/// Bytes each text field of a stored row keeps at most (a longer value is
/// cut at a character boundary and ends with `…`).
pub mod field_bytes {
    /// `error`.
    pub const ERROR: usize = 4096;
    /// `endpoint` (the path asked for).
    pub const ENDPOINT: usize = 512;
    /// `user_agent`.
    pub const USER_AGENT: usize = 512;
    /// `model` and `upstream_model`.
    pub const MODEL: usize = 256;
    /// `id`, `key_id`, `conversation_id`, `request_id`, `upstream_key`, `client_ip`, `method`.
    pub const SHORT: usize = 128;
}

/// `text` cut to at most `max` bytes at a character boundary, ending with
/// `…` when it was cut.
fn bound(text: &mut String, max: usize) {
    const MARK: char = '…';
    if text.len() <= max {
        return;
    }
    let end = text.floor_char_boundary(max.saturating_sub(MARK.len_utf8()));
    text.truncate(end);
    text.push(MARK);
}

impl Entry {
    pub fn new(method: &str, endpoint: &str) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: now_ms(),
            method: method.to_string(),
            endpoint: endpoint.to_string(),
            ..Self::default()
        }
    }

    /// Cut every text field to its size in [`field_bytes`].
    pub fn bound(&mut self) {
        use field_bytes::*;
        bound(&mut self.endpoint, ENDPOINT);
        bound(&mut self.method, SHORT);
        bound(&mut self.id, SHORT);
        for (field, max) in [
            (&mut self.error, ERROR),
            (&mut self.user_agent, USER_AGENT),
            (&mut self.model, MODEL),
            (&mut self.upstream_model, MODEL),
            (&mut self.key_id, SHORT),
            (&mut self.client_ip, SHORT),
            (&mut self.upstream_key, SHORT),
            (&mut self.conversation_id, SHORT),
            (&mut self.request_id, SHORT),
        ] {
            if let Some(text) = field {
                bound(text, max);
            }
        }
    }
}

/// The entry of the request being served, for the handlers to fill in
/// (the key, the model, tokens…). A detached handle records nothing.
#[derive(Debug, Clone, Default)]
pub struct LogHandle(Option<Arc<Mutex<Entry>>>);

impl LogHandle {
    pub fn new(entry: Entry) -> Self {
        Self(Some(Arc::new(Mutex::new(entry))))
    }

    /// A handle that records nothing (a request outside the logged routes).
    pub fn detached() -> Self {
        Self(None)
    }

    pub fn update(&self, change: impl FnOnce(&mut Entry)) {
        if let Some(entry) = &self.0 {
            change(&mut entry.lock().expect("log entry lock"));
        }
    }

    /// The entry as it stands, taken out (the request is over).
    pub fn take(&self) -> Option<Entry> {
        self.0
            .as_ref()
            .map(|e| std::mem::take(&mut *e.lock().expect("log entry lock")))
    }

    /// The entry as it stands.
    pub fn snapshot(&self) -> Option<Entry> {
        self.0
            .as_ref()
            .map(|e| e.lock().expect("log entry lock").clone())
    }

    pub fn set_key(&self, key_id: &str) {
        self.update(|e| e.key_id = Some(key_id.to_string()));
    }

    pub fn set_model(&self, public: &str, upstream: Option<&str>) {
        self.update(|e| {
            e.model = Some(public.to_string());
            e.upstream_model = upstream.map(str::to_string);
        });
    }

    /// The upstream key used, by its fingerprint (never the key; see
    /// `upstream::pool::fingerprint`); `-`, a keyless upstream, is none.
    pub fn set_upstream_key(&self, fingerprint: &str) {
        let fingerprint = (fingerprint != "-").then(|| fingerprint.to_string());
        self.update(|e| e.upstream_key = fingerprint);
    }

    /// One more attempt on another upstream key.
    pub fn add_retry(&self) {
        self.update(|e| e.retries += 1);
    }

    /// Token counts from an OpenAI `usage` object, added to those of the
    /// request's earlier upstream calls (a follow-up's rewrite, say).
    pub fn set_usage(&self, usage: Option<&Value>) {
        let Some(usage) = usage else { return };
        // A negative count (a broken or hostile upstream) would give tokens back.
        let count = |name: &str| usage.get(name).and_then(Value::as_i64).map(|n| n.max(0));
        let (prompt, completion) = (count("prompt_tokens"), count("completion_tokens"));
        let total = count("total_tokens").or(match (prompt, completion) {
            (Some(p), Some(c)) => Some(p.saturating_add(c)),
            _ => None,
        });
        let add = |before: Option<i64>, more: Option<i64>| match (before, more) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        self.update(|e| {
            e.prompt_tokens = add(e.prompt_tokens, prompt);
            e.completion_tokens = add(e.completion_tokens, completion);
            e.total_tokens = add(e.total_tokens, total);
        });
    }

    pub fn set_stream(&self, stream: bool) {
        self.update(|e| e.stream = stream);
    }

    pub fn set_retrieval(&self, took: Duration) {
        self.update(|e| e.retrieval_ms = Some(took.as_millis() as i64));
    }

    pub fn set_conversation(&self, id: &str) {
        self.update(|e| e.conversation_id = Some(id.to_string()));
    }

    /// What went wrong; the first error named is kept.
    pub fn set_error(&self, message: &str) {
        self.update(|e| {
            if e.error.is_none() {
                let mut error =
                    message[..message.floor_char_boundary(field_bytes::ERROR + 1)].to_string();
                bound(&mut error, field_bytes::ERROR);
                e.error = Some(error);
            }
        });
    }
}

enum Message {
    Row(Box<Entry>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the request log: cheap, never blocks a request.
#[derive(Debug)]
pub struct Recorder {
    sender: mpsc::Sender<Message>,
    /// Taken by the writer when the server starts.
    receiver: Mutex<Option<mpsc::Receiver<Message>>>,
    dropped: AtomicU64,
    /// How many entries were handed over (tests wait on it).
    handed: watch::Sender<u64>,
    /// The usage of every entry handed over, dropped or not, until stored.
    daily: Arc<Daily>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Row(_) => "Row",
            Message::Flush(_) => "Flush",
        })
    }
}

impl Recorder {
    pub fn new(capacity: usize) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            dropped: AtomicU64::new(0),
            handed: watch::channel(0).0,
            daily: Arc::default(),
        }
    }

    /// Count `entry`'s usage and queue it (its text fields cut to size) for
    /// the writer; when the queue is full, count the row as dropped and let
    /// it go (its usage is stored all the same).
    pub fn record(&self, mut entry: Entry) {
        self.daily.add(&entry);
        entry.bound();
        match self.sender.try_send(Message::Row(Box::new(entry))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The queued rows wake the writer anyway; this makes sure.
                self.daily.wake.notify_one();
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "the request log queue is full: rows were dropped");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.handed.send_modify(|n| *n += 1);
    }

    /// Count `entry`'s usage only, keeping no row (request logs are off).
    pub fn count(&self, entry: &Entry) {
        self.daily.add(entry);
        self.daily.wake.notify_one();
    }

    /// Tokens `key_id` spent on `day` that the writer has not stored yet.
    pub fn pending_tokens(&self, key_id: &str, day: &str) -> i64 {
        self.daily.pending_tokens(key_id, day)
    }

    /// Entries dropped because the queue was full, since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Entries handed to [`Self::record`] so far, as a value one can wait on.
    pub fn handed(&self) -> watch::Receiver<u64> {
        self.handed.subscribe()
    }

    /// Wait until everything queued before this call is stored (no-op
    /// when no writer runs).
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

/// Start the writer that stores queued entries, and the periodic cleanup of
/// rows older than `retention_days`. Only a serving process starts it.
pub fn start_writer(log: &Recorder, db: &AnyPool, retention_days: u64) {
    let Some(mut receiver) = log.receiver.lock().expect("log receiver lock").take() else {
        return;
    };
    let db = db.clone();
    let daily = log.daily.clone();
    // A bare spawn on purpose: the writer runs until the queue closes, which is after shutdown
    // waits for the tracker; shutdown stores the last rows with `request_log.flush()` instead.
    #[allow(clippy::disallowed_methods)]
    tokio::spawn(async move {
        let mut buffer = Vec::with_capacity(BATCH);
        let mut rows = Vec::with_capacity(BATCH);
        let mut last_clean: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                biased;
                received = receiver.recv_many(&mut buffer, BATCH) => {
                    if received == 0 {
                        break;
                    }
                }
                () = daily.wake.notified() => {}
            }
            let mut waiting = Vec::new();
            for message in buffer.drain(..) {
                match message {
                    Message::Row(entry) => rows.push(*entry),
                    Message::Flush(done) => waiting.push(done),
                }
            }
            // Taken after the batch was received: whatever was counted
            // before a row (or a flush) was queued is in it.
            let sums = daily.take();
            if !rows.is_empty() || !sums.is_empty() {
                if let Err(err) = store(&db, &rows, &sums).await {
                    tracing::error!(error = %err, rows = rows.len(), "could not store request log rows and usage");
                    // The rows are let go; the usage waits for the next batch.
                    daily.restore(sums);
                }
                rows.clear();
            }
            for done in waiting {
                let _ = done.send(());
            }
            if retention_days > 0 && last_clean.is_none_or(|t| t.elapsed() >= CLEAN_EVERY) {
                last_clean = Some(std::time::Instant::now());
                if let Err(err) = clean(&db, retention_days).await {
                    tracing::warn!(error = %err, "could not delete old request log rows");
                }
            }
        }
    });
}

const COLUMNS: &[&str] = &[
    "id",
    "created_at",
    "key_id",
    "method",
    "endpoint",
    "model",
    "upstream_model",
    "client_ip",
    "user_agent",
    "request_bytes",
    "response_bytes",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "stream",
    "status",
    "error",
    "latency_ms",
    "ttft_ms",
    "retrieval_ms",
    "upstream_key",
    "retries",
    "conversation_id",
    "request_id",
];

/// Store `rows` and add `sums` to the daily usage, in one transaction.
async fn store(db: &AnyPool, rows: &[Entry], sums: &daily::Sums) -> sqlx::Result<()> {
    let style = crate::store::sql::Placeholders::of(db);
    let mut tx = db.begin().await?;
    for chunk in rows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO request_logs ({}) VALUES {}",
            COLUMNS.join(", "),
            style.values(chunk.len(), COLUMNS.len())
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
                .bind(&e.id)
                .bind(e.created_at)
                .bind(&e.key_id)
                .bind(&e.method)
                .bind(&e.endpoint)
                .bind(&e.model)
                .bind(&e.upstream_model)
                .bind(&e.client_ip)
                .bind(&e.user_agent)
                .bind(e.request_bytes as i64)
                .bind(e.response_bytes as i64)
                .bind(e.prompt_tokens)
                .bind(e.completion_tokens)
                .bind(e.total_tokens)
                .bind(e.stream as i64)
                .bind(e.status as i64)
                .bind(&e.error)
                .bind(e.latency_ms)
                .bind(e.ttft_ms)
                .bind(e.retrieval_ms)
                .bind(&e.upstream_key)
                .bind(e.retries)
                .bind(&e.conversation_id)
                .bind(&e.request_id);
        }
        query.execute(&mut *tx).await?;
    }
    daily::store(&mut tx, sums).await?;
    tx.commit().await
}

/// The UTC day of a time in milliseconds, `YYYY-MM-DD`.
pub fn day_of(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "1970-01-01".into())
}

/// Delete log rows (not usage) older than `days`.
async fn clean(db: &AnyPool, days: u64) -> sqlx::Result<u64> {
    let cutoff = now_ms() - (days as i64) * 86_400_000;
    let deleted = sqlx::query("DELETE FROM request_logs WHERE created_at < $1")
        .bind(cutoff)
        .execute(db)
        .await?
        .rows_affected();
    if deleted > 0 {
        tracing::info!(deleted, days, "deleted request log rows past the retention");
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_objects_fill_the_token_counts() {
        let handle = LogHandle::new(Entry::new("POST", "/v1/chat/completions"));
        handle.set_usage(Some(
            &serde_json::json!({"prompt_tokens": 7, "completion_tokens": 3}),
        ));
        let e = handle.snapshot().unwrap();
        assert_eq!(
            (e.prompt_tokens, e.completion_tokens, e.total_tokens),
            (Some(7), Some(3), Some(10))
        );
        // A second call's usage (the answer after a follow-up's rewrite) adds up.
        handle.set_usage(Some(
            &serde_json::json!({"prompt_tokens": 70, "completion_tokens": 30, "total_tokens": 100}),
        ));
        let e = handle.snapshot().unwrap();
        assert_eq!(
            (e.prompt_tokens, e.completion_tokens, e.total_tokens),
            (Some(77), Some(33), Some(110))
        );
        handle.set_error("first");
        handle.set_error("second");
        assert_eq!(handle.snapshot().unwrap().error.as_deref(), Some("first"));
        handle.set_upstream_key(&crate::upstream::pool::fingerprint(Some("sk-upstream")));
        let fingerprint = handle.snapshot().unwrap().upstream_key.unwrap();
        assert_eq!(fingerprint.len(), 8);
        assert!(!fingerprint.contains("sk-"));
        handle.set_upstream_key("-");
        handle.add_retry();
        let e = handle.snapshot().unwrap();
        assert_eq!((e.upstream_key, e.retries), (None, 1));
        assert!(LogHandle::detached().snapshot().is_none());
    }

    #[test]
    fn every_text_field_is_cut_to_its_size() {
        let mut e = Entry::new("GET", &format!("/v1/{}", "é".repeat(40_000)));
        e.model = Some("m".repeat(1 << 20));
        e.error = Some("错".repeat(100_000));
        e.user_agent = Some("ü".repeat(1000));
        e.conversation_id = Some("c".repeat(1000));
        e.bound();
        let within = |text: &str, max: usize| text.len() <= max && text.ends_with('…');
        assert!(
            within(&e.endpoint, field_bytes::ENDPOINT),
            "{}",
            e.endpoint.len()
        );
        assert!(within(e.model.as_deref().unwrap(), field_bytes::MODEL));
        assert!(within(e.error.as_deref().unwrap(), field_bytes::ERROR));
        assert!(within(
            e.user_agent.as_deref().unwrap(),
            field_bytes::USER_AGENT
        ));
        assert!(within(
            e.conversation_id.as_deref().unwrap(),
            field_bytes::SHORT
        ));
        assert!(e.endpoint.starts_with("/v1/é"));
        let mut short = "/v1/models".to_string();
        bound(&mut short, field_bytes::ENDPOINT);
        assert_eq!(short, "/v1/models");
        let handle = LogHandle::new(Entry::new("POST", "/v1/chat/completions"));
        handle.set_error(&"x".repeat(1 << 20));
        let error = handle.snapshot().unwrap().error.unwrap();
        assert!(within(&error, field_bytes::ERROR));
    }

    #[tokio::test]
    async fn a_full_queue_drops_rows_but_counts_their_usage() {
        let recorder = Recorder::new(2);
        for _ in 0..5 {
            let mut entry = Entry::new("POST", "/v1/chat/completions");
            entry.key_id = Some("k".into());
            entry.total_tokens = Some(7);
            recorder.record(entry);
        }
        assert_eq!(recorder.dropped(), 3);
        assert_eq!(*recorder.handed().borrow(), 5);
        let today = day_of(now_ms());
        assert_eq!(recorder.pending_tokens("k", &today), 35);
    }
}
