//! The vector index: where chunks sit (page, headings), the job table's
//! leases, and moving to a new embedding model without mixing vectors.

use ragway::domain::clock::now_ms;
use ragway::ingest::jobs;
use ragway::ingest::reindex::{self, Outcome};
use ragway::store::indexes;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, wait_for, TestApp};
use crate::support::fake_upstream::{Fault, DIM, SMALL_DIM};

const SMALL: &str = "fake-embed-small";

/// Start a reindex through the admin API (202) and wait until it is ready;
/// returns the API's answer.
async fn reindex_through_api(
    app: &TestApp,
    events: &mut tokio::sync::broadcast::Receiver<ragway::state::IngestEvent>,
) -> Value {
    let response = app
        .post_json("/api/admin/reindex", &app.admin_key, &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let started: Value = response.json().await.unwrap();
    let building_id = started["building"]["id"].as_str().unwrap();
    assert_eq!(
        wait_for(events, &format!("reindex:{building_id}")).await,
        "ready"
    );
    started
}

/// Upload a fixture file as admin and wait until it is ready; returns its id.
async fn ingest_fixture(app: &TestApp, name: &str) -> String {
    let bytes = std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    ingest_file(app, name, bytes).await
}

/// Upload a file as admin and wait until it is ready; returns its id.
async fn ingest_file(app: &TestApp, name: &str, bytes: Vec<u8>) -> String {
    let mut events = app.state.ingest_events.subscribe();
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    let response = app.upload_form(&app.admin_key, form).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(wait_for(&mut events, &id).await, "ready", "{name}");
    id
}

async fn ask(app: &TestApp, question: &str) -> Value {
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &app.chat_body(question, false),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn health(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The model of the last embeddings request the upstream saw.
fn last_embed_model(app: &TestApp) -> String {
    app.upstream.embedding_requests().last().unwrap()["model"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn sources_give_the_pdf_page_and_the_markdown_heading_path() {
    let app = spawn_app_with(|s| {
        s.chunk_size = 24;
        s.chunk_overlap = 0;
    })
    .await;
    let tides = ingest_fixture(&app, "tides.pdf").await;
    let answer = ask(&app, "What does the lighthouse do in fog?").await;
    let top = &answer["sources"][0];
    assert_eq!(top["document_id"], tides.as_str());
    assert_eq!(top["page"], 3, "{answer}");
    assert!(top.get("heading").is_none(), "{top}");
    let prompt = app.upstream.chat_requests().last().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("(p. 3)"), "{prompt}");

    let text =
        "# Staff handbook\n\nThis handbook covers the rules every member of staff follows.\n\n\
                ## Leave\n\nLeave is requested through the staff portal two weeks ahead.\n\n\
                ### Parental leave\n\nParents take sixteen weeks of paid parental leave.\n\n\
                ## Travel\n\nTrain tickets are booked through the travel desk.";
    ingest_file(&app, "handbook.md", text.as_bytes().to_vec()).await;
    let answer = ask(
        &app,
        "How many weeks of paid parental leave do parents take?",
    )
    .await;
    let top = &answer["sources"][0];
    assert_eq!(
        top["heading"], "Staff handbook > Leave > Parental leave",
        "{answer}"
    );
    assert!(top.get("page").is_none(), "{top}");
}

#[tokio::test]
async fn health_reports_the_index_model_and_width() {
    let app = spawn_app().await;
    assert_eq!(health(&app).await["index"]["status"], "empty");
    app.ingest_text("Pilots", "Pilots board at the outer buoy.")
        .await;
    let index = &health(&app).await["index"];
    assert_eq!(index["status"], "ok", "{index}");
    assert_eq!(index["model"], app.settings.embed_model_name().as_str());
    assert_eq!(index["dimension"], DIM);
    assert_eq!(health(&app).await["ingest_queue"]["ingest"], 0);
}

#[tokio::test]
async fn a_changed_embedding_model_keeps_serving_then_reindexes_through_the_api() {
    let app = spawn_app().await;
    let old_model = app.settings.embed_model_name();
    let fog = app
        .ingest_text(
            "Fog",
            "In fog the lighthouse sounds its horn twice a minute.",
        )
        .await;
    app.ingest_text("Pilots", "Pilots board ships at the outer buoy.")
        .await;
    let old_table = indexes::active(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .table_name;

    let (app, mut events) = app
        .restart_with(|s| s.embed_model = Some(SMALL.into()))
        .await;
    let index = &health(&app).await["index"];
    assert_eq!(index["status"], "mismatch", "{index}");
    assert_eq!(index["model"], old_model.as_str());
    assert_eq!(index["configured_model"], SMALL);
    assert!(index["message"]
        .as_str()
        .unwrap()
        .contains("ragway reindex"));
    // Questions are still embedded by the index's own model, so retrieval works.
    let answer = ask(&app, "What does the lighthouse do in fog?").await;
    assert_eq!(answer["sources"][0]["document_id"], fog.as_str());
    assert_eq!(last_embed_model(&app), old_model);

    let response = app
        .post_json("/api/admin/reindex", &app.user_key, &json!({}))
        .await;
    assert_error(response, StatusCode::FORBIDDEN, "insufficient_permissions").await;
    let started = reindex_through_api(&app, &mut events).await;
    assert_eq!(started["building"]["model"], SMALL);

    let index = &health(&app).await["index"];
    assert_eq!(index["status"], "ok", "{index}");
    assert_eq!(index["model"], SMALL);
    assert_eq!(index["dimension"], SMALL_DIM);
    assert_eq!(app.stored_chunks(&fog).await, 1);
    assert_eq!(
        app.state.vectors.dimension(&old_table).await.unwrap(),
        None,
        "the old table is dropped"
    );
    let answer = ask(&app, "What does the lighthouse do in fog?").await;
    assert_eq!(answer["sources"][0]["document_id"], fog.as_str());
    assert_eq!(last_embed_model(&app), SMALL);
    let shown: Value = app.get_json("/api/admin/reindex", &app.admin_key).await;
    assert_eq!(shown["status"], "ok");
    assert_eq!(shown["active"]["documents_done"], 2);
    // Nothing left to do.
    let again = app
        .post_json("/api/admin/reindex", &app.admin_key, &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn uploads_during_a_reindex_go_to_both_indexes_once() {
    let app = spawn_app().await;
    let first = app
        .ingest_text("Ferry", "The ferry leaves the north quay at noon.")
        .await;
    // A reindex registered but not yet run (as if its job were still waiting).
    let building = indexes::create(
        &app.state.db,
        SMALL,
        &ragway::ingest::context::recipe(&app.settings),
        "building",
    )
    .await
    .unwrap();
    let during = app
        .ingest_text("Tides", "High water at the north quay comes at six.")
        .await;
    assert_eq!(
        app.state
            .vectors
            .count_document(&building.table_name, &during)
            .await
            .unwrap(),
        1,
        "written to the index being built as well"
    );

    let (app, _events) = app
        .restart_with(|s| s.embed_model = Some(SMALL.into()))
        .await;
    let outcome = reindex::run_to_end(&app.state, |_| {}).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Done {
            model: SMALL.into(),
            documents: 2
        }
    );
    for id in [&first, &during] {
        assert_eq!(app.stored_chunks(id).await, 1, "exactly once: {id}");
    }
    assert_eq!(
        reindex::run_to_end(&app.state, |_| {}).await.unwrap(),
        Outcome::UpToDate {
            model: SMALL.into()
        }
    );
}

#[tokio::test]
async fn a_failed_reindex_leaves_the_old_index_serving_and_resumes() {
    let app = spawn_app().await;
    let fog = app
        .ingest_text(
            "Fog",
            "In fog the lighthouse sounds its horn twice a minute.",
        )
        .await;
    let (app, _events) = app
        .restart_with(|s| {
            s.embed_model = Some(SMALL.into());
            s.embed_retries = 0;
        })
        .await;
    app.upstream.set_fault(Fault::Unauthorized);
    let error = reindex::run_to_end(&app.state, |_| {}).await.unwrap_err();
    assert!(
        error.to_string().contains("run `ragway reindex` again"),
        "{error}"
    );
    app.heal_upstream().await;
    let index = &health(&app).await["index"];
    assert_eq!(index["status"], "reindexing");
    assert!(index["reindex"]["error"].as_str().is_some(), "{index}");
    let answer = ask(&app, "What does the lighthouse do in fog?").await;
    assert_eq!(answer["sources"][0]["document_id"], fog.as_str());

    let outcome = reindex::run_to_end(&app.state, |_| {}).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Done { documents: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(health(&app).await["index"]["status"], "ok");
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_over_when_its_lease_runs_out() {
    let app = spawn_app_with(|s| s.chunk_size = 20).await;
    let text = "The harbour master rings the bell at dawn. ".repeat(10);
    let id = app.ingest_text("Harbour", &text).await;
    let chunks = app.stored_chunks(&id).await;
    assert!(chunks > 1);
    // As if another process died while writing this document: its row says
    // `processing`, some of its chunks are in LanceDB, and the job's lease
    // has run out.
    sqlx::query("UPDATE documents SET status = 'processing', chunk_count = 0 WHERE id = $1")
        .bind(&id)
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, document_id, status, attempts, lease_owner, lease_until, created_at, updated_at) \
         VALUES ('dead-job', 'ingest', $1, 'running', 1, 'dead-replica', $2, $2, $2)",
    )
    .bind(&id)
    .bind(now_ms() - 1)
    .execute(&app.state.db)
    .await
    .unwrap();

    let (app, mut events) = app.restart().await;
    assert_eq!(wait_for(&mut events, &id).await, "ready");
    assert_eq!(app.stored_chunks(&id).await, chunks, "no duplicates");
    assert_eq!(app.document(&id).await["chunk_count"], chunks);
}

#[tokio::test]
async fn a_job_under_a_live_lease_is_not_taken_twice() {
    // The app's own workers would take the job for themselves: work the table alone.
    let (db, _data) = spawn_app().await.stopped().await;
    let lease = std::time::Duration::from_secs(60);
    sqlx::query(
        "INSERT INTO jobs (id, kind, status, created_at, updated_at) VALUES ('j1', 'reindex', 'pending', 1, 1)",
    )
    .execute(&db)
    .await
    .unwrap();
    let mine = jobs::claim(&db, "replica-a", lease, Some(jobs::REINDEX))
        .await
        .unwrap()
        .expect("a pending job is claimed");
    assert_eq!((mine.id.as_str(), mine.attempts), ("j1", 1));
    let theirs = jobs::claim(&db, "replica-b", lease, Some(jobs::REINDEX))
        .await
        .unwrap();
    assert!(
        theirs.is_none(),
        "replica b must not run a job replica a holds"
    );
    assert!(jobs::held_elsewhere(&db, jobs::REINDEX, "replica-b")
        .await
        .unwrap());
    assert!(jobs::renew(&db, &mine, "replica-a", lease).await.unwrap());
    assert!(!jobs::renew(&db, &mine, "replica-b", lease).await.unwrap());
    // A graceful stop hands it back without counting the attempt.
    assert_eq!(jobs::release_all(&db, "replica-a").await.unwrap(), 1);
    // A worker's own hand-back after that changes nothing (no second discount).
    assert!(!jobs::release(&db, &mine, "replica-a").await.unwrap());
    let again = jobs::claim(&db, "replica-b", lease, Some(jobs::REINDEX))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 1);
    // One job handed back on its own (a claim that landed during shutdown).
    assert!(jobs::release(&db, &again, "replica-b").await.unwrap());
    let again = jobs::claim(&db, "replica-b", lease, Some(jobs::REINDEX))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 1);
    jobs::finish(&db, &again, "replica-b").await.unwrap();
    assert_eq!(jobs::queue_depth(&db).await.unwrap(), (0, 0));
}

#[tokio::test]
async fn a_document_that_keeps_killing_its_worker_fails_after_three_attempts() {
    let app = spawn_app().await;
    let id = app.ingest_text("Harbour", "The bell rings at dawn.").await;
    sqlx::query("UPDATE documents SET status = 'processing' WHERE id = $1")
        .bind(&id)
        .execute(&app.state.db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, document_id, status, attempts, lease_owner, lease_until, created_at, updated_at) \
         VALUES ('doomed', 'ingest', $1, 'running', $2, 'dead-replica', $3, $3, $3)",
    )
    .bind(&id)
    .bind(jobs::MAX_ATTEMPTS)
    .bind(now_ms() - 1)
    .execute(&app.state.db)
    .await
    .unwrap();
    let (app, mut events) = app.restart().await;
    assert_eq!(wait_for(&mut events, &id).await, "failed");
    let shown = app.document(&id).await;
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .contains("interrupted 3 times"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_graceful_restart_hands_back_a_running_job_at_once() {
    let app = spawn_app().await;
    let mut events = app.state.ingest_events.subscribe();
    app.upstream.set_fault(Fault::Hang);
    let id = app
        .submit(&json!({"title": "Pilots", "text": "Pilots board at the outer buoy."}))
        .await;
    // Wait until a worker is inside the (hanging) embeddings call.
    loop {
        let event = events.recv().await.unwrap();
        if event.is_document(&id) && event.status == "processing" {
            break;
        }
    }
    app.heal_upstream().await;
    let old = app.state.instance.clone();
    let (app, mut events) = app.restart().await;
    // Handed back on the way out, not left to its lease: free, or already the new server's.
    let owner: Option<Option<String>> =
        sqlx::query_scalar("SELECT lease_owner FROM jobs WHERE document_id = $1")
            .bind(&id)
            .fetch_optional(&app.state.db)
            .await
            .unwrap();
    assert_ne!(
        owner.flatten(),
        Some(old),
        "the stopped server still holds the job"
    );
    assert_eq!(wait_for(&mut events, &id).await, "ready");
    assert_eq!(app.stored_chunks(&id).await, 1);
}

#[tokio::test]
async fn deleting_a_queued_document_removes_its_job() {
    let app = spawn_app().await;
    app.upstream.set_fault(Fault::Hang);
    // Every worker hangs on its first document, so the last one stays queued.
    let mut ids = Vec::new();
    for n in 0..(app.settings.ingest_workers + 1) {
        ids.push(
            app.submit(&json!({"title": format!("Doc {n}"), "text": format!("Text number {n}.")}))
                .await,
        );
    }
    let pending = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE status = 'pending'")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    assert!(
        pending().await >= 1,
        "a document waits behind the hanging workers"
    );
    for id in &ids {
        let response = app
            .delete(&format!("/v1/documents/{id}"), &app.admin_key)
            .await;
        assert!(response.status().is_success());
    }
    assert_eq!(pending().await, 0);
    app.heal_upstream().await;
}

/// How chunks are embedded (besides the model) is kept with the index: a
/// change (here, sending `input_type`) shows as a mismatch while search
/// keeps working, and a reindex re-embeds with the new recipe.
#[tokio::test]
async fn a_changed_embedding_recipe_is_a_mismatch_a_reindex_resolves() {
    let app = spawn_app().await;
    let fog = app
        .ingest_text(
            "Fog",
            "In fog the lighthouse sounds its horn twice a minute.",
        )
        .await;
    let before = indexes::active(&app.state.db).await.unwrap().unwrap();
    assert_eq!(
        before.recipe,
        ragway::ingest::context::recipe(&app.settings)
    );
    assert_eq!(health(&app).await["index"]["status"], "ok");

    let (app, mut events) = app.restart_with(|s| s.embed_input_type = true).await;
    let index = &health(&app).await["index"];
    assert_eq!(index["status"], "mismatch", "{index}");
    let message = index["message"].as_str().unwrap();
    assert!(message.contains("embedded in another way"), "{message}");
    assert!(message.contains("input_type sent"), "{message}");
    let answer = ask(&app, "What does the lighthouse do in fog?").await;
    assert_eq!(answer["sources"][0]["document_id"], fog.as_str());

    reindex_through_api(&app, &mut events).await;
    let index = &health(&app).await["index"];
    assert_eq!(index["status"], "ok", "{index}");
    let after = indexes::active(&app.state.db).await.unwrap().unwrap();
    assert_ne!(after.table_name, before.table_name);
    assert!(after.recipe.contains("input_type sent"), "{}", after.recipe);
    let answer = ask(&app, "What does the lighthouse do in fog?").await;
    assert_eq!(answer["sources"][0]["document_id"], fog.as_str());
}
