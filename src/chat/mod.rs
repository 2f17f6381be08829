//! The chat pipeline: check the model, find the conversation, trim it to the
//! limits, retrieve sources for the last user message, put them into the
//! system prompt, call the chat upstream, pass its answer on (whole, or as
//! events the moment its chunks arrive) and save the exchange. It returns an
//! [`Answer`]; each client protocol renders that its own way (`http::chat`,
//! `http::anthropic`).

pub mod answer;
pub mod caps;
pub mod condense;
pub mod conversations;
pub mod draw;
pub mod error;
pub mod file_search;
pub mod models;
mod prompt;
mod query;
pub mod responses;
mod stream;
mod trim;

use serde_json::{Map, Value};
use tracing::Instrument;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::retrieval::{self, Source};
use crate::state::AppState;
use crate::usage::LogHandle;
pub use answer::{Answer, Event, Events, Reply};
pub use conversations::Named;
use prompt::{footer, with_system, Grounding};
pub use query::search_queries;

// The request types and their checks are `ragway-protocol`'s (pure, fuzzed
// alone); these paths stay the server's names for them.
use ragway_protocol::chat::validate;
pub use ragway_protocol::chat::{ChatRequest, Message};

/// Answer one chat completion request from `caller`, in the conversation
/// `conversation` names (the `X-Conversation-Id` header, say) if it names one:
/// check it, read what it needs, answer a drawing request by drawing, else
/// ground the question in the knowledge base and ask the chat upstream.
pub async fn complete(
    state: &AppState,
    caller: &Caller,
    conversation: Option<Named>,
    origin: &str,
    log: &LogHandle,
    mut request: ChatRequest,
) -> AppResult<Answer> {
    let started = std::time::Instant::now();
    // The caps first: nothing that grows with the request runs before them.
    caps::check_request(&request.messages, &state.settings)?;
    log.set_stream(request.stream);
    validate(&request.messages)?;
    file_search::take_tool(&mut request)?;
    let explicit = conversation_named(conversation, &mut request.rest)?;
    let client_usage = request
        .rest
        .get("stream_options")
        .is_some_and(|o| o["include_usage"] == Value::Bool(true));
    // The lookups before the answer are independent reads: at once.
    let (quota, model, thread, catalog, stored) = tokio::join!(
        crate::usage::quota::check_tokens(&state.db, &state.request_log, caller),
        models::resolve(state.models(), &request.model),
        conversations::find(
            &state.db,
            &state.saver,
            &caller.key_id,
            explicit.as_ref(),
            request.messages,
        ),
        state.known_catalog.read(&state.db),
        state.saver.stored_bytes(&state.db, &caller.key_id),
    );
    quota?;
    let model = model?;
    log.set_model(&model.id, model.upstream_model.as_deref());
    let mut thread = thread?;
    let stored = stored?;
    let bytes = thread.added_text_bytes();
    apart(bytes, || {
        caps::check_stored(&thread, stored, &state.settings)
    })?;
    conversations::check_replacement(&thread)?;
    let runtime = state.runtime();
    let limits = trim::Limits {
        max_messages: model
            .max_messages
            .map_or(runtime.max_messages, |m| m.max(1) as usize),
        max_message_chars: runtime.max_message_chars,
        max_total_chars: runtime.max_total_chars,
    };
    // An id-only request: the stored turns the upstream can take, not all.
    conversations::load_history(&state.db, &mut thread, limits.max_messages).await?;
    let mut exchange = Exchange {
        state: state.clone(),
        key_id: caller.key_id.clone(),
        model: model.id.clone(),
        thread,
        sources: Vec::new(),
        file_search: None,
        footer: None,
        log: log.clone(),
    };
    log.set_conversation(&exchange.thread.id);
    if let Some(prompt) = drawing_prompt(&model, &runtime.draw_triggers, &exchange) {
        return Ok(draw::answer(exchange, origin, &prompt, request.stream, client_usage).await);
    }
    let ready = state.upstreams.chat.ready()?;
    let upstream_model = model
        .upstream_model
        .clone()
        .unwrap_or_else(|| ready.model().to_string());
    log.set_model(&model.id, Some(&upstream_model));
    let queries = condense::queries(
        &state.upstreams.chat,
        &model,
        &exchange.thread.messages,
        log,
    )
    .await?;
    // Saving needs only what the request adds, not the whole history.
    let outgoing = trim::trim(std::mem::take(&mut exchange.thread.messages), limits);

    let prepared_at = started.elapsed();
    let grounding = if let Some(tool) = request.file_search.take() {
        file_search::ground(caller, tool, &queries, &mut exchange).await?
    } else if model.retrieval {
        let options = retrieval_options(&model, runtime.top_k);
        ground(caller, catalog?, &queries, options, &mut exchange).await?
    } else {
        Grounding::Sources
    };
    let sources = &exchange.sources;
    let wants_footer = model.citation_footer || runtime.citation_footer;
    exchange.footer = (wants_footer && !sources.is_empty()).then(|| footer(sources));
    let prompt = model
        .system_prompt
        .as_deref()
        .or(runtime.system_prompt.as_deref());
    let messages = with_system(outgoing, prompt, &exchange.sources, grounding);
    let body = upstream_body(request.rest, &upstream_model, &messages, request.stream);

    if !request.stream {
        return ask_whole(exchange, &upstream_model, &body).await;
    }
    let retrieved_at = started.elapsed();
    let response = state
        .upstreams
        .chat
        .send("/chat/completions", &upstream_model, &body, log)
        .await?;
    // Where the time to the first byte goes (each from the start).
    tracing::debug!(
        prepared_ms = prepared_at.as_secs_f64() * 1e3,
        retrieved_ms = retrieved_at.as_secs_f64() * 1e3,
        upstream_head_ms = started.elapsed().as_secs_f64() * 1e3,
        "chat timings"
    );
    let (idle, max_bytes) = (
        state.upstreams.chat.idle_timeout(),
        state.upstreams.chat.max_answer_bytes(),
    );
    // What the answer says besides its events, taken before the relay owns the exchange.
    let mut answer = exchange.answer(Reply::Whole(Value::Null));
    let events = stream::relay(response, exchange, client_usage, idle, max_bytes);
    answer.reply = Reply::Stream(events);
    Ok(answer)
}

