//! Splitting extracted text into chunks with `text-splitter`: semantic
//! boundaries first (headings for markdown, paragraphs, sentences), then size.

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};

use super::extract::Format;

/// Chunks of at most `size` characters, neighbours sharing up to `overlap`.
pub fn split(format: Format, text: &str, size: usize, overlap: usize) -> Vec<String> {
    let config = ChunkConfig::new(size)
        .with_overlap(overlap.min(size.saturating_sub(1)))
        .expect("overlap is smaller than size")
        .with_trim(true);
    let chunks: Vec<&str> = match format {
        Format::Markdown => MarkdownSplitter::new(config).chunks(text).collect(),
        Format::Text | Format::Pdf => TextSplitter::new(config).chunks(text).collect(),
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
    fn chunks_respect_the_size() {
        let text = "第一句话。".repeat(400);
        let chunks = split(Format::Text, &text, 200, 20);
        assert!(chunks.len() > 5);
        assert!(chunks.iter().all(|c| c.chars().count() <= 200));
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
