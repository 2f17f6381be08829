//! Settings the admin changes while ragway runs: the default system prompt,
//! message limits, retrieval depth, drawing triggers, the citation footer
//! and the upload limit. Each starts from the bootstrap settings
//! (`config`); a value saved through the admin (one SQL row per setting,
//! the value as JSON) wins, and every process reads them again with the
//! providers, so all replicas agree within `upstream::providers::RELOAD_EVERY`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{AnyPool, Row};

use crate::config::Settings;
use crate::domain::clock::now_ms;
use crate::error::{AppError, AppResult};

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    /// The system prompt of models that have none of their own.
    pub system_prompt: Option<String>,
    /// Non-system messages sent upstream per request (a model may set its own).
    pub max_messages: usize,
    /// Characters of one message sent upstream; longer ones are cut.
    pub max_message_chars: usize,
    /// Characters of all messages sent upstream together.
    pub max_total_chars: usize,
    /// Sources put into the prompt per question (a model may set its own).
    pub top_k: usize,
    /// Messages starting with one of these are drawn (where a model draws).
    pub draw_triggers: Vec<String>,
    /// Append the list of sources to every grounded answer (a model may
    /// also ask for it alone).
    pub citation_footer: bool,
    /// Largest document accepted for upload, in bytes (at most the request
    /// body limit, `RAGWAY_MAX_BODY_BYTES`).
    pub upload_max_bytes: usize,
}

impl Runtime {
    /// The values the bootstrap settings give.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            system_prompt: None,
            max_messages: settings.max_messages,
            max_message_chars: settings.max_message_chars,
            max_total_chars: settings.max_total_chars,
            top_k: settings.top_k,
            draw_triggers: settings.draw_triggers.clone(),
            citation_footer: false,
            upload_max_bytes: settings.max_body_bytes,
        }
    }

    /// `self` with `name` set to `value` (`null`: back to `defaults`), or why not.
    fn with(mut self, name: &str, value: &Value, settings: &Settings) -> Result<Self, String> {
        let defaults = Self::from_settings(settings);
        let count = |min: usize, max: usize| -> Result<Option<usize>, String> {
            match value {
                Value::Null => Ok(None),
                Value::Number(n) => match n.as_u64().map(|n| n as usize) {
                    Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(format!(
                        "`{name}` must be a whole number from {min} to {max}."
                    )),
                },
                _ => Err(format!(
                    "`{name}` must be a number (or null for the default)."
                )),
            }
        };
        match name {
            "system_prompt" => {
                self.system_prompt = match value {
                    Value::Null => None,
                    Value::String(text) if text.trim().is_empty() => None,
                    Value::String(text) if text.chars().count() <= 20_000 => Some(text.clone()),
                    Value::String(_) => {
                        return Err("`system_prompt` may hold at most 20000 characters.".into())
                    }
                    _ => return Err("`system_prompt` must be a string or null.".into()),
                }
            }
            "max_messages" => {
                self.max_messages = count(1, 1000)?.unwrap_or(defaults.max_messages);
            }
            "max_message_chars" => {
                self.max_message_chars =
                    count(100, 10_000_000)?.unwrap_or(defaults.max_message_chars);
            }
            "max_total_chars" => {
                self.max_total_chars = count(1000, 50_000_000)?.unwrap_or(defaults.max_total_chars);
            }
            "top_k" => self.top_k = count(1, 50)?.unwrap_or(defaults.top_k),
            "draw_triggers" => {
                self.draw_triggers = match value {
                    Value::Null => defaults.draw_triggers,
                    Value::Array(items) => {
                        let mut triggers = Vec::new();
                        for item in items {
                            match item.as_str().map(str::trim) {
                                Some(t) if !t.is_empty() && t.chars().count() <= 20 => {
                                    triggers.push(t.to_string());
                                }
                                _ => return Err("`draw_triggers` must be a list of non-empty strings of at most 20 characters.".into()),
                            }
                        }
                        if triggers.len() > 20 {
                            return Err("`draw_triggers` may hold at most 20 triggers.".into());
                        }
                        triggers
                    }
                    _ => return Err("`draw_triggers` must be a list of strings.".into()),
                }
            }
            "citation_footer" => {
                self.citation_footer = match value {
                    Value::Null => defaults.citation_footer,
                    Value::Bool(on) => *on,
                    _ => return Err("`citation_footer` must be true or false.".into()),
                }
            }
            "upload_max_bytes" => {
                self.upload_max_bytes =
                    count(1, settings.max_body_bytes)?.unwrap_or(defaults.upload_max_bytes);
            }
            other => {
                return Err(format!(
                    "There is no setting {other:?}; the settings are {}.",
                    NAMES.join(", ")
                ))
            }
        }
        Ok(self)
    }
}

