//! OpenAI's Vector Stores API, the request side: what a store, a file in
//! it, a batch of files and a search may ask for, with the bounds on each
//! (metadata, attributes, chunking, attribute filters), checked before
//! anything is stored or searched. Pure: the server keeps the stores.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{bad, RequestResult};

/// Metadata pairs and attributes a store or file may carry (OpenAI's cap).
pub const MAX_PAIRS: usize = 16;
/// The longest metadata or attribute key, in characters.
pub const MAX_KEY_CHARS: usize = 64;
/// The longest metadata or attribute string value, in characters.
pub const MAX_VALUE_CHARS: usize = 512;
/// Files one batch may add (OpenAI's cap).
pub const MAX_BATCH_FILES: usize = 500;
/// Queries one search may run.
pub const MAX_QUERIES: usize = 10;
/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 4096;
/// Results one search may answer (OpenAI's cap).
pub const MAX_RESULTS: usize = 50;
/// Comparisons and groups one filter may hold, all levels together.
pub const MAX_FILTER_NODES: usize = 64;
/// How deep compound filters may nest.
pub const MAX_FILTER_DEPTH: usize = 8;
/// A chunk's size bounds for a `static` chunking strategy, in tokens.
pub const CHUNK_TOKENS: std::ops::RangeInclusive<u32> = 100..=4096;

/// `POST /v1/vector_stores`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateStore {
    pub name: Option<String>,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Value>,
    pub expires_after: Option<ExpiresAfter>,
    #[serde(default)]
    pub file_ids: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub chunking_strategy: Option<Value>,
}

/// `POST /v1/vector_stores/{id}`: each field given replaces the stored one
/// (`expires_after: null` removes the expiry).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateStore {
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Value>,
    /// Absent: unchanged; `null`: no expiry.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ExpiresAfter>))]
    pub expires_after: Option<Option<ExpiresAfter>>,
}

/// A field that was sent (even as `null`) is `Some`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// When a store expires: `days` after it was last used.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpiresAfter {
    /// Only `last_active_at`.
    pub anchor: Anchor,
    pub days: u32,
}

/// What an expiry counts from.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    LastActiveAt,
}

impl ExpiresAfter {
    /// 1 to 365 days, as OpenAI allows.
    pub fn check(self) -> RequestResult<Self> {
        if (1..=365).contains(&self.days) {
            Ok(self)
        } else {
            Err(bad("`expires_after.days` must be from 1 to 365."))
        }
    }
}

/// `POST /v1/vector_stores/{id}/files`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddFile {
    pub file_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub attributes: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub chunking_strategy: Option<Value>,
}

/// `POST /v1/vector_stores/{id}/files/{file_id}`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateFile {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attributes: Value,
}

/// `POST /v1/vector_stores/{id}/file_batches`: `file_ids` sharing the
/// batch's attributes and chunking, or `files` each with its own.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    pub file_ids: Option<Vec<String>>,
    pub files: Option<Vec<AddFile>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub attributes: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub chunking_strategy: Option<Value>,
}

