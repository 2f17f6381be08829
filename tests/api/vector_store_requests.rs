//! Vector store requests refused by name, a cancelled batch, and a
//! search's `rewrite_query`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app};
use crate::vector_stores::{found, post, ready_file};

#[tokio::test]
async fn bad_requests_are_refused_by_name() {
    let app = spawn_app().await;
    let key = app.user_key.clone();
    let file = ready_file(&app, &key, "a.md", "Some text about anchors.").await;
    let store = post(&app, &key, "/v1/vector_stores", json!({})).await;
    let store_id = store["id"].as_str().unwrap().to_string();
    let files = format!("/v1/vector_stores/{store_id}/files");
    let cases = [
        (
            files.clone(),
            json!({"file_id": file, "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}}}),
            "chunk_overlap_tokens",
        ),
        (
            files.clone(),
            json!({"file_id": file, "attributes": {"a": [1]}}),
            "attributes.a",
        ),
        (
            files.clone(),
            json!({"file_id": file, "colour": "red"}),
            "colour",
        ),
        (
            format!("/v1/vector_stores/{store_id}/search"),
            json!({"query": "x", "filters": {"type": "like", "key": "a", "value": 1}}),
            "like",
        ),
        (
            format!("/v1/vector_stores/{store_id}/search"),
            json!({"query": "x", "max_num_results": 500}),
            "max_num_results",
        ),
        (
            "/v1/vector_stores".to_string(),
            json!({"expires_after": {"anchor": "last_active_at", "days": 0}}),
            "days",
        ),
        (
            "/v1/vector_stores".to_string(),
            json!({"metadata": {"a": 1}}),
            "metadata.a",
        ),
        (
            format!("/v1/vector_stores/{store_id}/file_batches"),
            json!({"file_ids": []}),
            "1 to 500",
        ),
    ];
    for (path, body, named) in cases {
        let response = app.post_json(&path, &key, &body).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(named),
            "{body}: {error}"
        );
    }
    let form = reqwest::multipart::Form::new()
        .text("purpose", "fine-tune")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("a.jsonl"),
        );
    let response = app
        .client
        .post(app.url("/v1/files"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("purpose"));
    let missing = app
        .post_json(&files, &key, &json!({"file_id": "file-missing"}))
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let listed = app.get(&format!("{files}?filter=done"), &key).await;
    assert_error(listed, StatusCode::BAD_REQUEST, "invalid_request").await;
    // An expired store is not searched.
    let expiring = post(
        &app,
        &key,
        "/v1/vector_stores",
        json!({"expires_after": {"anchor": "last_active_at", "days": 1}}),
    )
    .await;
    let expiring = expiring["id"].as_str().unwrap();
    sqlx::query("UPDATE vector_stores SET last_active_at = 0 WHERE id = $1")
        .bind(expiring)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        app.get_json(&format!("/v1/vector_stores/{expiring}"), &key)
            .await["status"],
        "expired"
    );
    let search = app
        .post_json(
            &format!("/v1/vector_stores/{expiring}/search"),
            &key,
            &json!({"query": "anchors"}),
        )
        .await;
    let error = assert_error(search, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    // Removing the expiry brings it back.
    let kept = post(
        &app,
        &key,
        &format!("/v1/vector_stores/{expiring}"),
        json!({"expires_after": null}),
    )
    .await;
    assert_eq!(
        (&kept["status"], &kept["expires_at"]),
        (&json!("completed"), &Value::Null)
    );
}

#[tokio::test]
async fn a_cancelled_batch_leaves_its_unfinished_files_out_of_search() {
    let app = spawn_app().await;
    let key = app.user_key.clone();
    let done = ready_file(
        &app,
        &key,
        "done.md",
        "Buoys are painted red on the port side.",
    )
    .await;
    // A file still being ingested (as its worker would leave it mid-way).
    let waiting = ready_file(
        &app,
        &key,
        "waiting.md",
        "Buoys are painted green on the starboard side.",
    )
    .await;
    let set_status = |status: &'static str| {
        sqlx::query("UPDATE documents SET status = $1 WHERE id = $2")
            .bind(status)
            .bind(waiting.clone())
            .execute(&app.state.db)
    };
    set_status("processing").await.unwrap();
    let store = post(&app, &key, "/v1/vector_stores", json!({})).await;
    let store_id = store["id"].as_str().unwrap().to_string();
    let batch = post(
        &app,
        &key,
        &format!("/v1/vector_stores/{store_id}/file_batches"),
        json!({"file_ids": [done, waiting]}),
    )
    .await;
    assert_eq!(
        (&batch["status"], &batch["file_counts"]["in_progress"]),
        (&json!("in_progress"), &json!(1))
    );
    let batch_path = format!(
        "/v1/vector_stores/{store_id}/file_batches/{}",
        batch["id"].as_str().unwrap()
    );
    let cancelled = app
        .request(Method::POST, &format!("{batch_path}/cancel"), &key, None)
        .await;
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["file_counts"],
        json!({"in_progress": 0, "completed": 1, "failed": 0, "cancelled": 1, "total": 2})
    );
    set_status("ready").await.unwrap();
    let hits = found(
        &app,
        &key,
        &store_id,
        json!({"query": "buoys painted green starboard"}),
    )
    .await;
    assert_eq!(hits, [done.as_str()]);
    let file = app
        .get_json(
            &format!("/v1/vector_stores/{store_id}/files/{waiting}"),
            &key,
        )
        .await;
    assert_eq!(file["status"], "cancelled");
    // Added again, it is searched.
    post(
        &app,
        &key,
        &format!("/v1/vector_stores/{store_id}/files"),
        json!({"file_id": waiting}),
    )
    .await;
    let hits = found(
        &app,
        &key,
        &store_id,
        json!({"query": "buoys painted green starboard"}),
    )
    .await;
    assert_eq!(hits.first(), Some(&waiting));
}

#[tokio::test]
async fn rewrite_query_searches_what_the_chat_model_rewrote() {
    let app = spawn_app().await;
    let key = app.user_key.clone();
    let file = ready_file(
        &app,
        &key,
        "cranes.md",
        "The harbour crane lifts forty tonnes.",
    )
    .await;
    let store = post(&app, &key, "/v1/vector_stores", json!({"file_ids": [file]})).await;
    let store = store["id"].as_str().unwrap();
    app.upstream
        .set_canned_reply("fake-chat", "Search query: \"harbour crane tonnes\"");
    let page = post(
        &app,
        &key,
        &format!("/v1/vector_stores/{store}/search"),
        json!({"query": "how much can the big lifting machine at the port carry?", "rewrite_query": true}),
    )
    .await;
    assert_eq!(page["search_query"], json!(["harbour crane tonnes"]));
    assert_eq!(page["data"][0]["file_id"], json!(file));
    let sent = app.upstream.chat_requests();
    assert!(sent[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("big lifting machine"));
    // Without it, the query is searched as given, and no chat call is made.
    let page = post(
        &app,
        &key,
        &format!("/v1/vector_stores/{store}/search"),
        json!({"query": "crane"}),
    )
    .await;
    assert_eq!(page["search_query"], json!(["crane"]));
    assert_eq!(app.upstream.chat_requests().len(), 1);
}
