//! The relational store: one sqlx `Any` pool over SQLite (default) or PostgreSQL,
//! with the portable migrations in `migrations/` applied on connect.

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;

/// The migrations compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connect to `url`, creating a SQLite file's directory if needed, and apply migrations.
pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let is_sqlite = url.starts_with("sqlite:");
    if is_sqlite {
        if let Some(dir) = sqlite_path(url).and_then(|p| p.parent().map(Path::to_path_buf)) {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating database directory {}", dir.display()))?;
            }
        }
    }
    let options = AnyConnectOptions::from_str(url).context("parsing DATABASE_URL")?;
    // SQLite serialises writers; a handful of connections is plenty and keeps lock waits short.
    let max = if is_sqlite { 8 } else { 16 };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if is_sqlite {
                    // In WAL mode, NORMAL syncs at checkpoints rather than at every
                    // commit: a crash of ragway loses nothing, a power cut or an OS
                    // crash may lose the last commits but never corrupts the file
                    // (docs/deploy.md). FULL cost an fsync per chat request.
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("connecting to the database ({})", redact(url)))?;
    if is_sqlite {
        // WAL lets readers proceed while a writer commits; it persists in the file.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
    }
    MIGRATOR.run(&pool).await.context("applying migrations")?;
    Ok(pool)
}

/// How a multi-row `VALUES` list writes its bind parameters for the pool's
/// database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// SQLite: anonymous `?`, bound in order. sqlx asks SQLite for each
    /// numbered parameter's name, a linear search each: quadratic in their
    /// number, and most of the server's CPU for inserts of hundreds of rows.
    Anonymous,
    /// PostgreSQL: `$1`, `$2`, …
    Numbered,
}

impl Placeholders {
    /// The style `db` takes.
    pub fn of(db: &AnyPool) -> Self {
        if db.connect_options().database_url.scheme() == "sqlite" {
            Self::Anonymous
        } else {
            Self::Numbered
        }
    }

    /// `rows` parenthesised groups of `width` parameters, `, `-separated
    /// (the only parameters of the statement: numbered from `$1`).
    pub fn values(self, rows: usize, width: usize) -> String {
        let mut sql = String::with_capacity(rows * width * 5);
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                match self {
                    Self::Anonymous => sql.push('?'),
                    Self::Numbered => {
                        use std::fmt::Write;
                        let _ = write!(sql, "${}", r * width + c + 1);
                    }
                }
            }
            sql.push(')');
        }
        sql
    }
}

fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_on_across_rows_or_go_unnamed() {
        assert_eq!(
            Placeholders::Numbered.values(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(Placeholders::Anonymous.values(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Placeholders::Numbered.values(0, 3), "");
    }

    #[test]
    fn sqlite_paths_are_found() {
        assert_eq!(
            sqlite_path("sqlite://data/ragway.db?mode=rwc"),
            Some("data/ragway.db".into())
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[tokio::test]
    async fn sqlite_commits_sync_at_checkpoints_not_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = connect(&url).await.unwrap();
        assert_eq!(Placeholders::of(&pool), Placeholders::Anonymous);
        // Every connection of the pool, not only the first: hold them all.
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut conn = pool.acquire().await.unwrap();
            let (mode,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(mode, 1, "synchronous is NORMAL (1)");
            let (journal,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(journal, "wal");
            held.push(conn);
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}
