//! `ragway-ingest` (its library, as the binary runs it) against a live server.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ragway_ingest::{run, Options, Outcome};

use crate::helpers::{spawn_app, TestApp};

fn options(app: &TestApp, root: &Path) -> Options {
    Options {
        server: app.address.clone(),
        key: app.admin_key.clone(),
        collection: Some("library".into()),
        private: false,
        concurrency: 2,
        include: Vec::new(),
        exclude: vec!["**/drafts/**".into()],
        dry_run: false,
        report: None,
        quiet: true,
        paths: vec![root.to_path_buf()],
    }
}

fn copy_fixture(name: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(
        format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR")),
        to,
    )
    .unwrap();
}

#[tokio::test]
async fn a_folder_is_loaded_once_and_a_rerun_skips_it() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_fixture("handbook.md", &root.join("handbook.md"));
    copy_fixture("ferry.html", &root.join("web/ferry.html"));
    copy_fixture("workshop.docx", &root.join("office/workshop.docx"));
    copy_fixture("lighthouse.pdf", &root.join("drafts/lighthouse.pdf"));
    copy_fixture("picture.png", &root.join("picture.png"));
    let elsewhere = tempfile::tempdir().unwrap();
    let report_path = elsewhere.path().join("report.json");

    let mut first = options(&app, root);
    first.report = Some(report_path.clone());
    let report = run(&first, Arc::new(AtomicBool::new(false))).await.unwrap();
    assert!(report.success(), "{}", report.summary());
    assert_eq!(
        report.ingested, 3,
        "md, html and docx; the draft is excluded, the png unsupported"
    );
    assert!(report.files.iter().all(|f| f.chunks.unwrap_or(0) >= 1));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(written["ingested"], 3);
    let listed: serde_json::Value = app
        .get_json("/v1/documents?collection=library", &app.admin_key)
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);

    // A second run finds everything present and uploads nothing.
    let embeddings_before = app.upstream.embedding_requests().len();
    let again = run(&options(&app, root), Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    assert_eq!((again.ingested, again.duplicates), (0, 3));
    assert_eq!(app.upstream.embedding_requests().len(), embeddings_before);

    // A dry run plans a new file without sending it.
    copy_fixture("员工手册.txt", &root.join("员工手册.txt"));
    let mut dry = options(&app, root);
    dry.dry_run = true;
    let plan = run(&dry, Arc::new(AtomicBool::new(false))).await.unwrap();
    assert_eq!(
        plan.files
            .iter()
            .filter(|f| f.outcome == Outcome::Planned)
            .count(),
        1
    );
    let listed: serde_json::Value = app
        .get_json("/v1/documents?collection=library", &app.admin_key)
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn failures_are_reported_with_reasons_and_ctrl_c_leaves_the_rest() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_fixture("bad/truncated.pdf", &root.join("truncated.pdf"));
    copy_fixture("handbook.md", &root.join("handbook.md"));
    std::fs::write(root.join("empty.txt"), b"").unwrap();

    let report = run(&options(&app, root), Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    assert!(!report.success());
    assert_eq!((report.ingested, report.failed), (1, 2));
    let reason = |name: &str| {
        report
            .files
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap()
            .error
            .clone()
            .unwrap_or_default()
    };
    assert!(
        reason("truncated.pdf").contains("could not be read"),
        "{}",
        reason("truncated.pdf")
    );
    assert!(
        reason("empty.txt").contains("empty"),
        "{}",
        reason("empty.txt")
    );
    assert!(report.summary().contains("FAILED"));

    // Stopped before it starts: nothing is uploaded, everything is left for a re-run.
    copy_fixture("ferry.html", &root.join("ferry.html"));
    let stopped = run(&options(&app, root), Arc::new(AtomicBool::new(true)))
        .await
        .unwrap();
    // The handbook is on the server; the two failures and the html are left.
    assert_eq!(
        (stopped.interrupted, stopped.ingested, stopped.failed),
        (3, 0, 0)
    );
    assert!(!stopped.success());
    let rerun = run(&options(&app, root), Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    assert_eq!(rerun.ingested, 1, "the re-run finishes the html");
    assert_eq!(
        rerun.failed, 2,
        "failed files are tried again, not skipped as present"
    );
    assert!(rerun
        .files
        .iter()
        .any(|f| f.path.ends_with("truncated.pdf") && f.outcome == Outcome::Failed));
}

#[tokio::test]
async fn the_bad_input_corpus_ends_clearly_through_the_cli_too() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    for entry in std::fs::read_dir(&bad).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, root.join(path.file_name().unwrap())).unwrap();
    }
    // Generated here rather than committed: over the server's 50 MiB limit.
    std::fs::write(root.join("huge.txt"), vec![b'a'; 200 * 1024 * 1024]).unwrap();

    let report = run(&options(&app, root), Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    let outcome = |name: &str| {
        report
            .files
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} is in the report"))
    };
    assert_eq!(outcome("invalid-utf8.txt").outcome, Outcome::Ingested);
    for name in [
        "truncated.pdf",
        "encrypted.pdf",
        "no-text-layer.pdf",
        "zero-bytes.txt",
        "binary-named.txt",
        "bomb.docx",
        "huge.txt",
    ] {
        let file = outcome(name);
        assert_eq!(file.outcome, Outcome::Failed, "{name}");
        assert!(
            file.error.as_deref().is_some_and(|e| e.len() > 10),
            "{name} has a readable reason: {:?}",
            file.error
        );
    }
    assert_eq!(
        (report.ingested, report.failed),
        (1, 7),
        "{}",
        report.summary()
    );
    assert!(
        outcome("bomb.docx")
            .error
            .as_deref()
            .unwrap()
            .contains("zip bomb"),
        "{:?}",
        outcome("bomb.docx").error
    );
    // A normal upload right after still works.
    app.ingest_text("After the storm", "The harbour reopened on Tuesday.")
        .await;
}
