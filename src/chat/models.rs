//! Public models: the names clients send as `model`, each mapped to an
//! upstream chat model with its own system prompt, knowledge collections and
//! retrieval settings. Rows live in the `models` table; the configured
//! `RAGWAY_PUBLIC_MODEL` is always served too (with the global settings)
//! unless a row of the same name overrides it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::error::{ChatError, ChatResult};
use crate::domain::clock::now_ms;
use crate::ingest::collections;
use crate::known::Known;
use crate::upstream::Upstreams;

/// A public model as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The name clients send as `model`.
    pub id: String,
    /// The upstream chat model; `None` uses `RAGWAY_CHAT_MODEL`.
    pub upstream_model: Option<String>,
    /// Put before the conversation (and before the sources).
    pub system_prompt: Option<String>,
    /// The shared collections searched; empty means all of them. The
    /// caller's private documents are searched as well.
    pub collections: Vec<String>,
    /// Whether questions are answered from the knowledge base at all.
    pub retrieval: bool,
    /// Sources put into the prompt; `None` uses `RAGWAY_TOP_K`.
    pub top_k: Option<i64>,
    /// Sources scoring below this (cosine similarity, -1 to 1) are left out.
    pub score_threshold: Option<f64>,
    /// Reorder the candidates with the rerank upstream.
    pub rerank: bool,
    /// Sources the rerank model scores below this are left out (when it
    /// reranks; its scores are calibrated where cosines are not, so this is
    /// the floor that leaves a question the knowledge base cannot answer
    /// without sources).
    pub rerank_threshold: Option<f64>,
    /// The upstream chat model that rewrites a follow-up into a standalone
    /// search query (one short call before the search); `None`: a follow-up
    /// is searched as asked and after the exchange before it.
    pub condense_model: Option<String>,
    /// Messages that start with a drawing trigger go to the image upstream.
    pub drawing: bool,
    /// The triggers; `None` uses the global ones.
    pub draw_triggers: Option<Vec<String>>,
    /// Most messages sent upstream; `None` uses the global limit.
    pub max_messages: Option<i64>,
    /// Append a readable list of sources (`[1] title`) to the answer.
    pub citation_footer: bool,
    /// Whether this is the configured default rather than a stored row.
    #[serde(default)]
    pub builtin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Fields the API shows but no one sets.
const READ_ONLY: &[&str] = &["builtin", "created_at", "updated_at", "object"];

const COLUMNS: &str = "name, upstream_model, system_prompt, collections, retrieval, top_k, \
    score_threshold, rerank, drawing, draw_triggers, max_messages, citation_footer, created_at, \
    updated_at, rerank_threshold, condense_model";

