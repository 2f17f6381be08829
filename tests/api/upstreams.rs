//! Upstream key pools: round-robin, a 429 cools a key down per model, a
//! refused key is blocked until enabled, failures before the first byte are
//! retried on the next key (never once the answer has started), and the
//! admin sees and changes the pool through `/api/admin/upstreams`. Keys
//! that turn a call away at once (429, 401, 403) cost no attempt; only slow
//! failures count against `RAGWAY_UPSTREAM_ATTEMPTS`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, conversation_id, spawn_app_with, sse_data, TestApp};
use crate::support::fake_upstream::Fault;
use ragway::upstream::pool::fingerprint;

const ONE: &str = "sk-pool-key-one-0001";
const TWO: &str = "sk-pool-key-two-0002";

/// An app whose chat and embeddings upstreams each have the keys ONE and TWO.
async fn pooled() -> TestApp {
    spawn_app_with(|s| {
        s.chat_api_key = Some(format!("{ONE}, {TWO}").into());
        s.embed_api_key = Some(format!("{ONE},{TWO}").into());
    })
    .await
}

/// The chat pool as the admin API shows it.
async fn chat_pool(app: &TestApp) -> Value {
    let all = app.get_json("/api/admin/upstreams", &app.admin_key).await;
    all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "chat")
        .cloned()
        .unwrap()
}

/// The key with this fingerprint in a pool view.
fn key<'a>(pool: &'a Value, secret: &str) -> &'a Value {
    let fp = fingerprint(Some(secret));
    pool["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["fingerprint"] == fp.as_str())
        .unwrap_or_else(|| panic!("no key {fp} in {pool}"))
}

async fn ask(app: &TestApp, question: &str, stream: bool) -> reqwest::Response {
    app.post_json(
        "/v1/chat/completions",
        &app.user_key,
        &app.chat_body(question, stream),
    )
    .await
}

/// The newest request log row.
async fn last_log(app: &TestApp, count: u64) -> Value {
    app.logged(count).await;
    let page = app.logs("endpoint=/v1/chat/completions").await;
    page["data"][0].clone()
}

