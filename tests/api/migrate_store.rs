//! `ragway migrate-store`: a single machine's database copied into the one
//! its replicas will share, and served from there.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{fresh_postgres_database, spawn_app, spawn_app_with};

#[tokio::test]
async fn every_row_is_copied_into_an_empty_database_and_served_from_it() {
    let app = spawn_app().await;
    let id = app
        .ingest_text("Harbour", "The harbour master's office opens at seven.")
        .await;
    let answer = app
        .chat_json(
            &app.user_key,
            &app.chat_body("When does the harbour office open?", false),
        )
        .await;
    let conversation = answer["conversation_id"].as_str().unwrap().to_string();
    let (admin_key, user_key) = (app.admin_key.clone(), app.user_key.clone());
    let from = app.settings.database_url();
    let (blob_url, vector_url) = (app.settings.blob_url(), app.settings.vector_url());
    let (source, data) = app.stopped().await;
    source.close().await;
    let to = match fresh_postgres_database().await {
        Some(url) => url,
        None => format!(
            "sqlite://{}?mode=rwc",
            data.path().join("copy.db").display()
        ),
    };

    let copied = ragway::store::migrate::copy(&from, &to, false)
        .await
        .unwrap();
    let rows = |table: &str| {
        copied
            .iter()
            .find(|(name, _)| name == table)
            .map(|(_, rows)| *rows)
    };
    assert_eq!(rows("documents"), Some(1));
    assert_eq!(rows("api_keys"), Some(2));
    assert_eq!(rows("messages"), Some(2));
    assert!(rows("_sqlx_migrations").is_none());
    // A target with data is refused unless asked to replace it.
    let refused = ragway::store::migrate::copy(&from, &to, false)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("--force"), "{refused}");
    let again = ragway::store::migrate::copy(&from, &to, true)
        .await
        .unwrap();
    assert_eq!(again, copied);

    let moved = spawn_app_with(|settings| {
        settings.database_url = Some(to);
        settings.blob_url = Some(blob_url);
        settings.vector_url = Some(vector_url);
    })
    .await;
    let document = moved.get(&format!("/v1/documents/{id}"), &admin_key).await;
    assert_eq!(document.status(), StatusCode::OK);
    assert_eq!(document.json::<Value>().await.unwrap()["status"], "ready");
    let stored = moved
        .get_json(&format!("/v1/conversations/{conversation}"), &user_key)
        .await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 2, "{stored}");
    let answer = moved
        .chat_json(
            &user_key,
            &moved.chat_body("When does the harbour office open?", false),
        )
        .await;
    assert_eq!(answer["sources"][0]["document_id"], id.as_str());
    drop(data);
}
