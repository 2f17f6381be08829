//! Collections: named groups of documents. `default` always exists; uploading
//! into a new name creates it.

use serde::Serialize;
use sqlx::{AnyPool, Row};

use super::documents;
use super::error::{IngestError, IngestResult};
use crate::domain::clock::now_ms;
use crate::store::Stores;

pub use crate::domain::collections::{private_space, DEFAULT_COLLECTION};

/// A collection as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    pub name: String,
    pub object: &'static str,
    pub description: String,
    /// How many documents it holds.
    pub documents: i64,
    pub created_at: i64,
}

/// Collection names: letters, digits, `-`, `_` and `.`, up to 64 characters.
pub fn validate_name(name: &str) -> IngestResult<String> {
    let name = name.trim();
    if crate::domain::collections::is_valid_shared_name(name) {
        Ok(name.to_string())
    } else {
        Err(IngestError::Invalid(format!(
            "Invalid collection name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'."
        )))
    }
}

/// Make sure `name` exists (uploads into a new name create it).
pub async fn ensure(db: &AnyPool, name: &str) -> IngestResult<()> {
    sqlx::query(
        "INSERT INTO collections (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// Create a collection; 409 if the name is taken.
pub async fn create(db: &AnyPool, name: &str, description: &str) -> IngestResult<Collection> {
    let name = validate_name(name)?;
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO collections (name, description, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&name)
    .bind(description.trim())
    .bind(now)
    .execute(db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(IngestError::Busy(format!(
            "A collection named {name:?} already exists."
        )));
    }
    Ok(Collection {
        name,
        object: "collection",
        description: description.trim().to_string(),
        documents: 0,
        created_at: now,
    })
}

/// Every collection with its document count, by name.
pub async fn list(db: &AnyPool) -> IngestResult<Vec<Collection>> {
    let rows = sqlx::query(
        "SELECT c.name, c.description, c.created_at, COUNT(d.id) AS documents \
         FROM collections c LEFT JOIN documents d ON d.collection = c.name \
         GROUP BY c.name, c.description, c.created_at ORDER BY c.name",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Collection {
                name: row.try_get("name")?,
                object: "collection",
                description: row.try_get("description")?,
                documents: row.try_get("documents")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// The names of every shared collection (each shared document's collection
/// is one of them: uploads create theirs first).
pub async fn names(db: &AnyPool) -> IngestResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT name FROM collections ORDER BY name")
            .fetch_all(db)
            .await?,
    )
}

/// Delete a collection. One that holds documents needs `force`, which deletes
/// them too (rows, chunks, files); `default` cannot be deleted.
pub async fn delete(stores: Stores<'_>, name: &str, force: bool) -> IngestResult<u64> {
    if name == DEFAULT_COLLECTION {
        return Err(IngestError::Invalid(
            "The `default` collection cannot be deleted.".into(),
        ));
    }
    let exists: Option<String> = sqlx::query_scalar("SELECT name FROM collections WHERE name = $1")
        .bind(name)
        .fetch_optional(stores.db)
        .await?;
    if exists.is_none() {
        return Err(IngestError::not_found("collection", name));
    }
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM documents WHERE collection = $1")
        .bind(name)
        .fetch_all(stores.db)
        .await?;
    if !ids.is_empty() && !force {
        return Err(IngestError::Busy(format!(
            "The collection {name:?} holds {} documents; delete them first or pass ?force=true.",
            ids.len()
        )));
    }
    for id in &ids {
        match documents::delete(stores, id).await {
            // Deleted meanwhile by someone else: fine.
            Ok(()) | Err(IngestError::NotFound { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    sqlx::query("DELETE FROM collections WHERE name = $1")
        .bind(name)
        .execute(stores.db)
        .await?;
    Ok(ids.len() as u64)
}
/// Whether a collection of this name exists.
pub async fn exists(db: &AnyPool, name: &str) -> IngestResult<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM collections WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}