impl CreateBatch {
    /// The files to add, each with its attributes and chunking (the
    /// batch's where a file names none): 1 to 500, no file twice.
    pub fn files(self) -> RequestResult<Vec<AddFile>> {
        let files = match (self.file_ids, self.files) {
            (Some(_), Some(_)) => {
                return Err(bad("Send `file_ids` or `files`, not both."));
            }
            (None, None) => return Err(bad("Send `file_ids` or `files`.")),
            (Some(ids), None) => ids
                .into_iter()
                .map(|file_id| AddFile {
                    file_id,
                    attributes: self.attributes.clone(),
                    chunking_strategy: self.chunking_strategy.clone(),
                })
                .collect(),
            (None, Some(files)) => files
                .into_iter()
                .map(|file| AddFile {
                    attributes: file.attributes.or_else(|| self.attributes.clone()),
                    chunking_strategy: file
                        .chunking_strategy
                        .or_else(|| self.chunking_strategy.clone()),
                    file_id: file.file_id,
                })
                .collect::<Vec<_>>(),
        };
        if files.is_empty() || files.len() > MAX_BATCH_FILES {
            return Err(bad(format!(
                "A batch adds 1 to {MAX_BATCH_FILES} files; this one has {}.",
                files.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = files.iter().find(|f| !seen.insert(f.file_id.as_str())) {
            return Err(bad(format!(
                "File `{}` is in the batch twice.",
                twice.file_id
            )));
        }
        Ok(files)
    }
}

/// The metadata of a store: up to 16 string pairs.
pub fn metadata(value: Option<&Value>) -> RequestResult<Map<String, Value>> {
    let map = pairs(value, "metadata")?;
    if let Some((key, _)) = map.iter().find(|(_, v)| !v.is_string()) {
        return Err(bad(format!(
            "`metadata.{key}` must be a string: metadata values are strings."
        )));
    }
    Ok(map)
}

/// A file's attributes: up to 16 pairs of strings, numbers or booleans.
pub fn attributes(value: Option<&Value>) -> RequestResult<Map<String, Value>> {
    let map = pairs(value, "attributes")?;
    if let Some((key, _)) = map
        .iter()
        .find(|(_, v)| !(v.is_string() || v.is_number() || v.is_boolean()))
    {
        return Err(bad(format!(
            "`attributes.{key}` must be a string, a number or a boolean."
        )));
    }
    Ok(map)
}

fn pairs(value: Option<&Value>, what: &str) -> RequestResult<Map<String, Value>> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(bad(format!("`{what}` must be an object."))),
    };
    if map.len() > MAX_PAIRS {
        return Err(bad(format!(
            "`{what}` holds {} keys; at most {MAX_PAIRS} are allowed.",
            map.len()
        )));
    }
    for (key, value) in &map {
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(bad(format!(
                "`{what}` keys are 1 to {MAX_KEY_CHARS} characters."
            )));
        }
        if value
            .as_str()
            .is_some_and(|s| s.chars().count() > MAX_VALUE_CHARS)
        {
            return Err(bad(format!(
                "`{what}.{key}` is longer than {MAX_VALUE_CHARS} characters."
            )));
        }
    }
    Ok(map)
}

/// How a file is cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    /// The server's own chunking.
    Auto,
    /// These sizes, in tokens.
    Static {
        max_tokens: u32,
        overlap_tokens: u32,
    },
}

impl Chunking {
    /// `{"type": "auto"}` or `{"type": "static", "static": {...}}`
    /// (absent: auto). Chunks of 100 to 4096 tokens, overlapping by at
    /// most half a chunk, as OpenAI allows.
    pub fn parse(value: Option<&Value>) -> RequestResult<Self> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Chunking::Auto);
        };
        let kind = value.get("type").and_then(Value::as_str);
        match kind {
            Some("auto") if value.as_object().is_some_and(|o| o.len() == 1) => Ok(Chunking::Auto),
            Some("static") => {
                let sizes = value.get("static").and_then(Value::as_object);
                let number = |name: &str| {
                    sizes
                        .and_then(|s| s.get(name))
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                };
                let (Some(max_tokens), Some(overlap_tokens)) =
                    (number("max_chunk_size_tokens"), number("chunk_overlap_tokens"))
                else {
                    return Err(bad(
                        "A static `chunking_strategy` needs `static.max_chunk_size_tokens` and `static.chunk_overlap_tokens` (whole numbers).",
                    ));
                };
                if !CHUNK_TOKENS.contains(&max_tokens) {
                    return Err(bad(format!(
                        "`max_chunk_size_tokens` must be from {} to {}.",
                        CHUNK_TOKENS.start(),
                        CHUNK_TOKENS.end()
                    )));
                }
                if overlap_tokens > max_tokens / 2 {
                    return Err(bad(
                        "`chunk_overlap_tokens` must not exceed half of `max_chunk_size_tokens`.",
                    ));
                }
                Ok(Chunking::Static {
                    max_tokens,
                    overlap_tokens,
                })
            }
            _ => Err(bad(
                "`chunking_strategy` must be {\"type\": \"auto\"} or {\"type\": \"static\", \"static\": {…}}.",
            )),
        }
    }
}

/// `POST /v1/vector_stores/{id}/search`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// A string, or a list of them.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub query: Value,
    pub max_num_results: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub filters: Option<Value>,
    pub ranking_options: Option<RankingOptions>,
    #[serde(default)]
    pub rewrite_query: bool,
}

/// How results are ranked and which are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RankingOptions {
    /// `auto` or `default-2024-11-15` (the rerank model, when there is one),
    /// or `none` (the fused order).
    pub ranker: Option<String>,
    /// Results scoring below this (0 to 1) are left out.
    pub score_threshold: Option<f64>,
}

/// A search, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub queries: Vec<String>,
    pub max_results: usize,
    pub filter: Option<Filter>,
    /// Reorder with the rerank model (when one is configured).
    pub rerank: bool,
    pub score_threshold: Option<f64>,
    pub rewrite_query: bool,
}

