//! Any bytes as a `POST /v1/messages` (Anthropic) body, through what the
//! server does with one before any I/O: parsing, the message count cap,
//! the translation into a chat request, then the chat request's caps and
//! roles. Nothing may panic, and the translation must stay within what it
//! is built to add: one system message, and per message one message plus
//! one per tool result (so the server's caps, checked again on the
//! translation, still bound what goes upstream).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_fuzz::CAPS;
use ragway_protocol::anthropic::MessagesRequest;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<MessagesRequest>(data) else {
        return;
    };
    let sent = request.messages.len();
    if let Err(err) = CAPS.check_count(sent) {
        assert!(sent > CAPS.max_messages, "{err}");
        return;
    }
    let tool_results: usize = request
        .messages
        .iter()
        .filter_map(|m| m.content.as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .count();
    let stream = request.stream == Some(true);
    let Ok(chat) = request.into_chat() else {
        return;
    };
    let translated = &chat.messages;
    assert!(
        translated.len() <= 1 + sent + tool_results,
        "{} messages from {sent} with {tool_results} tool results",
        translated.len()
    );
    // A system message only from `system`, and only first; every other
    // role one the chat pipeline takes.
    for (i, message) in translated.iter().enumerate() {
        match message.role.as_str() {
            "system" => assert_eq!(i, 0),
            "user" | "assistant" | "tool" => {}
            other => panic!("translated role {other:?}"),
        }
    }
    assert_eq!(chat.stream, stream);
    assert!(chat.rest["max_tokens"].is_u64());
    assert_eq!(
        chat.rest.contains_key("stream_options"),
        stream,
        "{:?}",
        chat.rest.get("stream_options")
    );
    if let Some(Value::Array(tools)) = chat.rest.get("tools") {
        assert!(tools.iter().all(|t| t["function"]["name"].is_string()));
    }
    let accepted = ragway_fuzz::check_messages(&CAPS, translated);
    // Within the caps, only an empty translation (say, one message of
    // thinking blocks alone) is refused: the roles are all known.
    if !accepted && CAPS.check_request(translated).is_ok() {
        assert!(translated.is_empty());
    }
    if accepted {
        assert!(translated.len() <= CAPS.max_messages);
    }
});
