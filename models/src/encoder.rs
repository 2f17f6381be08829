//! The transformer under both kinds of model: its tokenizer, its config and
//! its weights, read from a model folder, and a forward pass over a batch.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{bert, xlm_roberta};
use serde::Deserialize;
use tokenizers::{
    EncodeInput, Encoding, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams,
};

use crate::{ModelError, Result};

/// The files every model folder holds.
pub const REQUIRED_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The architectures read: BERT (bge, MiniLM, e5) and XLM-RoBERTa (bge-m3,
/// bge-reranker-base).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bert,
    XlmRoberta,
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    max_position_embeddings: Option<usize>,
    #[serde(default)]
    pad_token_id: Option<u32>,
    #[serde(default)]
    hidden_size: Option<usize>,
    #[serde(default)]
    num_attention_heads: Option<usize>,
}

/// A model folder's text side and config, before the weights.
pub struct Parts {
    pub family: Family,
    pub tokenizer: Tokenizer,
    pub config: String,
    pub hidden: usize,
    pub max_tokens: usize,
    /// Texts (or pairs) run through the model together: as many as keep
    /// one attention tensor (heads × tokens² floats a text) within
    /// [`ATTENTION_BUDGET`], at most 16.
    pub batch: usize,
}

/// The largest attention tensor a batch may make. candle allocates every
/// intermediate tensor afresh; past glibc's largest heap block (32 MB)
/// each is mapped, faulted in page by page and unmapped again, which cost a
/// fifth of the time in the kernel and 500 MB of peak memory with MiniLM at
/// 16 texts a batch (BENCHMARKS.md, "Built-in models").
pub const ATTENTION_BUDGET: usize = 16 << 20;

/// Read the tokenizer and config of the model in `dir`; `max_tokens` caps
/// the tokens a text keeps (the model's own limit caps it too).
pub fn parts(dir: &Path, max_tokens: Option<usize>) -> Result<Parts> {
    for file in REQUIRED_FILES {
        if !dir.join(file).is_file() {
            return Err(ModelError::Files(format!(
                "the model folder {} has no {file}",
                dir.display()
            )));
        }
    }
    let config = read_small(&dir.join("config.json"))?;
    let head: Head = serde_json::from_str(&config)
        .map_err(|e| ModelError::Files(format!("{}/config.json: {e}", dir.display())))?;
    let family = match head.model_type.as_deref() {
        Some("bert") | None => Family::Bert,
        Some("xlm-roberta") | Some("roberta") => Family::XlmRoberta,
        Some(other) => {
            return Err(ModelError::Files(format!(
                "{}: model_type `{other}` is not read here (BERT and XLM-RoBERTa models are)",
                dir.display()
            )))
        }
    };
    let hidden = head.hidden_size.ok_or_else(|| {
        ModelError::Files(format!("{}/config.json has no hidden_size", dir.display()))
    })?;
    // XLM-RoBERTa's positions start after the padding index.
    let positions = head.max_position_embeddings.unwrap_or(512);
    let model_limit = match family {
        Family::Bert => positions,
        Family::XlmRoberta => positions.saturating_sub(2),
    };
    let max_tokens = max_tokens
        .unwrap_or(model_limit)
        .clamp(8, model_limit.max(8));
    let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
        .map_err(|e| ModelError::Files(format!("{}/tokenizer.json: {e}", dir.display())))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let pad_id = head.pad_token_id.unwrap_or(match family {
        Family::Bert => 0,
        Family::XlmRoberta => 1,
    });
    let padding = tokenizer
        .get_padding()
        .cloned()
        .unwrap_or_else(|| PaddingParams {
            pad_id,
            pad_token: tokenizer
                .id_to_token(pad_id)
                .unwrap_or_else(|| "[PAD]".into()),
            ..PaddingParams::default()
        });
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..padding
    }));
    let heads = head.num_attention_heads.unwrap_or(12).max(1);
    let per_text = heads * max_tokens * max_tokens * std::mem::size_of::<f32>();
    Ok(Parts {
        family,
        tokenizer,
        config,
        hidden,
        max_tokens,
        batch: (ATTENTION_BUDGET / per_text).clamp(1, 16),
    })
}

