//! A fake OpenAI-compatible upstream: chat (stream and not), embeddings,
//! images, rerank and models, with switchable faults.
//!
//! Answers are deterministic: chat replies `Echo: <last user message>`, and
//! embeddings are hashed bags of words (and of CJK characters and their
//! bigrams), so texts that share words are near each other.

#![allow(dead_code)]
// Test support (also `examples/fake_upstream.rs`): it may unwrap, as tests do, and its server
// runs on tasks of its own, not ragway's tracker.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

// Relative to this file, so that tests and `examples/fake_upstream.rs` (which
// takes this file by path) both find them.
#[path = "fake_upstream/faults.rs"]
mod faults;
#[path = "fake_upstream/images.rs"]
mod images;
#[path = "fake_upstream/meaning.rs"]
mod meaning;

pub use faults::Fault;
use faults::{failing, take_fault};
use images::{image_file, images, linked_file};
pub use meaning::width_for;
#[allow(unused_imports, reason = "tests use them; the example binary does not")]
pub use meaning::{embed, SMALL_DIM};
use meaning::{embed_width, features, fnv};

/// Width of the fake embeddings.
pub const DIM: usize = 256;

/// Where the image links of [`FakeUpstream::set_image_link`] lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLink {
    /// The 1×1 PNG on this fake.
    Png,
    /// `bytes` of a PNG-looking body; `declared`: with a `Content-Length`
    /// (else streamed without one).
    Oversized { bytes: usize, declared: bool },
    /// A 302 from this fake to `location`.
    RedirectTo(String),
    /// This link as it is (`file:///etc/passwd`, say).
    Raw(String),
    /// A link on this fake that never answers.
    Hang,
}

/// Which `encoding_format`s the fake's embeddings endpoint honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingFormats {
    /// `float` and `base64`, as OpenAI does.
    Both,
    /// `base64` gets a 400, as from an upstream that only knows floats.
    FloatsOnly,
    /// Floats whatever was asked for.
    IgnoresFormat,
}

struct Shared {
    /// The fault and, when limited, how many more requests it applies to.
    fault: Mutex<(Fault, Option<u32>)>,
    formats: Mutex<EmbeddingFormats>,
    chat_requests: Mutex<Vec<Value>>,
    embedding_requests: Mutex<Vec<Value>>,
    rerank_requests: Mutex<Vec<Value>>,
    image_requests: Mutex<Vec<Value>>,
    /// Embed each text as one opaque feature: no two texts are alike.
    blind: Mutex<bool>,
    /// Rank rerank documents in reverse order of arrival.
    rerank_reversed: Mutex<bool>,
    /// Answer images as SiliconFlow does: `images[].url` to download.
    images_as_urls: Mutex<bool>,
    /// What those links lead to.
    image_link: Mutex<ImageLink>,
    /// The `Host` header of every request for a linked file.
    file_hosts: Mutex<Vec<String>>,
    /// Base URL of this fake, for the image links it hands out.
    base_url: Mutex<String>,
    auth_headers: Mutex<Vec<String>>,
    /// Faults for requests made with one key (its bearer token), before the fault for all.
    key_faults: Mutex<std::collections::HashMap<String, (Fault, Option<u32>)>>,
    /// The bearer token of every chat request that was answered (or cut), in order.
    served_keys: Mutex<Vec<String>>,
    /// A pause before each piece of a streamed answer (a model generating).
    stream_delay: Mutex<std::time::Duration>,
    /// Chat models that answer with fixed text instead of the echo.
    canned: Mutex<std::collections::HashMap<String, String>>,
    /// How many chat requests have arrived (tests wait on it).
    chats_seen: tokio::sync::watch::Sender<usize>,
}