impl SearchRequest {
    /// The search asked for, within its bounds.
    pub fn check(self) -> RequestResult<Search> {
        let queries: Vec<String> = match self.query {
            Value::String(query) => vec![query],
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(query) => Ok(query),
                    _ => Err(bad("`query` must be a string or a list of strings.")),
                })
                .collect::<RequestResult<_>>()?,
            _ => return Err(bad("`query` must be a string or a list of strings.")),
        };
        if queries.is_empty() || queries.len() > MAX_QUERIES {
            return Err(bad(format!("`query` holds 1 to {MAX_QUERIES} queries.")));
        }
        if queries.iter().any(|q| q.trim().is_empty()) {
            return Err(bad("`query` must not be empty."));
        }
        if queries.iter().any(|q| q.chars().count() > MAX_QUERY_CHARS) {
            return Err(bad(format!(
                "Each query is at most {MAX_QUERY_CHARS} characters."
            )));
        }
        let mut search = Search::options(
            self.max_num_results,
            self.filters.as_ref(),
            self.ranking_options,
        )?;
        search.queries = queries;
        search.rewrite_query = self.rewrite_query;
        Ok(search)
    }
}

impl Search {
    /// A search's options (no queries yet): `max_num_results` (1 to 50,
    /// default 10), `filters`, `ranking_options`.
    fn options(
        max_results: Option<u32>,
        filters: Option<&Value>,
        ranking: Option<RankingOptions>,
    ) -> RequestResult<Self> {
        let max_results = max_results.unwrap_or(10) as usize;
        if !(1..=MAX_RESULTS).contains(&max_results) {
            return Err(bad(format!(
                "`max_num_results` must be from 1 to {MAX_RESULTS}."
            )));
        }
        let filter = filters
            .filter(|f| !f.is_null())
            .map(Filter::parse)
            .transpose()?;
        let ranking = ranking.unwrap_or_default();
        let rerank = match ranking.ranker.as_deref() {
            None | Some("auto" | "default-2024-11-15") => true,
            Some("none") => false,
            Some(other) => {
                return Err(bad(format!(
                    "`ranking_options.ranker` must be \"auto\", \"default-2024-11-15\" or \"none\", not {other:?}."
                )))
            }
        };
        if let Some(t) = ranking.score_threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(bad(
                    "`ranking_options.score_threshold` must be from 0 to 1.",
                ));
            }
        }
        Ok(Search {
            queries: Vec::new(),
            max_results,
            filter,
            rerank,
            score_threshold: ranking.score_threshold,
            rewrite_query: false,
        })
    }
}

/// The most vector stores one `file_search` tool may name.
pub const MAX_TOOL_STORES: usize = 16;

/// A `file_search` tool (Responses API, and chat completions as ragway's
/// extension): search these stores for the question and ground the answer
/// in what is found.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSearch {
    pub vector_store_ids: Vec<String>,
    /// Its options; the queries are the question's.
    pub search: Search,
}

/// The fields of a `file_search` tool.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSearchTool {
    #[allow(dead_code, reason = "checked to be file_search before parsing")]
    r#type: String,
    vector_store_ids: Vec<String>,
    max_num_results: Option<u32>,
    filters: Option<Value>,
    ranking_options: Option<RankingOptions>,
}

impl FileSearch {
    /// `{"type": "file_search", "vector_store_ids": [...], "max_num_results",
    /// "filters", "ranking_options"}`.
    pub fn parse(tool: &Value) -> RequestResult<Self> {
        let tool = FileSearchTool::deserialize(tool)
            .map_err(|err| bad(format!("The `file_search` tool: {err}.")))?;
        let ids = tool.vector_store_ids;
        if ids.is_empty() || ids.len() > MAX_TOOL_STORES {
            return Err(bad(format!(
                "The `file_search` tool names 1 to {MAX_TOOL_STORES} `vector_store_ids`."
            )));
        }
        let search = Search::options(
            tool.max_num_results,
            tool.filters.as_ref(),
            tool.ranking_options,
        )?;
        Ok(FileSearch {
            vector_store_ids: ids,
            search,
        })
    }
}

/// Take the `file_search` tool (at most one) out of `tools`, leaving the rest.
pub fn take_file_search(tools: &mut Vec<Value>) -> RequestResult<Option<FileSearch>> {
    let mut found = None;
    let mut kept = Vec::with_capacity(tools.len());
    for tool in tools.drain(..) {
        if tool.get("type").and_then(Value::as_str) != Some("file_search") {
            kept.push(tool);
        } else if found.is_some() {
            return Err(bad(
                "Send one `file_search` tool: it may name several vector stores.",
            ));
        } else {
            found = Some(FileSearch::parse(&tool)?);
        }
    }
    *tools = kept;
    Ok(found)
}

