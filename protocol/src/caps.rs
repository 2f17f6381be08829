//! The caps on what one chat request may carry: messages per request, and
//! bytes of text per message. They are checked first, before any work that
//! grows with the request; each refusal names the server setting behind
//! the cap (`RAGWAY_MAX_REQUEST_MESSAGES`, `RAGWAY_MAX_MESSAGE_BYTES`) and
//! its value, so that the caller knows what to change or whom to ask.

use crate::chat::Message;
use crate::{bad, RequestResult};

/// The limits on one request, as the server's settings give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Messages one request may carry (`RAGWAY_MAX_REQUEST_MESSAGES`).
    pub max_messages: usize,
    /// Bytes of text one message may carry (`RAGWAY_MAX_MESSAGE_BYTES`).
    pub max_message_bytes: usize,
}

impl Caps {
    /// Refuse a request with more than [`Self::max_messages`] messages.
    /// Constant time: the first thing done with a request's messages (for
    /// the Messages API, before its translation).
    pub fn check_count(&self, count: usize) -> RequestResult<()> {
        let max = self.max_messages;
        if count > max {
            return Err(bad(format!(
                "This request has {count} messages; at most {max} are allowed in one request \
                 (RAGWAY_MAX_REQUEST_MESSAGES={max}). With `X-Conversation-Id`, send only the new message: \
                 the stored history is put before it."
            )));
        }
        Ok(())
    }

    /// Refuse a request over [`Self::max_messages`], or with a message whose
    /// text ([`Message::text_bytes`]) is over [`Self::max_message_bytes`].
    pub fn check_request(&self, messages: &[Message]) -> RequestResult<()> {
        self.check_count(messages.len())?;
        let max = self.max_message_bytes;
        if let Some((i, bytes)) = messages
            .iter()
            .map(Message::text_bytes)
            .enumerate()
            .find(|&(_, bytes)| bytes > max)
        {
            return Err(bad(format!(
                "messages[{i}] has {bytes} bytes of text; at most {max} are allowed in one message \
                 (RAGWAY_MAX_MESSAGE_BYTES={max})."
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CAPS: Caps = Caps {
        max_messages: 3,
        max_message_bytes: 4,
    };

    fn m(text: &str) -> Message {
        Message::new("user", json!(text))
    }

    #[test]
    fn requests_over_a_cap_name_its_setting() {
        assert!(CAPS.check_request(&[m("a"), m("b"), m("c")]).is_ok());
        let err = CAPS
            .check_request(&[m("a"), m("b"), m("c"), m("d")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("This request has 4 messages; at most 3 are allowed in one request")
                && err.contains("RAGWAY_MAX_REQUEST_MESSAGES=3"),
            "{err}"
        );
        // Bytes, not characters: two CJK characters are six bytes.
        let err = CAPS.check_request(&[m("ab"), m("一二")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "messages[1] has 6 bytes of text; at most 4 are allowed in one message \
             (RAGWAY_MAX_MESSAGE_BYTES=4)."
        );
        // Text parts count together, without the newlines that join them.
        let parts = |second: &str| {
            Message::new(
                "user",
                json!([{"type": "text", "text": "ab"}, {"type": "text", "text": second}]),
            )
        };
        assert!(CAPS.check_request(&[parts("cd")]).is_ok());
        assert!(CAPS.check_request(&[parts("cde")]).is_err());
    }

    #[test]
    fn the_count_alone_is_checked_in_constant_time() {
        assert!(CAPS.check_count(3).is_ok());
        assert!(CAPS.check_count(usize::MAX).is_err());
    }
}