/// A running fake upstream.
#[derive(Clone)]
pub struct FakeUpstream {
    /// Base URL without `/v1`, as an operator would configure it.
    pub base_url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeUpstream {
    /// Start on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// Start on the given address.
    pub async fn start_on(addr: &str) -> Self {
        let shared = Arc::new(Shared {
            fault: Mutex::new((Fault::None, None)),
            formats: Mutex::new(EmbeddingFormats::Both),
            chat_requests: Mutex::default(),
            embedding_requests: Mutex::default(),
            rerank_requests: Mutex::default(),
            image_requests: Mutex::default(),
            blind: Mutex::new(false),
            rerank_reversed: Mutex::new(false),
            canned: Mutex::default(),
            images_as_urls: Mutex::new(false),
            image_link: Mutex::new(ImageLink::Png),
            file_hosts: Mutex::default(),
            base_url: Mutex::default(),
            auth_headers: Mutex::default(),
            key_faults: Mutex::default(),
            served_keys: Mutex::default(),
            stream_delay: Mutex::default(),
            chats_seen: tokio::sync::watch::channel(0).0,
        });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind fake upstream");
        let addr = listener.local_addr().unwrap();
        *shared.base_url.lock().unwrap() = format!("http://{addr}");
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/images/generations", post(images))
            .route("/v1/rerank", post(rerank))
            .route("/v1/models", get(models))
            .route("/files/image.png", get(image_file))
            .route("/files/linked.png", get(linked_file))
            // Providers take long contexts: ragway's own caps are what is tested.
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        // Streamed answers leave piece by piece, as a provider's do (no
        // Nagle delay between the small writes).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake upstream serves");
        });
        Self {
            base_url: format!("http://{addr}"),
            addr,
            shared,
        }
    }

    /// Make every following request fail in this way (`Fault::None` to heal).
    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = (fault, None);
    }

    /// Fail the next `times` requests in this way, then answer normally again.
    pub fn set_fault_times(&self, fault: Fault, times: u32) {
        *self.shared.fault.lock().unwrap() = (fault, Some(times));
    }

    /// Make every following request made with `key` fail in this way.
    pub fn set_key_fault(&self, key: &str, fault: Fault) {
        self.shared
            .key_faults
            .lock()
            .unwrap()
            .insert(key.to_string(), (fault, None));
    }

    /// Fail the next `times` requests made with `key` in this way.
    pub fn set_key_fault_times(&self, key: &str, fault: Fault, times: u32) {
        self.shared
            .key_faults
            .lock()
            .unwrap()
            .insert(key.to_string(), (fault, Some(times)));
    }

    /// The key (bearer token) of every chat request answered (or cut) so far, in order.
    pub fn served_keys(&self) -> Vec<String> {
        self.shared.served_keys.lock().unwrap().clone()
    }

    /// Pause this long before each piece of a streamed answer (load benchmarks).
    pub fn set_stream_delay(&self, delay: std::time::Duration) {
        *self.shared.stream_delay.lock().unwrap() = delay;
    }

    /// Which embedding encodings to honour from now on.
    pub fn set_embedding_formats(&self, formats: EmbeddingFormats) {
        *self.shared.formats.lock().unwrap() = formats;
    }

    /// Make embeddings useless (`true`): every text becomes one opaque
    /// feature, so a question is near nothing. Full-text search still works.
    pub fn set_embeddings_blind(&self, blind: bool) {
        *self.shared.blind.lock().unwrap() = blind;
    }

    /// Make the chat model `model` answer `reply` (instead of echoing the question).
    pub fn set_canned_reply(&self, model: &str, reply: &str) {
        self.shared
            .canned
            .lock()
            .unwrap()
            .insert(model.to_string(), reply.to_string());
    }

    /// Make the reranker rank documents in reverse order of arrival.
    pub fn set_rerank_reversed(&self, reversed: bool) {
        *self.shared.rerank_reversed.lock().unwrap() = reversed;
    }

    /// Answer image requests with a link (SiliconFlow's `images[].url`)
    /// instead of base64.
    pub fn set_images_as_urls(&self, urls: bool) {
        *self.shared.images_as_urls.lock().unwrap() = urls;
    }

    /// Answer image requests with a link to `link` (implies
    /// [`Self::set_images_as_urls`]).
    pub fn set_image_link(&self, link: ImageLink) {
        *self.shared.images_as_urls.lock().unwrap() = true;
        *self.shared.image_link.lock().unwrap() = link;
    }

    /// The `Host` header of every request for a linked image file so far.
    pub fn file_hosts(&self) -> Vec<String> {
        self.shared.file_hosts.lock().unwrap().clone()
    }

    /// Every rerank request body received so far.
    pub fn rerank_requests(&self) -> Vec<Value> {
        self.shared.rerank_requests.lock().unwrap().clone()
    }

    /// Every image request body received so far.
    pub fn image_requests(&self) -> Vec<Value> {
        self.shared.image_requests.lock().unwrap().clone()
    }

    /// Every chat request body received so far.
    pub fn chat_requests(&self) -> Vec<Value> {
        self.shared.chat_requests.lock().unwrap().clone()
    }

    /// Wait until `count` chat requests have arrived (before any fault applies).
    pub async fn chats_arrived(&self, count: usize) {
        let mut seen = self.shared.chats_seen.subscribe();
        let _ = seen.wait_for(|n| *n >= count).await;
    }

    /// Every embeddings request body received so far.
    pub fn embedding_requests(&self) -> Vec<Value> {
        self.shared.embedding_requests.lock().unwrap().clone()
    }

    /// The `Authorization` headers of chat and model-list requests received so far.
    pub fn auth_headers(&self) -> Vec<String> {
        self.shared.auth_headers.lock().unwrap().clone()
    }
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

