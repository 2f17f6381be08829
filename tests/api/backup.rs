//! `ragway backup` while the server runs, and `ragway restore` into a new
//! data directory: documents, chunks, files, conversations and the secret
//! key come back; what came after the backup does not.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_new_data_directory() {
    let app = spawn_app().await;
    let backup = tempfile::tempdir().unwrap();
    let into = backup.path().join("copy");
    if app.settings.database_url().starts_with("postgres") {
        let err = ragway::backup::backup(&app.settings, &into)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("pg_dump"), "{err}");
        return;
    }
    let kept = app
        .ingest_text("Tides", "High tide at the harbour is at noon on Sundays.")
        .await;
    let answer = app
        .chat_json(
            &app.user_key,
            &app.chat_body("When is high tide at the harbour?", false),
        )
        .await;
    let conversation = answer["conversation_id"].as_str().unwrap().to_string();
    // Vector index upkeep may be running: the backup does not wait for it.
    ragway::backup::backup(&app.settings, &into).await.unwrap();
    let later = app.ingest_text("Later", "Written after the backup.").await;
    assert!(
        ragway::backup::backup(&app.settings, &into).await.is_err(),
        "not over a backup"
    );

    let restored = tempfile::tempdir().unwrap();
    let mut target = app.settings.clone();
    target.data_dir = restored.path().to_path_buf();
    ragway::backup::restore(&target, &into, false)
        .await
        .unwrap();
    let err = ragway::backup::restore(&target, &into, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    let key_before = std::fs::read(app.settings.data_dir.join("secret.key")).unwrap();
    assert_eq!(
        std::fs::read(restored.path().join("secret.key")).unwrap(),
        key_before
    );

    let path = restored.path().to_path_buf();
    let again = spawn_app_with(move |s| s.data_dir = path).await;
    let shown = again.document(&kept).await;
    assert_eq!(shown["status"], "ready", "{shown}");
    assert_eq!(again.stored_chunks(&kept).await, 1);
    let missing = again
        .get(&format!("/v1/documents/{later}"), &again.admin_key)
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let original = again
        .get(&format!("/v1/documents/{kept}/content"), &again.admin_key)
        .await;
    assert_eq!(original.status(), StatusCode::OK);
    assert!(original.text().await.unwrap().contains("High tide"));
    let history: Value = again
        .get_json(
            &format!("/api/admin/conversations/{conversation}"),
            &again.admin_key,
        )
        .await;
    assert_eq!(history["id"], conversation.as_str(), "{history}");
    // The restored knowledge answers questions.
    let answer = again
        .chat_json(
            &again.user_key,
            &again.chat_body("When is high tide at the harbour?", false),
        )
        .await;
    let titles: Vec<&str> = answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Tides"], "{}", json!(answer["sources"]));
}

#[tokio::test]
async fn the_command_line_backs_up_and_restores() {
    let app = spawn_app().await;
    if app.settings.database_url().starts_with("postgres") {
        return; // covered above: PostgreSQL is backed up with pg_dump
    }
    app.ingest_text("Buoys", "Red buoys mark the port side.")
        .await;
    let (_db, data) = app.stopped().await;
    let backup = tempfile::tempdir().unwrap();
    let restored = tempfile::tempdir().unwrap();
    let run = |dir: &std::path::Path, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ragway"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RAGWAY_DATA_DIR", dir)
            .output()
            .expect("ragway runs")
    };
    let to = backup.path().join("b");
    let made = run(data.path(), &["backup", "--to", to.to_str().unwrap()]);
    assert!(made.status.success(), "{made:?}");
    let back = run(
        restored.path(),
        &["restore", "--from", to.to_str().unwrap()],
    );
    assert!(back.status.success(), "{back:?}");
    let refused = run(data.path(), &["restore", "--from", to.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    let forced = run(
        data.path(),
        &["restore", "--force", "--from", to.to_str().unwrap()],
    );
    assert!(forced.status.success(), "{forced:?}");

    let path = restored.path().to_path_buf();
    let again = spawn_app_with(move |s| s.data_dir = path).await;
    let listed = again.get_json("/v1/documents", &again.admin_key).await;
    assert_eq!(listed["data"][0]["title"], "Buoys", "{listed}");
}
