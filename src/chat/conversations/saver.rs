//! The one writer that stores this process's exchanges, group-committed:
//! a request hands its [`Save`] over and answers at once, and the writer
//! stores whatever has gathered meanwhile in one transaction (at most
//! [`BATCH_SAVES`] saves, [`CHUNK_BYTES`] of messages), usually within a
//! millisecond or two. The queue is bounded, in saves and in bytes
//! ([`QUEUE`], [`QUEUE_BYTES`]): when it is full a request waits for room
//! before it answers; nothing is dropped. A large save does not queue: its
//! own request writes it in short transactions ([`write_large`]), between
//! the writer's, before it answers.
//!
//! What this process reads of a key's conversations waits first for that
//! key's saves still queued ([`Saver::settle`]), so a client that goes on
//! with the conversation it was just answered in finds it; the admin's
//! reads wait for every queued save ([`Saver::flush`]), and so does
//! shutdown.
//!
//! It also keeps each key's stored bytes (what the per-key cap reads on
//! every request) for at most [`crate::known::FRESH_FOR`], adding what this
//! process stores; another replica's saves show within that time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::save::{write_batch, write_large, Save, Written, CHUNK_BYTES};
use crate::chat::error::ChatResult;
use crate::chat::responses::{insert_rows, ResponseRow};
use crate::domain::clock::now_ms;
use crate::known::Known;

/// Saves stored in one transaction at most.
pub const BATCH_SAVES: usize = 256;

/// Saves waiting for the writer at most (then requests wait for room).
const QUEUE: usize = 4096;

/// Bytes of messages waiting for the writer at most (then requests wait
/// for room): what the queue may hold in memory.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// The queue's room is counted in units of this many bytes.
const UNIT: usize = 1024;

/// Keys whose stored bytes are kept at most.
const KEYS_KEPT: u64 = 100_000;

struct Job {
    work: Work,
    /// The work's room in the queue, given back once it is stored.
    _room: OwnedSemaphorePermit,
}

/// What the writer stores: an exchange, or a kept Responses API response
/// (stored with the saves of its batch, so a kept response costs its
/// request no write of its own).
enum Work {
    Save(Save),
    Response(ResponseRow),
}

impl Work {
    fn key_id(&self) -> &str {
        match self {
            Work::Save(save) => &save.key_id,
            Work::Response(row) => &row.key_id,
        }
    }

    fn bytes(&self) -> i64 {
        match self {
            Work::Save(save) => save.bytes,
            Work::Response(row) => row.body.len() as i64,
        }
    }
}