/// The deterministic reply to a chat request.
pub fn reply_for(request: &Value) -> String {
    let last_user = request["messages"]
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    format!("Echo: {last_user}")
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        shared.auth_headers.lock().unwrap().push(auth.to_string());
    }
    shared.chat_requests.lock().unwrap().push(request.clone());
    shared.chats_seen.send_modify(|n| *n += 1);
    let fault = take_fault(&shared, &headers);
    if let Some(response) = failing(fault).await {
        return response;
    }
    shared
        .served_keys
        .lock()
        .unwrap()
        .push(bearer(&headers).unwrap_or_default());
    let model = request["model"].as_str().unwrap_or("fake").to_string();
    let canned = shared.canned.lock().unwrap().get(&model).cloned();
    let reply = canned.unwrap_or_else(|| reply_for(&request));
    let prompt_tokens = request.to_string().len() as u64 / 4;
    let completion_tokens = reply.split_whitespace().count() as u64;
    if let Some(call) = tool_call_for(&request) {
        return tool_call_response(&request, &model, call);
    }
    if request["stream"] != json!(true) {
        return Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let chars: Vec<char> = reply.chars().collect();
    for piece in chars.chunks(4) {
        events.push(chunk(
            json!({"content": piece.iter().collect::<String>()}),
            Value::Null,
        ));
    }
    let cut = fault == Fault::CutStream;
    if cut {
        events.truncate(3);
    } else {
        events.push(chunk(json!({}), json!("stop")));
        if request["stream_options"]["include_usage"] == json!(true) {
            events.push(json!({
                "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
            }));
        }
    }
    let mut lines: Vec<Result<String, std::io::Error>> = events
        .into_iter()
        .map(|e| Ok(format!("data: {e}\n\n")))
        .collect();
    // A cut stream simply stops: no final chunk, no `[DONE]`. (Failing the body
    // instead would make hyper drop the response before its head is flushed.)
    if !cut {
        lines.push(Ok("data: [DONE]\n\n".to_string()));
    }
    let delay = *shared.stream_delay.lock().unwrap();
    let pieces = futures::StreamExt::then(futures::stream::iter(lines), move |line| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        line
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(pieces))
        .unwrap()
}

/// With `tools` offered and a user message last, the fake calls the first
/// tool with `{"q": <the message>}`. (A `tool` message last gets the
/// ordinary echo reply, which quotes the last user message.)
fn tool_call_for(request: &Value) -> Option<Value> {
    let name = request["tools"][0]["function"]["name"].as_str()?;
    let last = request["messages"].as_array()?.last()?;
    if last["role"] != "user" {
        return None;
    }
    let arguments = json!({"q": last["content"]}).to_string();
    Some(
        json!({"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}),
    )
}

fn tool_call_response(request: &Value, model: &str, call: Value) -> Response {
    if request["stream"] != json!(true) {
        return Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [call]}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }))
        .into_response();
    }
    // Streamed the way OpenAI does: the name first, the arguments in pieces.
    let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
    let split = arguments.len() / 2;
    let split = (split..=arguments.len())
        .find(|i| arguments.is_char_boundary(*i))
        .unwrap_or(0);
    let delta = |tool: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
               "choices": [{"index": 0, "delta": tool, "finish_reason": finish}]})
    };
    let events = [
        delta(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}]}),
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": &arguments[..split]}}]}),
            Value::Null,
        ),
        delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": &arguments[split..]}}]}),
            Value::Null,
        ),
        delta(json!({}), json!("tool_calls")),
    ];
    let mut lines: Vec<Result<String, std::io::Error>> = events
        .iter()
        .map(|e| Ok(format!("data: {e}\n\n")))
        .collect();
    lines.push(Ok("data: [DONE]\n\n".to_string()));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(futures::stream::iter(lines)))
        .unwrap()
}

