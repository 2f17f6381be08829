//! The admin's retrieval test: `POST /api/admin/retrieval/test`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_test_shows_how_each_passage_ranked() {
    let app = spawn_app().await;
    app.ingest_text(
        "Boiler",
        "The boiler room key hangs behind the reception desk.",
    )
    .await;
    app.ingest_text("Canteen", "Lunch is served from noon until two.")
        .await;
    let response = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"question": "Where is the boiler room key?", "top_k": 2, "candidates": 5}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let test: serde_json::Value = response.json().await.unwrap();
    assert_eq!(test["query"], "Where is the boiler room key?");
    assert_eq!(test["top_k"], 2);
    assert_eq!(test["candidates"], 5);
    let sources = test["sources"].as_array().unwrap();
    assert_eq!(sources[0]["title"], "Boiler", "{test}");
    let explain = &sources[0]["explain"];
    // Both searches found it: its words and its vector.
    assert_eq!(explain["vector_rank"], 1, "{test}");
    assert_eq!(explain["text_rank"], 1, "{test}");
    assert!(explain["text_score"].as_f64().unwrap() > 0.0);
    assert!(explain["fused_score"].as_f64().unwrap() > 0.0);
    assert_eq!(
        explain["vector_score"].as_f64().unwrap(),
        sources[0]["score"].as_f64().unwrap()
    );

    // A conversation is searched as chat would search it: the last question
    // as asked, and after the exchange before it.
    let followed = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"messages": [
                {"role": "user", "content": "Where is the boiler room key?"},
                {"role": "assistant", "content": "Behind the reception desk."},
                {"role": "user", "content": "and that one?"},
            ]}),
        )
        .await;
    let followed: serde_json::Value = followed.json().await.unwrap();
    assert_eq!(
        followed["queries"],
        json!([
            "and that one?",
            "Where is the boiler room key?\nBehind the reception desk.\nand that one?"
        ])
    );
    assert_eq!(followed["query"], "and that one?");
    // Chat clients never see the explanation.
    let answer = app
        .chat_json(
            &app.user_key,
            &app.chat_body("Where is the boiler room key?", false),
        )
        .await;
    assert!(answer["sources"][0].get("explain").is_none(), "{answer}");
}

#[tokio::test]
async fn the_test_is_the_admins_and_checks_what_it_is_sent() {
    let app = spawn_app().await;
    let body = json!({"question": "anything"});
    let user = app
        .post_json("/api/admin/retrieval/test", &app.user_key, &body)
        .await;
    assert_error(user, StatusCode::FORBIDDEN, "insufficient_permissions").await;
    for (bad, status, code) in [
        (json!({}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"question": "x", "top_k": 500}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"question": "x", "candidates": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"question": "x", "model": "nope"}),
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            json!({"question": "x", "surprise": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let response = app
            .post_json("/api/admin/retrieval/test", &app.admin_key, &bad)
            .await;
        assert_error(response, status, code).await;
    }
    // An empty knowledge base: no sources, no error.
    let empty = app
        .post_json("/api/admin/retrieval/test", &app.admin_key, &body)
        .await;
    let empty: serde_json::Value = empty.json().await.unwrap();
    assert_eq!(empty["sources"], json!([]));
}

#[tokio::test]
async fn questions_and_chunks_are_embedded_as_the_model_wants() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.embed_query_prefix = "query: ".into();
        s.embed_document_prefix = "passage: ".into();
        s.embed_input_type = true;
    })
    .await;
    app.ingest_text("Boiler", "The boiler room key hangs behind the desk.")
        .await;
    app.chat_json(&app.user_key, &app.chat_body("Where is the key?", false))
        .await;
    let requests = app.upstream.embedding_requests();
    let document = requests
        .iter()
        .find(|r| r["input_type"] == "document")
        .expect("the chunk was embedded as a document");
    assert_eq!(
        document["input"][0],
        "passage: Boiler\nThe boiler room key hangs behind the desk."
    );
    let query = requests
        .iter()
        .find(|r| r["input_type"] == "query")
        .expect("the question was embedded as a query");
    assert_eq!(query["input"][0], "query: Where is the key?");
}

#[tokio::test]
async fn by_default_texts_are_embedded_as_they_are() {
    let app = spawn_app().await;
    app.ingest_text("Boiler", "The boiler room key hangs behind the desk.")
        .await;
    let requests = app.upstream.embedding_requests();
    assert!(requests.iter().all(|r| r.get("input_type").is_none()));
    assert_eq!(
        requests[0]["input"][0],
        "Boiler\nThe boiler room key hangs behind the desk."
    );
}

/// Small to big: search matches one small chunk, and the model is given the
/// passage around it (`RAGWAY_SOURCE_WINDOW` chunks on each side), each
/// chunk once; the source's own text stays the matched chunk.
#[tokio::test]
async fn each_source_brings_the_passage_around_it() {
    let app = spawn_app_with(|s| {
        s.top_k = 2;
        s.chunk_size = 16;
        s.chunk_overlap = 0;
        s.source_window = 1;
    })
    .await;
    let paragraphs = [
        "Spring: the garden club meets in the library annex.",
        "Summer: the boiler room key hangs behind the reception desk.",
        "Autumn: bicycles are stored in the courtyard shed.",
        "Winter: the canteen serves soup from noon until two.",
    ];
    app.ingest_text("Handbook", &paragraphs.join("\n\n")).await;
    let test = |window_question: &'static str| {
        let app = &app;
        async move {
            let response = app
                .post_json(
                    "/api/admin/retrieval/test",
                    &app.admin_key,
                    &json!({"question": window_question, "top_k": 1}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let found = test("Where is the boiler room key?").await;
    let source = &found["sources"][0];
    assert_eq!(source["text"], paragraphs[1], "{found}");
    let context = source["context"].as_str().unwrap();
    assert_eq!(
        context,
        paragraphs[..3].join("\n"),
        "the chunk with one neighbour on each side: {found}"
    );
    // The first chunk has no neighbour before it.
    let first = test("When does the garden club meet?").await;
    assert_eq!(
        first["sources"][0]["context"],
        paragraphs[..2].join("\n"),
        "{first}"
    );

    // Chat gives the model the passages.
    app.chat_json(
        &app.user_key,
        &app.chat_body("Where is the boiler room key?", false),
    )
    .await;
    let sent = app.upstream.chat_requests().pop().unwrap().to_string();
    assert!(sent.contains("Autumn: bicycles"), "{sent}");

    // Two sources that are neighbours share no text: the better one's
    // passage stops before the other.
    let both = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"question": "boiler room key behind the reception desk; bicycles in the courtyard shed", "top_k": 2}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let passages: Vec<&str> = both["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["context"].as_str().or(s["text"].as_str()).unwrap())
        .collect();
    let joined = passages.join("\n");
    for paragraph in &paragraphs[1..3] {
        assert_eq!(joined.matches(paragraph).count(), 1, "{both}");
    }
}

#[tokio::test]
async fn a_window_of_nought_gives_the_chunk_alone() {
    let app = spawn_app_with(|s| {
        s.chunk_size = 16;
        s.chunk_overlap = 0;
        s.source_window = 0;
    })
    .await;
    app.ingest_text(
        "Handbook",
        "Spring: the garden club meets in the library annex.\n\n\
         Summer: the boiler room key hangs behind the reception desk.",
    )
    .await;
    let found = app
        .post_json(
            "/api/admin/retrieval/test",
            &app.admin_key,
            &json!({"question": "Where is the boiler room key?", "top_k": 1}),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(found["sources"][0].get("context").is_none(), "{found}");
}
