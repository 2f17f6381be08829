//! A vector store's own chunking: a file added with `static` sizes other
//! than the server's is chunked again with them (a variant document, one
//! per file and sizes, shared by stores), searched as the file, never by
//! chats, and gone when no store uses it or its file goes.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, wait_for, TestApp};
use crate::vector_stores::{post, ready_file};

/// A file of 60 sentences (a few hundred tokens) uploaded by `key`, ingested.
async fn long_file(app: &TestApp, key: &str) -> String {
    let text: String = (0..60)
        .map(|i| {
            format!(
                "Section {i}: the harbour crane number {i} lifts {} tonnes of cargo.\n",
                i * 7
            )
        })
        .collect();
    ready_file(app, key, "cranes.md", &text).await
}

async fn variants_of(app: &TestApp, file: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM documents WHERE variant_of = $1")
        .bind(file)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

async fn new_store(app: &TestApp, key: &str) -> String {
    let store = post(app, key, "/v1/vector_stores", json!({})).await;
    store["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_static_chunking_chunks_the_file_again_for_its_stores() {
    let app = spawn_app().await;
    let key = app.user_key.clone();
    let file = long_file(&app, &key).await;
    let own_chunks = app.stored_chunks(&file).await;
    let small = json!({"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}});
    let (first, second) = (new_store(&app, &key).await, new_store(&app, &key).await);
    let mut events = app.state.ingest_events.subscribe();
    let added = app
        .post_json(
            &format!("/v1/vector_stores/{first}/files"),
            &key,
            &json!({"file_id": file, "chunking_strategy": small}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let added: Value = added.json().await.unwrap();
    assert_eq!(
        added["chunking_strategy"],
        json!({"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}})
    );
    let variants = variants_of(&app, &file).await;
    assert_eq!(variants.len(), 1);
    if added["status"] != "completed" {
        assert_eq!(wait_for(&mut events, &variants[0]).await, "ready");
    }
    let chunked_again = app.stored_chunks(&variants[0]).await;
    assert!(
        chunked_again > own_chunks,
        "{chunked_again} chunks of 100 tokens, {own_chunks} of the server's"
    );
    // A second store with the same sizes shares it; the file stays one file.
    let again = app
        .post_json(
            &format!("/v1/vector_stores/{second}/files"),
            &key,
            &json!({"file_id": file, "chunking_strategy": small}),
        )
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "completed");
    assert_eq!(variants_of(&app, &file).await, variants);
    let listed = app.get_json("/v1/files", &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let content = app
        .get_json(
            &format!("/v1/vector_stores/{first}/files/{file}/content"),
            &key,
        )
        .await;
    assert_eq!(content["data"].as_array().unwrap().len(), chunked_again);

    // Searched as the file; chats never see the variant.
    let page: Value = app
        .post_json(
            &format!("/v1/vector_stores/{first}/search"),
            &key,
            &json!({"query": "crane number 42 tonnes"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["file_id"], json!(file), "{page}");
    assert!(page["data"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Section 42"));
    let answer = app
        .chat_json(&key, &app.chat_body("crane number 42 tonnes", false))
        .await;
    let sources: Vec<&str> = answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["document_id"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&file.as_str()) && !sources.contains(&variants[0].as_str()),
        "{sources:?}"
    );

    // Out of one store it stays (the other uses it); out of both it goes.
    assert_eq!(
        app.delete(&format!("/v1/vector_stores/{first}/files/{file}"), &key)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(variants_of(&app, &file).await, variants);
    assert_eq!(
        app.delete(&format!("/v1/vector_stores/{second}"), &key)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(variants_of(&app, &file).await.is_empty());
    assert_eq!(app.stored_chunks(&variants[0]).await, 0);
    assert_eq!(app.stored_chunks(&file).await, own_chunks);

    // A file's variants go with it.
    let mut events = app.state.ingest_events.subscribe();
    app.post_json(
        &format!("/v1/vector_stores/{first}/files"),
        &key,
        &json!({"file_id": file, "chunking_strategy": small}),
    )
    .await;
    let variant = variants_of(&app, &file).await.remove(0);
    assert_eq!(wait_for(&mut events, &variant).await, "ready");
    assert_eq!(
        app.delete(&format!("/v1/files/{file}"), &key)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(variants_of(&app, &file).await.is_empty());
    assert_eq!(app.stored_chunks(&variant).await, 0);
}
