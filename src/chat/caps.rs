//! The caps on what one chat request may carry and what a key may keep:
//! messages per request, bytes of text per message (checked first, before
//! any work that grows with the request), messages per stored conversation
//! and bytes of conversations stored per key (checked once the conversation
//! is known, before anything is called upstream or stored). Each refusal is
//! a 400 that names the setting and its value. The per-request caps are
//! `ragway-protocol`'s (pure, fuzzed alone); the ones that read what is
//! stored are here.

use ragway_protocol::Caps;

use super::conversations::Thread;
use super::error::{ChatError, ChatResult};
use super::Message;
use crate::config::Settings;

/// The per-request caps from the settings of the same names.
impl From<&Settings> for Caps {
    fn from(settings: &Settings) -> Self {
        Caps {
            max_messages: settings.max_request_messages,
            max_message_bytes: settings.max_message_bytes,
        }
    }
}

/// Refuse a request with more messages than `RAGWAY_MAX_REQUEST_MESSAGES`.
/// Constant time: the first thing done with a request's messages.
pub fn check_count(count: usize, settings: &Settings) -> ChatResult<()> {
    Ok(Caps::from(settings).check_count(count)?)
}

/// Refuse a request over `RAGWAY_MAX_REQUEST_MESSAGES`, or with a message
/// whose text is over `RAGWAY_MAX_MESSAGE_BYTES`.
pub fn check_request(messages: &[Message], settings: &Settings) -> ChatResult<()> {
    Ok(Caps::from(settings).check_request(messages)?)
}

/// Refuse an exchange that would make `thread`'s stored conversation hold
/// more than `RAGWAY_MAX_CONVERSATION_MESSAGES`, or add to a key that the
/// request's new messages would take past `RAGWAY_MAX_KEY_STORED_BYTES`
/// (`stored`: what the key has now). Nothing is ever dropped from a stored
/// conversation to make room: the client is told to start a new one.
pub fn check_stored(thread: &Thread, stored: u64, settings: &Settings) -> ChatResult<()> {
    let max = settings.max_conversation_messages;
    let after = thread.stored_after();
    if after > max {
        return Err(ChatError::OverCap(format!(
            "Conversation {} would hold {after} messages with this exchange; at most {max} are \
             stored in one conversation (RAGWAY_MAX_CONVERSATION_MESSAGES={max}). Start a new \
             conversation (no `X-Conversation-Id`), or delete old ones.",
            thread.id
        )));
    }
    let max = settings.max_key_stored_bytes;
    let adding = thread.added_bytes();
    if stored.saturating_add(adding) > max {
        return Err(ChatError::OverCap(format!(
            "This key has {stored} bytes of conversations stored and this request would add \
             {adding}; at most {max} are stored per key (RAGWAY_MAX_KEY_STORED_BYTES={max}). \
             Delete old conversations (`DELETE /v1/conversations/{{id}}`) to make room."
        )));
    }
    Ok(())
}

/// The bytes `message` takes stored (its JSON body), counted without
/// building the JSON.
pub fn stored_size(message: &Message) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a message to a counter cannot fail (its maps have string keys).
    let _ = serde_json::to_writer(&mut count, message);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            max_request_messages: 3,
            max_message_bytes: 4,
            ..Settings::default()
        }
    }

    #[test]
    fn requests_over_a_cap_name_its_setting() {
        let m = |text: &str| Message::new("user", json!(text));
        assert!(check_request(&[m("a"), m("b"), m("c")], &settings()).is_ok());
        let err = check_request(&[m("a"), m("b"), m("c"), m("d")], &settings()).unwrap_err();
        assert!(matches!(err, ChatError::Invalid(_)));
        assert!(
            err.to_string().contains("RAGWAY_MAX_REQUEST_MESSAGES=3"),
            "{err}"
        );
        let err = crate::error::AppError::from(
            check_request(&[m("ab"), m("一二")], &settings()).unwrap_err(),
        );
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(
            err.to_string().contains("RAGWAY_MAX_MESSAGE_BYTES=4"),
            "{err}"
        );
        assert!(check_count(4, &settings()).is_err());
    }

    #[test]
    fn the_stored_size_is_the_json_body() {
        let message = Message::new("user", json!("héllo"));
        let body = serde_json::to_string(&message).unwrap();
        assert_eq!(stored_size(&message), body.len() as u64);
    }
}
