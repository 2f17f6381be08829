//! Keeping a request within the upstream's context: at most so many
//! messages, so many characters per message and so many in all. System
//! messages always stay; the oldest of the others go first.

use serde_json::Value;

use super::Message;

/// Appended to a message that was cut.
pub const TRUNCATED: &str = "[内容已截断]";

/// How much of a conversation goes upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Non-system messages sent, the newest kept.
    pub max_messages: usize,
    /// Characters of one message; the rest is cut and marked [`TRUNCATED`].
    pub max_message_chars: usize,
    /// Characters of all messages together.
    pub max_total_chars: usize,
}

/// `messages` within `limits`. The last message is always kept (cut to
/// `max_message_chars` if need be), and so is every system message.
pub fn trim(messages: Vec<Message>, limits: Limits) -> Vec<Message> {
    let mut messages: Vec<Message> = messages
        .into_iter()
        .map(|m| cut(m, limits.max_message_chars))
        .collect();
    let chars: Vec<usize> = messages.iter().map(|m| m.text().chars().count()).collect();
    let mut total: usize = chars.iter().sum();
    let mut kept_others = messages.iter().filter(|m| m.role != "system").count();
    let last = messages.len().saturating_sub(1);
    let mut keep = vec![true; messages.len()];
    for i in 0..last {
        let over = kept_others > limits.max_messages.max(1) || total > limits.max_total_chars;
        if !over {
            break;
        }
        if messages[i].role == "system" {
            continue;
        }
        keep[i] = false;
        kept_others -= 1;
        total -= chars[i];
    }
    // A tool result whose assistant call was dropped would be refused upstream.
    for i in 0..last {
        if messages[i].role == "system" || !keep[i] {
            continue;
        }
        if messages[i].role != "tool" {
            break;
        }
        keep[i] = false;
    }
    let mut flags = keep.into_iter();
    messages.retain(|_| flags.next().unwrap_or(true));
    messages
}

/// The message with its text cut to `max` characters and marked.
fn cut(mut message: Message, max: usize) -> Message {
    match &mut message.content {
        Value::String(text) => {
            if let Some(cut) = cut_text(text, max) {
                *text = cut;
            }
        }
        Value::Array(parts) => {
            let mut budget = max;
            for part in parts.iter_mut() {
                let Some(text) = part.get("text").and_then(Value::as_str) else {
                    continue;
                };
                let length = text.chars().count();
                if let Some(cut) = cut_text(text, budget) {
                    part["text"] = Value::String(cut);
                    budget = 0;
                } else {
                    budget -= length;
                }
            }
        }
        _ => {}
    }
    message
}

/// `text` cut to `max` characters and marked, or `None` when it fits.
fn cut_text(text: &str, max: usize) -> Option<String> {
    let (end, _) = text.char_indices().nth(max)?;
    Some(format!("{}\n{TRUNCATED}", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(role: &str, content: &str) -> Message {
        Message::new(role, json!(content))
    }

    fn roles_and_texts(messages: &[Message]) -> Vec<String> {
        messages
            .iter()
            .map(|m| format!("{}:{}", m.role, m.text()))
            .collect()
    }

    const WIDE: Limits = Limits {
        max_messages: 100,
        max_message_chars: 1000,
        max_total_chars: 10_000,
    };

    #[test]
    fn the_oldest_non_system_messages_go_first() {
        let messages = vec![
            msg("system", "s"),
            msg("user", "u1"),
            msg("assistant", "a1"),
            msg("system", "s2"),
            msg("user", "u2"),
            msg("assistant", "a2"),
            msg("user", "u3"),
        ];
        let out = trim(
            messages,
            Limits {
                max_messages: 3,
                ..WIDE
            },
        );
        assert_eq!(
            roles_and_texts(&out),
            [
                "system:s",
                "system:s2",
                "user:u2",
                "assistant:a2",
                "user:u3"
            ]
        );
    }

    #[test]
    fn the_last_message_stays_whatever_the_limits() {
        let out = trim(
            vec![msg("user", "u1"), msg("user", "u2")],
            Limits {
                max_messages: 0,
                max_message_chars: 1000,
                max_total_chars: 0,
            },
        );
        assert_eq!(roles_and_texts(&out), ["user:u2"]);
    }

    #[test]
    fn long_messages_are_cut_and_marked() {
        let out = trim(
            vec![msg("user", "一二三四五六")],
            Limits {
                max_message_chars: 4,
                ..WIDE
            },
        );
        assert_eq!(out[0].text(), format!("一二三四\n{TRUNCATED}"));
        let untouched = trim(
            vec![msg("user", "一二三四")],
            Limits {
                max_message_chars: 4,
                ..WIDE
            },
        );
        assert_eq!(untouched[0].text(), "一二三四");
    }

    #[test]
    fn text_parts_share_one_budget_and_images_stay() {
        let message = Message::new(
            "user",
            json!([
                {"type": "text", "text": "abc"},
                {"type": "image_url", "image_url": {"url": "data:…"}},
                {"type": "text", "text": "defgh"},
            ]),
        );
        let out = trim(
            vec![message],
            Limits {
                max_message_chars: 5,
                ..WIDE
            },
        );
        let parts = out[0].content.as_array().unwrap();
        assert_eq!(parts[0]["text"], "abc");
        assert_eq!(parts[1]["type"], "image_url");
        assert_eq!(parts[2]["text"], format!("de\n{TRUNCATED}"));
    }

    #[test]
    fn the_total_is_kept_with_system_messages() {
        let messages = vec![
            msg("system", "ssssssssss"),
            msg("user", "uuuuuuuuuu"),
            msg("assistant", "aaaaaaaaaa"),
            msg("user", "vvvvvvvvvv"),
        ];
        let out = trim(
            messages,
            Limits {
                max_total_chars: 25,
                ..WIDE
            },
        );
        assert_eq!(
            roles_and_texts(&out),
            ["system:ssssssssss", "user:vvvvvvvvvv"]
        );
    }

    #[test]
    fn orphaned_tool_results_go_with_their_call() {
        let messages = vec![
            msg("user", "u1"),
            msg("assistant", "calls a tool"),
            msg("tool", "result"),
            msg("assistant", "a1"),
            msg("user", "u2"),
        ];
        let out = trim(
            messages,
            Limits {
                max_messages: 3,
                ..WIDE
            },
        );
        assert_eq!(roles_and_texts(&out), ["assistant:a1", "user:u2"]);
    }
}
