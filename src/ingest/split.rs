//! Splitting extracted text into chunks with `text-splitter`: semantic
//! boundaries first (headings for markdown, paragraphs, sentences — Unicode
//! sentence rules, so 。！？ end sentences too), then size in tokens. Each
//! chunk knows the page it starts on (PDF) and the headings it sits under.

use std::collections::HashMap;

use bpe_openai::Tokenizer;
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};

use super::extract::{Extracted, Format};

/// One chunk of a document and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    /// The page the chunk starts on, from 1 (PDF only).
    pub page: Option<i32>,
    /// The headings above the chunk, outermost first, joined by ` > `.
    pub heading: Option<String>,
}

/// The tokenizer chunk sizes are counted in: OpenAI's cl100k, which ships
/// inside the binary (no download) and counts Chinese and English text
/// within a few percent of the bge models' own tokenizers. `bpe-openai`
/// gives the same tokens as `tiktoken` about three times faster (a DFA
/// pre-tokenizer instead of a backtracking regex).
fn tokenizer() -> &'static Tokenizer {
    bpe_openai::cl100k_base()
}

/// Chunks of at most `size` tokens, neighbours sharing up to `overlap` tokens.
pub fn split(format: Format, text: &str, size: usize, overlap: usize) -> Vec<String> {
    chunk_indices(format, text, size, overlap)
        .into_iter()
        .map(|(_, chunk)| chunk.to_string())
        .collect()
}

/// Chunks of a document with their page and heading path.
pub fn pieces(format: Format, doc: &Extracted, size: usize, overlap: usize) -> Vec<Piece> {
    let headings = if format.is_markdown() {
        headings(&doc.text)
    } else {
        Vec::new()
    };
    let mut path: Vec<(usize, &str)> = Vec::new();
    let mut next_heading = 0;
    chunk_indices(format, &doc.text, size, overlap)
        .into_iter()
        .map(|(offset, chunk)| {
            // Offsets only grow, so headings are taken in one pass.
            while let Some(&(at, level, title)) = headings.get(next_heading) {
                if at > offset {
                    break;
                }
                path.retain(|&(l, _)| l < level);
                path.push((level, title));
                next_heading += 1;
            }
            let page = if doc.page_starts.is_empty() {
                None
            } else {
                Some(
                    doc.page_starts
                        .partition_point(|&start| start <= offset)
                        .max(1) as i32,
                )
            };
            let heading = (!path.is_empty()).then(|| {
                path.iter()
                    .map(|&(_, title)| title)
                    .collect::<Vec<_>>()
                    .join(" > ")
            });
            Piece {
                text: chunk.to_string(),
                page,
                heading,
            }
        })
        .collect()
}

/// Token counts of any slice of one text, from a single tokenizer pass.
///
/// The splitter sizes many overlapping candidate chunks; tokenizing each
/// anew made splitting the slowest step of ingestion. Instead the text is
/// tokenized once and a candidate's size is the number of tokens its byte
/// range touches (two binary searches). A slice cut mid-token may tokenize
/// into one more token on its own than it touches here; the candidates the
/// splitter sizes are slices of the text, so this is the only difference.
/// Pieces up to this long are encoded once per text (words, mostly);
/// longer ones (runs of CJK characters, long numbers) rarely repeat.
const CACHED_PIECE_BYTES: usize = 32;

struct TokenIndex {
    base: usize,
    len: usize,
    /// Byte offset where each token ends.
    ends: Vec<usize>,
}

impl TokenIndex {
    fn new(text: &str) -> Self {
        let tokenizer = tokenizer();
        // About four bytes per token in English, three in Chinese.
        let mut ends = Vec::with_capacity(text.len() / 3);
        let mut at = 0;
        // The pre-tokenizer cuts text into words, and a text repeats its
        // words: each distinct short piece is byte-pair encoded once (a
        // piece always encodes the same way), its token lengths kept in
        // `lengths`. Encoding allocates per piece; a lookup does not.
        let mut seen: HashMap<&str, (u32, u32)> = HashMap::new();
        let mut lengths: Vec<u32> = Vec::new();
        for piece in tokenizer.split(text) {
            if piece.len() > CACHED_PIECE_BYTES {
                for token in tokenizer.bpe.encode_via_backtracking(piece.as_bytes()) {
                    at += tokenizer.bpe.token_len(token);
                    ends.push(at);
                }
                continue;
            }
            let (from, to) = *seen.entry(piece).or_insert_with(|| {
                let from = lengths.len() as u32;
                lengths.extend(
                    tokenizer
                        .bpe
                        .encode_via_backtracking(piece.as_bytes())
                        .into_iter()
                        .map(|token| tokenizer.bpe.token_len(token) as u32),
                );
                (from, lengths.len() as u32)
            });
            for &len in &lengths[from as usize..to as usize] {
                at += len as usize;
                ends.push(at);
            }
        }
        Self {
            base: text.as_ptr() as usize,
            len: text.len(),
            ends,
        }
    }
}

