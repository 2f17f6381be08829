//! Managing stored documents: duplicates, listing, lookup by hash, original content, deletion.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::support::fake_upstream::Fault;

async fn upload_text(
    app: &TestApp,
    title: &str,
    text: &str,
    collection: &str,
) -> reqwest::Response {
    app.post_json(
        "/v1/documents",
        &app.admin_key,
        &json!({"title": title, "text": text, "collection": collection}),
    )
    .await
}

#[tokio::test]
async fn the_same_bytes_twice_are_one_document() {
    let app = spawn_app().await;
    let id = app.ingest_text("Tides", "High tide is at noon.").await;
    let again = upload_text(&app, "Tides again", "High tide is at noon.", "default").await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["status"], "ready");

    // Another collection is another document.
    let elsewhere = upload_text(&app, "Tides", "High tide is at noon.", "sea").await;
    assert_eq!(elsewhere.status(), StatusCode::ACCEPTED);
    let elsewhere: Value = elsewhere.json().await.unwrap();
    assert_ne!(elsewhere["id"], id.as_str());
    assert!(elsewhere.get("duplicate").is_none());
}

#[tokio::test]
async fn documents_are_listed_filtered_and_paged() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (title, collection) in [
        ("Alpha guide", "a"),
        ("Beta guide", "a"),
        ("Gamma notes", "b"),
        ("Delta 100%_off", "b"),
    ] {
        let response = upload_text(&app, title, &format!("text of {title}"), collection).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        ids.push(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let titles = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_string())
            .collect()
    };

    let all: Value = app.get_json("/v1/documents", &app.admin_key).await;
    assert_eq!(all["object"], "list");
    assert_eq!(
        titles(&all),
        ["Delta 100%_off", "Gamma notes", "Beta guide", "Alpha guide"],
        "newest first"
    );
    assert_eq!(all["has_more"], false);

    let in_a: Value = app
        .get_json("/v1/documents?collection=a", &app.admin_key)
        .await;
    assert_eq!(titles(&in_a), ["Beta guide", "Alpha guide"]);

    let search: Value = app.get_json("/v1/documents?q=GUIDE", &app.admin_key).await;
    assert_eq!(titles(&search), ["Beta guide", "Alpha guide"]);
    let literal: Value = app.get_json("/v1/documents?q=0%25_", &app.admin_key).await;
    assert_eq!(
        titles(&literal),
        ["Delta 100%_off"],
        "% and _ are matched literally"
    );

    let first: Value = app.get_json("/v1/documents?limit=3", &app.admin_key).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get_json(
            &format!("/v1/documents?limit=3&after={cursor}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(titles(&second), ["Alpha guide"]);
    assert_eq!(second["has_more"], false);
    assert!(second["next_cursor"].is_null(), "{second}");

    let response = app.get("/v1/documents?status=lost", &app.admin_key).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app.get("/v1/documents?limit=0", &app.admin_key).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app.get("/v1/documents?limit=many", &app.admin_key).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // A user key sees only its own private documents, even when it asks for a collection.
    let response: Value = app
        .get_json("/v1/documents?collection=a", &app.user_key)
        .await;
    assert_eq!(response["data"], json!([]));

    // The admin can tell the keys' private documents from the shared ones.
    let response = app
        .post_json(
            "/v1/documents",
            &app.user_key,
            &json!({"title": "My own notes", "text": "Mine alone.", "visibility": "private"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let private: Value = app
        .get_json("/v1/documents?visibility=private", &app.admin_key)
        .await;
    assert_eq!(titles(&private), ["My own notes"]);
    assert_eq!(private["data"][0]["visibility"], "private");
    let shared: Value = app
        .get_json("/v1/documents?visibility=shared", &app.admin_key)
        .await;
    assert_eq!(
        titles(&shared),
        ["Delta 100%_off", "Gamma notes", "Beta guide", "Alpha guide"]
    );
    let response = app
        .get("/v1/documents?visibility=secret", &app.admin_key)
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn lookup_answers_which_hashes_are_present() {
    let app = spawn_app().await;
    let text = "Buoys are painted red on the port side.";
    let id = app.ingest_text("Buoys", text).await;
    let present = hex::encode(Sha256::digest(text.as_bytes()));
    let absent = hex::encode(Sha256::digest(b"nothing"));
    let found: Value = app
        .post_json(
            "/v1/documents/lookup",
            &app.admin_key,
            &json!({"sha256": [present.to_uppercase(), absent]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let data = found["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], id.as_str());
    assert_eq!(data[0]["sha256"], present.as_str());

    let elsewhere: Value = app
        .post_json(
            "/v1/documents/lookup",
            &app.admin_key,
            &json!({"sha256": [present], "collection": "other"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(elsewhere["data"], json!([]));

    let response = app
        .post_json(
            "/v1/documents/lookup",
            &app.admin_key,
            &json!({"sha256": ["abc"]}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn the_original_file_comes_back_unchanged() {
    let app = spawn_app().await;
    let bytes = std::fs::read(format!(
        "{}/fixtures/员工手册.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let form = Form::new().part("file", Part::bytes(bytes.clone()).file_name("员工手册.txt"));
    let created: Value = app
        .upload_form(&app.admin_key, form)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app
        .get(&format!("/v1/documents/{id}/content"), &app.admin_key)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("filename*=UTF-8''%E5%91%98"),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn deleting_removes_row_vectors_and_blob() {
    let app = spawn_app().await;
    let id = app
        .ingest_text("Lockers", "Lockers are emptied every Friday evening.")
        .await;
    assert_eq!(app.stored_chunks(&id).await, 1);

    let response = app
        .delete(&format!("/v1/documents/{id}"), &app.admin_key)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["deleted"], true);

    assert_eq!(app.stored_chunks(&id).await, 0);
    assert!(app
        .state
        .blobs
        .get(&ragway::ingest::original_key(&id))
        .await
        .is_err());
    let response = app
        .get(&format!("/v1/documents/{id}"), &app.admin_key)
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .get(&format!("/v1/documents/{id}/content"), &app.admin_key)
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let answer: Value = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("When are lockers emptied?", false),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["sources"], json!([]));

    let again = app
        .delete(&format!("/v1/documents/{id}"), &app.admin_key)
        .await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;
    // The same text may be uploaded again afterwards: it is new, not a duplicate.
    app.ingest_text("Lockers", "Lockers are emptied every Friday evening.")
        .await;
}

#[tokio::test]
async fn chunks_whose_document_row_is_gone_are_swept() {
    let app = spawn_app().await;
    let kept = app
        .ingest_text("Canteen", "The canteen serves lunch from noon.")
        .await;
    let orphan = app
        .ingest_text("Lockers", "Lockers are emptied every Friday evening.")
        .await;
    // What a crash between a delete's steps, or a worker finishing while its
    // document was deleted, leaves behind: chunks without a row.
    sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(&orphan)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.stored_chunks(&orphan).await, 1);

    let swept = ragway::ingest::documents::sweep_orphans(app.state.stores())
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(app.stored_chunks(&orphan).await, 0);
    assert_eq!(app.stored_chunks(&kept).await, 1);
    let answer = app
        .chat_json(
            &app.user_key,
            &app.chat_body("When are lockers emptied?", false),
        )
        .await;
    let sources = answer["sources"].as_array().unwrap();
    assert!(
        sources.iter().all(|s| s["document_id"] != orphan.as_str()),
        "{sources:?}"
    );
    // Nothing left to sweep.
    let swept = ragway::ingest::documents::sweep_orphans(app.state.stores())
        .await
        .unwrap();
    assert_eq!(swept, 0);
}

#[tokio::test]
async fn collections_are_created_listed_and_deleted() {
    let app = spawn_app().await;
    let key = &app.admin_key;
    let created = app
        .post_json(
            "/v1/collections",
            key,
            &json!({"name": "hr", "description": "People matters"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let again = app
        .post_json("/v1/collections", key, &json!({"name": "hr"}))
        .await;
    assert_error(again, StatusCode::CONFLICT, "conflict").await;
    let bad = app
        .post_json("/v1/collections", key, &json!({"name": "h r"}))
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Uploading into a new name creates that collection.
    let response = upload_text(&app, "Leave", "Twenty-five days of leave.", "hr").await;
    let leave = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    upload_text(&app, "Boats", "Boats are moored at pier two.", "harbour").await;

    let listed: Value = app.get_json("/v1/collections", key).await;
    let summary: Vec<(String, i64)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["documents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("default".to_string(), 0),
            ("harbour".to_string(), 1),
            ("hr".to_string(), 1)
        ]
    );

    let delete = |name: &str, force: bool| {
        let url = app.url(&format!("/v1/collections/{name}?force={force}"));
        app.client.delete(url).bearer_auth(key).send()
    };
    assert_error(
        delete("hr", false).await.unwrap(),
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(
        delete("default", true).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_error(
        delete("nope", true).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let deleted: Value = delete("hr", true).await.unwrap().json().await.unwrap();
    assert_eq!(deleted["documents_deleted"], 1);
    let response = app.get(&format!("/v1/documents/{leave}"), key).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert!(app
        .state
        .blobs
        .get(&ragway::ingest::original_key(&leave))
        .await
        .is_err());

    let response = app.get("/v1/collections", &app.user_key).await;
    assert_error(response, StatusCode::FORBIDDEN, "insufficient_permissions").await;
}

/// The document ids a question about the locker code retrieves for `key`.
async fn source_ids(app: &TestApp, key: &str) -> Vec<String> {
    let body = app.chat_body("what is my locker code", false);
    let answer: Value = app
        .post_json("/v1/chat/completions", key, &body)
        .await
        .json()
        .await
        .unwrap();
    answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["document_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn private_documents_belong_to_their_key_alone() {
    let app = spawn_app().await;
    let other = app.new_user_key("bob").await;
    let mut events = app.state.ingest_events.subscribe();
    let text = "My locker code is four four seven one.";
    let response = app
        .post_json(
            "/v1/documents",
            &app.user_key,
            &json!({"title": "Locker", "text": text, "visibility": "private"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["visibility"], "private");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(crate::helpers::wait_for(&mut events, &id).await, "ready");
    app.ingest_text("Shared lockers", "Shared lockers are emptied on Fridays.")
        .await;

    assert_eq!(
        source_ids(&app, &app.user_key).await[0],
        id,
        "the owner retrieves it first"
    );
    assert!(
        !source_ids(&app, &other).await.contains(&id),
        "another key never retrieves it"
    );
    assert!(
        !source_ids(&app, &app.admin_key).await.contains(&id),
        "not even an admin's chat"
    );

    // The owner manages it; another user key cannot even tell it exists.
    let mine: Value = app.get_json("/v1/documents", &app.user_key).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    let theirs: Value = app.get_json("/v1/documents", &other).await;
    assert_eq!(theirs["data"], json!([]));
    let response = app.get(&format!("/v1/documents/{id}"), &other).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .get(&format!("/v1/documents/{id}/content"), &other)
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let found: Value = app
        .post_json("/v1/documents/lookup", &other, &json!({"sha256": [hash]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["data"], json!([]));
    let response = app.delete(&format!("/v1/documents/{id}"), &other).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let all: Value = app.get_json("/v1/documents", &app.admin_key).await;
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        2,
        "the admin sees every document"
    );

    let response = app
        .get(&format!("/v1/documents/{id}/content"), &app.user_key)
        .await;
    assert_eq!(response.text().await.unwrap(), text);
    let response = app
        .delete(&format!("/v1/documents/{id}"), &app.user_key)
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .post_json(
            "/v1/documents",
            &app.user_key,
            &json!({"title": "x", "text": "y", "visibility": "private", "collection": "hr"}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app
        .post_json(
            "/v1/documents",
            &app.user_key,
            &json!({"title": "x", "text": "y", "visibility": "secret"}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn replacing_a_document_swaps_its_chunks_only_when_the_new_ones_are_in() {
    let app = spawn_app().await;
    let id = app
        .ingest_text("Ferry", "The ferry leaves at eight o'clock.")
        .await;
    let put = |text: &str| {
        app.client
            .put(app.url(&format!("/v1/documents/{id}")))
            .bearer_auth(&app.admin_key)
            .json(&json!({"text": text}))
            .send()
    };
    let best_text = || async {
        let answer: Value = app
            .post_json(
                "/v1/chat/completions",
                &app.user_key,
                &app.chat_body("when does the ferry leave", false),
            )
            .await
            .json()
            .await
            .unwrap();
        answer["sources"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    // A replacement that fails leaves the old content answering.
    app.upstream.set_fault(Fault::Unauthorized);
    let mut events = app.state.ingest_events.subscribe();
    let response = put("The ferry leaves at nine o'clock.").await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(crate::helpers::wait_for(&mut events, &id).await, "failed");
    app.heal_upstream().await;
    assert!(best_text().await.contains("eight"));

    // A replacement that works swaps the chunks: only the new content remains.
    let response = put("The ferry leaves at nine o'clock.").await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(crate::helpers::wait_for(&mut events, &id).await, "ready");
    assert!(best_text().await.contains("nine"));
    assert_eq!(app.stored_chunks(&id).await, 1);
    let shown = app.document(&id).await;
    assert_eq!(
        shown["title"], "Ferry",
        "the title stays unless a new one is given"
    );

    // The same bytes again change nothing.
    let response = put("The ferry leaves at nine o'clock.").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["duplicate"], true);

    let response = app
        .client
        .put(app.url(&format!("/v1/documents/{id}")))
        .bearer_auth(&app.admin_key)
        .json(&json!({"text": "x", "collection": "elsewhere"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app
        .client
        .put(app.url(&format!("/v1/documents/{id}")))
        .bearer_auth(&app.user_key)
        .json(&json!({"text": "mine now"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}