/// The conversation a request names: the face's (the header's, say), else
/// the body's `conversation_id` (taken out of what goes upstream).
fn conversation_named(
    named: Option<Named>,
    rest: &mut Map<String, Value>,
) -> AppResult<Option<Named>> {
    match (named, rest.remove("conversation_id")) {
        (Some(named), _) => Ok(Some(named)),
        (None, None | Some(Value::Null)) => Ok(None),
        (None, Some(Value::String(id))) => Ok(Some(Named::Id(id))),
        (None, Some(_)) => Err(AppError::BadRequest(
            "`conversation_id` must be a string.".into(),
        )),
    }
}

/// The picture to draw, when the model draws and the last message (a
/// user's) starts with one of its triggers (`global`: the default ones).
fn drawing_prompt(model: &models::Model, global: &[String], exchange: &Exchange) -> Option<String> {
    if !model.drawing {
        return None;
    }
    let triggers = model.draw_triggers.as_deref().unwrap_or(global);
    let last = exchange
        .thread
        .messages
        .last()
        .filter(|m| m.role == "user")?;
    draw::prompt(&last.text(), triggers)
}

/// Search the knowledge base for `queries` into the exchange's sources; what
/// the system prompt is to say of them.
async fn ground(
    caller: &Caller,
    mut catalog: std::sync::Arc<retrieval::Catalog>,
    queries: &[String],
    options: retrieval::Options<'_>,
    exchange: &mut Exchange,
) -> AppResult<Grounding> {
    let started = std::time::Instant::now();
    let state = exchange.state.clone();
    let retriever = state.retriever();
    let span = tracing::debug_span!("retrieval", top_k = options.top_k, queries = queries.len());
    let found = retrieval::retrieve(retriever, caller, &catalog, queries, options)
        .instrument(span)
        .await;
    exchange.sources = match found {
        Ok(sources) => sources,
        Err(err) => {
            // The catalog kept may name an index another replica has just
            // replaced (and dropped): read it again, and search again if so.
            state.known_catalog.forget();
            let fresh = state.known_catalog.read(&state.db).await?;
            if fresh.table() == catalog.table() {
                return Err(err);
            }
            catalog = fresh;
            retrieval::retrieve(retriever, caller, &catalog, queries, options).await?
        }
    };
    exchange.log.set_retrieval(started.elapsed());
    Ok(if exchange.sources.is_empty() && catalog.searchable() {
        Grounding::NothingFound
    } else {
        Grounding::Sources
    })
}