/// Every setting's name.
pub const NAMES: [&str; 8] = [
    "system_prompt",
    "max_messages",
    "max_message_chars",
    "max_total_chars",
    "top_k",
    "draw_triggers",
    "citation_footer",
    "upload_max_bytes",
];

/// The saved values, by name.
async fn saved(db: &AnyPool) -> AppResult<Vec<(String, Value)>> {
    let rows = sqlx::query("SELECT name, value FROM settings ORDER BY name")
        .fetch_all(db)
        .await?;
    let mut values = Vec::new();
    for row in rows {
        let name: String = row.get("name");
        let text: String = row.get("value");
        match serde_json::from_str(&text) {
            Ok(value) => values.push((name, value)),
            Err(err) => tracing::warn!(%name, error = %err, "a saved setting is not JSON; ignored"),
        }
    }
    Ok(values)
}

/// The bootstrap `settings` with the values saved in `db` on top.
pub async fn resolve(db: &AnyPool, settings: &Settings) -> AppResult<Runtime> {
    let mut runtime = Runtime::from_settings(settings);
    for (name, value) in saved(db).await? {
        match runtime.clone().with(&name, &value, settings) {
            Ok(next) => runtime = next,
            // Written by a newer version, or out of range after the body limit changed.
            Err(why) => tracing::warn!(%name, %why, "a saved setting does not apply; ignored"),
        }
    }
    Ok(runtime)
}

/// The settings as the admin sees them: the values in force, and which of
/// them were saved through the admin (`runtime` is the one in force).
pub async fn view(db: &AnyPool, settings: &Settings, runtime: &Runtime) -> AppResult<Value> {
    let mut body = serde_json::to_value(runtime).map_err(anyhow::Error::from)?;
    let saved: Vec<Value> = saved(db)
        .await?
        .into_iter()
        .map(|(name, _)| Value::String(name))
        .collect();
    let defaults =
        serde_json::to_value(Runtime::from_settings(settings)).map_err(anyhow::Error::from)?;
    body["saved"] = Value::Array(saved);
    body["defaults"] = defaults;
    Ok(body)
}

/// Apply `changes` to `current` (`null` sets one back to its default): all
/// are checked before any is saved. The runtime settings to use from now on.
pub async fn update(
    db: &AnyPool,
    settings: &Settings,
    current: &Runtime,
    changes: &Map<String, Value>,
) -> AppResult<Runtime> {
    let mut next = current.clone();
    for (name, value) in changes {
        next = next
            .with(name, value, settings)
            .map_err(AppError::BadRequest)?;
    }
    let mut tx = db.begin().await?;
    for (name, value) in changes {
        if value.is_null() {
            sqlx::query("DELETE FROM settings WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value.to_string())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    tracing::info!(settings = ?changes.keys().collect::<Vec<_>>(), "settings saved");
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_and_null_means_the_default() {
        let settings = Settings::default();
        let base = Runtime::from_settings(&settings);
        let next = base
            .clone()
            .with("max_messages", &json!(6), &settings)
            .unwrap();
        assert_eq!(next.max_messages, 6);
        let back = next.with("max_messages", &Value::Null, &settings).unwrap();
        assert_eq!(back, base);
        assert!(base
            .clone()
            .with("max_messages", &json!(0), &settings)
            .is_err());
        assert!(base
            .clone()
            .with("max_messages", &json!("6"), &settings)
            .is_err());
        assert!(base
            .clone()
            .with("draw_triggers", &json!([""]), &settings)
            .is_err());
        let triggers = base
            .clone()
            .with("draw_triggers", &json!(["画", " draw: "]), &settings)
            .unwrap();
        assert_eq!(triggers.draw_triggers, ["画", "draw:"]);
        let too_big = json!(settings.max_body_bytes + 1);
        assert!(base
            .clone()
            .with("upload_max_bytes", &too_big, &settings)
            .is_err());
        let unknown = base.with("colour", &json!(1), &settings).unwrap_err();
        assert!(unknown.contains("max_messages"), "{unknown}");
    }
}
