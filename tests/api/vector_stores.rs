//! OpenAI's Files and Vector Stores APIs: files are documents, stores are
//! sets of them with attributes, searched through retrieval kept to the
//! files a filter admits; each key sees only its own and the shared ones.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, wait_for, TestApp};

/// Upload `text` as a file with `key` through `/v1/files`; its object.
pub async fn upload(app: &TestApp, key: &str, name: &str, text: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part(
            "file",
            reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_string()),
        );
    let response = app
        .client
        .post(app.url("/v1/files"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Upload a file and wait until it is ingested; its id.
pub async fn ready_file(app: &TestApp, key: &str, name: &str, text: &str) -> String {
    let mut events = app.state.ingest_events.subscribe();
    let file = upload(app, key, name, text).await;
    let id = file["id"].as_str().unwrap().to_string();
    if file["status"] != "processed" {
        assert_eq!(wait_for(&mut events, &id).await, "ready");
    }
    id
}

pub async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> Value {
    let response = app.post_json(path, key, &body).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The file ids a search of `store` finds, in order.
pub async fn found(app: &TestApp, key: &str, store: &str, body: Value) -> Vec<String> {
    let page = post(app, key, &format!("/v1/vector_stores/{store}/search"), body).await;
    assert_eq!(page["object"], "vector_store.search_results.page");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn files_go_into_stores_and_are_searched_by_their_attributes() {
    let app = spawn_app().await;
    let key = app.user_key.clone();
    let tides = ready_file(
        &app,
        &key,
        "tides.md",
        "The harbour tide tables list high water at six every morning.",
    )
    .await;
    let ferries = ready_file(
        &app,
        &key,
        "ferries.md",
        "The harbour ferry timetable lists sailings every morning at six.",
    )
    .await;
    let file = app.get_json(&format!("/v1/files/{tides}"), &key).await;
    assert_eq!(
        (&file["object"], &file["purpose"], &file["status"]),
        (&json!("file"), &json!("assistants"), &json!("processed"))
    );
    assert_eq!(file["filename"], "tides.md");
    // A file is a document: the same id on both faces.
    let document = app.get_json(&format!("/v1/documents/{tides}"), &key).await;
    assert_eq!(
        (&document["visibility"], &document["purpose"]),
        (&json!("private"), &json!("assistants"))
    );

    let store = post(
        &app,
        &key,
        "/v1/vector_stores",
        json!({"name": "harbour", "metadata": {"team": "ops"},
        "expires_after": {"anchor": "last_active_at", "days": 7}}),
    )
    .await;
    let store_id = store["id"].as_str().unwrap().to_string();
    assert!(store_id.starts_with("vs_"));
    assert_eq!(
        (&store["status"], &store["visibility"]),
        (&json!("completed"), &json!("private"))
    );
    assert!(store["expires_at"].as_i64().unwrap() > store["created_at"].as_i64().unwrap());
    let files = format!("/v1/vector_stores/{store_id}/files");
    let added = post(
        &app,
        &key,
        &files,
        json!({"file_id": tides, "attributes": {"region": "north", "year": 2024}}),
    )
    .await;
    assert_eq!(
        (&added["status"], &added["object"]),
        (&json!("completed"), &json!("vector_store.file"))
    );
    assert_eq!(
        added["chunking_strategy"]["static"]["max_chunk_size_tokens"],
        app.settings.chunk_size
    );
    let batch = post(
        &app,
        &key,
        &format!("/v1/vector_stores/{store_id}/file_batches"),
        json!({"files": [{"file_id": ferries, "attributes": {"region": "south", "year": 2023}}]}),
    )
    .await;
    assert_eq!(
        (&batch["status"], &batch["file_counts"]["completed"]),
        (&json!("completed"), &json!(1))
    );
    let batch_files = app
        .get_json(
            &format!(
                "/v1/vector_stores/{store_id}/file_batches/{}/files",
                batch["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(batch_files["data"][0]["id"], json!(ferries));
    let shown = app
        .get_json(&format!("/v1/vector_stores/{store_id}"), &key)
        .await;
    assert_eq!(
        shown["file_counts"],
        json!({"in_progress": 0, "completed": 2, "failed": 0, "cancelled": 0, "total": 2})
    );
    assert!(shown["usage_bytes"].as_i64().unwrap() > 0);

    // Unfiltered, both files answer; filtered, only those the filter admits.
    let question = json!({"query": "harbour every morning at six", "max_num_results": 5});
    let all = found(&app, &key, &store_id, question.clone()).await;
    assert!(all.contains(&tides) && all.contains(&ferries), "{all:?}");
    let mut north = question.clone();
    north["filters"] = json!({"type": "eq", "key": "region", "value": "north"});
    assert_eq!(found(&app, &key, &store_id, north).await, [tides.as_str()]);
    let mut older = question.clone();
    older["filters"] = json!({"type": "and", "filters": [
        {"type": "lt", "key": "year", "value": 2024}, {"type": "in", "key": "region", "value": ["south", "east"]}]});
    assert_eq!(
        found(&app, &key, &store_id, older).await,
        [ferries.as_str()]
    );
    let page = post(
        &app,
        &key,
        &format!("/v1/vector_stores/{store_id}/search"),
        json!({"query": "ferry sailings"}),
    )
    .await;
    let first = &page["data"][0];
    assert_eq!(
        (&first["filename"], &first["attributes"]["region"]),
        (&json!("ferries.md"), &json!("south"))
    );
    assert!(first["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("ferry"));

    // Attributes change; a file leaves the store; the file itself stays.
    let moved = post(
        &app,
        &key,
        &format!("{files}/{ferries}"),
        json!({"attributes": {"region": "north"}}),
    )
    .await;
    assert_eq!(moved["attributes"], json!({"region": "north"}));
    let mut north = question.clone();
    north["filters"] = json!({"type": "eq", "key": "region", "value": "north"});
    assert_eq!(found(&app, &key, &store_id, north.clone()).await.len(), 2);
    let content = app
        .get_json(&format!("{files}/{tides}/content"), &key)
        .await;
    assert!(content["data"][0]["text"]
        .as_str()
        .unwrap()
        .contains("tide tables"));
    let listed = app
        .get_json(&format!("{files}?filter=completed&limit=1&order=asc"), &key)
        .await;
    assert_eq!(
        (
            listed["data"].as_array().unwrap().len(),
            &listed["has_more"]
        ),
        (1, &json!(true))
    );
    let removed = app.delete(&format!("{files}/{ferries}"), &key).await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(found(&app, &key, &store_id, north).await, [tides.as_str()]);
    assert_eq!(
        app.get_json(&format!("/v1/files/{ferries}"), &key).await["id"],
        json!(ferries)
    );

    // Deleting a file takes it out of every store, and search no longer finds it.
    assert_eq!(
        app.delete(&format!("/v1/files/{tides}"), &key)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(found(&app, &key, &store_id, question).await.is_empty());
    assert_error(
        app.get(&format!("/v1/files/{tides}"), &key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let shown = app
        .get_json(&format!("/v1/vector_stores/{store_id}"), &key)
        .await;
    assert_eq!(shown["file_counts"]["total"], 0);
    let listed = app.get_json("/v1/files?purpose=assistants", &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let gone = app
        .delete(&format!("/v1/vector_stores/{store_id}"), &key)
        .await;
    assert_eq!(
        gone.json::<Value>().await.unwrap()["object"],
        "vector_store.deleted"
    );
    assert_error(
        app.get(&format!("/v1/vector_stores/{store_id}"), &key)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn another_keys_stores_and_files_are_not_found() {
    let app = spawn_app().await;
    let mine = ready_file(
        &app,
        &app.user_key,
        "mine.md",
        "My private notes about the lighthouse lamp.",
    )
    .await;
    let store = post(
        &app,
        &app.user_key,
        "/v1/vector_stores",
        json!({"file_ids": [mine]}),
    )
    .await;
    let store_id = store["id"].as_str().unwrap();
    let other = app.new_user_key("other").await;
    let theirs = ready_file(
        &app,
        &other,
        "theirs.md",
        "Their notes about the lighthouse lamp.",
    )
    .await;
    for path in [
        format!("/v1/vector_stores/{store_id}"),
        format!("/v1/files/{mine}"),
        format!("/v1/vector_stores/{store_id}/files/{mine}"),
        format!("/v1/files/{mine}/content"),
    ] {
        assert_error(
            app.get(&path, &other).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    let search = app
        .post_json(
            &format!("/v1/vector_stores/{store_id}/search"),
            &other,
            &json!({"query": "lamp"}),
        )
        .await;
    assert_error(search, StatusCode::NOT_FOUND, "not_found").await;
    // Their store cannot take my file, nor mine theirs.
    let their_store = post(&app, &other, "/v1/vector_stores", json!({"name": "theirs"})).await;
    let their_files = format!(
        "/v1/vector_stores/{}/files",
        their_store["id"].as_str().unwrap()
    );
    let refused = app
        .post_json(&their_files, &other, &json!({"file_id": mine}))
        .await;
    assert_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    let refused = app
        .post_json(
            &format!("/v1/vector_stores/{store_id}/files"),
            &app.user_key,
            &json!({"file_id": theirs}),
        )
        .await;
    assert_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    let listed = app.get_json("/v1/vector_stores", &other).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_json("/v1/files", &other).await["data"][0]["id"],
        json!(theirs)
    );

    // A shared store (an admin key's) is searched by every key, changed by admins only,
    // and holds shared documents only.
    let shared_doc = app
        .ingest_text(
            "Lamp manual",
            "The lighthouse lamp turns once every ten seconds.",
        )
        .await;
    let shared = post(
        &app,
        &app.admin_key,
        "/v1/vector_stores",
        json!({"name": "manuals", "file_ids": [shared_doc]}),
    )
    .await;
    let shared_id = shared["id"].as_str().unwrap();
    assert_eq!(shared["visibility"], "shared");
    assert_eq!(
        found(&app, &other, shared_id, json!({"query": "lighthouse lamp"})).await,
        [shared_doc.as_str()]
    );
    let changed = app
        .post_json(
            &format!("/v1/vector_stores/{shared_id}"),
            &other,
            &json!({"name": "mine now"}),
        )
        .await;
    assert_error(changed, StatusCode::FORBIDDEN, "insufficient_permissions").await;
    let private_in_shared = app
        .post_json(
            &format!("/v1/vector_stores/{shared_id}/files"),
            &app.admin_key,
            &json!({"file_id": theirs}),
        )
        .await;
    assert_error(
        private_in_shared,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // A user key adds its own files only; an admin may put a shared one in
    // its store, whose search then finds both, and never the other key's.
    let refused = app
        .post_json(
            &format!("/v1/vector_stores/{store_id}/files"),
            &app.user_key,
            &json!({"file_id": shared_doc}),
        )
        .await;
    assert_error(refused, StatusCode::NOT_FOUND, "not_found").await;
    post(
        &app,
        &app.admin_key,
        &format!("/v1/vector_stores/{store_id}/files"),
        json!({"file_id": shared_doc}),
    )
    .await;
    let hits = found(
        &app,
        &app.user_key,
        store_id,
        json!({"query": "lighthouse lamp", "max_num_results": 10}),
    )
    .await;
    assert!(
        hits.contains(&shared_doc) && hits.contains(&mine) && !hits.contains(&theirs),
        "{hits:?}"
    );
}