impl ChunkSizer for TokenIndex {
    fn size(&self, chunk: &str) -> usize {
        let at = (chunk.as_ptr() as usize).wrapping_sub(self.base);
        let end = at.wrapping_add(chunk.len());
        if at > self.len || end > self.len || end < at {
            // Not a slice of the indexed text.
            return tokenizer().count(chunk);
        }
        if chunk.is_empty() {
            return 0;
        }
        // Tokens that end after `at` and start before `end`.
        let before = self.ends.partition_point(|&e| e <= at);
        let started = (self.ends.partition_point(|&e| e < end) + 1).min(self.ends.len());
        started.saturating_sub(before)
    }
}

fn chunk_indices(format: Format, text: &str, size: usize, overlap: usize) -> Vec<(usize, &str)> {
    let config = ChunkConfig::new(size)
        .with_sizer(TokenIndex::new(text))
        .with_overlap(overlap.min(size.saturating_sub(1)))
        .expect("overlap is smaller than size")
        .with_trim(true);
    let chunks: Vec<(usize, &str)> = if format.is_markdown() {
        MarkdownSplitter::new(config).chunk_indices(text).collect()
    } else {
        TextSplitter::new(config).chunk_indices(text).collect()
    };
    chunks
        .into_iter()
        .filter(|(_, c)| !c.trim().is_empty())
        .collect()
}

/// ATX headings (`# Title`) of a markdown text outside code fences: byte
/// offset of the line, level, title.
fn headings(text: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let mut fence: Option<&str> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let trimmed = line.trim_start_matches(' ');
        if line.len() - trimmed.len() > 3 {
            continue;
        }
        let trimmed = trimmed.trim_end();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    None => Some(marker),
                    Some(open) if open == marker => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || !trimmed.starts_with('#') {
            continue;
        }
        let level = trimmed.bytes().take_while(|&b| b == b'#').count();
        let rest = &trimmed[level..];
        if level > 6 || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            continue;
        }
        let title = rest.trim().trim_end_matches('#').trim();
        if !title.is_empty() {
            found.push((at, level, title));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_size_in_tokens() {
        let text = "第一句话。Second sentence here! ".repeat(400);
        let chunks = split(Format::Text, &text, 64, 8);
        assert!(chunks.len() > 10);
        // Tokenized alone, a chunk may gain a token where it was cut mid-token.
        assert!(chunks.iter().all(|c| tokenizer().count(c.as_str()) <= 65));
    }

    #[test]
    fn tokens_are_cl100k() {
        // "Hello" "," " world" "!"
        assert_eq!(tokenizer().encode("Hello, world!"), vec![9906, 11, 1917, 0]);
        assert_eq!(tokenizer().count("Hello, world!"), 4);
    }

    #[test]
    fn the_token_index_counts_like_the_tokenizer() {
        let text =
            "年假制度说明如下。Second sentence here! Harbour pilots board at dawn. ".repeat(50);
        let index = TokenIndex::new(&text);
        assert_eq!(index.size(&text), tokenizer().count(text.as_str()));
        for (start, end) in [(0, 40), (12, 300), (301, 1200), (0, text.len())] {
            let (start, end) = (
                text.floor_char_boundary(start),
                text.floor_char_boundary(end),
            );
            let slice = &text[start..end];
            let alone = tokenizer().count(slice);
            let counted = index.size(slice);
            assert!(
                counted.abs_diff(alone) <= 1,
                "{slice:?}: {counted} vs {alone}"
            );
        }
        let other = "not a slice of it";
        assert_eq!(index.size(other), tokenizer().count(other));
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
    fn chunks_know_their_heading_path() {
        let text = format!(
            "# Handbook\n\nIntro.\n\n## Leave\n\n{}\n\n```\n# not a heading\n```\n\n### Annual\n\n{}\n\n## Travel\n\n{}",
            "Leave rules. ".repeat(40),
            "Annual leave rules. ".repeat(40),
            "Travel rules. ".repeat(40)
        );
        let doc = Extracted::from(text);
        let pieces = pieces(Format::Markdown, &doc, 60, 0);
        let path_of = |needle: &str| {
            pieces
                .iter()
                .find(|p| p.text.contains(needle))
                .and_then(|p| p.heading.clone())
        };
        assert_eq!(path_of("Intro").as_deref(), Some("Handbook"));
        assert_eq!(
            path_of("Annual leave rules").as_deref(),
            Some("Handbook > Leave > Annual")
        );
        assert_eq!(
            path_of("Travel rules").as_deref(),
            Some("Handbook > Travel")
        );
        assert!(pieces.iter().all(|p| p.page.is_none()));
    }

    #[test]
    fn chunks_know_their_page() {
        let pages = ["Page one text. ".repeat(30), "Page two text. ".repeat(30)];
        let doc = Extracted {
            text: format!("{}\n\n{}", pages[0], pages[1]),
            page_starts: vec![0, pages[0].len() + 2],
        };
        let pieces = pieces(Format::Pdf, &doc, 40, 0);
        assert_eq!(pieces[0].page, Some(1));
        let last = pieces.last().unwrap();
        assert!(last.text.contains("Page two"));
        assert_eq!(last.page, Some(2));
        assert!(pieces.iter().all(|p| p.heading.is_none()));
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
