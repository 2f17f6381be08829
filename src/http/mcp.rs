//! `/mcp`: the Model Context Protocol over its streamable HTTP transport
//! (the official Rust SDK, `rmcp`), so assistants (Claude Desktop and
//! Code, Cursor, ChatGPT's connectors and deep research) search and read
//! a key's knowledge. Tools: `search` (query → documents: id, title, url,
//! snippet), `fetch` (id → the document's text, title, url, metadata) and
//! `list_collections`, over what the key may read (`crate::knowledge`).
//!
//! Every request carries an `sk-` key as a Bearer token: it is checked
//! (with its per-minute limit) before the protocol sees the request, and
//! the tools answer for that key. Served statelessly (no MCP session), so
//! any replica answers any request.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::AppError;
use crate::knowledge;
use crate::state::AppState;

/// The largest MCP request body taken.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    let tools = Knowledge::new(state.clone());
    // No `Host` or `Origin` allow-list: those guard servers that take
    // requests without credentials; this one answers only a key.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .disable_allowed_hosts()
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .with_cancellation_token(state.shutdown.child_token());
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        NeverSessionManager::default().into(),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

/// Let through requests with a usable key, the caller put in their extensions.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if crate::auth::bearer_token(&parts).is_none() {
        return unauthorized(AppError::Unauthorized(
            "Send an API key as `Authorization: Bearer sk-…`.".into(),
        ));
    }
    match <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &state,
    )
    .await
    {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(err) => unauthorized(err),
    }
}

fn unauthorized(err: AppError) -> Response {
    let status = err.status();
    let mut response = err.into_response();
    if status == axum::http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ragway\""),
        );
    }
    response
}

/// The MCP server's tools, answering for the key of each request.
#[derive(Clone)]
pub struct Knowledge {
    state: AppState,
    tool_router: ToolRouter<Self>,
}

/// `search`'s arguments.
#[derive(Debug, Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct SearchArgs {
    /// What to look for, in a sentence or a few words.
    pub query: String,
    /// How many documents to return (1 to 20; 8 when not given).
    pub limit: Option<u32>,
}

/// `fetch`'s arguments.
#[derive(Debug, Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct FetchArgs {
    /// A document id, as `search` returned it.
    pub id: String,
}

/// The caller and this server's public origin, from the request's parts.
fn caller_of(
    parts: &axum::http::request::Parts,
    state: &AppState,
) -> Result<(Caller, String), ErrorData> {
    let caller = parts
        .extensions
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request was not authenticated", None))?;
    let origin = crate::auth::origin::server_origin(&state.settings, &parts.headers);
    Ok((caller, origin))
}

/// A failure as the tool's error result (the assistant reads it), or the
/// protocol's error for the server's own faults.
fn failed(err: AppError) -> Result<CallToolResult, ErrorData> {
    if err.status().is_server_error() {
        tracing::error!(error = %err, "an MCP tool failed");
        return Err(ErrorData::internal_error(
            "The server failed; try again.",
            None,
        ));
    }
    Ok(CallToolResult::error(vec![
        rmcp::model::ContentBlock::text(err.to_string()),
    ]))
}

fn structured<T: serde::Serialize>(value: &T) -> Result<CallToolResult, ErrorData> {
    serde_json::to_value(value)
        .map(CallToolResult::structured)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

#[tool_router(router = tool_router)]
impl Knowledge {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        name = "search",
        description = "Search the knowledge base this key may read (shared collections and the key's own documents). Returns the best-matching documents: id, title, url and a snippet of the passage that matched. Read a whole document with `fetch`."
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let (caller, origin) = caller_of(&parts, &self.state)?;
        let limit = args.limit.map_or(8, |n| n as usize);
        match knowledge::search(&self.state, &caller, &origin, &args.query, limit).await {
            Ok(results) => structured(&serde_json::json!({ "results": results })),
            Err(err) => failed(err),
        }
    }

    #[tool(
        name = "fetch",
        description = "Read one document of the knowledge base by the id `search` returned: its full text, title, url and metadata."
    )]
    async fn fetch(
        &self,
        Parameters(args): Parameters<FetchArgs>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let (caller, origin) = caller_of(&parts, &self.state)?;
        match knowledge::fetch(&self.state, &caller, &origin, &args.id).await {
            Ok(document) => structured(&document),
            Err(err) => failed(err),
        }
    }

    #[tool(
        name = "list_collections",
        description = "The collections of the knowledge base this key may read, with how many documents each holds (the key's own documents as `private`)."
    )]
    async fn list_collections(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let (caller, _) = caller_of(&parts, &self.state)?;
        match knowledge::collections(&self.state, &caller).await {
            Ok(collections) => structured(&serde_json::json!({ "collections": collections })),
            Err(err) => failed(err),
        }
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "ragway",
    instructions = "ragway's knowledge base: `search` finds documents, `fetch` reads one, `list_collections` shows what there is."
)]
impl ServerHandler for Knowledge {}
