//! The request log and the daily usage: what each request leaves behind,
//! the admin's filters and pages, a stream cut mid-way, retention, and
//! logging turned off.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp};
use crate::support::fake_upstream::Fault;

/// The id of the key whose secret is `secret`.
async fn key_id(app: &TestApp, secret: &str) -> String {
    let keys = app.get_json("/api/admin/keys", &app.admin_key).await;
    keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| secret.starts_with(k["prefix"].as_str().unwrap()))
        .expect("the key is listed")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn rows(page: &Value) -> &Vec<Value> {
    page["data"].as_array().expect("a list of rows")
}

#[tokio::test]
async fn each_request_leaves_a_row_with_its_key_model_tokens_and_timings() {
    let app = spawn_app().await;
    let user = key_id(&app, &app.user_key).await;
    let answer = app
        .chat_json(
            &app.user_key,
            &app.chat_body("When does the ferry leave?", false),
        )
        .await;
    let streamed = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&app.user_key)
        .header("user-agent", "OpenAI/Python 1.99.0")
        .json(&app.chat_body("And the last one?", true))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::OK);
    let streamed_bytes = streamed.bytes().await.unwrap().len() as i64;
    let unknown = app
        .chat(
            &app.user_key,
            None,
            &json!({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "model_not_found").await;
    app.logged(3).await;

    let page = app.logs("").await;
    let logged = rows(&page);
    assert_eq!(logged.len(), 3, "{page}");
    // Newest first.
    let (missing, stream, plain) = (&logged[0], &logged[1], &logged[2]);

    assert_eq!(plain["key_id"], user.as_str());
    assert_eq!(plain["method"], "POST");
    assert_eq!(plain["endpoint"], "/v1/chat/completions");
    assert_eq!(plain["model"], app.settings.public_model.as_str());
    assert_eq!(plain["upstream_model"], "fake-chat");
    assert_eq!(plain["status"], 200);
    assert_eq!(plain["stream"], false);
    assert_eq!(plain["client_ip"], "127.0.0.1");
    assert_eq!(plain["prompt_tokens"], answer["usage"]["prompt_tokens"]);
    assert_eq!(
        plain["completion_tokens"],
        answer["usage"]["completion_tokens"]
    );
    assert_eq!(plain["total_tokens"], answer["usage"]["total_tokens"]);
    assert_eq!(plain["conversation_id"], answer["conversation_id"]);
    assert!(plain["request_bytes"].as_i64().unwrap() > 50, "{plain}");
    assert!(plain["response_bytes"].as_i64().unwrap() > 50, "{plain}");
    assert!(plain["retrieval_ms"].is_i64(), "{plain}");
    assert!(plain["latency_ms"].as_i64().unwrap() >= plain["ttft_ms"].as_i64().unwrap());
    assert!(plain["error"].is_null());
    // The upstream key as a fingerprint, never the key.
    let fingerprint = plain["upstream_key"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 8);
    assert!(!page.to_string().contains("sk-upstream-chat"));

    assert_eq!(stream["stream"], true);
    assert_eq!(stream["status"], 200);
    assert_eq!(stream["user_agent"], "OpenAI/Python 1.99.0");
    assert_eq!(stream["response_bytes"], streamed_bytes);
    assert!(stream["total_tokens"].as_i64().unwrap() > 0, "{stream}");
    assert!(stream["error"].is_null(), "{stream}");

    assert_eq!(missing["status"], 404);
    assert_eq!(missing["model"], Value::Null);
    assert!(
        missing["error"].as_str().unwrap().contains("nope"),
        "{missing}"
    );

    // The day's usage adds the three up (the failed one has no tokens).
    let usage = app.get_json("/api/admin/usage", &app.admin_key).await;
    let days = usage["data"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{usage}");
    assert_eq!(days[0]["key_id"], user.as_str());
    assert_eq!(days[0]["key_name"], "test-user");
    assert_eq!(days[0]["requests"], 3);
    let tokens = plain["total_tokens"].as_i64().unwrap() + stream["total_tokens"].as_i64().unwrap();
    assert_eq!(days[0]["total_tokens"], tokens);
    assert_eq!(usage["total"]["requests"], 3);
    assert_eq!(usage["dropped_log_rows"], 0);
}

#[tokio::test]
async fn the_admin_filters_and_pages_the_log() {
    let app = spawn_app().await;
    let other = app.new_user_key("other").await;
    for n in 0..3 {
        app.chat_json(
            &app.user_key,
            &app.chat_body(&format!("Question {n}"), false),
        )
        .await;
    }
    app.chat_json(&other, &app.chat_body("Mine", false)).await;
    let response = app.get("/v1/documents/missing", &app.admin_key).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.logged(5).await;

    let user = key_id(&app, &app.user_key).await;
    let theirs = app.logs(&format!("key_id={user}")).await;
    assert_eq!(rows(&theirs).len(), 3);
    assert!(rows(&theirs).iter().all(|r| r["key_id"] == user.as_str()));

    let errors = app.logs("status=error").await;
    assert_eq!(rows(&errors).len(), 1);
    assert_eq!(rows(&errors)[0]["endpoint"], "/v1/documents/missing");
    assert_eq!(rows(&app.logs("status=404").await).len(), 1);
    assert_eq!(rows(&app.logs("status=ok").await).len(), 4);
    assert_eq!(rows(&app.logs("endpoint=/v1/chat").await).len(), 4);
    assert_eq!(rows(&app.logs("endpoint=/v1/doc").await).len(), 1);
    assert_eq!(rows(&app.logs("model=ragway").await).len(), 4);

    let first = app.logs("limit=2").await;
    assert_eq!(rows(&first).len(), 2);
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.logs(&format!("limit=2&after={cursor}")).await;
    let third = app
        .logs(&format!(
            "limit=2&after={}",
            second["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rows(&third).len(), 1);
    assert_eq!(third["has_more"], false);
    assert!(third["next_cursor"].is_null());
    let mut ids: Vec<&str> = [&first, &second, &third]
        .iter()
        .flat_map(|p| rows(p).iter().map(|r| r["id"].as_str().unwrap()))
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every row once");

    let since = rows(&first)[0]["created_at"].as_i64().unwrap();
    let recent = app.logs(&format!("since={since}")).await;
    assert!(!rows(&recent).is_empty());
    assert!(rows(&recent)
        .iter()
        .all(|r| r["created_at"].as_i64().unwrap() >= since));

    for bad in ["status=teapot", "status=999", "limit=0", "since=yesterday"] {
        let response = app
            .get(&format!("/api/admin/logs?{bad}"), &app.admin_key)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let response = app
        .get("/api/admin/usage?from=2026-13-01", &app.admin_key)
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let response = app
        .get(
            "/api/admin/usage?from=2026-12-02&to=2026-12-01",
            &app.admin_key,
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let usage = app
        .get_json(&format!("/api/admin/usage?key_id={user}"), &app.admin_key)
        .await;
    assert_eq!(usage["total"]["requests"], 3);
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_logged_with_its_error() {
    let app = spawn_app().await;
    app.upstream.set_fault(Fault::CutStream);
    let response = app
        .chat(
            &app.user_key,
            None,
            &app.chat_body("Tell me everything", true),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.unwrap();
    assert!(body.contains("stream_interrupted"), "{body}");
    app.logged(1).await;
    let page = app.logs("").await;
    let row = &rows(&page)[0];
    assert_eq!(row["status"], 200);
    assert_eq!(row["stream"], true);
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("before the answer was complete"),
        "{row}"
    );
}

#[tokio::test]
async fn rows_past_the_retention_are_deleted_and_logging_can_be_off() {
    let app = spawn_app_with(|s| s.log_retention_days = 7).await;
    let old = ragway::domain::clock::now_ms() - 8 * 86_400_000;
    sqlx::query(
        "INSERT INTO request_logs (id, created_at, method, endpoint, request_bytes, response_bytes, \
         stream, status, latency_ms, retries) VALUES ('old', $1, 'GET', '/v1/models', 0, 0, 0, 200, 1, 0)",
    )
    .bind(old)
    .execute(&app.state.db)
    .await
    .unwrap();
    let response = app.get("/v1/models", &app.user_key).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap();
    app.logged(1).await;
    let page = app.logs("").await;
    assert_eq!(rows(&page).len(), 1, "{page}");
    assert_eq!(rows(&page)[0]["endpoint"], "/v1/models");

    let (app, _) = app.restart_with(|s| s.request_logs = false).await;
    let response = app.get("/v1/models", &app.user_key).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap();
    app.state.request_log.flush().await;
    assert_eq!(*app.state.request_log.handed().borrow(), 0);
    assert_eq!(rows(&app.logs("").await).len(), 1, "nothing new was logged");
}

/// PATCH the key `id` through the admin API.
async fn patch_key(app: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    app.request(
        reqwest::Method::PATCH,
        &format!("/api/admin/keys/{id}"),
        &app.admin_key,
        Some(body),
    )
    .await
}

/// Create a user key with `limits` through the admin API: (id, secret).
async fn limited_key(app: &TestApp, limits: Value) -> (String, String) {
    let mut body = json!({"name": "limited"});
    body.as_object_mut()
        .unwrap()
        .extend(limits.as_object().unwrap().clone());
    let response = app
        .post_json("/api/admin/keys", &app.admin_key, &body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let key: Value = response.json().await.unwrap();
    (
        key["id"].as_str().unwrap().to_string(),
        key["key"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_key_over_its_requests_per_minute_waits() {
    let app = spawn_app().await;
    let (id, secret) = limited_key(&app, json!({"requests_per_minute": 2})).await;
    for _ in 0..2 {
        assert_eq!(
            app.get("/v1/models", &secret).await.status(),
            StatusCode::OK
        );
    }
    let refused = app.get("/v1/models", &secret).await;
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body = assert_error(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 requests per minute"));
    // Other keys are not held up; lifting the limit lets this one through.
    assert_eq!(
        app.get("/v1/models", &app.user_key).await.status(),
        StatusCode::OK
    );
    let response = patch_key(&app, &id, &json!({"requests_per_minute": null})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let key: Value = response.json().await.unwrap();
    assert!(key["requests_per_minute"].is_null(), "{key}");
    assert_eq!(
        app.get("/v1/models", &secret).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_key_over_its_tokens_per_day_is_refused_until_midnight() {
    let app = spawn_app().await;
    let (id, secret) = limited_key(&app, json!({"tokens_per_day": 5})).await;
    let first = app
        .chat(
            &secret,
            None,
            &app.chat_body("How deep is the harbour?", false),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    first.bytes().await.unwrap();
    app.logged(1).await;

    let refused = app
        .chat(&secret, None, &app.chat_body("And at low tide?", false))
        .await;
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let body = assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "insufficient_quota").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("00:00 UTC"));
    // Only chat spends tokens: the rest of the API still answers.
    assert_eq!(
        app.get("/v1/models", &secret).await.status(),
        StatusCode::OK
    );

    let response = patch_key(
        &app,
        &id,
        &json!({"tokens_per_day": 1_000_000, "name": "roomier"}),
    )
    .await;
    let key: Value = response.json().await.unwrap();
    assert_eq!(key["tokens_per_day"], 1_000_000);
    assert_eq!(key["name"], "roomier");
    let again = app
        .chat(&secret, None, &app.chat_body("And at low tide?", false))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_limits_are_refused_with_the_reason() {
    let app = spawn_app().await;
    for body in [
        json!({"name": "x", "requests_per_minute": 0}),
        json!({"name": "x", "tokens_per_day": "many"}),
        json!({"name": "x", "tokens_per_day": 1.5}),
        json!({"name": "x", "quota": 5}),
    ] {
        let response = app
            .post_json("/api/admin/keys", &app.admin_key, &body)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let (id, _) = limited_key(&app, json!({})).await;
    for body in [
        json!({"role": "admin"}),
        json!({"name": ""}),
        json!({"expires_at": "soon"}),
    ] {
        let response = patch_key(&app, &id, &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let response = app
        .request(
            reqwest::Method::PATCH,
            "/api/admin/keys/no-such-key",
            &app.admin_key,
            Some(&json!({"name": "y"})),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_command_line_creates_keys_with_limits() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ragway"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RAGWAY_DATA_DIR", data.path())
            .output()
            .expect("ragway runs")
    };
    let made = run(&[
        "keys",
        "create",
        "--name",
        "ferry office",
        "--requests-per-minute",
        "30",
        "--tokens-per-day",
        "50000",
    ]);
    assert!(made.status.success(), "{made:?}");
    let refused = run(&[
        "keys",
        "create",
        "--name",
        "x",
        "--requests-per-minute",
        "0",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("requests-per-minute"));

    let db = ragway::store::sql::connect(&format!(
        "sqlite://{}?mode=rwc",
        data.path().join("ragway.db").display()
    ))
    .await
    .unwrap();
    let keys = ragway::auth::keys::list(&db).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "ferry office");
    assert_eq!(keys[0].limits.requests_per_minute, Some(30));
    assert_eq!(keys[0].limits.tokens_per_day, Some(50_000));
}

#[tokio::test]
async fn a_refused_revoked_key_is_logged_under_its_id() {
    let app = spawn_app().await;
    let (id, secret) = limited_key(&app, json!({})).await;
    let revoked = app
        .delete(&format!("/api/admin/keys/{id}"), &app.admin_key)
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let refused = app.get("/v1/models", &secret).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    refused.bytes().await.unwrap();
    let unknown = app.get("/v1/models", "sk-not-a-key-at-all").await;
    unknown.bytes().await.unwrap();
    app.logged(2).await;
    let page = app.logs("status=401").await;
    let logged = rows(&page);
    assert_eq!(logged.len(), 2, "{page}");
    assert!(logged[0]["key_id"].is_null(), "an unknown key has no id");
    assert_eq!(logged[1]["key_id"], id.as_str());
    assert!(logged[1]["error"].as_str().unwrap().contains("revoked"));
}

#[tokio::test]
async fn the_admin_sessions_requests_are_logged_under_its_name() {
    let app = spawn_app().await;
    let (cookie, _) = crate::admin::set_up(&app).await;
    for path in ["/v1/collections", "/v1/documents"] {
        let response =
            crate::admin::as_browser(&app, reqwest::Method::GET, path, &cookie, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap();
    }
    app.logged(2).await;
    let page = app.logs("").await;
    assert_eq!(rows(&page).len(), 2, "{page}");
    assert!(
        rows(&page).iter().all(|r| r["key_id"] == "admin-session"),
        "{page}"
    );
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_documents_in_prometheus_text() {
    let app = spawn_app().await;
    app.ingest_text("Tides", "High tide is at noon.").await;
    app.chat_json(&app.user_key, &app.chat_body("When is high tide?", false))
        .await;
    let missing = app.get("/v1/documents/nope", &app.admin_key).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    missing.bytes().await.unwrap();
    app.logged(3).await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let line = |name: &str, labels: &[&str]| -> Option<f64> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(
        line(
            "ragway_http_requests_total",
            &[
                r#"route="/v1/chat/completions""#,
                r#"status="200""#,
                r#"method="POST""#
            ]
        ),
        Some(1.0),
        "{text}"
    );
    // The route's template, not the id.
    assert_eq!(
        line(
            "ragway_http_requests_total",
            &[r#"route="/v1/documents/{id}""#, r#"status="404""#]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(line("ragway_tokens_total", &[r#"kind="prompt""#]).unwrap() > 0.0);
    assert!(
        text.contains("ragway_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert_eq!(line("ragway_documents", &[r#"status="ready""#]), Some(1.0));
    assert_eq!(line("ragway_request_log_dropped_rows", &[]), Some(0.0));
    assert_eq!(
        line("ragway_upstream_configured", &[r#"provider="chat""#]),
        Some(1.0)
    );
    assert_eq!(
        line("ragway_upstream_configured", &[r#"provider="images""#]),
        Some(0.0)
    );
}
