//! Hostile callers of the server itself: login floods and races, slow or many connections, /health without a key.

use std::time::{Duration, Instant};

use futures::future::join_all;
use ragway::auth::admin::{BUSY_RETRY_SECS, FREE_FAILURES};
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::admin::{as_browser, set_up, PASSWORD};
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// How long a test waits for the server to do what it must before failing
/// (a safety net against hanging, never a pause for time to pass).
const PATIENCE: Duration = Duration::from_secs(60);

async fn assert_still_healthy(app: &TestApp) {
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// A login attempt, relayed by a trusted proxy for `client` when one is given.
async fn log_in(app: &TestApp, client: Option<&str>, password: &str) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/admin/login"));
    if let Some(client) = client {
        request = request.header("x-forwarded-for", client);
    }
    request
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap()
}

/// The statuses of `responses`, checking that each 429 says how long to wait.
fn statuses(responses: Vec<reqwest::Response>) -> Vec<StatusCode> {
    responses
        .into_iter()
        .map(|response| {
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                let wait: u64 = response.headers()[RETRY_AFTER]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1, "Retry-After {wait}");
            }
            response.status()
        })
        .collect()
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn concurrent_wrong_passwords_from_one_address_are_verified_only_the_free_times() {
    let app = spawn_app().await;
    set_up(&app).await;
    let before = app.state.login_guard.admitted();
    let flood = join_all((0..200).map(|_| log_in(&app, None, "a guess at the password"))).await;
    let statuses = statuses(flood);
    let verified = app.state.login_guard.admitted() - before;
    assert!(
        verified <= u64::from(FREE_FAILURES),
        "{verified} of 200 concurrent guesses were verified"
    );
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED) as u64, verified);
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS) as u64,
        200 - verified,
        "every other guess is refused unverified"
    );
    // The address waits now, even with the right password.
    assert_eq!(
        log_in(&app, None, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn password_checks_beyond_the_concurrency_are_refused_at_once() {
    let app = spawn_app_with(|s| {
        s.login_concurrency = 1;
        s.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    set_up(&app).await;
    // The one verification slot is taken (as by a check running long).
    let held = app
        .state
        .login_guard
        .admit("192.0.2.200".parse().unwrap())
        .unwrap();
    let before = app.state.login_guard.admitted();
    let app = &app;
    let flood = join_all((0..100).map(|n| {
        let client = format!("198.51.100.{n}");
        async move {
            let response = log_in(app, Some(&client), "a guess at the password").await;
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(
                response.headers()[RETRY_AFTER],
                BUSY_RETRY_SECS.to_string().as_str()
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        }
    }))
    .await;
    assert_eq!(flood.len(), 100);
    assert_eq!(
        app.state.login_guard.admitted(),
        before,
        "nothing was hashed while the slot was taken"
    );
    drop(held);
    // Refused for the lack of a slot is not a failure of those addresses.
    let response = log_in(app, Some("198.51.100.7"), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // A flood from many addresses at once: each answer is a verified 401 or an unhashed 429.
    let before = app.state.login_guard.admitted();
    let flood = join_all((0..100).map(|n| {
        let client = format!("203.0.113.{n}");
        async move { log_in(app, Some(&client), "a guess at the password").await }
    }))
    .await;
    let statuses = statuses(flood);
    let verified = app.state.login_guard.admitted() - before;
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED) as u64, verified);
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS) as u64,
        100 - verified
    );
    assert!(verified >= 1);
    assert_still_healthy(app).await;
}

#[tokio::test]
async fn ipv6_clients_in_one_64_share_a_throttle() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    set_up(&app).await;
    for n in 1..=FREE_FAILURES {
        let client = format!("2001:db8:1:2::{n}");
        let response = log_in(&app, Some(&client), "a guess at the password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Another address of the same /64 waits, even with the right password...
    let response = log_in(&app, Some("2001:db8:1:2:ffff::9"), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(RETRY_AFTER));
    // ...another /64 does not.
    let response = log_in(&app, Some("2001:db8:1:3::1"), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn changing_the_password_is_throttled_like_a_login() {
    let app = spawn_app().await;
    set_up(&app).await;
    let change = |current: &'static str| {
        app.client
            .post(app.url("/api/admin/password"))
            .bearer_auth(&app.admin_key)
            .json(&json!({
                "current_password": current,
                "new_password": "an entirely new passphrase",
            }))
            .send()
    };
    for _ in 0..FREE_FAILURES {
        assert_eq!(
            change("a guess at the password").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right current password waits now: guessing it through this route is slowed too.
    let response = change(PASSWORD).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(RETRY_AFTER));
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn a_session_past_its_absolute_lifetime_is_refused_and_removed() {
    let app = spawn_app_with(|s| s.admin_session_max_hours = 1).await;
    let (cookie, _) = set_up(&app).await;
    let session = || {
        as_browser(
            &app,
            reqwest::Method::GET,
            "/api/admin/session",
            &cookie,
            None,
        )
    };
    assert_eq!(session().await.status(), StatusCode::OK);
    // Begun two hours ago, used a moment ago: active, but too old.
    sqlx::query("UPDATE admin_sessions SET created_at = $1")
        .bind(ragway::domain::clock::now_ms() - 2 * 3600 * 1000)
        .execute(&app.state.db)
        .await
        .unwrap();
    let response = session().await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "session_expired");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the expired session's row is gone");
    assert_still_healthy(&app).await;
}

/// `host:port` of the app.
fn authority(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// Send `GET path` on `stream`, keeping the connection alive.
async fn send_get(stream: &mut TcpStream, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: ragway\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
}

/// Read one response (headers and a `Content-Length` body); its status line.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before a response");
        received.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    while received.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed in a response body");
        received.extend_from_slice(&chunk[..n]);
    }
    head.lines().next().unwrap().to_string()
}

/// Wait until the server closes `stream` (reading anything it still sends);
/// how long that took.
async fn closed_after(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
    started.elapsed()
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let app = spawn_app_with(|s| {
        s.header_read_timeout_secs = 1;
        s.idle_connection_timeout_secs = 60;
    })
    .await;
    let mut stalled = TcpStream::connect(authority(&app)).await.unwrap();
    stalled
        .write_all(b"GET /health HTTP/1.1\r\nHost: ragway\r\nX-Slow")
        .await
        .unwrap();
    let waited = closed_after(&mut stalled).await;
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(30),
        "closed by the 1 s header limit, not the idle one: {waited:?}"
    );
    // One that sends nothing at all is held to the same limit.
    let mut silent = TcpStream::connect(authority(&app)).await.unwrap();
    assert!(closed_after(&mut silent).await < Duration::from_secs(30));
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = spawn_app_with(|s| {
        s.header_read_timeout_secs = 60;
        s.idle_connection_timeout_secs = 1;
    })
    .await;
    let mut stream = TcpStream::connect(authority(&app)).await.unwrap();
    send_get(&mut stream, "/v1/models").await;
    assert!(read_response(&mut stream).await.contains("401"));
    let waited = closed_after(&mut stream).await;
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(30),
        "closed by the 1 s idle limit, not the header one: {waited:?}"
    );
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(|s| s.max_connections = 2).await;
    let connect = || TcpStream::connect(authority(&app));
    let (mut first, mut second) = (connect().await.unwrap(), connect().await.unwrap());
    for stream in [&mut first, &mut second] {
        send_get(stream, "/v1/models").await;
        assert!(read_response(stream).await.contains("401"));
    }
    // The kernel completes the third connection, but the server does not take it up.
    let mut third = connect().await.unwrap();
    send_get(&mut third, "/v1/models").await;
    for _ in 0..5 {
        for stream in [&mut first, &mut second] {
            send_get(stream, "/v1/models").await;
            assert!(read_response(stream).await.contains("401"), "still served");
        }
    }
    let mut buf = [0u8; 64];
    assert_eq!(
        third.try_read(&mut buf).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "the third connection has no answer while two are open"
    );
    drop(first);
    let answered = tokio::time::timeout(PATIENCE, read_response(&mut third))
        .await
        .expect("the third connection is served once one closes");
    assert!(answered.contains("401"), "{answered}");
    drop((second, third));
    assert_still_healthy(&app).await;
}

#[tokio::test]
async fn health_without_a_key_writes_nothing_and_the_admin_gets_a_fresh_check() {
    let app = spawn_app_with(|s| s.health_check_interval_secs = 3600).await;
    const PROBE: &str = ".health/probe";
    // The first call may run the stores' full check (once per interval)...
    let first = app.get_json("/health", "").await;
    assert_eq!(first["status"], "ok");
    app.state.blobs.delete(PROBE).await.unwrap();
    // ...after which callers without a key only read.
    let calls = join_all((0..50).map(|_| app.client.get(app.url("/health")).send())).await;
    for call in calls {
        let body: Value = call.unwrap().json().await.unwrap();
        assert_eq!(body["checks"]["blob_store"], "ok");
    }
    // A user key is no admin: the same cached answer.
    app.get_json("/health", &app.user_key).await;
    assert!(
        app.state.blobs.get(PROBE).await.is_err(),
        "no probe was written for callers without an admin key"
    );
    let fresh = app.get_json("/health", &app.admin_key).await;
    assert_eq!(fresh["status"], "ok");
    assert_eq!(fresh["stores_checked_secs_ago"], 0);
    assert!(
        app.state.blobs.get(PROBE).await.is_ok(),
        "the admin's call checked the blob store now"
    );
    assert_still_healthy(&app).await;
}
