//! Two `ragway serve` processes sharing one database, blob store and
//! LanceDB, as replicas behind a load balancer do: PostgreSQL and an S3
//! bucket in the scaled-out pass of the test script (`RAGWAY_TEST_POSTGRES`,
//! `RAGWAY_TEST_S3`), a SQLite file and local directories otherwise. Neither
//! replica has a data directory it could write to: they keep nothing of
//! their own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ragway::auth::keys::{self, Role};
use ragway::config::Settings;
use ragway::store::s3::S3Options;
use ragway::store::vectors::VectorStore;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::{fresh_postgres_database, use_test_bucket};
use crate::support::fake_upstream::{FakeUpstream, Fault};

const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The stores both replicas use, the upstream they call and an admin key.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) upstream: FakeUpstream,
    dir: TempDir,
    pub(crate) db: sqlx::AnyPool,
    pub(crate) admin: String,
    client: reqwest::Client,
}

pub(crate) struct Replica {
    pub(crate) url: String,
    pub(crate) child: Child,
    log: std::path::PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub(crate) async fn shared() -> Shared {
    let upstream = FakeUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        database_url: Some(fresh_postgres_database().await.unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("shared.db").display()
            )
        })),
        blob_url: Some(format!("file://{}", dir.path().join("blobs").display())),
        vector_url: Some(dir.path().join("lancedb").display().to_string()),
        ..Settings::default()
    };
    use_test_bucket(&mut settings);
    let db = ragway::store::sql::connect(&settings.database_url())
        .await
        .unwrap();
    let admin = keys::create(&db, "replicas-admin", Role::Admin)
        .await
        .unwrap()
        .secret;
    Shared {
        settings,
        upstream,
        dir,
        db,
        admin,
        client: reqwest::Client::new(),
    }
}

impl Shared {
    /// Start a replica and wait until it answers.
    pub(crate) async fn replica(&self, name: &str) -> Replica {
        self.replica_with(name, &[]).await
    }

