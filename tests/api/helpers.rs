//! Starting the app for a test, and small request helpers.

use std::sync::Once;

use ragway::auth::keys::{self, Role};
use ragway::config::Settings;
use ragway::startup::Application;
use ragway::state::{AppState, IngestEvent};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::fake_upstream::{FakeUpstream, Fault};

/// A running app with its fake upstream and two keys.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    pub upstream: FakeUpstream,
    pub admin_key: String,
    pub user_key: String,
    pub state: AppState,
    pub settings: Settings,
    data: TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

static TRACING: Once = Once::new();

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            tracing_subscriber::fmt()
                .with_env_filter("info,lance=warn,lancedb=warn")
                .init();
        }
    });
}

/// Settings for a test app against `upstream` in `data`.
pub fn test_settings(upstream: &FakeUpstream, data: &TempDir) -> Settings {
    Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        chat_base_url: Some(upstream.base_url.clone()),
        chat_api_key: Some("sk-upstream-chat".into()),
        chat_model: Some("fake-chat".into()),
        embed_base_url: Some(format!("{}/v1", upstream.base_url)),
        embed_api_key: Some("sk-upstream-embed".into()),
        // No test reaches the real hub; the built-in model tests fill the
        // models folder themselves (or point at a fake hub).
        models_fetch: false,
        // Retries wait milliseconds, not seconds (an upstream's Retry-After included).
        retry_base_ms: 1,
        retry_max_ms: 10,
        // Text extraction runs in a child process of the real binary (the test binary has no such subcommand).
        extract_program: Some(env!("CARGO_BIN_EXE_ragway").into()),
        ..Settings::default()
    }
}

/// Start an app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Start an app after `adjust` has changed its settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_tracing();
    let upstream = FakeUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&upstream, &data);
    settings.database_url = fresh_postgres_database().await;
    if settings.database_url.is_some() {
        // Replicas sharing PostgreSQL share the server secret from the environment.
        settings.secret_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
    }
    use_test_bucket(&mut settings);
    adjust(&mut settings);
    let (app, _events) = start(settings, upstream, data, String::new(), String::new()).await;
    let admin_key = keys::create(&app.state.db, "test-admin", Role::Admin)
        .await
        .unwrap()
        .secret;
    let user_key = keys::create(&app.state.db, "test-user", Role::User)
        .await
        .unwrap()
        .secret;
    TestApp {
        admin_key,
        user_key,
        ..app
    }
}