/// The request to the chat upstream: the client's parameters as they came,
/// with the upstream model, the prepared messages and, when streaming, usage
/// asked for (to be saved with the answer; the client sees the usage chunk
/// only if it asked for it). It borrows the messages: they are written
/// straight into the request's bytes, never copied into a JSON tree.
#[derive(serde::Serialize)]
struct UpstreamBody<'a> {
    model: &'a str,
    messages: &'a [Message],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Map<String, Value>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

fn upstream_body<'a>(
    mut rest: Map<String, Value>,
    model: &'a str,
    messages: &'a [Message],
    stream: bool,
) -> UpstreamBody<'a> {
    let stream_options = stream.then(|| {
        let mut options = match rest.remove("stream_options") {
            Some(Value::Object(options)) => options,
            _ => Map::new(),
        };
        options.insert("include_usage".into(), Value::Bool(true));
        options
    });
    UpstreamBody {
        model,
        messages,
        stream,
        stream_options,
        rest,
    }
}

/// Ask the chat upstream for a whole answer, save it, and answer with it.
async fn ask_whole(
    exchange: Exchange,
    upstream_model: &str,
    body: &UpstreamBody<'_>,
) -> AppResult<Answer> {
    let mut completion: Value = exchange
        .state
        .upstreams
        .chat
        .send_json("/chat/completions", upstream_model, body, &exchange.log)
        .await?;
    let message = answered(&mut completion, exchange.footer.as_deref());
    let usage = completion.get("usage").filter(|u| u.is_object()).cloned();
    exchange.save(message, usage, false).await;
    if let Some(object) = completion.as_object_mut() {
        object.insert("model".into(), Value::String(exchange.model.clone()));
    }
    Ok(exchange.answer(Reply::Whole(completion)))
}

/// Fields of an upstream's answer message kept in the history: the rest
/// (such as DeepSeek's `reasoning_content`) may not be sent back upstream.
const KEPT_FIELDS: &[&str] = &["tool_calls", "function_call", "name"];

