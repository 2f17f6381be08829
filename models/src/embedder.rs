//! Sentence embeddings: an encoder, its pooling (CLS or mean, as the
//! model's sentence-transformers files say), L2-normalised vectors, and the
//! query instruction that bge and e5 models expect on questions only.

use std::path::Path;

use candle_core::{DType, Tensor, D};
use serde::Deserialize;

use crate::encoder::{self, Encoder, Parts};
use crate::{ModelError, Result};

/// How token states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The first token's state (bge).
    Cls,
    /// The mean over the text's tokens (MiniLM, e5).
    Mean,
}

/// A loaded sentence-embedding model.
pub struct Embedder {
    parts: Parts,
    encoder: Encoder,
    pooling: Pooling,
    query_prefix: String,
    passage_prefix: String,
}

#[derive(Deserialize, Default)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize, Default)]
struct SentenceBert {
    #[serde(default)]
    max_seq_length: Option<usize>,
}

#[derive(Deserialize, Default)]
struct SentenceTransformers {
    #[serde(default)]
    prompts: std::collections::HashMap<String, String>,
}

impl Embedder {
    /// Load the model in `dir`; `name` (its repository, when it has one)
    /// picks the defaults its files do not state.
    pub fn load(dir: &Path, name: &str) -> Result<Self> {
        let optional = |file: &str| -> Result<Option<String>> {
            let path = dir.join(file);
            if path.is_file() {
                encoder::read_small(&path).map(Some)
            } else {
                Ok(None)
            }
        };
        let parse = |file: &str, text: &str| -> Result<serde_json::Value> {
            serde_json::from_str(text)
                .map_err(|e| ModelError::Files(format!("{}/{file}: {e}", dir.display())))
        };
        let lower = name.to_ascii_lowercase();
        let max_tokens = match optional("sentence_bert_config.json")? {
            Some(text) => {
                let value = parse("sentence_bert_config.json", &text)?;
                serde_json::from_value::<SentenceBert>(value)
                    .unwrap_or_default()
                    .max_seq_length
            }
            None => None,
        };
        let pooling = match optional("1_Pooling/config.json")? {
            Some(text) => {
                let value = parse("1_Pooling/config.json", &text)?;
                let file: PoolingFile = serde_json::from_value(value).unwrap_or_default();
                if file.pooling_mode_cls_token {
                    Pooling::Cls
                } else if file.pooling_mode_mean_tokens {
                    Pooling::Mean
                } else {
                    return Err(ModelError::Files(format!(
                        "{}/1_Pooling/config.json asks for a pooling other than CLS or mean",
                        dir.display()
                    )));
                }
            }
            // bge's cards say CLS; sentence-transformers' default is the mean.
            None if lower.contains("bge") => Pooling::Cls,
            None => Pooling::Mean,
        };
        let prompts = match optional("config_sentence_transformers.json")? {
            Some(text) => {
                let value = parse("config_sentence_transformers.json", &text)?;
                serde_json::from_value::<SentenceTransformers>(value)
                    .unwrap_or_default()
                    .prompts
            }
            None => Default::default(),
        };
        let (query_prefix, passage_prefix) = prefixes(&lower, &prompts);
        let parts = encoder::parts(dir, max_tokens)?;
        let encoder = Encoder::load(&parts, encoder::weights(dir)?)?;
        Ok(Self {
            parts,
            encoder,
            pooling,
            query_prefix,
            passage_prefix,
        })
    }

    /// The vectors' width.
    pub fn dims(&self) -> usize {
        self.parts.hidden
    }

    /// How token states are pooled.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The most tokens of a text that are read (the rest is cut).
    pub fn max_tokens(&self) -> usize {
        self.parts.max_tokens
    }

    /// What a question is prefixed with (empty for models without one).
    pub fn query_prefix(&self) -> &str {
        &self.query_prefix
    }

    /// Unit vectors of `texts`, in their order; `query` marks questions
    /// (prefixed with the model's query instruction) against passages.
    pub fn embed(&self, texts: &[String], query: bool) -> Result<Vec<Vec<f32>>> {
        let prefix = if query {
            &self.query_prefix
        } else {
            &self.passage_prefix
        };
        // Texts of like length together: less padding to compute over.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for group in order.chunks(self.parts.batch) {
            let inputs: Vec<String> = group
                .iter()
                .map(|&i| format!("{prefix}{}", texts[i]))
                .collect();
            let batch = encoder::tokenize(&self.parts.tokenizer, inputs)?;
            let states = self.encoder.forward(&batch)?;
            let pooled = match self.pooling {
                Pooling::Cls => states.get_on_dim(1, 0)?,
                Pooling::Mean => {
                    let mask = batch.mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                    let sum = states.broadcast_mul(&mask)?.sum(1)?;
                    let count = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                    sum.broadcast_div(&count)?
                }
            };
            let normalised = normalise(&pooled)?;
            for (&i, row) in group.iter().zip(normalised.to_vec2::<f32>()?) {
                vectors[i] = row;
            }
        }
        Ok(vectors)
    }
}

fn normalise(rows: &Tensor) -> Result<Tensor> {
    let norm = rows
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    Ok(rows.broadcast_div(&norm)?)
}

/// The instructions a model's card asks for on questions and passages: its
/// own `prompts` when its files name them, else those of its family.
fn prefixes(lower: &str, prompts: &std::collections::HashMap<String, String>) -> (String, String) {
    if let Some(query) = prompts.get("query") {
        let passage = prompts
            .get("passage")
            .or_else(|| prompts.get("document"))
            .cloned()
            .unwrap_or_default();
        return (query.clone(), passage);
    }
    if lower.contains("e5") {
        return ("query: ".into(), "passage: ".into());
    }
    // bge v1.5's retrieval instruction (bge-m3 needs none).
    if lower.contains("bge") && !lower.contains("m3") {
        if lower.contains("-zh") {
            return (
                "为这个句子生成表示以用于检索相关文章：".into(),
                String::new(),
            );
        }
        if lower.contains("-en") {
            return (
                "Represent this sentence for searching relevant passages: ".into(),
                String::new(),
            );
        }
    }
    (String::new(), String::new())
}

#[cfg(test)]
mod tests {
    use super::prefixes;

    #[test]
    fn questions_get_the_instruction_of_their_model() {
        let none = Default::default();
        assert_eq!(
            prefixes("baai/bge-small-zh-v1.5", &none).0,
            "为这个句子生成表示以用于检索相关文章："
        );
        assert!(prefixes("baai/bge-small-en-v1.5", &none)
            .0
            .starts_with("Represent this sentence"));
        assert_eq!(prefixes("baai/bge-m3", &none).0, "");
        assert_eq!(
            prefixes("intfloat/multilingual-e5-small", &none),
            ("query: ".into(), "passage: ".into())
        );
        assert_eq!(
            prefixes("sentence-transformers/all-minilm-l6-v2", &none).0,
            ""
        );
        let own = [("query".to_string(), "Q: ".to_string())].into();
        assert_eq!(prefixes("anything", &own), ("Q: ".into(), String::new()));
    }
}
