//! `ragway migrate-store`: copy every row of one SQL database into another,
//! for a single machine growing into replicas (SQLite → PostgreSQL). Both
//! ends are brought to the current migrations first; values are converted
//! to the target column's type (SQLite stores what it is given; PostgreSQL
//! wants the declared type). Tables are copied in one transaction each.

use anyhow::Context;
use sqlx::{AnyPool, Row};

use super::sql;

/// How a column's values travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Text,
}

/// Rows copied, per table, in the order copied.
pub type Copied = Vec<(String, u64)>;

/// Copy every table of `from` into `to`. The target must hold no rows
/// unless `replace`, which empties its tables first.
pub async fn copy(from: &str, to: &str, replace: bool) -> anyhow::Result<Copied> {
    anyhow::ensure!(from != to, "--from and --to name the same database");
    let source = sql::connect(from).await.context("opening --from")?;
    let target = sql::connect(to).await.context("opening --to")?;
    let tables = tables(&source).await?;
    if !replace {
        // Rows the migrations themselves put in (the `default` collection,
        // say) are no one's data: count against a freshly migrated database.
        let scratch = std::env::temp_dir().join(format!("ragway-{}.db", uuid::Uuid::new_v4()));
        let fresh = sql::connect(&format!("sqlite://{}?mode=rwc", scratch.display())).await?;
        let mut held = None;
        for table in &tables {
            let count = |db: &AnyPool| {
                let (db, sql) = (db.clone(), format!("SELECT COUNT(*) FROM {table}"));
                async move { sqlx::query_as::<_, (i64,)>(&sql).fetch_one(&db).await }
            };
            let (rows,) = count(&target)
                .await
                .with_context(|| format!("reading table {table} of --to"))?;
            let (seeded,) = count(&fresh).await.unwrap_or((0,));
            if rows > seeded {
                held = Some((table.clone(), rows));
                break;
            }
        }
        fresh.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
        }
        if let Some((table, rows)) = held {
            anyhow::bail!(
                "--to already holds data (table {table} has {rows} rows); pass --force to replace it"
            );
        }
    }
    let mut copied = Vec::new();
    for table in tables {
        let columns = columns(&target, &table)
            .await
            .with_context(|| format!("reading the columns of {table} in --to"))?;
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let rows = sqlx::query(&select)
            .fetch_all(&source)
            .await
            .with_context(|| format!("reading table {table} of --from"))?;
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        );
        let mut tx = target.begin().await?;
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
        for row in &rows {
            let mut statement = sqlx::query(&insert);
            for (i, (name, kind)) in columns.iter().enumerate() {
                let read = || format!("reading {table}.{name}");
                statement = match kind {
                    Kind::Int => {
                        statement.bind(row.try_get::<Option<i64>, _>(i).with_context(read)?)
                    }
                    Kind::Float => {
                        statement.bind(row.try_get::<Option<f64>, _>(i).with_context(read)?)
                    }
                    Kind::Text => {
                        statement.bind(row.try_get::<Option<String>, _>(i).with_context(read)?)
                    }
                };
            }
            statement
                .execute(&mut *tx)
                .await
                .with_context(|| format!("writing a row of {table}"))?;
        }
        tx.commit().await?;
        copied.push((table, rows.len() as u64));
    }
    Ok(copied)
}

/// The tables of `db` (the migrations' bookkeeping left out), by name.
/// (PostgreSQL's catalog names are of type `name`, which sqlx's `Any`
/// driver cannot read: hence the casts.)
async fn tables(db: &AnyPool) -> anyhow::Result<Vec<String>> {
    let sql = if is_sqlite(db).await {
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name"
    } else {
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY table_name"
    };
    Ok(sqlx::query_scalar(sql).fetch_all(db).await?)
}

/// The columns of `table` in `db` with how their values travel.
async fn columns(db: &AnyPool, table: &str) -> anyhow::Result<Vec<(String, Kind)>> {
    let sql = if is_sqlite(db).await {
        "SELECT name, type FROM pragma_table_info($1) ORDER BY cid"
    } else {
        "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql).bind(table).fetch_all(db).await?;
    anyhow::ensure!(!rows.is_empty(), "no table {table}");
    Ok(rows
        .into_iter()
        .map(|(name, declared)| {
            let declared = declared.to_ascii_uppercase();
            let kind = if declared.contains("INT") {
                Kind::Int
            } else if ["DOUBLE", "REAL", "FLOAT", "NUMERIC"]
                .iter()
                .any(|t| declared.contains(t))
            {
                Kind::Float
            } else {
                Kind::Text
            };
            (name, kind)
        })
        .collect())
}

async fn is_sqlite(db: &AnyPool) -> bool {
    db.connect_options().database_url.scheme() == "sqlite"
}