    /// A replica with some settings of its own (`RAGWAY_*` variables).
    pub(crate) async fn replica_with(&self, name: &str, env: &[(&str, &str)]) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A data directory under a plain file cannot be created: a replica
        // that tried to keep anything there would fail.
        let blocker = self.dir.path().join(format!("{name}-not-a-directory"));
        std::fs::write(&blocker, b"").unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        let s = &self.settings;
        let mut command = Command::new(env!("CARGO_BIN_EXE_ragway"));
        command
            .arg("serve")
            .current_dir(self.dir.path())
            .env("RAGWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RAGWAY_DATA_DIR", blocker.join("data"))
            .env("DATABASE_URL", s.database_url())
            .env("RAGWAY_BLOB_URL", s.blob_url())
            .env("RAGWAY_VECTOR_URL", s.vector_url())
            .env("RAGWAY_SECRET_KEY", SECRET)
            .env("RAGWAY_CHAT_BASE_URL", &self.upstream.base_url)
            .env("RAGWAY_CHAT_API_KEY", "sk-upstream-chat")
            .env("RAGWAY_CHAT_MODEL", "fake-chat")
            .env("RAGWAY_EMBED_BASE_URL", &self.upstream.base_url)
            .env("RAGWAY_EMBED_API_KEY", "sk-upstream-embed")
            .env("RAGWAY_JOB_LEASE_SECS", "3")
            .env("RAGWAY_RETRY_BASE_MS", "1")
            .env("RAGWAY_RETRY_MAX_MS", "10")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .envs(env.iter().copied());
        for (name, value) in [
            ("RAGWAY_S3_ENDPOINT", &s.s3_endpoint),
            ("RAGWAY_S3_REGION", &s.s3_region),
        ] {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let mut replica = Replica {
            url: format!("http://127.0.0.1:{port}"),
            child: command.spawn().expect("ragway starts"),
            log,
        };
        let started = Instant::now();
        loop {
            if let Ok(response) = self
                .client
                .get(format!("{}/health", replica.url))
                .send()
                .await
            {
                if response.status().is_success() {
                    return replica;
                }
            }
            if let Ok(Some(status)) = replica.child.try_wait() {
                panic!("replica {name} exited with {status}:\n{}", replica.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "replica {name} did not answer:\n{}",
                replica.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn post(
        &self,
        replica: &Replica,
        path: &str,
        key: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", replica.url))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, replica: &Replica, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", replica.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn upload(&self, replica: &Replica, title: &str, text: &str) -> String {
        let response = self
            .post(
                replica,
                "/v1/documents",
                &self.admin,
                &json!({"title": title, "text": text}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Poll `replica` until document `id` is ready (what `?wait` does, across replicas).
    pub(crate) async fn ready(&self, replica: &Replica, id: &str) {
        let started = Instant::now();
        loop {
            let shown: Value = self
                .get(replica, &format!("/v1/documents/{id}"), &self.admin)
                .await
                .json()
                .await
                .unwrap();
            match shown["status"].as_str() {
                Some("ready") => return,
                Some("failed") => panic!("document {id} failed: {shown}"),
                _ => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "document {id} is not ready: {shown}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn vectors(&self) -> (VectorStore, String) {
        let store = VectorStore::open_with(
            &self.settings.vector_url(),
            &S3Options::from_settings(&self.settings),
        )
        .await
        .unwrap();
        let index = ragway::store::indexes::active(&self.db)
            .await
            .unwrap()
            .expect("an active index");
        (store, index.table_name)
    }
}

pub(crate) fn chat(question: &str) -> Value {
    json!({"model": "ragway", "messages": [{"role": "user", "content": question}]})
}

#[tokio::test]
async fn two_replicas_share_documents_conversations_keys_and_writes() {
    let shared = shared().await;
    let a = shared.replica("a").await;
    let b = shared.replica("b").await;

    // Uploaded through A, retrievable through B (whose table handle sees
    // A's commits within the vector store's refresh interval).
    let id = shared
        .upload(
            &a,
            "Ferries",
            "The night ferry to Lindholm leaves at 23:40 from pier 7.",
        )
        .await;
    shared.ready(&b, &id).await;
    let started = Instant::now();
    loop {
        let answer: Value = shared
            .post(
                &b,
                "/v1/chat/completions",
                &shared.admin,
                &chat("When does the night ferry leave?"),
            )
            .await
            .json()
            .await
            .unwrap();
        if answer["sources"][0]["document_id"] == id.as_str() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "B never found it: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A conversation started on A continues on B with only the new message.
    let first = shared
        .post(
            &a,
            "/v1/chat/completions",
            &shared.admin,
            &chat("Which pier?"),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let conversation = first.json::<Value>().await.unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut next = chat("And the time?");
    next["conversation_id"] = json!(conversation);
    let second = shared
        .post(&b, "/v1/chat/completions", &shared.admin, &next)
        .await;
    assert_eq!(second.status(), StatusCode::OK);
    let sent = shared.upstream.chat_requests().pop().unwrap();
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(contents.len(), 3, "{sent}");
    assert_eq!(contents[0], "Which pier?");
    let stored: Value = shared
        .get(
            &b,
            &format!("/v1/conversations/{conversation}"),
            &shared.admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["messages"].as_array().unwrap().len(), 4, "{stored}");

    // A key revoked on A is refused by B within a second: B keeps the keys
    // it has read for at most `known::FRESH_FOR`.
    let created: Value = shared
        .post(
            &a,
            "/api/admin/keys",
            &shared.admin,
            &json!({"name": "leaver"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["key"].as_str().unwrap();
    assert_eq!(
        shared.get(&b, "/v1/models", secret).await.status(),
        StatusCode::OK
    );
    let revoked = shared
        .client
        .delete(format!(
            "{}/api/admin/keys/{}",
            a.url,
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&shared.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let since = std::time::Instant::now();
    loop {
        let status = shared.get(&b, "/v1/models", secret).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        // The bound is a time: what is kept expires FRESH_FOR after it was read
        // (before the revoke), so B refuses the key by then. The margin is for
        // a loaded machine's request latency, not for the cache.
        assert!(
            since.elapsed() < ragway::known::FRESH_FOR + std::time::Duration::from_millis(500),
            "B still accepts a key revoked on A {:?} later",
            since.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Both replicas upload at once: every document's chunk is stored exactly
    // once (no commit of one replica overwrote the other's).
    let uploads = (0..200).map(|i| {
        let (shared, replica) = (&shared, if i % 2 == 0 { &a } else { &b });
        async move {
            shared
                .upload(
                    replica,
                    &format!("Note {i}"),
                    &format!("Replica note number {i} about topic {}.", i * 7919),
                )
                .await
        }
    });
    let mut ids = futures::future::join_all(uploads).await;
    for id in &ids {
        shared.ready(&a, id).await;
    }
    ids.push(id);
    let (store, table) = shared.vectors().await;
    assert_eq!(store.count_rows(&table).await.unwrap(), ids.len());
    let stored = store.document_ids(&table).await.unwrap();
    assert_eq!(
        stored,
        ids.into_iter().collect::<std::collections::HashSet<_>>()
    );
    assert!(
        !a.log().contains("ERROR") && !b.log().contains("ERROR"),
        "A:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
}

#[tokio::test]
async fn a_job_held_by_a_live_replica_is_left_alone_and_taken_over_when_it_dies() {
    let shared = shared().await;
    let mut a = shared.replica("a").await;
    // A claims the document and hangs on the embeddings.
    shared.upstream.set_fault(Fault::Hang);
    let id = shared
        .upload(&a, "Hangar", "The hangar doors close at dusk every day.")
        .await;
    let lease = |db: &sqlx::AnyPool| {
        let db = db.clone();
        async move {
            let row: Option<(String, i64, i64)> = sqlx::query_as(
                "SELECT lease_owner, lease_until, attempts FROM jobs WHERE status = 'running'",
            )
            .fetch_optional(&db)
            .await
            .unwrap();
            row
        }
    };
    let started = Instant::now();
    let (owner, first_until, attempts) = loop {
        if let Some(held) = lease(&shared.db).await {
            break held;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "A never claimed the job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(attempts, 1);
    let b = shared.replica("b").await;
    // While A lives it renews its lease, and B does not take the job.
    let started = Instant::now();
    loop {
        let (now_owner, until, now_attempts) = lease(&shared.db).await.expect("the job runs");
        assert_eq!((now_owner.as_str(), now_attempts), (owner.as_str(), 1));
        if until > first_until {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "A never renewed its lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A dies mid-job; once its lease runs out, B finishes the document.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    shared.upstream.set_fault(Fault::None);
    shared.ready(&b, &id).await;
    let (store, table) = shared.vectors().await;
    assert_eq!(store.count_document(&table, &id).await.unwrap(), 1);
    let shown: Value = shared
        .get(&b, &format!("/v1/documents/{id}"), &shared.admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["chunk_count"], 1);
}
