//! Any bytes as a `POST /v1/responses` (OpenAI's Responses API) body,
//! through what the server does with one before any I/O: parsing, the item
//! count cap, the translation into a chat request, then the chat request's
//! caps and roles. Nothing may panic, and the translation must stay within
//! what it is built to add: the instructions, and at most one message per
//! input item (a function call joins the message before it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_fuzz::CAPS;
use ragway_protocol::responses::ResponsesRequest;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ResponsesRequest>(data) else {
        return;
    };
    let items = match &request.input {
        Some(Value::Array(items)) => items.len(),
        _ => 1,
    };
    if let Err(err) = CAPS.check_count(items) {
        assert!(items > CAPS.max_messages, "{err}");
        return;
    }
    let stream = request.stream == Some(true);
    let Ok(translated) = request.into_chat() else {
        return;
    };
    let chat = &translated.chat;
    assert!(
        chat.messages.len() <= 1 + items,
        "{} messages from {items} items",
        chat.messages.len()
    );
    assert!(translated.input_messages <= chat.messages.len());
    for message in &chat.messages {
        match message.role.as_str() {
            "system" | "developer" | "user" | "assistant" | "tool" => {}
            other => panic!("translated role {other:?}"),
        }
    }
    assert_eq!(chat.stream, stream);
    assert_eq!(chat.rest.contains_key("stream_options"), stream);
    if let Some(Value::Array(tools)) = chat.rest.get("tools") {
        assert!(tools.iter().all(|t| t["function"]["name"].is_string()));
    }
    let accepted = ragway_fuzz::check_messages(&CAPS, &chat.messages);
    if accepted {
        assert!(chat.messages.len() <= CAPS.max_messages);
    }
});
