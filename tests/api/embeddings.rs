//! `POST /v1/embeddings` and `POST /v1/rerank` for a key: the configured
//! upstream's answer in the client's shape, the model names that work,
//! refusals that name the field, and the usage counted for the key.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app_with, TestApp};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .expect("an array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.embed_aliases = vec!["text-embedding-3-small".into()];
        s.rerank_base_url = s.chat_base_url.clone();
        s.rerank_aliases = vec!["jina-reranker-v2-base-multilingual".into()];
    })
    .await
}

#[tokio::test]
async fn a_key_embeds_its_texts_with_the_configured_model() {
    let app = app().await;
    let texts = [
        "The harbour is twelve metres deep.",
        "How deep is the harbour?",
        "Apple pie needs cinnamon.",
    ];
    let response = app
        .post_json(
            "/v1/embeddings",
            &app.user_key,
            &json!({"model": "text-embedding-3-small", "input": texts}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(
        body["model"], "text-embedding-3-small",
        "the name asked for"
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
    }
    let vectors: Vec<Vec<f32>> = data.iter().map(|d| floats(&d["embedding"])).collect();
    assert!(
        cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]),
        "the vectors are the upstream's, in the order of the inputs"
    );
    // 6 + 5 + 4 words: the fake counts a token a word.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 15, "total_tokens": 15})
    );
    let sent = app.upstream.embedding_requests();
    let last = sent.last().unwrap();
    assert_eq!(last["model"], app.state.upstreams.embed_model().as_str());
    assert_eq!(last["input"], json!(texts));

    // The same texts in base64 (what OpenAI's SDKs ask for): the same floats.
    let response = app
        .post_json(
            "/v1/embeddings",
            &app.user_key,
            &json!({"input": texts[0], "encoding_format": "base64", "dimensions": 16}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], app.state.upstreams.embed_model().as_str());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(decoded.len(), 16, "`dimensions` reached the upstream");
    assert_eq!(
        app.upstream.embedding_requests().last().unwrap()["dimensions"],
        16
    );

    // The usage is the key's, in the request log and its daily total.
    app.logged(2).await;
    let logs = app.logs("endpoint=/v1/embeddings").await;
    let rows = logs["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{logs}");
    assert!(rows.iter().any(|r| r["total_tokens"] == 15), "{logs}");
}

#[tokio::test]
async fn bad_embeddings_requests_are_refused_by_name() {
    let app = app().await;
    // Each refusal in OpenAI's shape, its message naming what is wrong.
    let cases = [
        (
            json!({"model": "gpt-4o", "input": "a"}),
            StatusCode::NOT_FOUND,
            "model_not_found",
            "gpt-4o",
        ),
        (
            json!({"input": [[1, 2]]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token ids",
        ),
        (
            json!({"input": ""}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "empty",
        ),
        (
            json!({"input": "a", "encoding_format": "int8"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "encoding_format",
        ),
        (
            json!({"input": "a", "late_chunking": true}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "late_chunking",
        ),
    ];
    for (body, status, code, named) in cases {
        let response = app.post_json("/v1/embeddings", &app.user_key, &body).await;
        let error = assert_error(response, status, code).await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(named),
            "{body}: {error}"
        );
    }
    let anonymous = app
        .client
        .post(app.url("/v1/embeddings"))
        .json(&json!({"input": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        app.upstream.embedding_requests().is_empty(),
        "nothing refused reached the upstream"
    );
}

#[tokio::test]
async fn a_key_over_its_tokens_for_the_day_embeds_nothing() {
    let app = app().await;
    let response = app
        .post_json(
            "/api/admin/keys",
            &app.admin_key,
            &json!({"name": "small", "tokens_per_day": 3}),
        )
        .await;
    let key: Value = response.json().await.unwrap();
    let secret = key["key"].as_str().unwrap();
    let first = app
        .post_json(
            "/v1/embeddings",
            secret,
            &json!({"input": "one two three four"}),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    first.bytes().await.unwrap();
    app.logged(1).await;
    let refused = app
        .post_json("/v1/embeddings", secret, &json!({"input": "five"}))
        .await;
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "insufficient_quota").await;
}

#[tokio::test]
async fn a_key_reranks_documents_in_jinas_shape() {
    let app = app().await;
    let documents = json!([
        "Apple pie needs cinnamon.",
        {"text": "The harbour is twelve metres deep at high tide."},
        "Tides change twice a day.",
    ]);
    let response = app
        .post_json(
            "/v1/rerank",
            &app.user_key,
            &json!({
                "model": "jina-reranker-v2-base-multilingual",
                "query": "how deep is the harbour",
                "documents": documents,
                "top_n": 2,
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "jina-reranker-v2-base-multilingual");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{body}");
    assert_eq!(results[0]["index"], 1, "{body}");
    assert_eq!(
        results[0]["document"]["text"],
        "The harbour is twelve metres deep at high tide."
    );
    assert!(
        results[0]["relevance_score"].as_f64().unwrap()
            >= results[1]["relevance_score"].as_f64().unwrap()
    );
    // 5 + 4 + 10 + 4 words.
    assert_eq!(body["usage"]["total_tokens"], 23, "{body}");
    let sent = app.upstream.rerank_requests();
    assert_eq!(
        sent.last().unwrap()["documents"][1],
        "The harbour is twelve metres deep at high tide."
    );

    let bare = app
        .post_json(
            "/v1/rerank",
            &app.user_key,
            &json!({"query": "tides", "documents": ["a", "Tides change."], "return_documents": false}),
        )
        .await;
    let body: Value = bare.json().await.unwrap();
    assert_eq!(
        body["results"].as_array().unwrap().len(),
        2,
        "every document without top_n"
    );
    assert!(body["results"][0].get("document").is_none(), "{body}");

    let unknown = app
        .post_json(
            "/v1/rerank",
            &app.user_key,
            &json!({"model": "other", "query": "q", "documents": ["a"]}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "model_not_found").await;
    let bad = app
        .post_json(
            "/v1/rerank",
            &app.user_key,
            &json!({"query": "q", "documents": []}),
        )
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn rerank_without_a_rerank_upstream_names_the_setting() {
    let app = spawn_app_with(|_| {}).await;
    let response = app
        .post_json(
            "/v1/rerank",
            &app.user_key,
            &json!({"query": "q", "documents": ["a"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RAGWAY_RERANK_BASE_URL"),
        "{body}"
    );
}
