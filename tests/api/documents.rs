//! Uploading documents: text, files of each format, status, isolation of bad files.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, wait_for, TestApp};
use crate::support::fake_upstream::{EmbeddingFormats, Fault};

async fn upload_file(app: &TestApp, key: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new()
        .text("collection", "manuals")
        .part("file", Part::bytes(bytes).file_name(name.to_string()));
    app.upload_form(key, form).await
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn text_upload_becomes_ready_with_chunks() {
    let app = spawn_app().await;
    let mut events = app.state.ingest_events.subscribe();
    let response = app
        .post_json(
            "/v1/documents",
            &app.admin_key,
            &json!({"title": "Tides", "text": "High tide is at noon.", "collection": "sea"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["status"], "pending");
    assert_eq!(created["collection"], "sea");
    let id = created["id"].as_str().unwrap();
    assert_eq!(wait_for(&mut events, id).await, "ready");

    let shown = app.document(id).await;
    assert_eq!(shown["status"], "ready");
    assert_eq!(shown["chunk_count"], 1);
    assert_eq!(shown["title"], "Tides");
    assert!(shown["error"].is_null());
    assert_eq!(app.stored_chunks(id).await, 1);
}

#[tokio::test]
async fn every_supported_format_is_ingested() {
    let app = spawn_app().await;
    let mut events = app.state.ingest_events.subscribe();
    for (name, expect_mime) in [
        ("handbook.md", "text/markdown"),
        ("员工手册.txt", "text/plain"),
        ("lighthouse.pdf", "application/pdf"),
        (
            "workshop.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("报销制度-gbk.txt", "text/plain"),
        ("ferry.html", "text/html"),
    ] {
        let response = upload_file(&app, &app.admin_key, name, fixture(name)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{name}");
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["content_type"], expect_mime);
        assert_eq!(created["filename"], name);
        assert_eq!(created["collection"], "manuals");
        let id = created["id"].as_str().unwrap();
        assert_eq!(wait_for(&mut events, id).await, "ready", "{name}");
    }
    // The PDF's words were extracted: a question about them finds the PDF.
    // Each format's words were extracted: a question about them finds that file first.
    for (question, title, snippet) in [
        (
            "when does the lighthouse keeper log the tide",
            "lighthouse.pdf",
            "every morning at six",
        ),
        (
            "must apprentices wear ear defenders near the lathe",
            "workshop.docx",
            "lathe & the band saw",
        ),
        (
            "差旅费用多久内提交发票",
            "报销制度-gbk.txt",
            "十个工作日内提交发票",
        ),
        (
            "when does the island ferry leave the pier",
            "ferry.html",
            "half past eight",
        ),
    ] {
        let answer: Value = app
            .post_json(
                "/v1/chat/completions",
                &app.user_key,
                &app.chat_body(question, false),
            )
            .await
            .json()
            .await
            .unwrap();
        let best = &answer["sources"][0];
        assert_eq!(best["title"], title, "{question}");
        let text = best["text"].as_str().unwrap();
        assert!(text.contains(snippet), "{title}: {text}");
        assert!(
            !text.contains("do-not-index"),
            "scripts are not text: {text}"
        );
    }
}

#[tokio::test]
async fn user_keys_cannot_upload_or_see_shared_documents() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/documents",
            &app.user_key,
            &json!({"title": "x", "text": "y"}),
        )
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "insufficient_permissions").await;
    let response = upload_file(&app, &app.user_key, "a.txt", b"hello".to_vec()).await;
    assert_error(response, StatusCode::FORBIDDEN, "insufficient_permissions").await;
    let id = app.ingest_text("Doc", "Body").await;
    let response = app.get(&format!("/v1/documents/{id}"), &app.user_key).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let listed: Value = app.get_json("/v1/documents", &app.user_key).await;
    assert_eq!(listed["data"], json!([]));
}

#[tokio::test]
async fn bad_uploads_get_clear_errors() {
    let app = spawn_app().await;
    let key = &app.admin_key;

    let response = app
        .post_json(
            "/v1/documents",
            key,
            &json!({"title": "x", "text": "  \n "}),
        )
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable_entity",
    )
    .await;

    let response = upload_file(&app, key, "picture.png", fixture("picture.png")).await;
    let body = assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("txt, md, html, pdf, docx, csv, json"));

    let response = upload_file(&app, key, "fake.pdf", b"just text".to_vec()).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let response = app
        .post_json("/v1/documents", key, &json!({"title": "x"}))
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let response = app
        .post_json(
            "/v1/documents",
            key,
            &json!({"title": "x", "text": "y", "collection": "a b"}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let form = Form::new().text("title", "no file");
    let response = app.upload_form(key, form).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let response = app.get("/v1/documents/nope", key).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let app = spawn_app_with(|s| s.max_body_bytes = 4096).await;
    let big = "x".repeat(10_000);
    let response = app
        .post_json(
            "/v1/documents",
            &app.admin_key,
            &json!({"title": "big", "text": big}),
        )
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let response = upload_file(&app, &app.admin_key, "big.txt", big.into_bytes()).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Under the limit still works.
    app.ingest_text("small", "fits").await;
}

#[tokio::test]
async fn embedding_rate_limits_and_outages_are_retried() {
    let app = spawn_app().await;
    app.upstream.set_fault_times(Fault::RateLimitNoWait, 2);
    let id = app
        .ingest_text("Pilots", "Harbour pilots board ships at the outer buoy.")
        .await;
    assert_eq!(
        app.upstream.embedding_requests().len(),
        3,
        "two 429s, then success"
    );
    let shown = app.document(&id).await;
    assert_eq!(shown["chunks_done"], shown["chunks_total"]);
    assert_eq!(shown["chunks_done"], shown["chunk_count"]);

    app.upstream.set_fault_times(Fault::ServerError, 1);
    app.ingest_text(
        "Tugs",
        "Two tugs assist ships longer than two hundred metres.",
    )
    .await;
}

#[tokio::test]
async fn a_client_can_wait_for_a_document_instead_of_polling() {
    let app = spawn_app().await;
    let upload = |title: &'static str| {
        let body = json!({"title": title, "text": format!("{title}: high tide is at six.")});
        let app = &app;
        async move { app.submit(&body).await }
    };
    let id = upload("Tides").await;
    let shown = app
        .get_json(&format!("/v1/documents/{id}?wait=30"), &app.admin_key)
        .await;
    assert_eq!(shown["status"], "ready", "{shown}");
    assert!(shown["chunk_count"].as_i64().unwrap() > 0);
    // Done already: the answer is the same, at once.
    let again = app
        .get_json(&format!("/v1/documents/{id}?wait=30"), &app.admin_key)
        .await;
    assert_eq!(again, shown);

    app.upstream.set_fault(Fault::Unauthorized);
    let id = upload("Tides again").await;
    let shown = app
        .get_json(&format!("/v1/documents/{id}?wait=30"), &app.admin_key)
        .await;
    assert_eq!(shown["status"], "failed", "{shown}");

    for bad in ["-1", "soon", "NaN"] {
        let response = app
            .get(&format!("/v1/documents/{id}?wait={bad}"), &app.admin_key)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    // Another key's document stays hidden, waiting or not.
    let response = app
        .get(&format!("/v1/documents/{id}?wait=1"), &app.user_key)
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

/// The answer to a question about "harbour pilots", as a chat client sees it.
async fn top_source(app: &TestApp) -> Value {
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body("When do harbour pilots board?", false),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["sources"][0].clone()
}

#[tokio::test]
async fn embeddings_come_as_base64_or_as_floats_from_upstreams_that_refuse_it() {
    let formats = |app: &TestApp| -> Vec<String> {
        app.upstream
            .embedding_requests()
            .iter()
            .map(|r| {
                r["encoding_format"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let mut scores = Vec::new();
    for (formats_honoured, asked) in [
        // OpenAI's way: base64.
        (EmbeddingFormats::Both, vec!["base64", "base64"]),
        // An upstream that answers floats whatever it is asked.
        (EmbeddingFormats::IgnoresFormat, vec!["base64", "base64"]),
        // An upstream that refuses base64: asked again for floats, then only floats.
        (
            EmbeddingFormats::FloatsOnly,
            vec!["base64", "float", "float"],
        ),
    ] {
        let app = spawn_app().await;
        app.upstream.set_embedding_formats(formats_honoured);
        let id = app
            .ingest_text(
                "Pilots",
                "Harbour pilots board ships at the outer buoy at dawn.",
            )
            .await;
        let source = top_source(&app).await;
        assert_eq!(source["document_id"], id.as_str());
        assert_eq!(formats(&app), asked, "{formats_honoured:?}");
        scores.push(source["score"].as_f64().unwrap());
    }
    // The same vectors, however they travelled.
    assert!(scores.iter().all(|s| *s == scores[0]), "{scores:?}");
}

#[tokio::test]
async fn a_rejected_embeddings_key_fails_at_once_with_the_reason() {
    let app = spawn_app().await;
    app.upstream.set_fault(Fault::Unauthorized);
    let mut events = app.state.ingest_events.subscribe();
    let response = app
        .post_json(
            "/v1/documents",
            &app.admin_key,
            &json!({"title": "x", "text": "some text"}),
        )
        .await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(wait_for(&mut events, &id).await, "failed");
    assert_eq!(
        app.upstream.embedding_requests().len(),
        1,
        "no retries for a bad key"
    );
    let shown = app.document(&id).await;
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .contains("RAGWAY_EMBED_API_KEY"),
        "{shown}"
    );

    // Uploading the same bytes again once the key is fixed queues the failed document again.
    app.heal_upstream().await;
    let response = app
        .post_json(
            "/v1/documents",
            &app.admin_key,
            &json!({"title": "x", "text": "some text"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let again: Value = response.json().await.unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["duplicate"], true);
    assert_eq!(wait_for(&mut events, &id).await, "ready");
}

#[tokio::test]
async fn a_document_is_ingested_again_from_its_stored_original() {
    let app = spawn_app().await;
    let text = "The harbour ferry leaves at nine. ".repeat(60);
    let id = app
        .ingest_json(&json!({"title": "Ferry", "text": text, "collection": "sea"}))
        .await;
    assert_eq!(app.stored_chunks(&id).await, 1);

    // Smaller chunks after a restart: re-ingesting applies them to the stored original.
    let (app, mut events2) = app
        .restart_with(|s| {
            s.chunk_size = 64;
            s.chunk_overlap = 0;
        })
        .await;
    let response = app
        .post_json(
            &format!("/v1/documents/{id}/reingest"),
            &app.admin_key,
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued: Value = response.json().await.unwrap();
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["id"], id.as_str());
    assert_eq!(wait_for(&mut events2, &id).await, "ready");
    let shown = app.document(&id).await;
    let chunks = shown["chunk_count"].as_u64().unwrap() as usize;
    assert!(chunks > 1, "{shown}");
    // The old chunk is gone: the table holds exactly the new ones.
    assert_eq!(app.stored_chunks(&id).await, chunks);

    // A user key neither sees nor re-ingests a shared document; unknown ids are 404.
    let response = app
        .post_json(
            &format!("/v1/documents/{id}/reingest"),
            &app.user_key,
            &json!({}),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .post_json("/v1/documents/nope/reingest", &app.admin_key, &json!({}))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn re_ingesting_retries_a_failed_document_and_refuses_one_in_progress() {
    let app = spawn_app().await;
    let mut events = app.state.ingest_events.subscribe();
    app.upstream.set_fault(Fault::Unauthorized);
    let id = app
        .submit(&json!({"title": "Tides", "text": "High tide is at noon."}))
        .await;
    assert_eq!(wait_for(&mut events, &id).await, "failed");

    // While embeddings hang, the second try stays in progress and a third is refused.
    // (The refused key was blocked: enabled again first, as an admin would.)
    app.heal_upstream().await;
    app.upstream.set_fault(Fault::Hang);
    let path = format!("/v1/documents/{id}/reingest");
    let response = app.post_json(&path, &app.admin_key, &json!({})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    loop {
        let event = events.recv().await.unwrap();
        if event.is_document(&id) && event.status == "processing" {
            break;
        }
    }
    let response = app.post_json(&path, &app.admin_key, &json!({})).await;
    let body = assert_error(response, StatusCode::CONFLICT, "conflict").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("being ingested"),
        "{body}"
    );
    // A restart hands the hanging job back; with the upstream answering again it completes.
    app.heal_upstream().await;
    let (app, mut events) = app.restart().await;
    assert_eq!(wait_for(&mut events, &id).await, "ready");
    assert_eq!(app.stored_chunks(&id).await, 1);
}
