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
    // An answer is returned once its save is queued: a backup holds what
    // is stored when it begins.
    app.state.saver.flush().await;
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

/// Whether this pass keeps its stores where `ragway backup` can copy them
/// (SQLite and local folders; PostgreSQL and S3 have their own tools).
fn embedded(app: &crate::helpers::TestApp) -> bool {
    !app.settings.database_url().starts_with("postgres")
        && app.settings.blob_url.is_none()
        && app.settings.vector_url.is_none()
}

/// Every folder and file under `root` (itself included) with its mode bits.
fn modes(root: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = vec![];
    let mut queue = vec![root.to_path_buf()];
    while let Some(path) = queue.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                queue.push(entry.unwrap().path());
            }
        }
        found.push((path, meta.permissions().mode() & 0o777));
    }
    found
}

/// Folders 0700 and files 0600, everywhere under `root`.
fn assert_private(root: &std::path::Path) {
    for (path, mode) in modes(root) {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, wanted, "{} is {mode:o}", path.display());
    }
}

#[tokio::test]
async fn backups_and_restores_are_readable_by_their_owner_only() {
    let app = spawn_app().await;
    if !embedded(&app) {
        return;
    }
    app.ingest_text("Pilots", "Pilots board at the outer buoy.")
        .await;
    let backup = tempfile::tempdir().unwrap();
    let into = backup.path().join("copy");
    ragway::backup::backup(&app.settings, &into).await.unwrap();
    assert_private(&into);
    assert!(modes(&into).len() > 8, "{:?}", modes(&into));
    for name in ["ragway.db", "backup.json", "secret.key", "lancedb", "blobs"] {
        assert!(into.join(name).exists(), "{name}");
    }
    // An empty folder given to back up into is made private too.
    let given = backup.path().join("given");
    std::fs::create_dir(&given).unwrap();
    ragway::backup::backup(&app.settings, &given).await.unwrap();
    assert_private(&given);

    let restored = tempfile::tempdir().unwrap();
    let mut target = app.settings.clone();
    target.data_dir = restored.path().to_path_buf();
    ragway::backup::restore(&target, &into, false)
        .await
        .unwrap();
    for name in ["ragway.db", "secret.key", "lancedb", "blobs"] {
        assert_private(&restored.path().join(name));
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_doctored_manifest_is_refused_before_anything_is_written() {
    let app = spawn_app().await;
    if !embedded(&app) {
        return;
    }
    app.ingest_text("Moorings", "Moorings are let by the season.")
        .await;
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup");
    ragway::backup::backup(&app.settings, &backup)
        .await
        .unwrap();
    let outside = work.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "not for the data directory").unwrap();
    let original: Value =
        serde_json::from_slice(&std::fs::read(backup.join("backup.json")).unwrap()).unwrap();
    let doctor = |field: &str, value: &str| {
        let mut manifest = original.clone();
        manifest[field] = json!(value);
        std::fs::write(
            backup.join("backup.json"),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
    };
    std::os::unix::fs::symlink(outside.join("secret.txt"), backup.join("linked.db")).unwrap();
    std::os::unix::fs::symlink(&outside, backup.join("linked-blobs")).unwrap();

    // A data directory with stores already in it, to be replaced with --force.
    let target_dir = tempfile::tempdir().unwrap();
    std::fs::write(target_dir.path().join("ragway.db"), "the old database").unwrap();
    std::fs::create_dir(target_dir.path().join("blobs")).unwrap();
    std::fs::write(target_dir.path().join("blobs").join("old"), "an old blob").unwrap();
    let before = modes(target_dir.path());
    let mut target = app.settings.clone();
    target.data_dir = target_dir.path().to_path_buf();
    let restore_refused = |why: &'static str| {
        let target = target.clone();
        let backup = backup.clone();
        async move {
            let err = ragway::backup::restore(&target, &backup, true)
                .await
                .unwrap_err();
            format!("{err:#}").contains(why)
        }
    };

    let cases: [(&str, &str, &str); 6] = [
        ("database", "/etc/passwd", "absolute"),
        ("database", "../outside/secret.txt", "`..`"),
        ("blobs", "../outside", "`..`"),
        ("secret_key", "lancedb/../../outside/secret.txt", "`..`"),
        ("database", "linked.db", "symbolic link"),
        ("blobs", "linked-blobs", "symbolic link"),
    ];
    for (field, value, why) in cases {
        doctor(field, value);
        assert!(restore_refused(why).await, "{field} = {value:?}");
        assert_eq!(
            modes(target_dir.path()),
            before,
            "{field} = {value:?} wrote"
        );
    }
    // A link met on the way through a folder the manifest names.
    doctor("blobs", "blobs");
    let planted = backup.join("blobs").join("planted");
    std::os::unix::fs::symlink(outside.join("secret.txt"), &planted).unwrap();
    assert!(restore_refused("symbolic link").await);
    assert_eq!(modes(target_dir.path()), before, "a planted link wrote");
    assert_eq!(
        std::fs::read_to_string(target_dir.path().join("ragway.db")).unwrap(),
        "the old database"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "not for the data directory"
    );

    // The same backup undoctored restores.
    std::fs::remove_file(&planted).unwrap();
    ragway::backup::restore(&target, &backup, true)
        .await
        .unwrap();
    assert!(!target_dir.path().join("blobs").join("old").exists());
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
