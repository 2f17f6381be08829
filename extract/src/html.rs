//! Readable text of an HTML page, by an iterative walk of its DOM: a page of
//! 200,000 nested elements is as safe as a flat one (a recursive walk
//! overflowed the thread's stack, which aborts the process).

use ego_tree::NodeRef;
use scraper::node::Node;

/// Elements whose content is never read.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object", "nav",
];

/// Elements that start and end a line.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "section",
    "article",
    "header",
    "footer",
    "table",
    "ul",
    "ol",
    "pre",
    "blockquote",
    "dd",
    "dt",
    "figcaption",
    "main",
    "aside",
    "form",
    "hr",
    "td",
    "th",
];

/// One step of the walk: a node to read, or the end of an element whose
/// closing line break (and cell space) is still owed.
enum Step<'a> {
    Enter(NodeRef<'a, Node>),
    Leave { block: bool, cell: bool },
}

/// Readable text of an HTML page: no scripts, styles or other invisible
/// parts; headings become markdown headings so the splitter keeps sections.
pub fn html_to_text(html: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let mut raw = String::new();
    // The page title says what the page is about; it lives in <head>, which is otherwise skipped.
    if let Some(title) = document
        .select(&scraper::Selector::parse("head > title").expect("valid selector"))
        .next()
    {
        let title = title.text().collect::<String>();
        if !title.trim().is_empty() {
            raw.push_str(&format!("# {}\n\n", title.trim()));
        }
    }
    walk(document.tree.root(), &mut raw);
    tidy(&raw)
}

/// Depth-first, in document order, with an explicit stack instead of recursion.
fn walk(root: NodeRef<'_, Node>, out: &mut String) {
    let mut stack = vec![Step::Enter(root)];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Leave { block, cell } => {
                if block {
                    out.push('\n');
                }
                if cell {
                    out.push(' ');
                }
                continue;
            }
            Step::Enter(node) => node,
        };
        match node.value() {
            Node::Text(text) => {
                out.push_str(text);
                continue;
            }
            Node::Element(element) => {
                let name = element.name();
                if SKIP.contains(&name) {
                    continue;
                }
                let heading = match name.as_bytes() {
                    [b'h', level @ b'1'..=b'6'] => Some((level - b'0') as usize),
                    _ => None,
                };
                let block = heading.is_some() || BLOCK.contains(&name);
                if block {
                    out.push('\n');
                }
                if let Some(level) = heading {
                    out.push('\n');
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                }
                stack.push(Step::Leave {
                    block,
                    cell: matches!(name, "td" | "th"),
                });
            }
            _ => {}
        }
        // Children pushed last-first, so the first is read next.
        let mut children: Vec<_> = node.children().map(Step::Enter).collect();
        children.reverse();
        stack.extend(children);
    }
}

/// Whitespace runs folded within lines, at most one blank line between blocks.
fn tidy(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank = true;
    for line in raw.lines() {
        let folded = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if folded.is_empty() {
            if !blank {
                out.push('\n');
                blank = true;
            }
        } else {
            out.push_str(&folded);
            out.push('\n');
            blank = false;
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_readable_text_only() {
        let html = r#"<html><head><title>Harbour</title><style>p{color:red}</style>
            <script>alert("x")</script></head><body><nav>Home | About</nav>
            <h2>Tides</h2><p>High   tide is at <b>noon</b>.</p><ul><li>one</li><li>two</li></ul>
            <table><tr><td>a</td><td>b</td></tr></table>
            <noscript>enable js</noscript></body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "# Harbour\n\n## Tides\n\nHigh tide is at noon.\n\none\n\ntwo\n\na\n\nb"
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // Run on a thread with a small stack: a recursive walk dies here.
        let depth = 200_000;
        let html = format!(
            "<html><body>{}deep text{}</body></html>",
            "<span>".repeat(depth),
            "</span>".repeat(depth)
        );
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || html_to_text(&html))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(text, "deep text");
    }
}
