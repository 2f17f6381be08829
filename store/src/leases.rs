//! Named leases in SQL: work one replica at a time may do. A replica holds
//! a lease by renewing it before it runs out; if the holder dies, the next
//! replica to ask takes it over once it has run out. Portable SQL (SQLite
//! and PostgreSQL both have `ON CONFLICT DO NOTHING`).

use std::time::Duration;

use sqlx::AnyPool;

use ragway_domain::clock::now_ms;

/// The vector store's upkeep: compaction, index training and merges.
pub const VECTOR_UPKEEP: &str = "vector-upkeep";

/// Take or renew lease `name` for `owner` for `ttl`; `false` while another
/// owner holds it unexpired.
pub async fn hold(db: &AnyPool, name: &str, owner: &str, ttl: Duration) -> sqlx::Result<bool> {
    let now = now_ms();
    let until = now + ttl.as_millis() as i64;
    sqlx::query(
        "INSERT INTO leases (name, owner, until_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(owner)
    .bind(until)
    .execute(db)
    .await?;
    let held = sqlx::query(
        "UPDATE leases SET owner = $1, until_ms = $2 \
         WHERE name = $3 AND (owner = $1 OR until_ms < $4)",
    )
    .bind(owner)
    .bind(until)
    .bind(name)
    .bind(now)
    .execute(db)
    .await?;
    Ok(held.rows_affected() == 1)
}

/// Give lease `name` up if `owner` holds it (a graceful shutdown), so another
/// replica takes it at once instead of after it runs out.
pub async fn release(db: &AnyPool, name: &str, owner: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
        .bind(name)
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_owner_at_a_time_until_it_runs_out_or_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::sql::connect(&url).await.unwrap();
        let long = Duration::from_secs(60);
        assert!(hold(&db, VECTOR_UPKEEP, "a", long).await.unwrap());
        assert!(
            hold(&db, VECTOR_UPKEEP, "a", long).await.unwrap(),
            "renewed"
        );
        assert!(!hold(&db, VECTOR_UPKEEP, "b", long).await.unwrap());
        assert!(
            hold(&db, "other", "b", long).await.unwrap(),
            "leases are by name"
        );
        release(&db, VECTOR_UPKEEP, "b").await.unwrap();
        assert!(
            !hold(&db, VECTOR_UPKEEP, "b", long).await.unwrap(),
            "b held nothing to release"
        );
        release(&db, VECTOR_UPKEEP, "a").await.unwrap();
        assert!(hold(&db, VECTOR_UPKEEP, "b", long).await.unwrap());
        // A lease that ran out (its holder died) goes to whoever asks next.
        sqlx::query("UPDATE leases SET until_ms = 0")
            .execute(&db)
            .await
            .unwrap();
        assert!(hold(&db, VECTOR_UPKEEP, "a", long).await.unwrap());
    }
}