/// A new, empty database on the PostgreSQL server named by `RAGWAY_TEST_POSTGRES`
/// (or `DATABASE_URL`), so tests run in parallel; `None` (SQLite) when neither is set.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::{Connection, Executor};
    let server = std::env::var("RAGWAY_TEST_POSTGRES")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|url| url.starts_with("postgres"))?;
    let name = format!("ragway_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("RAGWAY_TEST_POSTGRES is reachable");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("can create a test database");
    let mut url = url::Url::parse(&server).expect("RAGWAY_TEST_POSTGRES is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// With `RAGWAY_TEST_S3` set to an S3-compatible endpoint (the test script
/// starts one), blobs and LanceDB go to a prefix of their own in its bucket
/// `RAGWAY_TEST_S3_BUCKET` (default `ragway-test`) instead of the data directory.
pub fn use_test_bucket(settings: &mut Settings) {
    let Some(endpoint) = std::env::var("RAGWAY_TEST_S3")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        return;
    };
    let bucket =
        std::env::var("RAGWAY_TEST_S3_BUCKET").unwrap_or_else(|_| "ragway-test".to_string());
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    settings.s3_endpoint = Some(endpoint);
    settings.s3_region = Some("us-east-1".into());
    settings.blob_url = Some(format!("s3://{bucket}/{prefix}/blobs"));
    settings.vector_url = Some(format!("s3://{bucket}/{prefix}/lancedb"));
}

/// Stop a server started by [`start`] gracefully and wait until it has.
async fn shut_down(
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let _ = stop.send(());
    server.await.unwrap().expect("clean shutdown");
}

/// Build and run an app; the receiver was subscribed before the ingest workers started.
async fn start(
    settings: Settings,
    upstream: FakeUpstream,
    data: TempDir,
    admin_key: String,
    user_key: String,
) -> (TestApp, tokio::sync::broadcast::Receiver<IngestEvent>) {
    let app = Application::build(settings.clone())
        .await
        .expect("app builds");
    let address = format!("http://{}", app.local_addr().unwrap());
    let state = app.state();
    let events = state.ingest_events.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let app = TestApp {
        address,
        client: reqwest::Client::new(),
        upstream,
        admin_key,
        user_key,
        state,
        settings,
        data,
        stop,
        server,
    };
    (app, events)
}

impl TestApp {
    /// Stop the server gracefully and start a new one on the same data, upstream and keys.
    ///
    /// The receiver sees every ingest event of the new server, from before its workers start.
    pub async fn restart(self) -> (TestApp, tokio::sync::broadcast::Receiver<IngestEvent>) {
        self.restart_with(|_| {}).await
    }

    /// [`Self::restart`] after `adjust` has changed the settings.
    pub async fn restart_with(
        self,
        adjust: impl FnOnce(&mut Settings),
    ) -> (TestApp, tokio::sync::broadcast::Receiver<IngestEvent>) {
        let TestApp {
            upstream,
            admin_key,
            user_key,
            settings,
            data,
            stop,
            server,
            ..
        } = self;
        shut_down(stop, server).await;
        let mut settings = settings;
        adjust(&mut settings);
        start(settings, upstream, data, admin_key, user_key).await
    }

    /// Stop the server gracefully and open a pool of its own on the app's database,
    /// for a test that works the tables by hand with no worker of the app about.
    /// Keep the returned directory alive as long as the pool.
    pub async fn stopped(self) -> (sqlx::AnyPool, TempDir) {
        let TestApp {
            settings,
            data,
            stop,
            server,
            ..
        } = self;
        shut_down(stop, server).await;
        let db = ragway::store::sql::connect(&settings.database_url())
            .await
            .expect("the stopped app's database opens");
        (db, data)
    }

    /// Heal the fake upstream and enable every upstream key it got blocked
    /// or cooling (as an admin would once the provider works again).
    pub async fn heal_upstream(&self) {
        self.upstream.set_fault(Fault::None);
        for role in ragway::upstream::Role::ALL {
            let keys = self.state.upstreams.get(role).pool().views();
            for key in keys.iter().filter(|k| k.state != "active") {
                ragway::upstream::providers::enable_key(
                    self.state.providers(),
                    role,
                    &key.fingerprint,
                )
                .await
                .unwrap();
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POST JSON with a key.
    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// GET with a key.
    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// GET with a key, answering the JSON body whatever the status.
    pub async fn get_json(&self, path: &str, key: &str) -> Value {
        self.get(path, key).await.json().await.unwrap()
    }

    /// POST a multipart form to `/v1/documents` with a key.
    pub async fn upload_form(
        &self,
        key: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        self.client
            .post(self.url("/v1/documents"))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// A document as `GET /v1/documents/{id}` shows it to the admin.
    pub async fn document(&self, id: &str) -> Value {
        let response = self
            .get(&format!("/v1/documents/{id}"), &self.admin_key)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Any request with a key and an optional JSON body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// DELETE with a key.
    pub async fn delete(&self, path: &str, key: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path, key, None).await
    }

    /// POST a JSON document (`title`, `text`, …) as admin, expecting it
    /// queued (202); returns its id without waiting.
    pub async fn submit(&self, body: &Value) -> String {
        let response = self.post_json("/v1/documents", &self.admin_key, body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// [`Self::submit`], then wait until the document is ready; returns its id.
    pub async fn ingest_json(&self, body: &Value) -> String {
        let mut events = self.state.ingest_events.subscribe();
        let id = self.submit(body).await;
        let status = wait_for(&mut events, &id).await;
        assert_eq!(status, "ready", "document {body} did not become ready");
        id
    }

    /// Upload a text document as admin and wait until it is ready; returns its id.
    pub async fn ingest_text(&self, title: &str, text: &str) -> String {
        self.ingest_json(&json!({"title": title, "text": text}))
            .await
    }

    /// Chunks stored for a document in the active index.
    pub async fn stored_chunks(&self, id: &str) -> usize {
        let Some(index) = ragway::store::indexes::active(&self.state.db)
            .await
            .unwrap()
        else {
            return 0;
        };
        self.state
            .vectors
            .count_document(&index.table_name, id)
            .await
            .unwrap()
    }

    /// Wait until `count` requests have been handed to the request log since
    /// the app started, then until the writer has stored them.
    pub async fn logged(&self, count: u64) {
        let mut handed = self.state.request_log.handed();
        handed
            .wait_for(|n| *n >= count)
            .await
            .expect("the request log is alive");
        self.state.request_log.flush().await;
    }

    /// The request log through the admin API (`query` after `?`).
    pub async fn logs(&self, query: &str) -> Value {
        self.get_json(&format!("/api/admin/logs?{query}"), &self.admin_key)
            .await
    }

    /// A new user key's secret.
    pub async fn new_user_key(&self, name: &str) -> String {
        keys::create(&self.state.db, name, Role::User)
            .await
            .unwrap()
            .secret
    }

    /// POST a chat completion with `key`, naming a conversation if given.
    pub async fn chat(
        &self,
        key: &str,
        conversation: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(body);
        if let Some(id) = conversation {
            request = request.header("x-conversation-id", id);
        }
        request.send().await.unwrap()
    }

    /// Chat with `key`, naming no conversation, and read the JSON answer.
    pub async fn chat_json(&self, key: &str, body: &Value) -> Value {
        let response = self.chat(key, None, body).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Create a model through the admin API, expecting 201.
    pub async fn create_model(&self, model: &Value) {
        let created = self
            .post_json("/api/admin/models", &self.admin_key, model)
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }

    /// A non-stream chat body for the public model with these messages.
    pub fn chat_messages(&self, messages: Value) -> Value {
        json!({ "model": self.settings.public_model, "messages": messages })
    }

    /// A chat request body for the public model.
    pub fn chat_body(&self, question: &str, stream: bool) -> Value {
        json!({
            "model": self.settings.public_model,
            "messages": [{"role": "user", "content": question}],
            "stream": stream,
        })
    }
}

/// Wait for document `id` to finish (`ready` or `failed`), from a subscription taken before the upload.
pub async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<IngestEvent>,
    id: &str,
) -> &'static str {
    loop {
        let event = events.recv().await.expect("ingest events flow");
        // `id` is a document's, or `reindex:<index id>` for a reindex.
        let about = match id.strip_prefix("reindex:") {
            Some(index) => event.is_reindex(index),
            None => event.is_document(id),
        };
        if about && event.status != "processing" {
            return event.status.as_str();
        }
    }
}

/// Assert an OpenAI-shaped error with this status and code; returns the body.
pub async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert!(body["error"]["type"].is_string(), "body: {body}");
    body
}

/// The conversation an answer names in `X-Conversation-Id`.
pub fn conversation_id(response: &reqwest::Response) -> String {
    response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The JSON chunks of an SSE answer, which must end with `[DONE]`.
pub fn sse_chunks(body: &str) -> Vec<Value> {
    let events = sse_data(body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// Parse an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The running total of stored bytes of key `key_id`, and the bytes its
/// stored messages really take (their JSON bodies and sources, in bytes).
pub async fn stored_totals(app: &TestApp, key_id: &str) -> (i64, i64) {
    app.state.saver.flush().await;
    let total: Option<i64> =
        sqlx::query_scalar("SELECT bytes FROM key_stored_bytes WHERE key_id = $1")
            .bind(key_id)
            .fetch_optional(&app.state.db)
            .await
            .unwrap();
    let summed: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(OCTET_LENGTH(m.body) + COALESCE(OCTET_LENGTH(m.sources), 0)), 0) \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.key_id = $1",
    )
    .bind(key_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    (total.unwrap_or(0), summed)
}

/// A real `ragway serve` process on port 0 in `data`, against `upstream`
/// for chat and embeddings, with a clean environment: `PATH`, `RUST_LOG`
/// and `extra`; its log (stderr) piped for the test to read.
pub fn serve_process(
    upstream: &FakeUpstream,
    data: &std::path::Path,
    rust_log: &str,
    extra: &[(&str, &str)],
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_ragway"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", rust_log)
        .env("RAGWAY_LISTEN", "127.0.0.1:0")
        .env("RAGWAY_DATA_DIR", data)
        .env("RAGWAY_CHAT_BASE_URL", &upstream.base_url)
        .env("RAGWAY_CHAT_MODEL", "fake-chat")
        .env("RAGWAY_EMBED_BASE_URL", &upstream.base_url)
        .envs(extra.iter().copied())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ragway serve starts")
}
