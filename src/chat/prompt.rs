//! What goes into the upstream's system prompt besides the client's own:
//! the model's prompt, the numbered sources (or the note that the knowledge
//! base has nothing on the question), merged into one leading system
//! message; and the readable footer of sources some models append.

use serde_json::Value;

use super::Message;
use crate::retrieval::{self, Source};

/// The readable list of sources appended to an answer.
pub(super) fn footer(sources: &[Source]) -> String {
    let mut text = String::from("\n\n---\n");
    for source in sources {
        text.push_str(&format!("[{}] {}", source.index, source.title));
        if let Some(page) = source.page {
            text.push_str(&format!(" (p. {page})"));
        }
        text.push('\n');
    }
    text.truncate(text.trim_end().len());
    text
}

/// What the system prompt says of the knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grounding {
    /// The sources, if there are any (none: retrieval is off for the
    /// model, or the knowledge base holds nothing searchable yet).
    Sources,
    /// The knowledge base was searched and nothing in it passed (a
    /// question it cannot answer): say so, so that the model does not
    /// present a guess as the knowledge base's answer.
    NothingFound,
}

/// The messages with the model's system prompt and the sources in one
/// leading system message (merged into the client's own, so upstreams that
/// allow only one system message still work): the model's prompt first, then
/// the client's, then the sources (or the note that none were found).
pub(super) fn with_system(
    mut messages: Vec<Message>,
    prompt: Option<&str>,
    sources: &[Source],
    grounding: Grounding,
) -> Vec<Message> {
    let mut parts: Vec<String> = prompt.map(str::to_string).into_iter().collect();
    let block = match grounding {
        Grounding::NothingFound => Some(retrieval::NOTHING_FOUND.to_string()),
        Grounding::Sources => (!sources.is_empty()).then(|| retrieval::context_block(sources)),
    };
    if parts.is_empty() && block.is_none() {
        return messages;
    }
    let merge = matches!(messages.first(), Some(first) if first.role == "system" && first.content.is_string());
    if merge {
        parts.push(messages[0].text());
    }
    parts.extend(block);
    let content = Value::String(parts.join("\n\n"));
    if merge {
        messages[0].content = content;
    } else {
        messages.insert(0, Message::new("system", content));
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(role: &str, content: Value) -> Message {
        Message::new(role, content)
    }

    #[test]
    fn context_merges_into_a_leading_system_message() {
        let out = with_system(
            vec![msg("system", json!("Be brief.")), msg("user", json!("q"))],
            None,
            &[Source::sample(1, "T")],
            Grounding::Sources,
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].text().starts_with("Be brief.\n\n"));
        assert!(out[0].text().contains("[1] T\nfact"));
    }

    #[test]
    fn context_adds_a_system_message_when_there_is_none() {
        let out = with_system(
            vec![msg("user", json!("q"))],
            None,
            &[Source::sample(1, "T")],
            Grounding::Sources,
        );
        assert_eq!(out[0].role, "system");
        assert_eq!(out[1].role, "user");
    }

    #[test]
    fn the_model_prompt_comes_first_then_the_clients_then_the_sources() {
        let out = with_system(
            vec![msg("system", json!("Be brief.")), msg("user", json!("q"))],
            Some("You are the harbour assistant."),
            &[Source::sample(1, "T")],
            Grounding::Sources,
        );
        assert_eq!(out.len(), 2);
        let text = out[0].text();
        assert!(
            text.starts_with("You are the harbour assistant.\n\nBe brief.\n\n"),
            "{text}"
        );
        assert!(text.contains("[1] T\nfact"));
        let out = with_system(
            vec![msg("user", json!("q"))],
            Some("P"),
            &[],
            Grounding::Sources,
        );
        assert_eq!(out[0].text(), "P");
        let untouched = with_system(vec![msg("user", json!("q"))], None, &[], Grounding::Sources);
        assert_eq!(untouched.len(), 1);
    }

    #[test]
    fn a_search_that_found_nothing_says_so() {
        let out = with_system(
            vec![msg("user", json!("q"))],
            Some("P"),
            &[],
            Grounding::NothingFound,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text(), format!("P\n\n{}", retrieval::NOTHING_FOUND));
    }

    #[test]
    fn the_footer_lists_sources_by_number() {
        let mut second = Source::sample(1, "T");
        second.index = 2;
        second.title = "Guide".into();
        second.page = Some(4);
        assert_eq!(
            footer(&[Source::sample(1, "T"), second]),
            "\n\n---\n[1] T\n[2] Guide (p. 4)"
        );
    }
}
