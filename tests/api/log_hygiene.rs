//! No password, session, API key or upstream key is ever written to the
//! log: a real `ragway serve` process logging at debug level goes through
//! setup, failed and good logins, a password change, keys, providers and
//! chat (a Gemini client's with its key in the query string too), and its
//! whole log is searched for every secret it saw.

use std::sync::{Arc, Mutex};

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::fake_upstream::FakeUpstream;

const PASSWORD: &str = "correct horse battery 1907";
const NEW_PASSWORD: &str = "tide tables at six o'clock";
const WRONG_PASSWORD: &str = "guessing-password-4242";
const CHAT_KEY: &str = "sk-upstream-secret-chat-5150";
const SETUP_KEY: &str = "sk-upstream-secret-rerank-2112";

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let upstream = FakeUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut child = crate::helpers::serve_process(
        &upstream,
        data.path(),
        "debug,ragway=trace,lance=warn,lancedb=warn,lance_core=warn",
        &[
            ("RAGWAY_CHAT_API_KEY", "sk-upstream-env-chat-7777"),
            ("RAGWAY_EMBED_API_KEY", "sk-upstream-env-embed-8888"),
        ],
    );
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (address_tx, address_rx) = tokio::sync::oneshot::channel::<String>();
    let reader = {
        let lines = lines.clone();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut address_tx = Some(address_tx);
            let mut stream = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = stream.next_line().await {
                if line.contains("ragway listening") {
                    if let Some(tx) = address_tx.take() {
                        let at = line.split("address=").nth(1).unwrap_or_default();
                        let _ =
                            tx.send(at.split_whitespace().next().unwrap_or_default().to_string());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        })
    };
    let address = tokio::time::timeout(std::time::Duration::from_secs(60), address_rx)
        .await
        .expect("ragway reports its address")
        .unwrap();
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{base}{path}");
    let log_in = |password: &'static str| {
        client
            .post(url("/api/admin/login"))
            .json(&json!({ "password": password }))
            .send()
    };

    // Setup with a provider key, and the first key it hands out.
    let response = client
        .post(url("/api/admin/setup"))
        .json(&json!({
            "password": PASSWORD,
            "providers": {"rerank": {"base_url": upstream.base_url, "model": "fake-rerank", "api_key": SETUP_KEY}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let first_cookie = cookie_of(&response);
    let setup: Value = response.json().await.unwrap();
    let first_key = setup["key"]["key"].as_str().unwrap().to_string();

    let wrong = log_in(WRONG_PASSWORD).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let login = log_in(PASSWORD).await.unwrap();
    assert!(login.status().is_success());
    let cookie = cookie_of(&login);
    let changed = client
        .post(url("/api/admin/password"))
        .header(COOKIE, &cookie)
        .header("origin", &base)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(
        changed.status().is_success(),
        "{}",
        changed.text().await.unwrap()
    );
    let login = log_in(NEW_PASSWORD).await.unwrap();
    let cookie = cookie_of(&login);

    // An admin key, a provider key saved and tried, a chat with the first key.
    let admin_key: Value = client
        .post(url("/api/admin/keys"))
        .header(COOKIE, &cookie)
        .header("origin", &base)
        .json(&json!({"name": "ops", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_key = admin_key["key"].as_str().unwrap().to_string();
    let saved = client
        .put(url("/api/admin/providers/chat"))
        .bearer_auth(&admin_key)
        .json(&json!({"api_key": CHAT_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    let tried: Value = client
        .post(url("/api/admin/providers/chat/test"))
        .bearer_auth(&admin_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tried["ok"], true, "{tried}");
    let chat = client
        .post(url("/v1/chat/completions"))
        .bearer_auth(&first_key)
        .json(&json!({"model": "ragway", "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), StatusCode::OK);
    let refused = client
        .get(url("/v1/models"))
        .bearer_auth("sk-not-a-key-but-secret-9999")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // Gemini's clients may put the key in the query string.
    let gemini = client
        .post(url(&format!(
            "/v1beta/models/ragway:generateContent?key={first_key}"
        )))
        .json(&json!({"contents": [{"parts": [{"text": "hello"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(gemini.status(), StatusCode::OK);
    let refused = client
        .get(url("/v1beta/models?key=sk-not-a-key-in-a-query-4444"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // Stop the server; its log is complete once stderr closes.
    #[cfg(unix)]
    {
        let pid = child.id().unwrap() as i32;
        // SIGTERM: a graceful stop.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await;
    let _ = child.kill().await;
    reader.await.unwrap();

    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains("provider saved"),
        "the log was captured:\n{log}"
    );
    assert!(log.contains("a failed admin login"), "{log}");
    let token = |cookie: &str| cookie.split('=').nth(1).unwrap().to_string();
    let secrets = [
        PASSWORD.to_string(),
        NEW_PASSWORD.to_string(),
        WRONG_PASSWORD.to_string(),
        CHAT_KEY.to_string(),
        SETUP_KEY.to_string(),
        "sk-upstream-env-chat-7777".to_string(),
        "sk-upstream-env-embed-8888".to_string(),
        "sk-not-a-key-but-secret-9999".to_string(),
        "sk-not-a-key-in-a-query-4444".to_string(),
        first_key.clone(),
        admin_key.clone(),
        token(&first_cookie),
        token(&cookie),
    ];
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "{secret:?} is in the log:\n{log}"
        );
    }
    // Nor the part of a key after its shown prefix.
    assert!(!log.contains(&first_key[first_key.len() - 12..]), "{log}");
}

/// `ragway_session=…` from a response's `Set-Cookie`.
fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}