/// The first choice's message of a non-stream answer, with the footer (if
/// any) appended in the answer as well.
fn answered(answer: &mut Value, footer: Option<&str>) -> Message {
    let choice = &mut answer["choices"][0];
    let finished_with_text = choice["finish_reason"] != "tool_calls";
    let message = &mut choice["message"];
    if let (Some(footer), true, Some(text)) =
        (footer, finished_with_text, message["content"].as_str())
    {
        message["content"] = Value::String(format!("{text}{footer}"));
    }
    let rest = message
        .as_object()
        .map(|object| {
            object
                .iter()
                .filter(|(k, v)| KEPT_FIELDS.contains(&k.as_str()) && !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Message {
        role: "assistant".into(),
        content: message["content"].clone(),
        rest,
    }
}

/// One request's conversation, model and sources, saved once the answer is in.
pub(crate) struct Exchange {
    state: AppState,
    key_id: String,
    /// The public model name.
    model: String,
    thread: conversations::Thread,
    sources: Vec<Source>,
    /// What a `file_search` tool searched, when the request had one.
    file_search: Option<file_search::FileSearchRun>,
    /// Appended to a finished answer, when the model asks for it.
    footer: Option<String>,
    /// The request's log entry: the answer's usage goes there too.
    log: LogHandle,
}

impl Exchange {
    /// The answer of this exchange, with `reply`.
    fn answer(&self, reply: Reply) -> Answer {
        Answer {
            conversation_id: self.thread.id.clone(),
            stored_messages: self.thread.stored_after(),
            model: self.model.clone(),
            sources: self.sources.clone(),
            file_search: self.file_search.clone(),
            reply,
        }
    }

    /// Save the answer with the request's new messages. A failure is
    /// logged, not returned: the caller has its answer either way.
    async fn save(&self, message: Message, usage: Option<Value>, incomplete: bool) {
        self.log.set_usage(usage.as_ref());
        if incomplete {
            self.log
                .set_error("The answer is incomplete: the stream ended early.");
        }
        let answer = conversations::Answer {
            message,
            sources: self.sources.clone(),
            usage,
            incomplete,
        };
        let bytes = self.thread.added_text_bytes();
        let save = apart(bytes, || {
            conversations::Save::new(&self.key_id, &self.model, &self.thread, answer)
        });
        let saved = match save {
            Ok(save) => self.state.saver.save(&self.state.db, save).await,
            Err(err) => Err(err),
        };
        if let Err(err) = saved {
            tracing::error!(conversation = %self.thread.id, error = %err, "could not save the exchange");
        }
    }
}

/// Text (in bytes) from which a request's own CPU work (hashing its
/// history, measuring and serialising what it stores) is done apart from
/// the async workers' queues: as `http::ApiJson` parses such bodies.
pub(crate) const APART_BYTES: usize = 256 * 1024;

/// Run `work`, which takes a while for `bytes` of text. When `bytes` is
/// large, the worker thread first hands its queued tasks to the others
/// (tokio's `block_in_place`), so that ordinary requests are not held up
/// behind a large one's tens of milliseconds of hashing or serialising.
pub(crate) fn apart<T>(bytes: usize, work: impl FnOnce() -> T) -> T {
    let multi_thread = || {
        tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    };
    if bytes >= APART_BYTES && multi_thread() {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// The header that names a conversation, in requests and responses.
pub const CONVERSATION_HEADER: &str = "x-conversation-id";

/// The retrieval settings of `model` (`default_top_k` where it has none).
pub fn retrieval_options(model: &models::Model, default_top_k: usize) -> retrieval::Options<'_> {
    retrieval::Options {
        top_k: model.top_k.map_or(default_top_k, |k| k.max(1) as usize),
        collections: (!model.collections.is_empty()).then_some(model.collections.as_slice()),
        score_threshold: model.score_threshold,
        rerank: model.rerank,
        rerank_threshold: model.rerank_threshold,
        explain: false,
        candidates: None,
        within: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(role: &str, content: Value) -> Message {
        Message::new(role, content)
    }

    #[test]
    fn the_upstream_body_is_the_clients_with_the_prepared_messages() {
        let mut rest = Map::new();
        rest.insert("temperature".into(), json!(0.2));
        rest.insert("stream_options".into(), json!({"x": 1}));
        let messages = [msg("user", json!("q"))];
        let streamed = serde_json::to_value(upstream_body(rest.clone(), "up", &messages, true))
            .expect("serialises");
        assert_eq!(
            streamed,
            json!({
                "model": "up",
                "messages": [{"role": "user", "content": "q"}],
                "stream": true,
                "stream_options": {"x": 1, "include_usage": true},
                "temperature": 0.2,
            })
        );
        let whole =
            serde_json::to_value(upstream_body(rest, "up", &messages, false)).expect("serialises");
        assert_eq!(whole["stream"], json!(false));
        assert_eq!(
            whole["stream_options"],
            json!({"x": 1}),
            "passed on as it came"
        );
    }
}
