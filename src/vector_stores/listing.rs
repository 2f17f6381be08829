//! OpenAI's list pages (`limit`, `order`, `after`, `before`; answered with
//! `first_id`, `last_id`, `has_more`) over rows whose ids sort by creation
//! (UUIDv7 inside every id ragway makes).

use serde::{Deserialize, Serialize};

use crate::ingest::{IngestError, IngestResult};

/// A listing's page as asked.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    /// Vector store files and batch files: `in_progress`, `completed`, `failed` or `cancelled`.
    pub filter: Option<String>,
    /// Files: only those of this purpose.
    pub purpose: Option<String>,
}

/// One page, in OpenAI's shape.
#[derive(Debug, Serialize)]
pub struct OpenAiPage<T> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
}

impl<T> OpenAiPage<T> {
    pub fn of(data: Vec<T>, has_more: bool, id: impl Fn(&T) -> String) -> Self {
        Self {
            object: "list",
            first_id: data.first().map(&id),
            last_id: data.last().map(&id),
            data,
            has_more,
        }
    }
}

/// How the rows read for a page are cut and ordered.
pub struct Paging {
    limit: usize,
    /// Read in the opposite order (a `before` page): put back.
    reversed: bool,
}

/// Rows of a page and whether more follow.
pub struct Trimmed<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

impl ListQuery {
    /// Append this page's conditions on `column`, its order and limit to
    /// `sql` (which ends in a `WHERE` clause), binding cursors after `binds`.
    pub fn page(
        &self,
        column: &str,
        sql: &mut String,
        binds: &mut Vec<String>,
    ) -> IngestResult<Paging> {
        let limit = crate::domain::page::page_limit(self.limit)?;
        let descending = match self.order.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(other) => {
                return Err(IngestError::Invalid(format!(
                    "`order` must be \"asc\" or \"desc\", not {other:?}."
                )))
            }
        };
        let after = self.after.as_deref().filter(|a| !a.is_empty());
        let before = self.before.as_deref().filter(|b| !b.is_empty());
        if let Some(after) = after {
            binds.push(after.to_string());
            let op = if descending { "<" } else { ">" };
            sql.push_str(&format!(" AND {column} {op} ${}", binds.len()));
        }
        if let Some(before) = before {
            binds.push(before.to_string());
            let op = if descending { ">" } else { "<" };
            sql.push_str(&format!(" AND {column} {op} ${}", binds.len()));
        }
        // A `before` page is the rows nearest the cursor: read toward it, put back.
        let reversed = before.is_some() && after.is_none();
        let read_descending = descending != reversed;
        sql.push_str(&format!(
            " ORDER BY {column} {} LIMIT {}",
            if read_descending { "DESC" } else { "ASC" },
            limit + 1
        ));
        Ok(Paging {
            limit: usize::try_from(limit).unwrap_or(20),
            reversed,
        })
    }
}

impl Paging {
    /// The page of `rows` read with [`ListQuery::page`]'s clause.
    pub fn trim<T>(&self, mut rows: Vec<T>) -> Trimmed<T> {
        let has_more = rows.len() > self.limit;
        rows.truncate(self.limit);
        if self.reversed {
            rows.reverse();
        }
        Trimmed {
            data: rows,
            has_more,
        }
    }
}

impl ListQuery {
    /// Read this page of `sql` (a `SELECT … WHERE …` with `binds`) in the
    /// order of `column`, each row as `from_row` makes it.
    pub async fn fetch<T>(
        &self,
        db: &sqlx::AnyPool,
        column: &str,
        mut sql: String,
        mut binds: Vec<String>,
        from_row: fn(&sqlx::any::AnyRow) -> Result<T, sqlx::Error>,
    ) -> IngestResult<Trimmed<T>> {
        let paging = self.page(column, &mut sql, &mut binds)?;
        let mut statement = sqlx::query(&sql);
        for value in &binds {
            statement = statement.bind(value);
        }
        let rows = statement
            .fetch_all(db)
            .await?
            .iter()
            .map(from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(paging.trim(rows))
    }
}