async fn embeddings(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    shared
        .embedding_requests
        .lock()
        .unwrap()
        .push(request.clone());
    if let Some(response) = failing(take_fault(&shared, &headers)).await {
        return response;
    }
    let inputs: Vec<String> = match &request["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": "input must be a string or array"}})),
            )
                .into_response()
        }
    };
    // `dimensions` shortens the vectors, as models that can do it do.
    let width = match request["dimensions"].as_u64() {
        Some(d) => (d as usize).min(width_for(request["model"].as_str().unwrap_or_default())),
        None => width_for(request["model"].as_str().unwrap_or_default()),
    };
    let blind = *shared.blind.lock().unwrap();
    let formats = *shared.formats.lock().unwrap();
    let base64 = match (request["encoding_format"].as_str(), formats) {
        (Some("base64"), EmbeddingFormats::FloatsOnly) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": "encoding_format: only 'float' is supported", "type": "invalid_request_error"}})),
            )
                .into_response()
        }
        (Some("base64"), EmbeddingFormats::Both) => true,
        _ => false,
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let vector = if blind {
                embed_width(&format!("opaque{:x}", fnv(text)), width)
            } else {
                embed_width(text, width)
            };
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    // A token a word, at least one a text.
    let tokens: usize = inputs
        .iter()
        .map(|t| t.split_whitespace().count().max(1))
        .sum();
    Json(json!({"object": "list", "data": data, "model": request["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
        .into_response()
}

/// A 1×1 transparent PNG.
pub const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

async fn rerank(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    shared.rerank_requests.lock().unwrap().push(request.clone());
    if let Some(response) = failing(take_fault(&shared, &headers)).await {
        return response;
    }
    if *shared.rerank_reversed.lock().unwrap() {
        let count = request["documents"].as_array().map_or(0, Vec::len);
        let results: Vec<Value> = (0..count)
            .rev()
            .enumerate()
            .map(|(rank, index)| json!({"index": index, "relevance_score": 1.0 / (rank as f64 + 1.0)}))
            .collect();
        return Json(json!({"results": results})).into_response();
    }
    let query: std::collections::HashSet<String> =
        features(request["query"].as_str().unwrap_or_default())
            .into_iter()
            .collect();
    let docs = request["documents"].as_array().cloned().unwrap_or_default();
    let mut results: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let f = features(d.as_str().unwrap_or_default());
            let hits = f.iter().filter(|x| query.contains(*x)).count();
            (i, hits as f64 / (f.len().max(1) as f64))
        })
        .collect();
    results.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top_n = request["top_n"]
        .as_u64()
        .map(|n| n as usize)
        .unwrap_or(results.len());
    let results: Vec<Value> = results
        .into_iter()
        .take(top_n)
        .map(|(index, score)| json!({"index": index, "relevance_score": score}))
        .collect();
    // A token a word of the query and of every document.
    let words = |v: &Value| v.as_str().unwrap_or_default().split_whitespace().count();
    let tokens = words(&request["query"]) + docs.iter().map(words).sum::<usize>();
    Json(json!({"results": results, "usage": {"total_tokens": tokens}})).into_response()
}

async fn models(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Json<Value> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        shared.auth_headers.lock().unwrap().push(auth.to_string());
    }
    Json(json!({"object": "list", "data": [
        {"id": "fake-chat", "object": "model", "owned_by": "fake"},
        {"id": "fake-1024", "object": "model", "owned_by": "fake"},
        {"id": "BAAI/bge-large-zh-v1.5", "object": "model", "owned_by": "fake"},
    ]}))
}