/// What the requests and the writer share.
struct Shared {
    stored: Known<Arc<AtomicI64>>,
    /// Saves queued and not yet stored, per key.
    pending: Mutex<HashMap<String, usize>>,
    /// Counts the writer's batches: whoever waits for queued saves looks
    /// again after each.
    batches: watch::Sender<u64>,
    /// Room in the queue, in [`UNIT`]s of messages.
    room: Arc<Semaphore>,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Add `bytes` to `key_id`'s kept total, if it is kept.
    fn add(&self, key_id: &str, bytes: i64) {
        if let Some(total) = self.stored.get(key_id) {
            total.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// What a save did to `key_id`'s kept total, of which `counted` bytes
    /// were added when it was queued (0 for a save written in place).
    fn account(&self, key_id: &str, result: &ChatResult<Written>, counted: i64) {
        match result {
            Ok(Written::Added(bytes)) => self.add(key_id, bytes - counted),
            Ok(Written::Replaced) => self.stored.forget_one(key_id),
            Ok(Written::Gone) | Err(_) => self.add(key_id, -counted),
        }
    }

    /// `key_id`'s queued save is stored (or failed): one fewer to wait for.
    fn done(&self, key_id: &str) {
        let mut pending = self.pending();
        if let Some(count) = pending.get_mut(key_id) {
            *count -= 1;
            if *count == 0 {
                pending.remove(key_id);
            }
        }
    }

    /// Wait until `queued` says no save is waiting any more.
    async fn wait_until(&self, queued: impl Fn(&HashMap<String, usize>) -> bool) {
        let mut batches = self.batches.subscribe();
        while queued(&self.pending()) {
            if batches.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The sending side of the conversation writer, and the keys' stored bytes.
pub struct Saver {
    sender: mpsc::Sender<Job>,
    /// Taken by the writer when the server starts.
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    /// The writer runs; until then saves are written by their own requests.
    running: AtomicBool,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Saver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saver")
            .field("queued", &(QUEUE - self.sender.capacity()))
            .field("stored", &self.shared.stored)
            .finish()
    }
}

impl Default for Saver {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            running: AtomicBool::new(false),
            shared: Arc::new(Shared {
                stored: Known::new(KEYS_KEPT),
                pending: Mutex::new(HashMap::new()),
                batches: watch::Sender::new(0),
                room: Arc::new(Semaphore::new(QUEUE_BYTES / UNIT)),
            }),
        }
    }
}

impl Saver {
    /// Store `save`: queued for the writer (waiting for room when the queue
    /// is full), or written here when it is large or no writer runs.
    pub async fn save(&self, db: &AnyPool, save: Save) -> ChatResult<()> {
        if save.is_large() {
            let written = write_large(db, &save, now_ms()).await;
            self.shared.account(&save.key_id, &written, 0);
            return written.map(|_| ());
        }
        match self.hand_over(Work::Save(save)).await {
            Ok(()) => Ok(()),
            Err(work) => self.store_here(db, work).await,
        }
    }

    /// Keep a Responses API response: queued with the saves (its key's
    /// reads settle it first, as they do the saves), or written here when
    /// no writer runs.
    pub async fn keep_response(&self, db: &AnyPool, row: ResponseRow) -> ChatResult<()> {
        match self.hand_over(Work::Response(row)).await {
            Ok(()) => Ok(()),
            Err(work) => self.store_here(db, work).await,
        }
    }

    /// Store `work` in this request, where no writer runs (a CLI process,
    /// or the server is ending).
    async fn store_here(&self, db: &AnyPool, work: Work) -> ChatResult<()> {
        match work {
            Work::Save(save) => {
                let written = write_batch(db, &[&save], now_ms())
                    .await
                    .map(|mut w| w.remove(0));
                self.shared.account(&save.key_id, &written, 0);
                written.map(|_| ())
            }
            Work::Response(row) => insert_rows(db, &[&row]).await,
        }
    }

    /// Queue `work` for the writer (waiting for room); where no writer
    /// runs, `work` comes back.
    async fn hand_over(&self, work: Work) -> Result<(), Work> {
        if !self.running.load(Ordering::Acquire) {
            return Err(work);
        }
        let units = (work.bytes().max(0) as usize)
            .div_ceil(UNIT)
            .clamp(1, QUEUE_BYTES / UNIT);
        let Ok(room) = Arc::clone(&self.shared.room)
            .acquire_many_owned(units as u32)
            .await
        else {
            return Err(work);
        };
        let key_id = work.key_id().to_string();
        let adds = match &work {
            Work::Save(save) => save.adds().unwrap_or(0),
            Work::Response(_) => 0,
        };
        *self.shared.pending().entry(key_id.clone()).or_default() += 1;
        // Counted at once, so that the key's next request meets its cap
        // with this save in it; the writer corrects it if the save fails.
        self.shared.add(&key_id, adds);
        match self.sender.send(Job { work, _room: room }).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(job)) => {
                self.shared.add(&key_id, -adds);
                self.shared.done(&key_id);
                Err(job.work)
            }
        }
    }

    /// Wait until `key_id`'s queued saves are stored: before reading that
    /// key's conversations, so that it finds what it was just answered in.
    pub async fn settle(&self, key_id: &str) {
        self.shared
            .wait_until(|pending| pending.contains_key(key_id))
            .await;
    }

    /// Wait until every queued save is stored (the admin's reads, shutdown, tests).
    pub async fn flush(&self) {
        self.shared.wait_until(|pending| !pending.is_empty()).await;
    }

