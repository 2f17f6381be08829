//! Public models: the admin API, `/v1/models`, and what a model changes in chat.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = app
        .request(method, path, &app.admin_key, body.as_ref())
        .await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Upload a text into a collection and wait until it is ready.
async fn ingest_into(app: &TestApp, collection: &str, title: &str, text: &str) -> String {
    app.ingest_json(&json!({"title": title, "text": text, "collection": collection}))
        .await
}

async fn ask(app: &TestApp, model: &str, question: &str) -> (StatusCode, Value) {
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": model, "messages": [{"role": "user", "content": question}]}),
        )
        .await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn models_are_created_listed_changed_and_deleted() {
    let app = spawn_app().await;
    // Out of the box: the configured public model, built in.
    let (status, listed) = admin(&app, Method::GET, "/api/admin/models", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], "ragway");
    assert_eq!(listed["data"][0]["builtin"], true);

    let (status, created) = admin(
        &app,
        Method::POST,
        "/api/admin/models",
        Some(json!({
            "id": "harbour/assistant",
            "upstream_model": "fake-chat-large",
            "system_prompt": "You are the harbour assistant.",
            "top_k": 3,
            "score_threshold": 0.1,
            "max_messages": 12,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "harbour/assistant");
    assert_eq!(created["retrieval"], true);
    assert_eq!(created["collections"], json!([]));
    assert_eq!(created["builtin"], false);

    let (status, again) = admin(
        &app,
        Method::POST,
        "/api/admin/models",
        Some(json!({"id": "harbour/assistant"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // What any key sees, in OpenAI's shape.
    let public = app.get_json("/v1/models", &app.user_key).await;
    let ids: Vec<&str> = public["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["harbour/assistant", "ragway"]);
    assert_eq!(public["data"][0]["object"], "model");
    assert!(public["data"][0].get("system_prompt").is_none());
    let one = app
        .get_json("/v1/models/harbour/assistant", &app.user_key)
        .await;
    assert_eq!(one["id"], "harbour/assistant");

    // PATCH changes what it names; null clears an optional field.
    let (status, patched) = admin(
        &app,
        Method::PATCH,
        "/api/admin/models/harbour/assistant",
        Some(json!({"system_prompt": null, "retrieval": false, "top_k": 7})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["system_prompt"], Value::Null);
    assert_eq!(patched["retrieval"], false);
    assert_eq!(patched["top_k"], 7);
    assert_eq!(patched["upstream_model"], "fake-chat-large");
    assert_eq!(patched["created_at"], created["created_at"]);

    // Renaming.
    let (status, renamed) = admin(
        &app,
        Method::PATCH,
        "/api/admin/models/harbour/assistant",
        Some(json!({"id": "pilot"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let (status, _) = admin(
        &app,
        Method::GET,
        "/api/admin/models/harbour/assistant",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, shown) = admin(&app, Method::GET, "/api/admin/models/pilot", None).await;
    assert_eq!(shown["top_k"], 7);

    // The built-in model can be overridden, and reverts when the override goes.
    let (status, overridden) = admin(
        &app,
        Method::PATCH,
        "/api/admin/models/ragway",
        Some(json!({"system_prompt": "Be brief."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{overridden}");
    assert_eq!(overridden["builtin"], false);
    let (status, _) = admin(&app, Method::DELETE, "/api/admin/models/ragway", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, reverted) = admin(&app, Method::GET, "/api/admin/models/ragway", None).await;
    assert_eq!(reverted["builtin"], true);
    assert_eq!(reverted["system_prompt"], Value::Null);
    let response = app
        .request(
            Method::DELETE,
            "/api/admin/models/ragway",
            &app.admin_key,
            None,
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let (status, deleted) = admin(&app, Method::DELETE, "/api/admin/models/pilot", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["deleted"], true);
    let response = app
        .request(
            Method::DELETE,
            "/api/admin/models/pilot",
            &app.admin_key,
            None,
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "model_not_found").await;
}

#[tokio::test]
async fn bad_model_settings_are_refused_with_the_reason() {
    let app = spawn_app().await;
    for (body, needle) in [
        (json!({"system_prompt": "no name"}), "needs an `id`"),
        (json!({"id": "has space"}), "Invalid model name"),
        (json!({"id": "m", "top_k": 0}), "top_k"),
        (json!({"id": "m", "score_threshold": 2}), "score_threshold"),
        (json!({"id": "m", "max_messages": 0}), "max_messages"),
        (
            json!({"id": "m", "collections": ["nope"]}),
            "No collection named",
        ),
        (json!({"id": "m", "draw_triggers": [" "]}), "draw_triggers"),
        (json!({"id": "m", "temperature": 1}), "unknown field"),
        (json!({"id": "m", "retrieval": "yes"}), "invalid type"),
    ] {
        let response = app
            .request(
                Method::POST,
                "/api/admin/models",
                &app.admin_key,
                Some(&body),
            )
            .await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/admin/models",
        Some(json!({"id": "m"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let response = app
        .request(
            Method::PATCH,
            "/api/admin/models/m",
            &app.admin_key,
            Some(&json!({"colour": "blue"})),
        )
        .await;
    let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("colour"));
    let response = app
        .request(
            Method::PATCH,
            "/api/admin/models/missing",
            &app.admin_key,
            Some(&json!({"top_k": 2})),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "model_not_found").await;

    // A user key manages nothing.
    let response = app
        .request(Method::GET, "/api/admin/models", &app.user_key, None)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .request(
            Method::POST,
            "/api/admin/models",
            &app.user_key,
            Some(&json!({"id": "mine"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_model_sets_the_upstream_model_prompt_and_collections() {
    let app = spawn_app().await;
    for name in ["harbour", "finance"] {
        let response = app
            .post_json("/v1/collections", &app.admin_key, &json!({"name": name}))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let pilots = ingest_into(
        &app,
        "harbour",
        "Pilots",
        "Harbour pilots board ships at the outer buoy at dawn.",
    )
    .await;
    let budget = ingest_into(
        &app,
        "finance",
        "Budget",
        "The harbour budget for pilots and buoys is set each spring.",
    )
    .await;
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/admin/models",
        Some(json!({
            "id": "harbour-bot",
            "upstream_model": "fake-chat-large",
            "system_prompt": "You are the harbour assistant.",
            "collections": ["harbour"],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // The bound collection only; the model's own upstream model and prompt.
    let (status, answer) = ask(&app, "harbour-bot", "When do harbour pilots board ships?").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["model"], "harbour-bot");
    let sources: Vec<&str> = answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["document_id"].as_str().unwrap())
        .collect();
    assert_eq!(sources, [pilots.as_str()]);
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(sent["model"], "fake-chat-large");
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are the harbour assistant.\n\n"),
        "{system}"
    );
    assert!(system.contains("outer buoy"));
    assert!(!system.contains("spring"));

    // The built-in model searches every shared collection.
    let (_, answer) = ask(&app, "ragway", "When do harbour pilots board ships?").await;
    let found: Vec<&str> = answer["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["document_id"].as_str().unwrap())
        .collect();
    assert!(
        found.contains(&pilots.as_str()) && found.contains(&budget.as_str()),
        "{answer}"
    );
    assert_eq!(
        app.upstream.chat_requests().pop().unwrap()["model"],
        "fake-chat"
    );

    // Retrieval off: no sources, no embedding call.
    let (status, _) = admin(
        &app,
        Method::PATCH,
        "/api/admin/models/harbour-bot",
        Some(json!({"retrieval": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let embeddings_before = app.upstream.embedding_requests().len();
    let (_, answer) = ask(&app, "harbour-bot", "When do harbour pilots board ships?").await;
    assert_eq!(answer["sources"], json!([]));
    assert_eq!(app.upstream.embedding_requests().len(), embeddings_before);
    let sent = app.upstream.chat_requests().pop().unwrap();
    assert_eq!(
        sent["messages"][0]["content"],
        "You are the harbour assistant."
    );

    // A threshold set, cleared and set again: each save binds a number or a
    // NULL in the same column, on whichever pooled connection (PostgreSQL
    // keeps each connection's prepared statement with its parameter types).
    for threshold in [json!(0.25), Value::Null, json!(0.5), Value::Null]
        .iter()
        .cycle()
        .take(20)
    {
        let (status, body) = admin(
            &app,
            Method::PATCH,
            "/api/admin/models/harbour-bot",
            Some(json!({ "score_threshold": threshold })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(&body["score_threshold"], threshold);
    }

    // A threshold no source reaches, and top_k.
    let (status, _) = admin(
        &app,
        Method::PATCH,
        "/api/admin/models/harbour-bot",
        Some(json!({"retrieval": true, "collections": [], "score_threshold": 0.999})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = ask(&app, "harbour-bot", "When do harbour pilots board ships?").await;
    assert_eq!(answer["sources"], json!([]));
    let (status, _) = admin(
        &app,
        Method::PATCH,
        "/api/admin/models/harbour-bot",
        Some(json!({"score_threshold": null, "top_k": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = ask(&app, "harbour-bot", "When do harbour pilots board ships?").await;
    assert_eq!(answer["sources"].as_array().unwrap().len(), 1);

    // Unknown models are 404 model_not_found, in chat too.
    let response = app
        .post_json(
            "/v1/chat/completions",
            &app.user_key,
            &json!({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "model_not_found").await;
}
