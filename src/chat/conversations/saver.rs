//! The one writer that stores this process's exchanges, group-committed:
//! a request hands its [`Save`] over and waits until it is stored, and the
//! writer stores whatever has gathered meanwhile in one transaction (at
//! most [`BATCH_SAVES`] saves, [`CHUNK_BYTES`] of messages). The queue is
//! bounded: when it is full a request waits for room, nothing is dropped.
//! A large save does not queue: its own request writes it in short
//! transactions ([`write_large`]), between the writer's.
//!
//! It also keeps each key's stored bytes (what the per-key cap reads on
//! every request) for at most [`crate::known::FRESH_FOR`], adding what this
//! process stores; another replica's saves show within that time.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::save::{write_batch, write_large, Save, Written, CHUNK_BYTES};
use crate::chat::error::ChatResult;
use crate::domain::clock::now_ms;
use crate::known::Known;

/// Saves stored in one transaction at most.
pub const BATCH_SAVES: usize = 256;

/// Saves waiting for the writer at most (then requests wait for room).
const QUEUE: usize = 4096;

/// Keys whose stored bytes are kept at most.
const KEYS_KEPT: u64 = 100_000;

struct Job {
    save: Save,
    done: oneshot::Sender<ChatResult<Written>>,
}

/// The sending side of the conversation writer, and the keys' stored bytes.
pub struct Saver {
    sender: mpsc::Sender<Job>,
    /// Taken by the writer when the server starts.
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    /// The writer runs; until then saves are written by their own requests.
    running: AtomicBool,
    stored: Known<Arc<AtomicI64>>,
}

impl std::fmt::Debug for Saver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saver")
            .field("queued", &(QUEUE - self.sender.capacity()))
            .field("stored", &self.stored)
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
            stored: Known::new(KEYS_KEPT),
        }
    }
}

impl Saver {
    /// Store `save`; answers once it is committed.
    pub async fn save(&self, db: &AnyPool, save: Save) -> ChatResult<Written> {
        let key_id = save.key_id.clone();
        let written = if save.is_large() {
            write_large(db, &save, now_ms()).await?
        } else {
            match self.hand_over(save).await {
                Ok(stored) => stored
                    .await
                    .map_err(|_| anyhow::anyhow!("the conversation writer stopped"))??,
                // No writer runs (a CLI process, or the server is ending): write it here.
                Err(save) => write_batch(db, &[&save], now_ms()).await?.remove(0),
            }
        };
        self.count(&key_id, written);
        Ok(written)
    }

    /// Queue `save` for the writer (waiting for room); where no writer
    /// runs, `save` comes back.
    async fn hand_over(&self, save: Save) -> Result<oneshot::Receiver<ChatResult<Written>>, Save> {
        if !self.running.load(Ordering::Acquire) {
            return Err(save);
        }
        let (done, stored) = oneshot::channel();
        match self.sender.send(Job { save, done }).await {
            Ok(()) => Ok(stored),
            Err(mpsc::error::SendError(job)) => Err(job.save),
        }
    }

    /// What `written` did to `key_id`'s kept total.
    fn count(&self, key_id: &str, written: Written) {
        match written {
            Written::Added(bytes) => {
                if let Some(total) = self.stored.get(key_id) {
                    total.fetch_add(bytes, Ordering::Relaxed);
                }
            }
            Written::Replaced => self.stored.forget_one(key_id),
            Written::Gone => {}
        }
    }

    /// Bytes of conversation messages `key_id` has stored (the running
    /// total saves and deletes keep; one read by primary key, kept).
    pub async fn stored_bytes(&self, db: &AnyPool, key_id: &str) -> ChatResult<u64> {
        if let Some(total) = self.stored.get(key_id) {
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
        self.stored
            .keep(key_id.to_string(), Arc::new(AtomicI64::new(bytes)));
        Ok(bytes.max(0) as u64)
    }

    /// Forget the stored bytes kept for `key_id` (`None`: every key's), as
    /// after deleting conversations.
    pub fn forget(&self, key_id: Option<&str>) {
        match key_id {
            Some(key_id) => self.stored.forget_one(key_id),
            None => self.stored.forget(),
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
        tokio::spawn(write_all(receiver, db.clone()));
        self.running.store(true, Ordering::Release);
    }
}

/// Store every save received, in batches, until the queue closes.
async fn write_all(mut receiver: mpsc::Receiver<Job>, db: AnyPool) {
    let mut next: Option<Job> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match receiver.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut bytes = first.save.bytes;
        let mut batch = vec![first];
        while batch.len() < BATCH_SAVES {
            let Ok(job) = receiver.try_recv() else { break };
            if bytes + job.save.bytes > CHUNK_BYTES {
                next = Some(job);
                break;
            }
            bytes += job.save.bytes;
            batch.push(job);
        }
        let saves: Vec<&Save> = batch.iter().map(|job| &job.save).collect();
        match write_batch(&db, &saves, now_ms()).await {
            Ok(written) => {
                for (job, written) in batch.into_iter().zip(written) {
                    let _ = job.done.send(Ok(written));
                }
            }
            // One save's failure is its own: the others are stored one by one.
            Err(err) if batch.len() > 1 => {
                tracing::warn!(error = %err, saves = batch.len(), "a batch of saves failed; storing them one by one");
                for job in batch {
                    let written = write_batch(&db, &[&job.save], now_ms()).await;
                    let _ = job.done.send(written.map(|mut w| w.remove(0)));
                }
            }
            Err(err) => {
                if let Some(job) = batch.pop() {
                    let _ = job.done.send(Err(err));
                }
            }
        }
    }
}
