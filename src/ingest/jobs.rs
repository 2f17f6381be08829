//! The job table: ingest work as leased rows in SQL.
//!
//! A worker claims a job by setting its lease (owner and expiry) with a
//! compare-and-set `UPDATE`, renews the lease while it works, and deletes the
//! row when done; the outcome lives on the document (or vector index). A job
//! whose worker died — process killed, machine gone — is claimed again once
//! its lease runs out; one whose worker stopped gracefully is released at
//! once. Portable SQL, so SQLite and PostgreSQL replicas share the queue.

use std::time::Duration;

use sqlx::{AnyPool, Row};

use crate::domain::clock::now_ms;

/// Extract, split, embed and index one document.
pub const INGEST: &str = "ingest";
/// Re-embed every document into the index being built (`ingest::reindex`).
pub const REINDEX: &str = "reindex";

/// A job that was interrupted this many times is given up on: something in
/// it takes the process down (a parser's memory blow-up, say).
pub const MAX_ATTEMPTS: i64 = 3;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub document_id: Option<String>,
    /// Claims so far, this one included.
    pub attempts: i64,
}

/// Queue an ingest of `document_id`, unless one is already waiting.
pub async fn enqueue_ingest(db: &AnyPool, document_id: &str) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, document_id, status, created_at, updated_at) \
         SELECT $1, $2, $3, 'pending', $4, $4 WHERE NOT EXISTS \
         (SELECT 1 FROM jobs WHERE document_id = $3 AND status = 'pending')",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(INGEST)
    .bind(document_id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Queue a reindex, unless one is already queued or running.
pub async fn enqueue_reindex(db: &AnyPool) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, status, created_at, updated_at) \
         SELECT $1, $2, 'pending', $3, $3 WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $2)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(REINDEX)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Drop the ingest job of `document_id` that has not started (its document
/// is gone); one that is running finds the document gone and stops.
pub async fn cancel_pending(db: &AnyPool, document_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE document_id = $1 AND status = 'pending'")
        .bind(document_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Claim the oldest job that is waiting or whose lease ran out, optionally
/// of one kind only.
pub async fn claim(
    db: &AnyPool,
    owner: &str,
    lease: Duration,
    kind: Option<&str>,
) -> sqlx::Result<Option<Job>> {
    loop {
        let now = now_ms();
        let row = sqlx::query(
            "SELECT id, kind, document_id, attempts FROM jobs \
             WHERE (status = 'pending' OR lease_until < $1) AND ($2 = '' OR kind = $2) \
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(now)
        .bind(kind.unwrap_or(""))
        .fetch_optional(db)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let job = Job {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            document_id: row.try_get("document_id")?,
            attempts: row.try_get::<i64, _>("attempts")? + 1,
        };
        let claimed = sqlx::query(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = $4 AND (status = 'pending' OR lease_until < $3)",
        )
        .bind(owner)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(&job.id)
        .execute(db)
        .await?;
        // Another worker won the race for this one: look again.
        if claimed.rows_affected() == 1 {
            return Ok(Some(job));
        }
    }
}

/// Extend the lease on a job; `false` when it is no longer ours (it ran out
/// and someone else took the job, or the job is gone).
pub async fn renew(db: &AnyPool, job: &Job, owner: &str, lease: Duration) -> sqlx::Result<bool> {
    let now = now_ms();
    let renewed = sqlx::query(
        "UPDATE jobs SET lease_until = $1, updated_at = $2 \
         WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
    )
    .bind(now + lease.as_millis() as i64)
    .bind(now)
    .bind(&job.id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// The job is done (whatever its outcome): remove it.
pub async fn finish(db: &AnyPool, job: &Job, owner: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
        .bind(&job.id)
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

/// Hand back every job `owner` holds (graceful shutdown): they wait for the
/// next worker at once, and the interrupted attempt does not count.
pub async fn release_all(db: &AnyPool, owner: &str) -> sqlx::Result<u64> {
    let released = sqlx::query(
        "UPDATE jobs SET status = 'pending', lease_owner = NULL, lease_until = NULL, \
         attempts = attempts - 1, updated_at = $1 WHERE lease_owner = $2 AND status = 'running'",
    )
    .bind(now_ms())
    .bind(owner)
    .execute(db)
    .await?;
    Ok(released.rows_affected())
}

/// Hand back one job `owner` still holds, as [`release_all`] does. A worker
/// whose claim landed just after the shutdown's `release_all` calls this; a
/// job already handed back (or taken by someone else) is left alone.
pub async fn release(db: &AnyPool, job: &Job, owner: &str) -> sqlx::Result<bool> {
    let released = sqlx::query(
        "UPDATE jobs SET status = 'pending', lease_owner = NULL, lease_until = NULL, \
         attempts = attempts - 1, updated_at = $1 \
         WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
    )
    .bind(now_ms())
    .bind(&job.id)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(released.rows_affected() == 1)
}

/// Jobs waiting or running, by kind: `(ingest, reindex)`.
pub async fn queue_depth(db: &AnyPool) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN kind = 'ingest' THEN 1 ELSE 0 END), 0) AS ingest, \
         COALESCE(SUM(CASE WHEN kind = 'reindex' THEN 1 ELSE 0 END), 0) AS reindex FROM jobs",
    )
    .fetch_one(db)
    .await?;
    Ok((row.try_get("ingest")?, row.try_get("reindex")?))
}

/// Whether a job of `kind` is held by a live lease of someone other than `owner`.
pub async fn held_elsewhere(db: &AnyPool, kind: &str, owner: &str) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND status = 'running' \
         AND lease_until >= $2 AND lease_owner <> $3",
    )
    .bind(kind)
    .bind(now_ms())
    .bind(owner)
    .fetch_one(db)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}
