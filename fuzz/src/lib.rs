//! What the fuzz targets share.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

/// Runs `f`, treating a panic as an answer rather than a crash: libfuzzer-sys
/// aborts on every panic, but a panic in the extraction child is contained
/// (the document fails with the panic's message).
pub fn ignore_panics(f: impl FnOnce()) {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Small caps for the request targets, so that inputs the fuzzer can reach
/// cross them (the server's defaults are 2,000 messages and 1 MiB a message).
pub const CAPS: ragway_protocol::Caps = ragway_protocol::Caps {
    max_messages: 8,
    max_message_bytes: 256,
};

/// What the server does with a chat request's messages before any I/O (the
/// caps, then the roles), with what must hold of each answer: a refusal
/// exactly when a cap or a role is broken, text counted as it is joined,
/// and every message stored in a form that reads back. Returns whether the
/// messages were accepted.
pub fn check_messages(caps: &ragway_protocol::Caps, messages: &[ragway_protocol::Message]) -> bool {
    use ragway_protocol::chat::{validate, Message, ROLES};
    use serde_json::Value;

    for message in messages {
        let text = message.text();
        let joined = match &message.content {
            Value::Array(parts) => parts
                .iter()
                .filter(|p| p.get("text").is_some_and(Value::is_string))
                .count()
                .saturating_sub(1),
            _ => 0,
        };
        assert_eq!(text.len(), message.text_bytes() + joined, "{message:?}");
        // The history is stored as each message's JSON and read back.
        let stored = serde_json::to_vec(message).expect("a message serializes");
        let back: Message = serde_json::from_slice(&stored).expect("a stored message reads back");
        assert_eq!(back.role, message.role);
        assert_eq!(back.text(), text);
    }

    let within_caps = messages.len() <= caps.max_messages
        && messages
            .iter()
            .all(|m| m.text_bytes() <= caps.max_message_bytes);
    match caps.check_request(messages) {
        Ok(()) => assert!(within_caps),
        Err(err) => {
            assert!(!within_caps, "refused within the caps: {err}");
            assert!(err.to_string().contains("RAGWAY_MAX_"), "{err}");
            return false;
        }
    }
    let roles_known = messages.iter().all(|m| ROLES.contains(&m.role.as_str()));
    match validate(messages) {
        Ok(()) => assert!(!messages.is_empty() && roles_known),
        Err(err) => {
            assert!(messages.is_empty() || !roles_known, "refused: {err}");
            return false;
        }
    }
    true
}