/// A filter over file attributes: a comparison, or comparisons combined.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare { op: Op, key: String, value: Value },
    All(Vec<Filter>),
    Any(Vec<Filter>),
}

/// A comparison's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
}

impl Filter {
    /// OpenAI's filter object: `{"type": "eq", "key", "value"}` (and `ne`,
    /// `gt`, `gte`, `lt`, `lte`, `in`, `nin`), or `{"type": "and" | "or",
    /// "filters": [...]}`; at most 64 parts, nested at most 8 deep.
    pub fn parse(value: &Value) -> RequestResult<Self> {
        let mut nodes = 0;
        Self::parse_within(value, 1, &mut nodes)
    }

    fn parse_within(value: &Value, depth: usize, nodes: &mut usize) -> RequestResult<Self> {
        *nodes += 1;
        if *nodes > MAX_FILTER_NODES {
            return Err(bad(format!(
                "`filters` holds more than {MAX_FILTER_NODES} parts."
            )));
        }
        if depth > MAX_FILTER_DEPTH {
            return Err(bad(format!(
                "`filters` nests more than {MAX_FILTER_DEPTH} deep."
            )));
        }
        let Some(object) = value.as_object() else {
            return Err(bad("Each filter must be an object."));
        };
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
        let op = match kind {
            "and" | "or" => {
                if let Some(extra) = object
                    .keys()
                    .find(|k| !matches!(k.as_str(), "type" | "filters"))
                {
                    return Err(bad(format!("A compound filter has no field `{extra}`.")));
                }
                let Some(parts) = object.get("filters").and_then(Value::as_array) else {
                    return Err(bad("A compound filter needs a `filters` list."));
                };
                let parts = parts
                    .iter()
                    .map(|part| Self::parse_within(part, depth + 1, nodes))
                    .collect::<RequestResult<Vec<_>>>()?;
                return Ok(if kind == "and" {
                    Filter::All(parts)
                } else {
                    Filter::Any(parts)
                });
            }
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" => Op::Nin,
            other => {
                return Err(bad(format!(
                "Unknown filter type {other:?}: use eq, ne, gt, gte, lt, lte, in, nin, and or or."
            )))
            }
        };
        if let Some(extra) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "key" | "value"))
        {
            return Err(bad(format!("A comparison filter has no field `{extra}`.")));
        }
        let Some(key) = object.get("key").and_then(Value::as_str) else {
            return Err(bad("A comparison filter needs a `key` string."));
        };
        let scalar = |v: &Value| v.is_string() || v.is_number() || v.is_boolean();
        let value = object.get("value").cloned().unwrap_or(Value::Null);
        let fits = match (op, &value) {
            (Op::In | Op::Nin, Value::Array(items)) => {
                items.len() <= 256 && items.iter().all(scalar)
            }
            (Op::In | Op::Nin, _) => false,
            (_, v) => scalar(v),
        };
        if !fits {
            return Err(bad(format!(
                "Filter `{kind}` on `{key}` needs a {}.",
                if matches!(op, Op::In | Op::Nin) {
                    "list of at most 256 strings, numbers or booleans"
                } else {
                    "string, number or boolean `value`"
                }
            )));
        }
        Ok(Filter::Compare {
            op,
            key: key.to_string(),
            value,
        })
    }

    /// Whether a file with `attributes` passes. A missing attribute passes
    /// only `ne` and `nin`; `gt`/`lt` compare numbers with numbers and
    /// strings with strings, and nothing else.
    pub fn matches(&self, attributes: &Map<String, Value>) -> bool {
        match self {
            Filter::All(parts) => parts.iter().all(|p| p.matches(attributes)),
            Filter::Any(parts) => parts.iter().any(|p| p.matches(attributes)),
            Filter::Compare { op, key, value } => {
                let Some(found) = attributes.get(key) else {
                    return matches!(op, Op::Ne | Op::Nin);
                };
                let listed = || {
                    value
                        .as_array()
                        .is_some_and(|l| l.iter().any(|v| same(found, v)))
                };
                match op {
                    Op::Eq => same(found, value),
                    Op::Ne => !same(found, value),
                    Op::In => listed(),
                    Op::Nin => !listed(),
                    Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                        let Some(order) = order(found, value) else {
                            return false;
                        };
                        match op {
                            Op::Gt => order.is_gt(),
                            Op::Gte => order.is_ge(),
                            Op::Lt => order.is_lt(),
                            _ => order.is_le(),
                        }
                    }
                }
            }
        }
    }
}

/// Equal values; numbers by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "vector_stores_tests.rs"]
mod tests;
