//! What retrieval searches for, from the conversation a request ends.

use super::error::{ChatError, ChatResult};
use ragway_protocol::chat::Message;

/// Characters of a search text embedded and searched for: embedding models
/// read a few hundred tokens, and the start of a pasted document is what
/// to search for.
const MAX_QUESTION_CHARS: usize = 2000;
/// Characters of the previous answer that join a follow-up's search text:
/// its opening names the subject ("Use git bisect: …"), the rest is detail.
const MAX_ANSWER_CHARS: usize = 300;

/// The texts retrieval searches for (`retrieval::retrieve` searches the
/// first by meaning and by words, the second by meaning, and fuses what
/// each finds): the last user message as asked and, in a conversation, the
/// same message after the exchange before it (the previous user message and the
/// start of the answer to it). A follow-up ("ok, and how do I get out of
/// that mode?", "那要是不区分大小写呢？") leaves out what it is about; the
/// exchange before it names it. A question that changes the subject still
/// finds its own documents through the text as asked. Measured on the
/// retrieval quality benchmark's follow-ups and on every question asked
/// after an unrelated exchange (BENCHMARKS.md, "Retrieval quality").
pub fn search_queries(messages: &[Message]) -> ChatResult<Vec<String>> {
    let last_user = messages
        .iter()
        .rposition(|m| m.role == "user")
        .ok_or_else(|| ChatError::Invalid("`messages` must contain a user message.".into()))?;
    let question = messages[last_user].text();
    let mut queries = vec![cut(&question, MAX_QUESTION_CHARS)];
    let before = &messages[..last_user];
    if let Some(previous) = before.iter().rposition(|m| m.role == "user") {
        let answer = before[previous..]
            .iter()
            .rev()
            .find(|m| m.role == "assistant")
            .map(|m| cut(&m.text(), MAX_ANSWER_CHARS))
            .unwrap_or_default();
        let asked = before[previous].text();
        let mut context = [asked.as_str(), answer.as_str()]
            .into_iter()
            .filter(|part| !part.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        // The question stays whole: what is cut is the conversation before it.
        context.push('\n');
        let room = MAX_QUESTION_CHARS.saturating_sub(queries[0].chars().count());
        let kept = cut_tail(&context, room);
        if !kept.trim().is_empty() {
            queries.push(format!("{kept}{}", queries[0]));
        }
    }
    Ok(queries)
}

/// The first `max` characters of `text`.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The last `max` characters of `text`.
fn cut_tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(role: &str, content: serde_json::Value) -> Message {
        serde_json::from_value(json!({ "role": role, "content": content })).unwrap()
    }

    fn turns(last: &str) -> Vec<Message> {
        vec![
            msg("system", json!("Be brief.")),
            msg("user", json!("Which ferries go to the island?")),
            msg("assistant", json!("Two: the Swallow and the Tern.")),
            msg("user", json!(last)),
        ]
    }

    #[test]
    fn a_follow_up_is_searched_as_asked_and_after_its_exchange() {
        assert_eq!(
            search_queries(&turns("and the second one on Sundays?")).unwrap(),
            [
                "and the second one on Sundays?",
                "Which ferries go to the island?\nTwo: the Swallow and the Tern.\nand the second one on Sundays?"
            ]
        );
        assert_eq!(
            search_queries(&turns("那第二个呢？")).unwrap()[1],
            "Which ferries go to the island?\nTwo: the Swallow and the Tern.\n那第二个呢？"
        );
    }

    #[test]
    fn a_first_question_is_searched_once() {
        assert_eq!(
            search_queries(&[
                msg("system", json!("Be brief.")),
                msg("user", json!("Parking rules?"))
            ])
            .unwrap(),
            ["Parking rules?"]
        );
        assert!(search_queries(&[msg("assistant", json!("hi"))]).is_err());
    }

    #[test]
    fn long_texts_are_cut_the_question_kept_whole() {
        let long_answer = "x".repeat(5000);
        let long_question = "y".repeat(1900);
        let messages = vec![
            msg("user", json!("z".repeat(5000))),
            msg("assistant", json!(long_answer)),
            msg("user", json!(long_question.clone())),
        ];
        let queries = search_queries(&messages).unwrap();
        assert_eq!(queries[0], long_question);
        assert_eq!(queries[1].chars().count(), MAX_QUESTION_CHARS);
        assert!(queries[1].ends_with(&long_question));
        let pasted = "w".repeat(9000);
        assert_eq!(
            search_queries(&[msg("user", json!(pasted))]).unwrap()[0].len(),
            MAX_QUESTION_CHARS
        );
    }
}
