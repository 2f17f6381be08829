//! Any bytes as a Gemini `generateContent` body, through what the server
//! does with one before any I/O: parsing, the turn count cap, the
//! translation into a chat request, then the chat request's caps and roles.
//! Nothing may panic, and the translation must stay within what it is
//! built to add: the system instruction, and per turn one message plus one
//! per function response (the server checks its caps again on the
//! translation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_fuzz::CAPS;
use ragway_protocol::gemini::GenerateRequest;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<GenerateRequest>(data) else {
        return;
    };
    let contents = request.contents.clone().unwrap_or_default();
    if let Err(err) = CAPS.check_count(contents.len()) {
        assert!(contents.len() > CAPS.max_messages, "{err}");
        return;
    }
    let responses: usize = contents
        .iter()
        .filter_map(|turn| turn["parts"].as_array())
        .flatten()
        .filter(|part| {
            part.get("functionResponse").is_some() || part.get("function_response").is_some()
        })
        .count();
    let Ok(chat) = request.into_chat("m", true) else {
        return;
    };
    assert!(
        chat.messages.len() <= 1 + contents.len() + responses,
        "{} messages from {} turns",
        chat.messages.len(),
        contents.len()
    );
    for (i, message) in chat.messages.iter().enumerate() {
        match message.role.as_str() {
            "system" => assert_eq!(i, 0),
            "user" | "assistant" | "tool" => {}
            other => panic!("translated role {other:?}"),
        }
    }
    assert!(chat.stream);
    if let Some(Value::Array(tools)) = chat.rest.get("tools") {
        assert!(tools.iter().all(|t| t["function"]["name"].is_string()));
    }
    let accepted = ragway_fuzz::check_messages(&CAPS, &chat.messages);
    if accepted {
        assert!(chat.messages.len() <= CAPS.max_messages);
    }
});
