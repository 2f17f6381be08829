//! `/openapi.json` against the router, both ways: every operation it
//! describes is a route the server serves, and every route the code
//! declares under `src/http/` (read from the source: axum does not list
//! its routes) is described. And `/docs` renders it.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

/// A path with its parameters' names dropped: `/v1/documents/{}`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '{' => {
                depth += 1;
                out.push_str("{}");
            }
            '}' => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every `.route("path", method(handler)…)` under `dir`: (METHOD, path).
fn declared_routes(dir: &Path, found: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            declared_routes(&path, found);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for call in text.split(".route(").skip(1) {
            let call = call.trim_start();
            let Some(rest) = call.strip_prefix('"') else {
                continue;
            };
            let (route, handlers) = rest.split_once('"').unwrap();
            // The method router runs to the call's closing parenthesis.
            let mut depth = 1;
            let end = handlers
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(handlers.len(), |(i, _)| i);
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = handlers[..end]
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| {
                        i == 0
                            || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                if called {
                    found.insert((method.to_uppercase(), route.to_string()));
                }
            }
        }
    }
}

#[tokio::test]
async fn the_description_and_the_router_agree() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let api: Value = response.json().await.unwrap();
    assert!(
        api["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        api["openapi"]
    );
    let schemas = api["components"]["schemas"].as_object().unwrap();
    for name in [
        "ChatRequest",
        "ResponsesRequest",
        "MessagesRequest",
        "GenerateRequest",
        "EmbeddingsRequest",
        "RerankRequest",
    ] {
        assert!(
            schemas.contains_key(name),
            "no schema {name}: {:?}",
            schemas.keys()
        );
    }

    // Described → served: each operation reaches a route (a request with no
    // key may be refused, but never as an unknown URL or a wrong method).
    let mut described = BTreeSet::new();
    for (path, item) in api["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["tags"][0].is_string(), "{method} {path} has no tag");
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            described.insert((method.to_uppercase(), shape(path)));
            let concrete = path.replace(['{', '}'], "");
            let response = app
                .client
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    app.url(&concrete),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_ne!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let status = response.status();
            let body = response.text().await.unwrap();
            assert!(
                !(status == StatusCode::NOT_FOUND && body.contains("unknown_url")),
                "{method} {path} is described but not served: {body}"
            );
        }
    }

    // Declared → described, from the source of every router.
    let mut declared = BTreeSet::new();
    declared_routes(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"),
        &mut declared,
    );
    assert!(
        declared.len() > 60,
        "the source scan found {} routes",
        declared.len()
    );
    // Gemini's routes take the model and the method in one segment
    // (`{model}:generateContent`); its newer SDKs' `/v1/models/…` POST is
    // the same handler.
    let aliases = [
        (
            "POST",
            "/v1beta/models/{*target}",
            "/v1beta/models/{}:generateContent",
        ),
        ("GET", "/v1beta/models/{*target}", "/v1beta/models/{}"),
        (
            "POST",
            "/v1/models/{*name}",
            "/v1beta/models/{}:generateContent",
        ),
    ];
    for (method, route) in &declared {
        let described_as = aliases
            .iter()
            .find(|(m, r, _)| m == method && r == route)
            .map_or_else(|| shape(route), |(_, _, as_)| as_.to_string());
        assert!(
            described.contains(&(method.clone(), described_as.clone())),
            "{method} {route} is served but not described ({described_as})"
        );
    }

    // The page renders from it, with no script.
    let docs = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let page = docs.text().await.unwrap();
    assert!(page.contains("<code>/v1/responses</code>"), "{page}");
    assert!(page.contains("id=\"schema-ChatRequest\""));
    assert!(!page.contains("<script"));
}
