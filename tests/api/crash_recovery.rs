//! `kill -9` of a `ragway serve` process at the worst moments, then a
//! restart on the same stores: in the middle of 50 uploads every document
//! still ends `ready` (or `failed`), none stuck and none half-indexed; in the
//! middle of a reindex the old index keeps serving and the reindex resumes.

use std::time::{Duration, Instant};

use futures::future::join_all;
use ragway::store::indexes;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::replicas::{chat, shared, Replica, Shared};
use crate::support::fake_upstream::Fault;

/// A document of a few chunks' worth of text, different for each `n`.
fn text(n: usize) -> String {
    (0..12)
        .map(|i| {
            format!(
                "Harbour notice {n}.{i}: berth {} takes vessels of up to {} metres at tide level {}.",
                n * 7 + i,
                40 + i,
                n % 5
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Polls `check` (a SQL condition, say) until it holds, for at most `limit`.
async fn until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(db: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// `replica` answers `question` with sources.
async fn answers_with_sources(shared: &Shared, replica: &Replica, question: &str) {
    let answer: Value = shared
        .post(
            replica,
            "/v1/chat/completions",
            &shared.admin,
            &chat(question),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !answer["sources"].as_array().unwrap().is_empty(),
        "{answer}"
    );
}

fn kill_9(replica: &mut Replica) {
    // std's Child::kill sends SIGKILL: no shutdown, no lease handed back.
    replica.child.kill().unwrap();
    replica.child.wait().unwrap();
}

/// Every document is settled and its chunks in the active index are exactly
/// the ones its row counts.
async fn every_document_settled_and_whole(shared: &Shared, ids: &[String]) {
    // A job row goes a moment after its document turns ready, once the
    // worker has removed the chunks of the document's earlier runs (a run
    // cut off by the kill): none stays, and only then are chunks counted.
    until("no job left", Duration::from_secs(30), || async {
        count(&shared.db, "SELECT COUNT(*) FROM jobs").await == 0
    })
    .await;
    let (store, table) = shared.vectors().await;
    for id in ids {
        let row: (String, i64) =
            sqlx::query_as("SELECT status, chunk_count FROM documents WHERE id = $1")
                .bind(id)
                .fetch_one(&shared.db)
                .await
                .unwrap();
        let stored = store.count_document(&table, id).await.unwrap() as i64;
        match row.0.as_str() {
            "ready" => assert_eq!(
                stored, row.1,
                "document {id}: chunks stored against counted"
            ),
            "failed" => assert_eq!(stored, 0, "failed document {id} left chunks"),
            other => panic!("document {id} is stuck in {other}"),
        }
    }
}

#[tokio::test]
async fn kill_9_in_the_middle_of_50_uploads_leaves_no_document_stuck_or_half_indexed() {
    let shared = shared().await;
    let mut a = shared.replica("a").await;
    let ids: Vec<String> = join_all((0..50).map(|n| {
        let (shared, a) = (&shared, &a);
        async move { shared.upload(a, &format!("Notice {n}"), &text(n)).await }
    }))
    .await;
    // Let some documents finish, then freeze the embeddings: the rest are
    // mid-way (claimed, partly embedded) or still queued when A dies.
    until("ten documents ready", Duration::from_secs(120), || async {
        count(
            &shared.db,
            "SELECT COUNT(*) FROM documents WHERE status = 'ready'",
        )
        .await
            >= 10
    })
    .await;
    shared.upstream.set_fault(Fault::Hang);
    kill_9(&mut a);
    let settled = count(
        &shared.db,
        "SELECT COUNT(*) FROM documents WHERE status IN ('ready', 'failed')",
    )
    .await;
    assert!(settled < 50, "every document was done before the kill");

    // The restart: a new process on the same stores takes the jobs over once A's leases run out.
    shared.upstream.set_fault(Fault::None);
    let b = shared.replica("b").await;
    for id in &ids {
        shared.ready(&b, id).await;
    }
    every_document_settled_and_whole(&shared, &ids).await;
    // And they answer.
    answers_with_sources(&shared, &b, "berth 345 vessels").await;
}

#[tokio::test]
async fn kill_9_during_a_reindex_leaves_the_old_index_serving_and_it_resumes() {
    let shared = shared().await;
    let mut a = shared.replica("a").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = shared.upload(&a, &format!("Notice {n}"), &text(n)).await;
        shared.ready(&a, &id).await;
        ids.push(id);
    }
    kill_9(&mut a);
    let old = indexes::active(&shared.db).await.unwrap().unwrap();

    // B is configured with another embedding model and starts the reindex;
    // its embeddings hang, so it dies mid-way.
    let new_model = [("RAGWAY_EMBED_MODEL", "fake-small")];
    let mut b = shared.replica_with("b", &new_model).await;
    shared.upstream.set_fault(Fault::Hang);
    let started = shared
        .post(&b, "/api/admin/reindex", &shared.admin, &json!({}))
        .await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    until(
        "the reindex job running",
        Duration::from_secs(60),
        || async {
            count(
                &shared.db,
                "SELECT COUNT(*) FROM jobs WHERE kind = 'reindex' AND status = 'running'",
            )
            .await
                == 1
        },
    )
    .await;
    kill_9(&mut b);
    shared.upstream.set_fault(Fault::None);

    // The old index is still the active one, whole.
    let active = indexes::active(&shared.db).await.unwrap().unwrap();
    assert_eq!(
        (active.id.as_str(), active.model.as_str()),
        (old.id.as_str(), old.model.as_str())
    );
    every_document_settled_and_whole_in(&shared, &ids, &old.table_name).await;
    // A process still on the old model answers from it.
    let c = shared.replica("c").await;
    answers_with_sources(&shared, &c, "berth 23 vessels").await;
    drop(c);

    // A process on the new model takes the reindex over and finishes it.
    let d = shared.replica_with("d", &new_model).await;
    until("the reindex done", Duration::from_secs(120), || async {
        let status: Value = shared
            .get(&d, "/api/admin/reindex", &shared.admin)
            .await
            .json()
            .await
            .unwrap();
        status["status"] == "ok"
    })
    .await;
    let active = indexes::active(&shared.db).await.unwrap().unwrap();
    assert_eq!(active.model, "fake-small");
    every_document_settled_and_whole(&shared, &ids).await;
}

/// [`every_document_settled_and_whole`] against a given table.
async fn every_document_settled_and_whole_in(shared: &Shared, ids: &[String], table: &str) {
    let (store, _) = shared.vectors().await;
    for id in ids {
        let counted: i64 = sqlx::query_scalar("SELECT chunk_count FROM documents WHERE id = $1")
            .bind(id)
            .fetch_one(&shared.db)
            .await
            .unwrap();
        assert_eq!(
            store.count_document(table, id).await.unwrap() as i64,
            counted
        );
    }
}
