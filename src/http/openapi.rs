//! `GET /openapi.json`: the API described in OpenAPI 3.1, generated at
//! compile time by `utoipa` from each handler's `#[utoipa::path]` and the
//! protocol crate's request types (its schemas); and `GET /docs`, a
//! reference page rendered from the same description on the server (no
//! script, no CDN). `tests/api/openapi.rs` checks the description against
//! the router both ways.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Description;
use utoipa::OpenApi;

use super::*;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ragway",
        description = "A self-hosted knowledge chat gateway: every client protocol (OpenAI chat and \
                       Responses, Anthropic, Gemini) reaches one pipeline that grounds each answer \
                       in your documents. Keys are sk-… secrets sent as a Bearer token (or in the \
                       protocol's own header). docs/api.md in the repository has the details."
    ),
    paths(
        openai::chat::complete,
        openai::chat::image,
        openai::responses::create,
        openai::responses::show,
        openai::responses::delete,
        openai::responses::input_items,
        openai::embeddings::embeddings,
        openai::embeddings::rerank,
        openai::files::create,
        openai::files::list,
        openai::files::show,
        openai::files::content,
        openai::files::remove,
        openai::vector_stores::create,
        openai::vector_stores::list,
        openai::vector_stores::show,
        openai::vector_stores::update,
        openai::vector_stores::remove,
        openai::vector_stores::find,
        openai::vector_stores::add_file,
        openai::vector_stores::list_files,
        openai::vector_stores::show_file,
        openai::vector_stores::update_file,
        openai::vector_stores::remove_file,
        openai::vector_stores::file_content,
        openai::vector_stores::create_batch,
        openai::vector_stores::show_batch,
        openai::vector_stores::cancel_batch,
        openai::vector_stores::batch_files,
        anthropic::messages::messages,
        gemini::list,
        gemini::show,
        gemini::generate,
        models::list_public,
        models::show_public,
        models::list,
        models::create,
        models::show,
        models::update,
        models::remove,
        conversations::list,
        conversations::read,
        conversations::delete,
        conversations::admin_list,
        conversations::admin_read,
        conversations::admin_delete,
        documents::create,
        documents::list,
        documents::lookup,
        documents::show,
        documents::replace,
        documents::remove,
        documents::content,
        documents::reingest,
        collections::list,
        collections::create,
        collections::remove,
        retrieval::test,
        logs::logs,
        logs::usage,
        settings::show,
        settings::change,
        providers::list,
        providers::update_all,
        providers::update_one,
        providers::remove,
        providers::test,
        providers::models,
        providers::models_for,
        upstreams::list,
        upstreams::add,
        upstreams::remove,
        upstreams::enable,
        admin::setup_state,
        admin::setup,
        admin::login,
        admin::logout,
        admin::change_password,
        admin::session,
        admin::list_keys,
        admin::create_key,
        admin::revoke_key,
        admin::update_key,
        admin::show,
        admin::begin,
        health::health,
        health::metrics,
        description,
        docs,
    ),
    modifiers(&Keys),
    security(("bearer" = []), ("x-api-key" = []), ("x-goog-api-key" = [])),
    tags(
        (name = "OpenAI", description = "OpenAI's chat completions, Responses API, embeddings and rerank"),
        (name = "Files", description = "OpenAI's Files and Vector Stores APIs over the knowledge base"),
        (name = "Anthropic", description = "Anthropic's Messages API"),
        (name = "Gemini", description = "Google's Gemini API"),
        (name = "Models", description = "Public models, and the admin's management of them"),
        (name = "Conversations", description = "Each key's saved conversations"),
        (name = "Documents", description = "The knowledge base: documents and collections"),
        (name = "Admin", description = "Setup, sessions, keys, providers, settings, logs"),
        (name = "Operations", description = "Health, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// The ways a key may be sent.
struct Keys;

impl utoipa::Modify for Keys {
    fn modify(&self, openapi: &mut Description) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "x-api-key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        components.add_security_scheme(
            "x-goog-api-key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-goog-api-key"))),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(description))
        .route("/docs", get(docs))
}

/// The description, made once.
pub fn description_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}

#[utoipa::path(get, path = "/openapi.json", tag = "Operations", summary = "This description (OpenAPI 3.1)", security(()), responses((status = 200, description = "The OpenAPI document")))]
async fn description() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        description_json(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/docs", tag = "Operations", summary = "The API reference as a page", security(()), responses((status = 200, description = "HTML")))]
async fn docs() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| render(&ApiDoc::openapi()));
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        )],
        Html(page.as_str()),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The reference page: every operation by tag (method, path, summary,
/// parameters, request schema), then the request schemas.
fn render(api: &Description) -> String {
    let json = serde_json::to_value(api).unwrap_or_default();
    let mut by_tag: Vec<(String, Vec<String>)> = api
        .tags
        .iter()
        .flatten()
        .map(|t| (t.name.clone(), Vec::new()))
        .collect();
    for (path, item) in json["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("Other").to_string();
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    p["name"]
                        .as_str()
                        .map(|n| format!("<code>{}</code>", escape(n)))
                })
                .collect();
            let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .map(|name| format!(" · body: <a href=\"#schema-{0}\">{0}</a>", escape(name)))
                .unwrap_or_default();
            let open = if op["security"] == serde_json::json!([{}]) {
                " · no key"
            } else {
                ""
            };
            let row = format!(
                "<tr><td class=m>{}</td><td><code>{}</code></td><td>{}{}{}{}</td></tr>",
                method.to_uppercase(),
                escape(path),
                escape(op["summary"].as_str().unwrap_or_default()),
                if params.is_empty() {
                    String::new()
                } else {
                    format!(" · path: {}", params.join(", "))
                },
                body,
                open,
            );
            match by_tag.iter_mut().find(|(name, _)| *name == tag) {
                Some((_, rows)) => rows.push(row),
                None => by_tag.push((tag, vec![row])),
            }
        }
    }
    let mut html = String::from(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>ragway API</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1f2430}\
         table{border-collapse:collapse;width:100%;table-layout:fixed}td{border-top:1px solid #e3e6ee;padding:.35rem .5rem;vertical-align:top;overflow-wrap:anywhere}td:nth-child(2){width:24rem}\
         td.m{font-weight:600;width:5rem}code,pre{font:13px ui-monospace,monospace}pre{background:#f5f6fa;padding:.75rem;overflow:auto}</style>",
    );
    html.push_str(&format!(
        "<h1>ragway API {}</h1><p>{}</p><p>The same as OpenAPI 3.1: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        escape(&api.info.version),
        escape(api.info.description.as_deref().unwrap_or_default()),
    ));
    for (tag, rows) in by_tag.iter().filter(|(_, rows)| !rows.is_empty()) {
        html.push_str(&format!(
            "<h2>{}</h2><table>{}</table>",
            escape(tag),
            rows.concat()
        ));
    }
    html.push_str("<h2>Request schemas</h2>");
    for (name, schema) in json["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
        html.push_str(&format!(
            "<h3 id=\"schema-{0}\">{0}</h3><pre>{1}</pre>",
            escape(name),
            escape(&pretty)
        ));
    }
    html
}
