//! The registry of vector indexes: which LanceDB table holds the chunks, and
//! which embedding model (and vector width) made them.
//!
//! Exactly one index is `active`: chat searches it, embedding questions with
//! *its* model, so vectors of two models never meet. When the configured
//! embedding model differs, a second index is `building` while the reindex
//! job fills it; ingest writes to both meanwhile. The switch is one SQL
//! transaction, so every replica sees the new table from its next query on.

use serde::Serialize;
use sqlx::{AnyPool, Row};

use ragway_domain::clock::now_ms;

/// One row of `vector_indexes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VectorIndex {
    pub id: String,
    /// The LanceDB table.
    pub table_name: String,
    /// The embedding model its vectors come from.
    pub model: String,
    /// What else its vectors depend on (`ingest::context::recipe`).
    pub recipe: String,
    /// Vector width, once the first chunk is written.
    pub dimension: Option<i64>,
    /// `active`, `building` or `retired`.
    pub state: String,
    /// Reindex progress: documents to copy, and copied so far.
    pub documents_total: i64,
    pub documents_done: i64,
    /// Reindex progress: the last document id copied (documents go in id order).
    #[serde(skip)]
    pub resume_after: String,
    /// Why the last reindex attempt stopped, if it failed.
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT id, table_name, model, recipe, dimension, state, documents_total, documents_done, \
     resume_after, error, created_at, updated_at FROM vector_indexes";

fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<VectorIndex> {
    Ok(VectorIndex {
        id: row.try_get("id")?,
        table_name: row.try_get("table_name")?,
        model: row.try_get("model")?,
        recipe: row.try_get("recipe")?,
        dimension: row.try_get("dimension")?,
        state: row.try_get("state")?,
        documents_total: row.try_get("documents_total")?,
        documents_done: row.try_get("documents_done")?,
        resume_after: row.try_get("resume_after")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn in_state(db: &AnyPool, state: &str) -> sqlx::Result<Option<VectorIndex>> {
    sqlx::query(&format!("{SELECT} WHERE state = $1"))
        .bind(state)
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The index chat searches, if anything was ever indexed.
pub async fn active(db: &AnyPool) -> sqlx::Result<Option<VectorIndex>> {
    in_state(db, "active").await
}

/// The index a reindex is filling, if one is under way.
pub async fn building(db: &AnyPool) -> sqlx::Result<Option<VectorIndex>> {
    in_state(db, "building").await
}

/// The indexes that hold live chunks: the active one and, during a
/// reindex, the one being built (active first).
pub async fn live(db: &AnyPool) -> sqlx::Result<Vec<VectorIndex>> {
    sqlx::query(&format!(
        "{SELECT} WHERE state IN ('active', 'building') ORDER BY state"
    ))
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Every index new chunks must go to: [`live`], with the active index
/// created for `model` and `recipe` on first use.
pub async fn write_targets(
    db: &AnyPool,
    model: &str,
    recipe: &str,
) -> sqlx::Result<Vec<VectorIndex>> {
    let targets = live(db).await?;
    if targets.first().is_some_and(|i| i.state == "active") {
        return Ok(targets);
    }
    let mut targets = targets;
    targets.insert(0, ensure_active(db, model, recipe).await?);
    Ok(targets)
}

/// The active index, created for `model` and `recipe` if there is none yet.
pub async fn ensure_active(db: &AnyPool, model: &str, recipe: &str) -> sqlx::Result<VectorIndex> {
    if let Some(index) = active(db).await? {
        return Ok(index);
    }
    match create(db, model, recipe, "active").await {
        Ok(index) => Ok(index),
        // Another worker or replica created it first: theirs is the one.
        Err(err) => active(db).await?.ok_or(err),
    }
}

/// A new, empty index for `model` and `recipe`; its table is created on the first write.
pub async fn create(
    db: &AnyPool,
    model: &str,
    recipe: &str,
    state: &str,
) -> sqlx::Result<VectorIndex> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let now = now_ms();
    let index = VectorIndex {
        table_name: format!("chunks_{id}"),
        id,
        model: model.to_string(),
        recipe: recipe.to_string(),
        dimension: None,
        state: state.to_string(),
        documents_total: 0,
        documents_done: 0,
        resume_after: String::new(),
        error: None,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO vector_indexes (id, table_name, model, recipe, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&index.id)
    .bind(&index.table_name)
    .bind(&index.model)
    .bind(&index.recipe)
    .bind(&index.state)
    .bind(now)
    .execute(db)
    .await?;
    Ok(index)
}

/// Record the vector width an index's model answers with.
pub async fn set_dimension(db: &AnyPool, id: &str, dimension: usize) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE vector_indexes SET dimension = $1, updated_at = $2 WHERE id = $3 AND dimension IS NULL",
    )
    .bind(dimension as i64)
    .bind(now_ms())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Record reindex progress.
pub async fn set_progress(
    db: &AnyPool,
    id: &str,
    total: i64,
    done: i64,
    resume_after: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE vector_indexes SET documents_total = $1, documents_done = $2, resume_after = $3, \
         error = NULL, updated_at = $4 WHERE id = $5",
    )
    .bind(total)
    .bind(done)
    .bind(resume_after)
    .bind(now_ms())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Record why a reindex attempt stopped (it resumes on the next attempt).
pub async fn set_error(db: &AnyPool, id: &str, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE vector_indexes SET error = $1, updated_at = $2 WHERE id = $3")
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Make `building` the active index and retire the old one, atomically.
/// Answers the retired index, whose table may now be dropped.
pub async fn switch_to(db: &AnyPool, building: &VectorIndex) -> sqlx::Result<Option<VectorIndex>> {
    let old = active(db).await?;
    let mut tx = db.begin().await?;
    let now = now_ms();
    sqlx::query(
        "UPDATE vector_indexes SET state = 'retired', updated_at = $1 WHERE state = 'active'",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE vector_indexes SET state = 'active', updated_at = $1 WHERE id = $2 AND state = 'building'",
    )
    .bind(now)
    .bind(&building.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(old)
}

/// Retired indexes, oldest first (their tables are dropped after a switch).
pub async fn retired(db: &AnyPool) -> sqlx::Result<Vec<VectorIndex>> {
    sqlx::query(&format!(
        "{SELECT} WHERE state = 'retired' ORDER BY created_at"
    ))
    .fetch_all(db)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Forget an index whose table is gone.
pub async fn remove(db: &AnyPool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM vector_indexes WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
