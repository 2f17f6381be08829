//! The request side of `POST /v1/embeddings` (OpenAI's shape) and
//! `POST /v1/rerank` (the Jina/Cohere shape Dify, FastGPT and Open WebUI
//! call): parsed, then checked against the caps on what one request may
//! carry, before anything goes upstream.

use serde::Deserialize;
use serde_json::Value;

use crate::{bad, RequestResult};

/// Texts one embeddings request may carry (OpenAI's own limit).
pub const MAX_EMBED_INPUTS: usize = 2048;

/// Documents one rerank request may rank (Cohere's limit).
pub const MAX_RERANK_DOCUMENTS: usize = 1000;

/// The widest `dimensions` passed on.
pub const MAX_DIMENSIONS: u64 = 65_536;

/// `POST /v1/embeddings`. Fields OpenAI defines that ragway does not
/// support are refused by name rather than ignored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsRequest {
    /// The model asked for; `None` (or empty): the configured one.
    #[serde(default)]
    pub model: Option<String>,
    pub input: Value,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub dimensions: Option<Value>,
    /// OpenAI's end-user id: accepted, not passed on.
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<Value>,
}

/// How the vectors go back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Arrays of numbers (OpenAI's default).
    Float,
    /// Little-endian `f32`s in base64 (what OpenAI's SDKs ask for).
    Base64,
}

/// An embeddings request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub model: Option<String>,
    pub inputs: Vec<String>,
    pub encoding: Encoding,
    pub dimensions: Option<u32>,
}

impl EmbeddingsRequest {
    /// Check the request: text input (a string or a list of them, none
    /// empty, at most [`MAX_EMBED_INPUTS`]), a known encoding, a positive
    /// width.
    pub fn check(self) -> RequestResult<Embeddings> {
        let inputs = match self.input {
            Value::String(text) => vec![text],
            Value::Array(items) => {
                if items.len() > MAX_EMBED_INPUTS {
                    return Err(bad(format!(
                        "`input` holds {} texts; at most {MAX_EMBED_INPUTS} are embedded in one request.",
                        items.len()
                    )));
                }
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(text) => Ok(text),
                        Value::Number(_) | Value::Array(_) => Err(bad(format!(
                            "`input[{i}]` is a list of token ids; ragway embeds text only: send the text."
                        ))),
                        _ => Err(bad(format!("`input[{i}]` must be a string."))),
                    })
                    .collect::<RequestResult<Vec<_>>>()?
            }
            _ => {
                return Err(bad(
                    "`input` must be a string or a list of strings.".to_string()
                ))
            }
        };
        if inputs.is_empty() {
            return Err(bad("`input` is empty: send at least one text."));
        }
        if let Some(i) = inputs.iter().position(|t| t.trim().is_empty()) {
            return Err(bad(format!("`input[{i}]` is empty.")));
        }
        let encoding = match self.encoding_format.as_deref() {
            None | Some("float") => Encoding::Float,
            Some("base64") => Encoding::Base64,
            Some(other) => {
                return Err(bad(format!(
                    "`encoding_format` must be \"float\" or \"base64\", not {other:?}."
                )))
            }
        };
        let dimensions = match self.dimensions {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(d) if (1..=MAX_DIMENSIONS).contains(&d) => Some(d as u32),
                _ => {
                    return Err(bad(format!(
                        "`dimensions` must be a whole number from 1 to {MAX_DIMENSIONS}."
                    )))
                }
            },
            Some(_) => return Err(bad("`dimensions` must be a number.")),
        };
        Ok(Embeddings {
            model: self.model.filter(|m| !m.trim().is_empty()),
            inputs,
            encoding,
            dimensions,
        })
    }
}

/// `POST /v1/rerank`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerankRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub query: Value,
    pub documents: Value,
    #[serde(default)]
    pub top_n: Option<Value>,
    #[serde(default)]
    pub return_documents: Option<bool>,
}

/// A rerank request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerank {
    pub model: Option<String>,
    pub query: String,
    pub documents: Vec<String>,
    /// How many of the best to return (at most all of them).
    pub top_n: usize,
    /// Whether each result carries its document's text (default: yes, as Jina's API).
    pub return_documents: bool,
}

