//! The cross-encoders, BERT's and XLM-RoBERTa's heads, on tiny models made
//! here with fixed weights (no real reranker ships on a registry CI
//! reaches): their scores match the NumPy reference implementation
//! (bench/models/reference.py, run on the same folders, its output in
//! fixtures/) within 1e-4. To remake the fixture:
//! `RAGWAY_WRITE_TINY_MODELS=/tmp/tiny cargo test -p ragway-models --test rerank`,
//! then `reference.py rerank /tmp/tiny/<kind> QUERY < passages.json`.

#![allow(clippy::unwrap_used, reason = "test helpers: a failure is the test's")]

mod minilm_path {
    include!("common/minilm_path.rs");
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use ragway_models::Reranker;

const QUERY: &str = "where is the boiler room key";
const PASSAGES: [&str; 4] = [
    "The boiler room key hangs behind the reception desk.",
    "Lunch is served from noon until two.",
    "key",
    "Visitors park in the north lot beside the gate, where the barrier opens on its own for cars that booked a place the day before.",
];

/// A fixed, varied value for element `i` of tensor `name`.
fn value(name: &str, i: usize) -> f32 {
    let seed = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let x = (i as f32) * 0.618_034 + (seed % 997) as f32 * 0.1;
    let wave = x.sin() * 0.6 + (x * 2.3).cos() * 0.4;
    if name.starts_with("classifier") && name.ends_with(".bias") {
        0.0
    } else if name.starts_with("classifier") {
        // A head strong enough that the scores differ plainly.
        0.5 * wave
    } else if name.ends_with("LayerNorm.weight") {
        1.0 + 0.1 * wave
    } else if name.ends_with(".bias") {
        0.02 * wave
    } else {
        0.15 * wave
    }
}

fn tensor(name: &str, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|i| value(name, i)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

const HIDDEN: usize = 32;
const LAYERS: usize = 2;
const INTER: usize = 64;
const VOCAB: usize = 30522;
const POSITIONS: usize = 66;

fn encoder_tensors(prefix: &str, types: usize, all: &mut HashMap<String, Tensor>) {
    let mut put = |name: String, shape: &[usize]| {
        let t = tensor(&name, shape);
        all.insert(name, t);
    };
    put(
        format!("{prefix}embeddings.word_embeddings.weight"),
        &[VOCAB, HIDDEN],
    );
    put(
        format!("{prefix}embeddings.position_embeddings.weight"),
        &[POSITIONS, HIDDEN],
    );
    put(
        format!("{prefix}embeddings.token_type_embeddings.weight"),
        &[types, HIDDEN],
    );
    put(format!("{prefix}embeddings.LayerNorm.weight"), &[HIDDEN]);
    put(format!("{prefix}embeddings.LayerNorm.bias"), &[HIDDEN]);
    for l in 0..LAYERS {
        let layer = format!("{prefix}encoder.layer.{l}.");
        for part in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ] {
            put(format!("{layer}{part}.weight"), &[HIDDEN, HIDDEN]);
            put(format!("{layer}{part}.bias"), &[HIDDEN]);
        }
        put(
            format!("{layer}intermediate.dense.weight"),
            &[INTER, HIDDEN],
        );
        put(format!("{layer}intermediate.dense.bias"), &[INTER]);
        put(format!("{layer}output.dense.weight"), &[HIDDEN, INTER]);
        put(format!("{layer}output.dense.bias"), &[HIDDEN]);
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(format!("{layer}{norm}.weight"), &[HIDDEN]);
            put(format!("{layer}{norm}.bias"), &[HIDDEN]);
        }
    }
}

/// Write a tiny cross-encoder of `kind` (`bert` or `xlm-roberta`) into `dir`,
/// with MiniLM's WordPiece vocabulary (and, for XLM-RoBERTa, RoBERTa's
/// pair template).
fn tiny(kind: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut all = HashMap::new();
    // (model type, weights' prefix, token types, layer norm epsilon, head tensors)
    let (model_type, prefix, types, eps, head) = if kind == "bert" {
        let head = [
            ("bert.pooler.dense.weight", vec![HIDDEN, HIDDEN]),
            ("bert.pooler.dense.bias", vec![HIDDEN]),
            ("classifier.weight", vec![1, HIDDEN]),
            ("classifier.bias", vec![1]),
        ];
        ("bert", "bert.", 2, 1e-12, head)
    } else {
        let head = [
            ("classifier.dense.weight", vec![HIDDEN, HIDDEN]),
            ("classifier.dense.bias", vec![HIDDEN]),
            ("classifier.out_proj.weight", vec![1, HIDDEN]),
            ("classifier.out_proj.bias", vec![1]),
        ];
        ("xlm-roberta", "roberta.", 1, 1e-5, head)
    };
    encoder_tensors(prefix, types, &mut all);
    for (name, shape) in head {
        all.insert(name.to_string(), tensor(name, &shape));
    }
    let config = serde_json::json!({"model_type": model_type, "vocab_size": VOCAB, "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS, "num_attention_heads": 4, "intermediate_size": INTER,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": POSITIONS, "type_vocab_size": types, "initializer_range": 0.02,
        "layer_norm_eps": eps, "pad_token_id": 0, "position_embedding_type": "absolute"});
    candle_core::safetensors::save(&all, dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut tokenizer: serde_json::Value = serde_json::from_slice(
        &std::fs::read(minilm_path::minilm().join("tokenizer.json")).unwrap(),
    )
    .unwrap();
    tokenizer["truncation"] = serde_json::Value::Null;
    tokenizer["padding"] = serde_json::Value::Null;
    if kind != "bert" {
        tokenizer["post_processor"] = serde_json::json!({"type": "RobertaProcessing",
            "sep": ["[SEP]", 102], "cls": ["[CLS]", 101], "trim_offsets": true, "add_prefix_space": false});
    }
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
}

fn folder(kind: &str, temp: &tempfile::TempDir) -> PathBuf {
    match std::env::var("RAGWAY_WRITE_TINY_MODELS") {
        Ok(keep) => PathBuf::from(keep).join(kind),
        Err(_) => temp.path().join(kind),
    }
}

#[test]
fn cross_encoders_match_the_reference_implementation() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/tiny_rerank_reference.json")).unwrap();
    let temp = tempfile::tempdir().unwrap();
    for kind in ["bert", "xlm-roberta"] {
        let dir = folder(kind, &temp);
        tiny(kind, &dir);
        if std::env::var_os("RAGWAY_WRITE_TINY_MODELS").is_some() {
            continue; // only making the folders for the reference
        }
        let model = Reranker::load(&dir).unwrap();
        let scores = model.score(QUERY, &PASSAGES).unwrap();
        assert_eq!(scores.len(), PASSAGES.len());
        let expected: Vec<f32> = serde_json::from_value(fixture[kind].clone()).unwrap();
        for ((passage, ours), reference) in PASSAGES.iter().zip(&scores).zip(&expected) {
            assert!(
                (ours - reference).abs() < 1e-4,
                "{kind} {passage:?}: {ours} against the reference's {reference}"
            );
        }
        let spread = scores.iter().copied().fold(f32::MIN, f32::max)
            - scores.iter().copied().fold(f32::MAX, f32::min);
        assert!(
            spread > 0.01,
            "{kind}: the scores barely differ ({scores:?}): a weak check"
        );
        // One passage alone scores as it did among others.
        let alone = model.score(QUERY, &PASSAGES[3..]).unwrap();
        assert!((alone[0] - scores[3]).abs() < 1e-5);
    }
}