impl Model {
    /// A model named `id` with every setting at its default.
    fn new(id: String, now: i64) -> Self {
        Self {
            id,
            upstream_model: None,
            system_prompt: None,
            collections: Vec::new(),
            retrieval: true,
            top_k: None,
            score_threshold: None,
            rerank: false,
            rerank_threshold: None,
            condense_model: None,
            drawing: false,
            draw_triggers: None,
            max_messages: None,
            citation_footer: false,
            builtin: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// The model `RAGWAY_PUBLIC_MODEL` names, from the global settings: it
    /// draws when an image upstream is configured, and reranks when a
    /// rerank upstream is (in the settings or through the admin).
    pub fn builtin(parts: Models<'_>) -> Self {
        Self {
            builtin: true,
            drawing: parts.upstreams.images.endpoint().base_url.is_some(),
            rerank: parts.upstreams.rerank.endpoint().base_url.is_some(),
            ..Self::new(parts.public_model.to_string(), 0)
        }
    }

    fn from_row(row: &AnyRow) -> ChatResult<Self> {
        let flag = |name: &str| -> ChatResult<bool> { Ok(row.try_get::<i64, _>(name)? != 0) };
        let list = |text: &str| -> ChatResult<Vec<String>> {
            serde_json::from_str(text).map_err(|e| {
                ChatError::Store(anyhow::anyhow!("a stored model list is corrupt: {e}"))
            })
        };
        let triggers: Option<String> = row.try_get("draw_triggers")?;
        Ok(Self {
            id: row.try_get("name")?,
            upstream_model: row.try_get("upstream_model")?,
            system_prompt: row.try_get("system_prompt")?,
            collections: list(&row.try_get::<String, _>("collections")?)?,
            retrieval: flag("retrieval")?,
            top_k: row.try_get("top_k")?,
            score_threshold: row.try_get("score_threshold")?,
            rerank: flag("rerank")?,
            rerank_threshold: row.try_get("rerank_threshold")?,
            condense_model: row.try_get("condense_model")?,
            drawing: flag("drawing")?,
            draw_triggers: triggers.as_deref().map(list).transpose()?,
            max_messages: row.try_get("max_messages")?,
            citation_footer: flag("citation_footer")?,
            builtin: false,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// The fields of `patch` over this model's (a JSON object, to tell absent
    /// from null: `null` resets a field to its default). Creating a model is
    /// the same merge over [`Model::new`].
    fn patched(&self, patch: &Map<String, Value>) -> ChatResult<Self> {
        let mut merged = serde_json::to_value(self).map_err(anyhow::Error::from)?;
        let object = merged.as_object_mut().expect("a model is an object");
        for (key, value) in patch {
            if READ_ONLY.contains(&key.as_str()) {
                return Err(ChatError::Invalid(format!("`{key}` cannot be set.")));
            }
            let key = if key == "name" { "id" } else { key.as_str() };
            if !object.contains_key(key) {
                let fields: Vec<&str> = object
                    .keys()
                    .map(String::as_str)
                    .filter(|k| !READ_ONLY.contains(k))
                    .collect();
                return Err(ChatError::Invalid(format!(
                    "unknown field `{key}`; a model's fields are: {}.",
                    fields.join(", ")
                )));
            }
            let value = match (key, value) {
                // Flags and lists have no "unset": null means the default.
                ("retrieval", Value::Null) => Value::Bool(true),
                ("rerank" | "drawing" | "citation_footer", Value::Null) => Value::Bool(false),
                ("collections", Value::Null) => Value::Array(Vec::new()),
                _ => value.clone(),
            };
            object.insert(key.to_string(), value);
        }
        serde_path_to_error::deserialize(merged).map_err(|e| {
            ChatError::Invalid(format!("Invalid model: `{}`: {}", e.path(), e.inner()))
        })
    }

    /// Check every field; names, triggers and collections are trimmed.
    async fn validated(mut self, db: &AnyPool) -> ChatResult<Self> {
        self.id = validate_name(&self.id)?;
        self.upstream_model = self
            .upstream_model
            .take()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        self.system_prompt = self.system_prompt.take().filter(|s| !s.trim().is_empty());
        self.condense_model = self
            .condense_model
            .take()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let mut names = Vec::new();
        for name in &self.collections {
            let name = collections::validate_name(name)
                .map_err(|err| ChatError::Invalid(err.to_string()))?;
            let exists = collections::exists(db, &name).await;
            if !exists.map_err(|err| ChatError::Store(err.into()))? {
                return Err(ChatError::Invalid(format!(
                    "No collection named {name:?}: create it first (POST /v1/collections)."
                )));
            }
            if !names.contains(&name) {
                names.push(name);
            }
        }
        self.collections = names;
        if let Some(k) = self.top_k {
            if !(1..=50).contains(&k) {
                return Err(ChatError::Invalid("`top_k` must be from 1 to 50.".into()));
            }
        }
        if let Some(t) = self.score_threshold {
            if !(-1.0..=1.0).contains(&t) {
                return Err(ChatError::Invalid(
                    "`score_threshold` must be from -1 to 1 (cosine similarity).".into(),
                ));
            }
        }
        if let Some(t) = self.rerank_threshold {
            if !t.is_finite() || t.abs() > 1e6 {
                return Err(ChatError::Invalid(
                    "`rerank_threshold` must be a number (the rerank model's relevance score, \
                     from 0 to 1 for most)."
                        .into(),
                ));
            }
        }
        if self
            .condense_model
            .as_ref()
            .is_some_and(|m| m.chars().count() > 200 || m.chars().any(char::is_control))
        {
            return Err(ChatError::Invalid(
                "`condense_model` must be an upstream model name of at most 200 characters.".into(),
            ));
        }
        if let Some(n) = self.max_messages {
            if !(1..=1000).contains(&n) {
                return Err(ChatError::Invalid(
                    "`max_messages` must be from 1 to 1000.".into(),
                ));
            }
        }
        if let Some(triggers) = self.draw_triggers.take() {
            let triggers: Vec<String> = triggers
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if triggers.is_empty() {
                return Err(ChatError::Invalid(
                    "`draw_triggers` needs at least one non-empty prefix (or null for the global ones)."
                        .into(),
                ));
            }
            self.draw_triggers = Some(triggers);
        }
        Ok(self)
    }
}

/// Model names: 1 to 64 characters without spaces or control characters
/// (`gpt-4o`, `qwen/qwen2.5-72b`, `handbook:v2`, `知识库` are all fine).
pub fn validate_name(name: &str) -> ChatResult<String> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.chars().count() <= 64
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(name.to_string())
    } else {
        Err(ChatError::Invalid(format!(
            "Invalid model name {name:?}: use 1 to 64 characters without spaces."
        )))
    }
}

/// What the model functions read: the models table, and for the built-in
/// model its name (`RAGWAY_PUBLIC_MODEL`) and the upstreams it may use.
#[derive(Debug, Clone, Copy)]
pub struct Models<'a> {
    pub db: &'a AnyPool,
    pub public_model: &'a str,
    pub upstreams: &'a Upstreams,
    /// The rows [`resolve`] read lately.
    pub known: &'a KnownModels,
}

/// Stored models (or their absence) read by [`resolve`], by name, kept for
/// at most [`crate::known::FRESH_FOR`]; every change to a model made
/// through this module forgets them, so it applies here at once. One per
/// app: names, unlike key hashes, repeat across apps in one process.
pub type KnownModels = Known<Option<Model>>;

/// How many model names [`KnownModels`] holds at most.
pub const MODELS_KEPT: u64 = 10_000;

/// Every model clients may use: the stored ones and the built-in default,
/// sorted by name.
pub async fn list(parts: Models<'_>) -> ChatResult<Vec<Model>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM models ORDER BY name"))
        .fetch_all(parts.db)
        .await?;
    let mut models = rows
        .iter()
        .map(Model::from_row)
        .collect::<ChatResult<Vec<_>>>()?;
    if !models.iter().any(|m| m.id == parts.public_model) {
        models.push(Model::builtin(parts));
        models.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(models)
}

/// The stored model `name`, if any.
async fn stored(db: &AnyPool, name: &str) -> ChatResult<Option<Model>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM models WHERE name = $1"))
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(Model::from_row).transpose()
}

/// The model a chat request names; 404 `model_not_found` for an unknown one.
/// Its row is read from SQL at most once a [`crate::known::FRESH_FOR`].
pub async fn resolve(parts: Models<'_>, name: &str) -> ChatResult<Model> {
    let row = match parts.known.get(name) {
        Some(row) => row,
        None => {
            let row = stored(parts.db, name).await?;
            parts.known.keep(name.to_string(), row.clone());
            row
        }
    };
    or_builtin(parts, name, row)
}

/// The stored model `row` named `name`, or without one the built-in model
/// if `name` is its name; else 404.
fn or_builtin(parts: Models<'_>, name: &str, row: Option<Model>) -> ChatResult<Model> {
    match row {
        Some(model) => Ok(model),
        None if name == parts.public_model => Ok(Model::builtin(parts)),
        None => Err(ChatError::ModelNotFound(name.to_string())),
    }
}

/// Create a model from the fields of `input` (an `id` at least); 409 if the
/// name is taken by a stored one.
pub async fn create(parts: Models<'_>, input: &Map<String, Value>) -> ChatResult<Model> {
    let db = parts.db;
    let Some(id) = input.get("id").or_else(|| input.get("name")) else {
        return Err(ChatError::Invalid(
            "A model needs an `id` (the name clients send).".into(),
        ));
    };
    let id = id.as_str().unwrap_or_default().to_string();
    let model = Model::new(id, now_ms())
        .patched(input)?
        .validated(db)
        .await?;
    let inserted = bind_all(
        sqlx::query(&format!(
            "INSERT INTO models ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (name) DO NOTHING"
        )),
        &model,
    )
    .execute(db)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ChatError::Taken(format!(
            "A model named {:?} exists already; PATCH /api/admin/models/{} changes it.",
            model.id, model.id
        )));
    }
    parts.known.forget();
    Ok(model)
}