impl RerankRequest {
    /// Check the request: a query, at most [`MAX_RERANK_DOCUMENTS`]
    /// documents, each a string or `{"text": …}`, a positive `top_n`.
    pub fn check(self) -> RequestResult<Rerank> {
        let query = match self.query {
            Value::String(q) if !q.trim().is_empty() => q,
            Value::String(_) => return Err(bad("`query` is empty.")),
            _ => return Err(bad("`query` must be a string.")),
        };
        let Value::Array(items) = self.documents else {
            return Err(bad("`documents` must be a list."));
        };
        if items.is_empty() {
            return Err(bad("`documents` is empty: send at least one."));
        }
        if items.len() > MAX_RERANK_DOCUMENTS {
            return Err(bad(format!(
                "`documents` holds {} documents; at most {MAX_RERANK_DOCUMENTS} are ranked in one request.",
                items.len()
            )));
        }
        let documents = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(text) => Ok(text),
                Value::Object(mut object) => match object.remove("text") {
                    Some(Value::String(text)) => Ok(text),
                    _ => Err(bad(format!(
                        "`documents[{i}]` must be a string or an object with a string `text`."
                    ))),
                },
                _ => Err(bad(format!(
                    "`documents[{i}]` must be a string or an object with a string `text`."
                ))),
            })
            .collect::<RequestResult<Vec<_>>>()?;
        let top_n = match self.top_n {
            None | Some(Value::Null) => documents.len(),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(n) if n >= 1 => (n as usize).min(documents.len()),
                _ => return Err(bad("`top_n` must be a whole number of at least 1.")),
            },
            Some(_) => return Err(bad("`top_n` must be a number.")),
        };
        Ok(Rerank {
            model: self.model.filter(|m| !m.trim().is_empty()),
            query,
            documents,
            top_n,
            return_documents: self.return_documents.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn embeddings(body: Value) -> RequestResult<Embeddings> {
        serde_json::from_value::<EmbeddingsRequest>(body)
            .map_err(|e| bad(e.to_string()))?
            .check()
    }

    fn rerank(body: Value) -> RequestResult<Rerank> {
        serde_json::from_value::<RerankRequest>(body)
            .map_err(|e| bad(e.to_string()))?
            .check()
    }

    #[test]
    fn embeddings_take_a_string_or_a_list() {
        let one = embeddings(json!({"model": "m", "input": "hello"})).expect("valid");
        assert_eq!(one.inputs, vec!["hello".to_string()]);
        assert_eq!(one.encoding, Encoding::Float);
        let many = embeddings(json!({"input": ["a", "b"], "encoding_format": "base64", "dimensions": 256, "user": "u"}))
            .expect("valid");
        assert_eq!(many.inputs.len(), 2);
        assert_eq!(many.encoding, Encoding::Base64);
        assert_eq!(many.dimensions, Some(256));
        assert_eq!(many.model, None);
    }

    #[test]
    fn bad_embeddings_requests_name_what_is_wrong() {
        let cases = [
            (json!({"input": [[1, 2, 3]]}), "token ids"),
            (json!({"input": []}), "empty"),
            (json!({"input": ["a", " "]}), "`input[1]` is empty"),
            (json!({"input": 3}), "string or a list"),
            (
                json!({"input": "a", "encoding_format": "int8"}),
                "encoding_format",
            ),
            (json!({"input": "a", "dimensions": 0}), "dimensions"),
            (json!({"input": "a", "dimensions": "8"}), "dimensions"),
            (json!({"input": "a", "frobnicate": true}), "frobnicate"),
        ];
        for (body, expected) in cases {
            let err = embeddings(body.clone()).expect_err("refused").to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
        let too_many: Vec<String> = (0..=MAX_EMBED_INPUTS).map(|i| i.to_string()).collect();
        let err = embeddings(json!({ "input": too_many })).expect_err("refused");
        assert!(err.to_string().contains("at most 2048"), "{err}");
    }

    #[test]
    fn rerank_takes_strings_or_text_objects() {
        let checked = rerank(json!({
            "model": "r", "query": "q", "documents": ["a", {"text": "b"}], "top_n": 5
        }))
        .expect("valid");
        assert_eq!(checked.documents, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(checked.top_n, 2, "top_n is at most the documents");
        assert!(checked.return_documents);
    }

    #[test]
    fn bad_rerank_requests_name_what_is_wrong() {
        let cases = [
            (json!({"query": "", "documents": ["a"]}), "`query` is empty"),
            (json!({"query": 1, "documents": ["a"]}), "`query` must be"),
            (
                json!({"query": "q", "documents": []}),
                "`documents` is empty",
            ),
            (json!({"query": "q", "documents": "a"}), "must be a list"),
            (json!({"query": "q", "documents": [1]}), "`documents[0]`"),
            (
                json!({"query": "q", "documents": ["a"], "top_n": 0}),
                "top_n",
            ),
            (
                json!({"query": "q", "documents": ["a"], "rank_fields": ["x"]}),
                "rank_fields",
            ),
        ];
        for (body, expected) in cases {
            let err = rerank(body.clone()).expect_err("refused").to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }
}
