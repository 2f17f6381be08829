//! Cross-encoder reranking: a question and a passage read together, one
//! relevance score out (bge-reranker's XLM-RoBERTa head, or a BERT
//! cross-encoder's pooler and classifier), squashed into 0..1 as
//! bge-reranker's own `normalize=True` does.

use std::path::Path;

use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear};
use candle_transformers::models::{bert, xlm_roberta};

use crate::encoder::{self, Batch, Family, Parts};
use crate::Result;

enum Head {
    XlmRoberta(xlm_roberta::XLMRobertaForSequenceClassification),
    Bert {
        model: bert::BertModel,
        pooler: Linear,
        classifier: Linear,
    },
}

/// A loaded cross-encoder.
pub struct Reranker {
    parts: Parts,
    head: Head,
}

impl Reranker {
    /// Load the cross-encoder in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let parts = encoder::parts(dir, None)?;
        let vb = encoder::weights(dir)?;
        let head = match parts.family {
            Family::XlmRoberta => {
                let config: xlm_roberta::Config = encoder::config(&parts.config)?;
                Head::XlmRoberta(xlm_roberta::XLMRobertaForSequenceClassification::new(
                    1, &config, vb,
                )?)
            }
            Family::Bert => {
                let config: bert::Config = encoder::config(&parts.config)?;
                let model = bert::BertModel::load(vb.clone(), &config)?;
                let base = if vb.contains_tensor("bert.pooler.dense.weight") {
                    vb.pp("bert")
                } else {
                    vb.clone()
                };
                let pooler = linear(parts.hidden, parts.hidden, base.pp("pooler").pp("dense"))?;
                let classifier = linear(parts.hidden, 1, vb.pp("classifier"))?;
                Head::Bert {
                    model,
                    pooler,
                    classifier,
                }
            }
        };
        Ok(Self { parts, head })
    }

    /// Relevance of each passage to `query`, in 0..1, in the passages' order.
    pub fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        let mut scores = Vec::with_capacity(passages.len());
        for group in passages.chunks(self.parts.batch) {
            let pairs: Vec<(String, String)> = group
                .iter()
                .map(|p| (query.to_string(), (*p).to_string()))
                .collect();
            let batch = encoder::tokenize(&self.parts.tokenizer, pairs)?;
            let logits = self.logits(&batch)?;
            let logits = logits.flatten_all()?.to_vec1::<f32>()?;
            scores.extend(logits.into_iter().map(|x| 1.0 / (1.0 + (-x).exp())));
        }
        Ok(scores)
    }

    fn logits(&self, batch: &Batch) -> Result<Tensor> {
        Ok(match &self.head {
            Head::XlmRoberta(model) => model.forward(&batch.ids, &batch.mask, &batch.type_ids)?,
            Head::Bert {
                model,
                pooler,
                classifier,
            } => {
                let states = model.forward(&batch.ids, &batch.type_ids, Some(&batch.mask))?;
                let cls = states.get_on_dim(1, 0)?;
                classifier.forward(&pooler.forward(&cls)?.tanh()?)?
            }
        })
    }
}