/// Change some fields of a model (the built-in one becomes a stored row).
pub async fn update(
    parts: Models<'_>,
    name: &str,
    patch: &Map<String, Value>,
) -> ChatResult<Model> {
    let db = parts.db;
    // What SQL holds now, not what was kept: the patch applies to it.
    let current = or_builtin(parts, name, stored(db, name).await?)?;
    let mut model = current.patched(patch)?.validated(db).await?;
    model.builtin = false;
    model.updated_at = now_ms();
    if current.builtin {
        model.created_at = model.updated_at;
    }
    if model.id != name && stored(db, &model.id).await?.is_some() {
        return Err(ChatError::Taken(format!(
            "A model named {:?} exists already.",
            model.id
        )));
    }
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM models WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    bind_all(
        sqlx::query(&format!(
            "INSERT INTO models ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )),
        &model,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    parts.known.forget();
    Ok(model)
}

/// Delete a stored model. The built-in one cannot be deleted (change
/// `RAGWAY_PUBLIC_MODEL` instead); a stored override of it reverts to it.
pub async fn delete(parts: Models<'_>, name: &str) -> ChatResult<()> {
    let db = parts.db;
    let deleted = sqlx::query("DELETE FROM models WHERE name = $1")
        .bind(name)
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        if name == parts.public_model {
            return Err(ChatError::Invalid(format!(
                "{name:?} is the built-in model named by RAGWAY_PUBLIC_MODEL; it cannot be deleted."
            )));
        }
        return Err(ChatError::ModelNotFound(name.to_string()));
    }
    parts.known.forget();
    Ok(())
}

fn bind_all<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    model: &Model,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let list = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialize");
    // Not a cached prepared statement: sqlx's `Any` driver (0.8) sends a NULL
    // `f64` as a `float4` parameter, so on PostgreSQL a statement first
    // prepared with no threshold would then refuse a threshold's 8 bytes.
    // Prepared afresh, each save declares the types of its own values.
    query
        .persistent(false)
        .bind(model.id.clone())
        .bind(model.upstream_model.clone())
        .bind(model.system_prompt.clone())
        .bind(list(&model.collections))
        .bind(model.retrieval as i64)
        .bind(model.top_k)
        .bind(model.score_threshold)
        .bind(model.rerank as i64)
        .bind(model.drawing as i64)
        .bind(model.draw_triggers.as_ref().map(list))
        .bind(model.max_messages)
        .bind(model.citation_footer as i64)
        .bind(model.created_at)
        .bind(model.updated_at)
        .bind(model.rerank_threshold)
        .bind(model.condense_model.clone())
}