    /// Bytes of conversation messages `key_id` has stored (the running
    /// total saves and deletes keep; one read by primary key, kept).
    pub async fn stored_bytes(&self, db: &AnyPool, key_id: &str) -> ChatResult<u64> {
        if let Some(total) = self.shared.stored.get(key_id) {
            return Ok(total.load(Ordering::Relaxed).max(0) as u64);
        }
        let bytes: Option<i64> =
            sqlx::query("SELECT bytes FROM key_stored_bytes WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(db)
                .await?
                .map(|row| row.try_get("bytes"))
                .transpose()?;
        let bytes = bytes.unwrap_or(0);
        self.shared
            .stored
            .keep(key_id.to_string(), Arc::new(AtomicI64::new(bytes)));
        Ok(bytes.max(0) as u64)
    }

    /// Forget the stored bytes kept for `key_id` (`None`: every key's), as
    /// after deleting conversations.
    pub fn forget(&self, key_id: Option<&str>) {
        match key_id {
            Some(key_id) => self.shared.stored.forget_one(key_id),
            None => self.shared.stored.forget(),
        }
    }

    /// Start the writer. Only a serving process starts it; it runs until
    /// the last sender is gone (after the requests have drained).
    pub fn start_writer(&self, db: &AnyPool) {
        let Some(receiver) = self
            .receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        // A bare spawn on purpose, as the request log's writer: requests
        // still draining at shutdown wait on it.
        #[allow(clippy::disallowed_methods)]
        tokio::spawn(write_all(receiver, db.clone(), Arc::clone(&self.shared)));
        self.running.store(true, Ordering::Release);
    }
}

/// Store every save received, in batches, until the queue closes.
async fn write_all(mut receiver: mpsc::Receiver<Job>, db: AnyPool, shared: Arc<Shared>) {
    let mut next: Option<Job> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match receiver.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut bytes = first.work.bytes();
        let mut batch = vec![first];
        while batch.len() < BATCH_SAVES {
            let Ok(job) = receiver.try_recv() else { break };
            if bytes + job.work.bytes() > CHUNK_BYTES {
                next = Some(job);
                break;
            }
            bytes += job.work.bytes();
            batch.push(job);
        }
        let saves: Vec<&Save> = batch
            .iter()
            .filter_map(|job| match &job.work {
                Work::Save(save) => Some(save),
                Work::Response(_) => None,
            })
            .collect();
        let written = if saves.is_empty() {
            Ok(Vec::new())
        } else {
            write_batch(&db, &saves, now_ms()).await
        };
        let results = match written {
            Ok(written) => written.into_iter().map(Ok).collect(),
            // One save's failure is its own: the others are stored one by one.
            Err(err) if saves.len() > 1 => {
                tracing::warn!(error = %err, saves = saves.len(), "a batch of saves failed; storing them one by one");
                let mut results = Vec::with_capacity(saves.len());
                for save in &saves {
                    let written = write_batch(&db, &[save], now_ms()).await;
                    results.push(written.map(|mut w| w.remove(0)));
                }
                results
            }
            Err(err) => vec![Err(err)],
        };
        for (save, result) in saves.iter().zip(results) {
            shared.account(&save.key_id, &result, save.adds().unwrap_or(0));
            if let Err(err) = result {
                tracing::error!(
                    conversation = save.conversation(),
                    error = %err,
                    "could not save the exchange"
                );
            }
            shared.done(&save.key_id);
        }
        // The responses of the batch, after its saves (a response's exchange first).
        let rows: Vec<&ResponseRow> = batch
            .iter()
            .filter_map(|job| match &job.work {
                Work::Response(row) => Some(row),
                Work::Save(_) => None,
            })
            .collect();
        if !rows.is_empty() {
            if let Err(err) = insert_rows(&db, &rows).await {
                tracing::error!(error = %err, responses = rows.len(), "could not keep the responses");
            }
            for row in &rows {
                shared.done(&row.key_id);
            }
        }
        // The batch's room goes back, and whoever waits for its saves looks again.
        drop(batch);
        shared.batches.send_modify(|n| *n = n.wrapping_add(1));
    }
}
