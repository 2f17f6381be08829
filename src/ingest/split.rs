//! Splitting extracted text into chunks with `text-splitter`: semantic
//! boundaries first (headings for markdown, paragraphs, sentences — Unicode
//! sentence rules, so 。！？ end sentences too), then size in tokens.

use std::sync::OnceLock;

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};
use tiktoken_rs::CoreBPE;

use super::extract::Format;

/// The tokenizer chunk sizes are counted in: OpenAI's cl100k, which ships
/// inside the binary (no download) and counts Chinese and English text
/// within a few percent of the bge models' own tokenizers.
fn tokenizer() -> &'static CoreBPE {
    static TOKENIZER: OnceLock<CoreBPE> = OnceLock::new();
    TOKENIZER
        .get_or_init(|| tiktoken_rs::cl100k_base().expect("the bundled cl100k vocabulary loads"))
}

/// Chunks of at most `size` tokens, neighbours sharing up to `overlap` tokens.
pub fn split(format: Format, text: &str, size: usize, overlap: usize) -> Vec<String> {
    let config = ChunkConfig::new(size)
        .with_sizer(tokenizer())
        .with_overlap(overlap.min(size.saturating_sub(1)))
        .expect("overlap is smaller than size")
        .with_trim(true);
    let chunks: Vec<&str> = if format.is_markdown() {
        MarkdownSplitter::new(config).chunks(text).collect()
    } else {
        TextSplitter::new(config).chunks(text).collect()
    };
    chunks
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_size_in_tokens() {
        let text = "第一句话。Second sentence here! ".repeat(400);
        let chunks = split(Format::Text, &text, 64, 8);
        assert!(chunks.len() > 10);
        assert!(chunks
            .iter()
            .all(|c| tokenizer().encode_ordinary(c).len() <= 64));
    }

    #[test]
    fn chinese_sentences_are_not_cut() {
        let text =
            "年假制度说明如下。".repeat(30) + "报销须在十日内提交！" + &"差旅规定如下。".repeat(30);
        for chunk in split(Format::Text, &text, 40, 0) {
            assert!(chunk.ends_with('。') || chunk.ends_with('！'), "{chunk}");
        }
    }

    #[test]
    fn markdown_sections_keep_their_heading() {
        let text = format!(
            "# Leave\n\n{}\n\n# Travel\n\n{}",
            "Leave rules. ".repeat(30),
            "Travel rules. ".repeat(30)
        );
        let chunks = split(Format::Markdown, &text, 100, 0);
        assert!(chunks[0].starts_with("# Leave"));
        assert!(
            chunks.iter().any(|c| c.starts_with("# Travel")),
            "{chunks:?}"
        );
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(
            split(Format::Markdown, "# A\n\nbody", 1000, 100),
            vec!["# A\n\nbody"]
        );
        assert!(split(Format::Text, "   ", 1000, 100).is_empty());
    }
}
