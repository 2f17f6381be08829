//! OpenAI's Files API over documents: one store, two faces. A file is a
//! document (the same id, row, blob, chunks and duplicate check); its
//! `purpose` is what the Files API was told, and a document uploaded
//! through `/v1/documents` is a file of purpose `assistants`.

use serde::Serialize;
use sqlx::AnyPool;

use super::documents::{self, Document};
use super::error::{IngestError, IngestResult};
use crate::auth::{Caller, Role};
use crate::domain::collections::private_space;
use crate::domain::DocumentStatus;

/// The purposes a file may be uploaded for: ragway keeps files to search them.
pub const PURPOSES: [&str; 2] = ["assistants", "user_data"];

/// The most files one page lists (OpenAI's bound).
pub const MAX_PAGE: i64 = 10_000;

/// A file as OpenAI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FileObject {
    pub id: String,
    pub object: &'static str,
    pub bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub filename: String,
    pub purpose: String,
    /// `uploaded` while it is ingested, `processed` once searchable, `error`.
    pub status: &'static str,
    pub status_details: Option<String>,
}

impl From<Document> for FileObject {
    fn from(document: Document) -> Self {
        let status = match document.status {
            DocumentStatus::Ready => "processed",
            DocumentStatus::Failed => "error",
            _ => "uploaded",
        };
        Self {
            object: "file",
            bytes: document.bytes,
            created_at: document.created_at / 1000,
            expires_at: None,
            filename: document.filename.unwrap_or(document.title),
            purpose: document.purpose.unwrap_or_else(|| PURPOSES[0].to_string()),
            status,
            status_details: document.error,
            id: document.id,
        }
    }
}

/// The purpose an upload names, if ragway keeps files for it.
pub fn check_purpose(purpose: Option<&str>) -> IngestResult<String> {
    match purpose.map(str::trim) {
        None | Some("") => Err(IngestError::Invalid(
            "The multipart form has no `purpose` field: send \"assistants\" or \"user_data\".".into(),
        )),
        Some(purpose) if PURPOSES.contains(&purpose) => Ok(purpose.to_string()),
        Some(other) => Err(IngestError::Invalid(format!(
            "ragway keeps files to search them: `purpose` must be \"assistants\" or \"user_data\", not {other:?}."
        ))),
    }
}

/// One file, if `caller` may see it.
pub async fn get(db: &AnyPool, caller: &Caller, id: &str) -> IngestResult<FileObject> {
    match documents::get_for(db, caller, id).await {
        Ok(document) => Ok(document.into()),
        Err(IngestError::NotFound { .. }) => Err(IngestError::not_found("file", id)),
        Err(err) => Err(err),
    }
}

/// A Files API listing: `limit` (1 to 10,000, default 10,000), `order`,
/// `after`, `purpose`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct FileQuery {
    pub limit: Option<i64>,
    pub order: Option<String>,
    pub after: Option<String>,
    pub purpose: Option<String>,
}

/// Files `caller` may see (its own private ones; every one for an admin),
/// newest first unless `order=asc`, and whether more follow.
pub async fn list(
    db: &AnyPool,
    caller: &Caller,
    query: &FileQuery,
) -> IngestResult<(Vec<FileObject>, bool)> {
    let limit = query.limit.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(IngestError::Invalid(format!(
            "`limit` must be between 1 and {MAX_PAGE}."
        )));
    }
    let descending = match query.order.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(IngestError::Invalid(format!(
                "`order` must be \"asc\" or \"desc\", not {other:?}."
            )))
        }
    };
    let mut binds: Vec<String> = Vec::new();
    let mut sql = format!(
        "SELECT {} FROM documents WHERE variant_of IS NULL",
        documents::COLUMNS
    );
    if caller.role != Role::Admin {
        binds.push(private_space(&caller.key_id));
        sql.push_str(&format!(" AND collection = ${}", binds.len()));
    }
    if let Some(purpose) = query.purpose.as_deref().filter(|p| !p.is_empty()) {
        binds.push(purpose.to_string());
        let n = binds.len();
        if purpose == PURPOSES[0] {
            sql.push_str(&format!(" AND (purpose = ${n} OR purpose IS NULL)"));
        } else {
            sql.push_str(&format!(" AND purpose = ${n}"));
        }
    }
    if let Some(after) = query.after.as_deref().filter(|a| !a.is_empty()) {
        binds.push(after.to_string());
        let op = if descending { "<" } else { ">" };
        sql.push_str(&format!(" AND id {op} ${}", binds.len()));
    }
    sql.push_str(&format!(
        " ORDER BY id {} LIMIT {}",
        if descending { "DESC" } else { "ASC" },
        limit + 1
    ));
    let mut statement = sqlx::query(&sql);
    for value in &binds {
        statement = statement.bind(value);
    }
    let mut files = statement
        .fetch_all(db)
        .await?
        .iter()
        .map(|row| Document::from_row(row).map(FileObject::from))
        .collect::<Result<Vec<_>, _>>()?;
    let more = files.len() as i64 > limit;
    files.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((files, more))
}
