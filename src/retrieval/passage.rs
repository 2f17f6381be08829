//! The passage around each source: its chunk joined with the chunks next
//! to it in its document (`RAGWAY_SOURCE_WINDOW` on each side), so the
//! model reads what leads up to and follows the matched text, while search
//! still matches small, precise chunks. A chunk appears in one passage
//! only: a neighbour that is itself a source, or is in a better-ranked
//! source's passage already, ends the widening on that side.

use std::collections::HashSet;

use super::Source;
use crate::store::vectors::{Neighbour, Placed, VectorStore};

/// Fill each source's `context` with its widened passage (left `None`
/// where no neighbour could be read). `rows` are the sources' row
/// addresses, in the same order.
pub async fn widen(
    vectors: &VectorStore,
    window: usize,
    table: &str,
    sources: &mut [Source],
    rows: &[u64],
) {
    if window == 0 || sources.is_empty() {
        return;
    }
    let placed: Vec<Placed<'_>> = sources
        .iter()
        .zip(rows)
        .map(|(source, &row)| Placed {
            row,
            chunk_id: &source.chunk_id,
        })
        .collect();
    let neighbours = match vectors.neighbours(table, &placed, window).await {
        Ok(neighbours) => neighbours,
        Err(err) => {
            tracing::warn!(error = %err, "reading the sources' neighbouring chunks failed");
            return;
        }
    };
    apply(sources, neighbours);
}

/// [`widen`]'s choice, given each source's neighbours (nearest first on
/// each side).
fn apply(sources: &mut [Source], neighbours: Vec<Vec<Neighbour>>) {
    let mut claimed: HashSet<String> = sources.iter().map(|s| s.chunk_id.clone()).collect();
    for (source, neighbours) in sources.iter_mut().zip(neighbours) {
        let mut before: Vec<&Neighbour> = Vec::new();
        let mut after: Vec<&Neighbour> = Vec::new();
        for side in [-1, 1] {
            let list = if side < 0 { &mut before } else { &mut after };
            let mut expected = side;
            for neighbour in neighbours.iter().filter(|n| n.offset.signum() == side) {
                // Contiguous only: a gap (unreadable) or a claimed chunk ends the side.
                if neighbour.offset != expected || claimed.contains(&neighbour.chunk_id) {
                    break;
                }
                list.push(neighbour);
                expected += side;
            }
        }
        if before.is_empty() && after.is_empty() {
            continue;
        }
        let mut passage = String::new();
        for neighbour in before.iter().rev() {
            passage = join_overlapping(&passage, &neighbour.text);
            claimed.insert(neighbour.chunk_id.clone());
        }
        passage = join_overlapping(&passage, &source.text);
        for neighbour in &after {
            passage = join_overlapping(&passage, &neighbour.text);
            claimed.insert(neighbour.chunk_id.clone());
        }
        source.context = Some(passage);
    }
}

/// The most bytes of overlap looked for between two neighbouring chunks
/// (the splitter's overlap is at most a few hundred tokens).
const MAX_OVERLAP: usize = 4096;

/// `a` then `b`, without the text `b` repeats from the end of `a`
/// (neighbouring chunks overlap), on a new line when they share nothing.
fn join_overlapping(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    let longest = a.len().min(b.len()).min(MAX_OVERLAP);
    let shared = (1..=longest)
        .rev()
        .filter(|&n| b.is_char_boundary(n) && a.is_char_boundary(a.len() - n))
        .find(|&n| a.ends_with(&b[..n]))
        // A few shared bytes are a coincidence (a space, "the "), not overlap.
        .filter(|&n| n >= 16 || n == b.len());
    match shared {
        Some(n) => format!("{a}{}", &b[n..]),
        None => format!("{a}\n{b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(chunk_id: &str, text: &str) -> Source {
        Source {
            index: 1,
            document_id: "d".into(),
            title: "t".into(),
            collection: "default".into(),
            chunk_id: chunk_id.into(),
            page: None,
            heading: None,
            score: 0.9,
            rerank_score: None,
            text: text.into(),
            context: None,
            explain: None,
        }
    }

    fn neighbour(offset: i32, chunk_id: &str, text: &str) -> Neighbour {
        Neighbour {
            offset,
            chunk_id: chunk_id.into(),
            text: text.into(),
        }
    }

    #[test]
    fn overlapping_chunks_join_once() {
        let a = "The first part ends with a sentence that the next chunk repeats.";
        let b = "a sentence that the next chunk repeats. And then it goes on.";
        assert_eq!(
            join_overlapping(a, b),
            "The first part ends with a sentence that the next chunk repeats. And then it goes on."
        );
        assert_eq!(join_overlapping("one.", "two."), "one.\ntwo.");
        assert_eq!(join_overlapping("", "two."), "two.");
        // Multi-byte text is cut on character boundaries only.
        let zh = "第一段的结尾有一句下一段会重复的话。";
        let next = "下一段会重复的话。然后继续。";
        assert_eq!(
            join_overlapping(zh, next),
            "第一段的结尾有一句下一段会重复的话。然后继续。"
        );
    }

    #[test]
    fn passages_widen_without_repeating_a_chunk() {
        let mut sources = vec![source("d:g:5", "five"), source("d:g:7", "seven")];
        let neighbours = vec![
            vec![neighbour(-1, "d:g:4", "four"), neighbour(1, "d:g:6", "six")],
            // 6 went to the first source; 8 is free.
            vec![
                neighbour(-1, "d:g:6", "six"),
                neighbour(1, "d:g:8", "eight"),
            ],
        ];
        apply(&mut sources, neighbours);
        assert_eq!(sources[0].context.as_deref(), Some("four\nfive\nsix"));
        assert_eq!(sources[1].context.as_deref(), Some("seven\neight"));
    }

    #[test]
    fn a_neighbour_that_is_a_source_ends_the_side() {
        let mut sources = vec![source("d:g:5", "five"), source("d:g:4", "four")];
        let neighbours = vec![
            vec![
                neighbour(-1, "d:g:4", "four"),
                neighbour(-2, "d:g:3", "three"),
            ],
            vec![neighbour(-1, "d:g:3", "three")],
        ];
        apply(&mut sources, neighbours);
        assert_eq!(sources[0].context, None);
        assert_eq!(sources[1].context.as_deref(), Some("three\nfour"));
    }

    #[test]
    fn a_gap_ends_the_side() {
        let mut sources = vec![source("d:g:5", "five")];
        apply(
            &mut sources,
            vec![vec![
                neighbour(1, "d:g:6", "six"),
                neighbour(3, "d:g:8", "eight"),
            ]],
        );
        assert_eq!(sources[0].context.as_deref(), Some("five\nsix"));
    }
}