#[tokio::test]
async fn calls_go_round_robin_over_the_keys() {
    let app = pooled().await;
    for i in 0..4 {
        let response = ask(&app, &format!("question {i}"), false).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let chat_keys: Vec<String> = app
        .upstream
        .auth_headers()
        .into_iter()
        .map(|h| h.trim_start_matches("Bearer ").to_string())
        .collect();
    assert_eq!(chat_keys, [ONE, TWO, ONE, TWO]);
    let pool = chat_pool(&app).await;
    assert_eq!(pool["summary"]["active"], 2);
    assert_eq!(key(&pool, ONE)["requests"], 2);
    assert_eq!(key(&pool, TWO)["requests"], 2);
    // Keys are shown masked, never whole.
    let text = pool.to_string();
    assert!(!text.contains(ONE) && !text.contains(TWO), "{text}");
    assert_eq!(key(&pool, ONE)["key"], "sk-…0001");
}

#[tokio::test]
async fn a_rate_limited_key_cools_down_and_the_next_key_serves() {
    let app = pooled().await;
    app.upstream.set_key_fault(ONE, Fault::RateLimit);
    let response = ask(&app, "Who is on duty?", false).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.upstream.served_keys(), [TWO]);

    let pool = chat_pool(&app).await;
    let one = key(&pool, ONE);
    assert_eq!(one["state"], "cooling", "{pool}");
    assert_eq!(one["cooling"][0]["model"], "fake-chat");
    let until = one["cooling"][0]["until"].as_i64().unwrap();
    let rest = until - ragway::domain::clock::now_ms();
    assert!(
        (5_000..=7_000).contains(&rest),
        "Retry-After 7 s: {rest} ms"
    );
    assert_eq!(one["rate_limited"], 1);
    assert_eq!(key(&pool, TWO)["state"], "active");
    assert_eq!(pool["retries"], 1);
    assert_eq!(pool["errors"]["429"], 1);

    // While ONE rests, every call goes to TWO.
    for i in 0..3 {
        assert_eq!(
            ask(&app, &format!("again {i}"), i % 2 == 0).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.upstream.served_keys(), [TWO, TWO, TWO, TWO]);

    let row = last_log(&app, 4).await;
    assert_eq!(row["retries"], 0);
    let page = app.logs("endpoint=/v1/chat/completions").await;
    let first = page["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(first["retries"], 1, "{first}");
    assert_eq!(first["upstream_key"], fingerprint(Some(TWO)));
}

#[tokio::test]
async fn a_daily_quota_rests_the_key_for_a_day() {
    let app = pooled().await;
    app.upstream.set_key_fault(ONE, Fault::DailyQuota);
    assert_eq!(ask(&app, "hello", false).await.status(), StatusCode::OK);
    let pool = chat_pool(&app).await;
    let one = key(&pool, ONE);
    let rest = one["cooling"][0]["until"].as_i64().unwrap() - ragway::domain::clock::now_ms();
    assert!(rest > 23 * 3_600_000, "{rest} ms");
    assert!(one["cooling"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("daily quota"));
}

#[tokio::test]
async fn a_refused_key_is_blocked_until_an_admin_enables_it() {
    let app = pooled().await;
    app.upstream.set_key_fault(ONE, Fault::Unauthorized);
    assert_eq!(ask(&app, "first", false).await.status(), StatusCode::OK);
    let pool = chat_pool(&app).await;
    let one = key(&pool, ONE);
    assert_eq!(one["state"], "blocked");
    assert!(one["blocked_reason"].as_str().unwrap().contains("401"));
    // Blocked for every replica: the block is in SQL (the admin listing wrote it).
    let fp = fingerprint(Some(ONE));
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM upstream_key_blocks WHERE role = 'chat' AND fingerprint = $1",
    )
    .bind(&fp)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(stored, 1);

    // The provider works again, but the key stays out until enabled.
    app.upstream.set_key_fault(ONE, Fault::None);
    for i in 0..3 {
        assert_eq!(
            ask(&app, &format!("q{i}"), false).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.upstream.served_keys(), [TWO, TWO, TWO, TWO]);

    let enabled = app
        .post_json(
            &format!("/api/admin/upstreams/chat/keys/{fp}/enable"),
            &app.admin_key,
            &json!({}),
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    let view: Value = enabled.json().await.unwrap();
    assert_eq!(key(&view, ONE)["state"], "active");
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM upstream_key_blocks WHERE role = 'chat'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    for i in 0..2 {
        assert_eq!(
            ask(&app, &format!("after {i}"), false).await.status(),
            StatusCode::OK
        );
    }
    let served = app.upstream.served_keys();
    assert!(served[4..].contains(&ONE.to_string()), "{served:?}");

    let missing = app
        .post_json(
            "/api/admin/upstreams/chat/keys/ffffffff/enable",
            &app.admin_key,
            &json!({}),
        )
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "upstream_key_not_found").await;
}

#[tokio::test]
async fn a_block_made_on_another_replica_applies_here() {
    let app = pooled().await;
    let fp = fingerprint(Some(TWO));
    sqlx::query(
        "INSERT INTO upstream_key_blocks (role, fingerprint, reason, blocked_at) VALUES ('chat', $1, '403: elsewhere', 1)",
    )
    .bind(&fp)
    .execute(&app.state.db)
    .await
    .unwrap();
    // What every replica does every few seconds.
    ragway::upstream::providers::load(app.state.providers())
        .await
        .unwrap();
    for i in 0..3 {
        assert_eq!(
            ask(&app, &format!("q{i}"), false).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.upstream.served_keys(), [ONE, ONE, ONE]);
    // Enabled elsewhere (the row is gone): usable here after the next load.
    sqlx::query("DELETE FROM upstream_key_blocks")
        .execute(&app.state.db)
        .await
        .unwrap();
    ragway::upstream::providers::load(app.state.providers())
        .await
        .unwrap();
    assert_eq!(chat_pool(&app).await["summary"]["active"], 2);
}

#[tokio::test]
async fn server_errors_and_timeouts_before_the_first_byte_go_to_the_next_key() {
    let app = spawn_app_with(|s| {
        s.chat_api_key = Some(format!("{ONE},{TWO}").into());
        s.upstream_first_byte_timeout_secs = Some(1);
    })
    .await;
    app.upstream.set_key_fault_times(ONE, Fault::ServerError, 1);
    assert_eq!(
        ask(&app, "five hundred", false).await.status(),
        StatusCode::OK
    );
    // The next pick is ONE again: it hangs, and TWO answers the stream.
    app.upstream.set_key_fault(ONE, Fault::Hang);
    let response = ask(&app, "hanging", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = sse_data(&response.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    assert_eq!(app.upstream.served_keys(), [TWO, TWO]);

    let pool = chat_pool(&app).await;
    assert_eq!(pool["errors"]["500"], 1);
    assert_eq!(pool["errors"]["timeout"], 1);
    assert_eq!(pool["retries"], 2);
    // Neither failure says anything against the key itself.
    assert_eq!(key(&pool, ONE)["state"], "active");
    let row = last_log(&app, 2).await;
    assert_eq!(row["retries"], 1, "{row}");
    assert_eq!(row["stream"], true);
}

#[tokio::test]
async fn a_stream_cut_after_it_started_is_not_retried() {
    let app = pooled().await;
    app.upstream.set_key_fault(ONE, Fault::CutStream);
    let response = ask(&app, "a long story", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = conversation_id(&response);
    let events = sse_data(&response.text().await.unwrap());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted");
    assert_eq!(app.upstream.chat_requests().len(), 1, "no second attempt");
    let conversation = app
        .get_json(&format!("/v1/conversations/{id}"), &app.user_key)
        .await;
    assert_eq!(conversation["messages"][1]["incomplete"], true);
    assert_eq!(conversation["messages"][1]["content"], "Echo: a ");
    let row = last_log(&app, 1).await;
    assert_eq!(row["retries"], 0);
    assert_eq!(row["upstream_key"], fingerprint(Some(ONE)));
}

#[tokio::test]
async fn when_no_key_can_take_a_call_the_client_is_told_why() {
    let app = pooled().await;
    app.upstream.set_fault(Fault::RateLimit);
    let response = ask(&app, "busy?", false).await;
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    // Both keys rest now: refused without a call, with the time to wait.
    let calls = app.upstream.chat_requests().len();
    assert_eq!(calls, 2);
    let response = ask(&app, "still busy?", true).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    assert_eq!(app.upstream.chat_requests().len(), calls);

    app.heal_upstream().await;
    app.upstream.set_fault(Fault::Forbidden);
    let response = ask(&app, "allowed?", false).await;
    assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    let response = ask(&app, "allowed now?", false).await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("blocked"),
        "{body}"
    );
    assert_eq!(chat_pool(&app).await["summary"]["blocked"], 2);
}

#[tokio::test]
async fn the_embeddings_pool_moves_past_a_refused_key() {
    let app = pooled().await;
    app.upstream.set_key_fault(ONE, Fault::Unauthorized);
    let id = app
        .ingest_text("Berths", "Berth four takes tankers up to 200 metres.")
        .await;
    assert!(app.stored_chunks(&id).await > 0);
    let all = app.get_json("/api/admin/upstreams", &app.admin_key).await;
    let embeddings = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "embeddings")
        .unwrap();
    assert_eq!(key(embeddings, ONE)["state"], "blocked");
}

#[tokio::test]
async fn the_admin_adds_and_removes_keys() {
    let app = pooled().await;
    let three = "sk-pool-key-three-0003";
    let added = app
        .post_json(
            "/api/admin/upstreams/chat/keys",
            &app.admin_key,
            &json!({"key": three}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let view: Value = added.json().await.unwrap();
    assert_eq!(view["keys"].as_array().unwrap().len(), 3);
    // Saved as the chat provider (sealed), the keys shown masked.
    let providers = app.get_json("/api/admin/providers", &app.admin_key).await;
    assert_eq!(providers["chat"]["keys"], 3);
    assert_eq!(providers["chat"]["source"], "admin");
    assert!(!providers.to_string().contains(three));
    for i in 0..3 {
        assert_eq!(
            ask(&app, &format!("q{i}"), false).await.status(),
            StatusCode::OK
        );
    }
    assert!(app.upstream.served_keys().contains(&three.to_string()));

    let fp = fingerprint(Some(ONE));
    let removed = app
        .delete(
            &format!("/api/admin/upstreams/chat/keys/{fp}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    let view: Value = removed.json().await.unwrap();
    let left: Vec<&str> = view["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(left, [fingerprint(Some(TWO)), fingerprint(Some(three))]);
    let gone = app
        .delete(
            &format!("/api/admin/upstreams/chat/keys/{fp}"),
            &app.admin_key,
        )
        .await;
    assert_error(gone, StatusCode::NOT_FOUND, "upstream_key_not_found").await;
    let empty = app
        .post_json(
            "/api/admin/upstreams/chat/keys",
            &app.admin_key,
            &json!({"key": " , "}),
        )
        .await;
    assert_error(empty, StatusCode::BAD_REQUEST, "invalid_request").await;
    let no_role = app
        .post_json(
            "/api/admin/upstreams/painting/keys",
            &app.admin_key,
            &json!({"key": "sk-x"}),
        )
        .await;
    assert_eq!(no_role.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_and_metrics_show_the_pools() {
    let app = pooled().await;
    app.upstream.set_key_fault(ONE, Fault::Unauthorized);
    assert_eq!(ask(&app, "hi", false).await.status(), StatusCode::OK);
    let health: Value = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["upstream_keys"]["chat"]["keys"], 2);
    assert_eq!(health["upstream_keys"]["chat"]["blocked"], 1);
    assert_eq!(health["upstream_keys"]["chat"]["active"], 1);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"ragway_upstream_keys{provider="chat",state="blocked"} 1"#,
        r#"ragway_upstream_errors_total{provider="chat",status="401"} 1"#,
        r#"ragway_upstream_retries_total{provider="chat"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

const RATE_LIMITED: &str = "sk-pool-key-429-0429";
const REFUSED: &str = "sk-pool-key-401-0401";
const FORBIDDEN: &str = "sk-pool-key-403-0403";
const BROKEN: &str = "sk-pool-key-500-0500";
const GOOD: &str = "sk-pool-key-good-0200";

/// An app whose chat pool is `keys` (in this order), with `attempts` per call.
async fn pool_of(keys: &[&str], attempts: u32) -> TestApp {
    let keys = keys.join(",");
    spawn_app_with(move |s| {
        s.chat_api_key = Some(keys.into());
        s.upstream_attempts = attempts;
    })
    .await
}

/// Ask `rounds` questions, with every blocked key enabled again before each
/// (so each round meets the bad keys anew): every one must be answered, by `GOOD`.
async fn every_request_succeeds(app: &TestApp, rounds: usize) {
    let before = app.upstream.served_keys().len();
    for round in 0..rounds {
        app.heal_upstream().await;
        let response = ask(app, &format!("round {round}"), round % 2 == 1).await;
        assert_eq!(response.status(), StatusCode::OK, "round {round}");
        response.text().await.unwrap();
    }
    assert_eq!(app.upstream.served_keys()[before..], vec![GOOD; rounds]);
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn keys_that_answer_429_401_or_403_cost_no_attempt() {
    // One attempt in all, and three of four keys turn calls away at once.
    let app = pool_of(&[RATE_LIMITED, REFUSED, FORBIDDEN, GOOD], 1).await;
    app.upstream
        .set_key_fault(RATE_LIMITED, Fault::RateLimitNoWait);
    app.upstream.set_key_fault(REFUSED, Fault::Unauthorized);
    app.upstream.set_key_fault(FORBIDDEN, Fault::Forbidden);
    // The first call starts at the first key and meets all three.
    let response = ask(&app, "first", false).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.upstream.chat_requests().len(), 4);
    let row = last_log(&app, 1).await;
    assert_eq!(row["retries"], 3, "{row}");
    assert_eq!(row["upstream_key"], fingerprint(Some(GOOD)));
    every_request_succeeds(&app, 8).await;
}

#[tokio::test]
async fn with_two_attempts_a_broken_key_among_refusing_ones_is_survived() {
    let app = pool_of(&[RATE_LIMITED, REFUSED, BROKEN, GOOD], 2).await;
    app.upstream
        .set_key_fault(RATE_LIMITED, Fault::RateLimitNoWait);
    app.upstream.set_key_fault(REFUSED, Fault::Unauthorized);
    app.upstream.set_key_fault(BROKEN, Fault::ServerError);
    every_request_succeeds(&app, 9).await;
    let pool = chat_pool(&app).await;
    assert!(pool["errors"]["500"].as_u64().unwrap() >= 1, "{pool}");
}

#[tokio::test]
async fn slow_failures_are_still_bounded_and_each_key_is_tried_once() {
    let four = [ONE, TWO, BROKEN, GOOD];
    // Every key answers 500: two attempts, two upstream calls.
    let app = pool_of(&four, 2).await;
    app.upstream.set_fault(Fault::ServerError);
    let response = ask(&app, "broken?", false).await;
    assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_eq!(app.upstream.chat_requests().len(), 2);

    // Every key answers 429: each is tried once, then the pool is spent.
    let app = pool_of(&four, 1).await;
    app.upstream.set_fault(Fault::RateLimitNoWait);
    let response = ask(&app, "busy?", false).await;
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
    )
    .await;
    let mut tried: Vec<String> = app
        .upstream
        .auth_headers()
        .into_iter()
        .map(|h| h.trim_start_matches("Bearer ").to_string())
        .collect();
    tried.sort();
    let mut all = four.map(str::to_string).to_vec();
    all.sort();
    assert_eq!(tried, all);
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