/// Read a small text file of the model folder (bounded: a config is never
/// megabytes).
pub fn read_small(path: &Path) -> Result<String> {
    const MAX: u64 = 4 << 20;
    let meta = std::fs::metadata(path)
        .map_err(|e| ModelError::Files(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX {
        return Err(ModelError::Files(format!(
            "{} is {} bytes, more than a model's settings file can be",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| ModelError::Files(format!("{}: {e}", path.display())))
}

/// The weights of `dir`, memory-mapped.
pub fn weights(dir: &Path) -> Result<VarBuilder<'static>> {
    let file = dir.join("model.safetensors");
    // SAFETY: the file is memory-mapped read-only; ragway never writes a
    // model file once it is in place (downloads land under another name
    // and are renamed in).
    #[allow(unsafe_code)]
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[file], DType::F32, &Device::Cpu)? };
    Ok(vb)
}

/// Parse `config` as the config of `family`'s model.
pub fn config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T> {
    serde_json::from_str(config).map_err(|e| ModelError::Files(format!("config.json: {e}")))
}

/// A BERT or XLM-RoBERTa encoder without a head.
pub enum Encoder {
    Bert(bert::BertModel),
    XlmRoberta(xlm_roberta::XLMRobertaModel),
}

impl Encoder {
    /// Load the encoder of `parts` from `vb`.
    pub fn load(parts: &Parts, vb: VarBuilder<'static>) -> Result<Self> {
        Ok(match parts.family {
            Family::Bert => {
                let config: bert::Config = config(&parts.config)?;
                Encoder::Bert(bert::BertModel::load(vb, &config)?)
            }
            Family::XlmRoberta => {
                let config: xlm_roberta::Config = config(&parts.config)?;
                let vb = if vb.contains_tensor("roberta.embeddings.word_embeddings.weight") {
                    vb.pp("roberta")
                } else {
                    vb
                };
                Encoder::XlmRoberta(xlm_roberta::XLMRobertaModel::new(&config, vb)?)
            }
        })
    }

    /// Hidden states `[batch, tokens, hidden]` of a tokenized batch.
    pub fn forward(&self, batch: &Batch) -> Result<Tensor> {
        Ok(match self {
            Encoder::Bert(model) => {
                model.forward(&batch.ids, &batch.type_ids, Some(&batch.mask))?
            }
            Encoder::XlmRoberta(model) => {
                model.forward(&batch.ids, &batch.mask, &batch.type_ids, None, None, None)?
            }
        })
    }
}

/// A tokenized, padded batch as tensors.
pub struct Batch {
    pub ids: Tensor,
    pub type_ids: Tensor,
    pub mask: Tensor,
}

/// Tokenize `inputs` (texts, or query–passage pairs) into one padded batch.
pub fn tokenize<'s, E: Into<EncodeInput<'s>> + Send>(
    tokenizer: &Tokenizer,
    inputs: Vec<E>,
) -> Result<Batch> {
    let encodings = tokenizer
        .encode_batch(inputs, true)
        .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let rows = encodings.len();
    let width = encodings.first().map_or(0, Encoding::len);
    let gather = |pick: fn(&Encoding) -> &[u32]| -> Result<Tensor> {
        let mut flat = Vec::with_capacity(rows * width);
        for e in &encodings {
            flat.extend_from_slice(pick(e));
        }
        Ok(Tensor::from_vec(flat, (rows, width), &Device::Cpu)?)
    };
    Ok(Batch {
        ids: gather(Encoding::get_ids)?,
        type_ids: gather(Encoding::get_type_ids)?,
        mask: gather(Encoding::get_attention_mask)?,
    })
}
