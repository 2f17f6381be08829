//! What a chunk's embedding is made from: besides the chunk's own text, the
//! context it would lose by being cut out of its document. A chunk deep in
//! a manual page ("--hard: resets the index and working tree…") rarely
//! says what the page is for; the page's first line of prose does
//! ("git-reset - Reset current HEAD to the specified state"). That line,
//! the document's *lede*, travels with every chunk, as do the title and
//! heading path (BENCHMARKS.md, "Retrieval quality").

use crate::config::Settings;

/// What makes a chunk's vector besides the model and the chunk: this
/// module's choice of context (bump the version when it changes) and the
/// settings that change the input or the request. Stored with each index,
/// so a change shows as a mismatch that a reindex resolves.
pub fn recipe(settings: &Settings) -> String {
    format!(
        "context 2 (title, heading, lede); input_type {}; document prefix {:?}",
        if settings.embed_input_type {
            "sent"
        } else {
            "not sent"
        },
        settings.embed_document_prefix
    )
}

/// The most bytes of a lede.
const MAX_LEDE: usize = 240;
/// How far into a document the lede is looked for, in bytes.
const LOOK_AHEAD: usize = 4096;

/// The text an embedding is made from: the model's document `prefix`
/// (`RAGWAY_EMBED_DOCUMENT_PREFIX`, often empty), the document title and
/// heading path, the document's lede (unless the chunk holds it already),
/// then the chunk.
pub fn embedding_input(
    prefix: &str,
    title: &str,
    heading: Option<&str>,
    lede: Option<&str>,
    text: &str,
) -> String {
    let mut input = String::with_capacity(prefix.len() + title.len() + text.len() + 300);
    input.push_str(prefix);
    input.push_str(title);
    if let Some(heading) = heading {
        input.push_str(" > ");
        input.push_str(heading);
    }
    input.push('\n');
    if let Some(lede) = lede.filter(|lede| !text.contains(lede)) {
        input.push_str(lede);
        input.push('\n');
    }
    input.push_str(text);
    input
}

/// The first line of prose near the start of `text`, the way a reader
/// finds what a document is about: past titles and their underlines,
/// section names ("NAME", "名称"), running headers ("LS(1)   User
/// Commands   LS(1)") and markup lines, the first line of at least four
/// words (or eight CJK characters), to the end of its first sentence and
/// at most [`MAX_LEDE`] bytes. `None` when the start holds no such line.
pub fn lede(text: &str) -> Option<&str> {
    let head = &text[..floor_boundary(text, LOOK_AHEAD)];
    let line = head
        .lines()
        // The look-ahead may cut the last line short: it is not taken.
        .take(
            head.lines()
                .count()
                .saturating_sub(usize::from(head.len() < text.len())),
        )
        .map(str::trim)
        .find(|line| is_prose(line))?;
    let sentence = match line.find(['。', '！', '？']) {
        Some(end) => &line[..end + '。'.len_utf8()],
        None => match line.find(". ") {
            // Not "e.g." or "Dr.": a sentence of four words at least.
            Some(end) if line[..end].split_whitespace().count() >= 3 => &line[..=end],
            _ => line,
        },
    };
    let cut = floor_boundary(sentence, MAX_LEDE);
    Some(sentence[..cut].trim_end())
}

fn is_prose(line: &str) -> bool {
    let words = line.split_whitespace().count();
    let cjk = line.chars().filter(|c| is_cjk(*c)).count();
    (words >= 4 || cjk >= 8)
        && !line.starts_with(['#', '[', '|', '<', ':', '/', '{'])
        && !line.contains("   ")
        && !line.contains('\t')
        && line.chars().any(char::is_alphabetic)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}')
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_page_is_about_its_name_line() {
        let page = "git-reset(1)\n============\n\nNAME\n----\n\
                    git-reset - Reset current HEAD to the specified state\n\n\
                    SYNOPSIS\n--------\n[verse]\n'git reset' [-q] [<tree-ish>]\n";
        assert_eq!(
            lede(page),
            Some("git-reset - Reset current HEAD to the specified state")
        );
        let zh = "B2SUM(1)            用户命令            B2SUM(1)\n\n\n\
                  名称\n       b2sum - 计算并校验 BLAKE2 信息摘要\n\n概述\n       b2sum [选项]...\n";
        assert_eq!(lede(zh), Some("b2sum - 计算并校验 BLAKE2 信息摘要"));
    }

    #[test]
    fn prose_gives_its_first_sentence_within_bounds() {
        let guide = "# Tides\n\nThe harbour opens at dawn. Boats leave at noon.\n";
        assert_eq!(lede(guide), Some("The harbour opens at dawn."));
        let zh = "潮汐表每天更新一次，港口在黎明时开放。船只中午出发。";
        assert_eq!(lede(zh), Some("潮汐表每天更新一次，港口在黎明时开放。"));
        let long = format!("{} end", "word ".repeat(200));
        let taken = lede(&long).unwrap();
        assert!(
            taken.len() <= MAX_LEDE && long.starts_with(taken),
            "{taken}"
        );
        let wide = "字".repeat(500);
        assert!(lede(&wide).unwrap().len() <= MAX_LEDE);
    }

    #[test]
    fn no_prose_no_lede() {
        assert_eq!(lede(""), None);
        assert_eq!(lede("TITLE\n=====\n\nNAME\n"), None);
        assert_eq!(lede("a,b,c\n1,2,3\n"), None);
        // A line cut by the look-ahead is not taken.
        let cut = format!(
            "{}\n{}",
            "x\n".repeat(LOOK_AHEAD / 2 - 20),
            "one two three four five six seven eight nine ten eleven twelve"
        );
        assert_eq!(lede(&cut), None);
    }

    #[test]
    fn the_lede_joins_chunks_that_lack_it() {
        let lede = Some("git-reset - Reset current HEAD");
        assert_eq!(
            embedding_input(
                "passage: ",
                "git-reset.txt",
                Some("OPTIONS"),
                lede,
                "--hard"
            ),
            "passage: git-reset.txt > OPTIONS\ngit-reset - Reset current HEAD\n--hard"
        );
        assert_eq!(
            embedding_input(
                "",
                "git-reset.txt",
                None,
                lede,
                "NAME\ngit-reset - Reset current HEAD\n"
            ),
            "git-reset.txt\nNAME\ngit-reset - Reset current HEAD\n"
        );
        assert_eq!(embedding_input("", "t", None, None, "x"), "t\nx");
    }
}
