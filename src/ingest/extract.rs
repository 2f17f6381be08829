//! Turning uploaded bytes into text: type detection by content first and file
//! name second, encoding detection for text files, one extractor per format,
//! and isolation (blocking pool, `catch_unwind`, time limit) so a hostile
//! file fails alone.

use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use bytes::Bytes;

/// The formats ragway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    Csv,
    Json,
}

/// The list shown when a file cannot be read.
pub const SUPPORTED: &str = "txt, md, html, pdf, docx, csv, json";

/// The most text a Word document may inflate to; more is treated as a zip bomb.
pub const MAX_DOCX_XML_BYTES: u64 = 100 * 1024 * 1024;

const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

impl Format {
    /// The MIME type stored with the document.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
            Format::Html => "text/html",
            Format::Pdf => "application/pdf",
            Format::Docx => DOCX_MIME,
            Format::Csv => "text/csv",
            Format::Json => "application/json",
        }
    }

    /// The format stored as `mime`.
    pub fn from_mime(mime: &str) -> Option<Format> {
        [
            Format::Text,
            Format::Markdown,
            Format::Html,
            Format::Pdf,
            Format::Docx,
            Format::Csv,
            Format::Json,
        ]
        .into_iter()
        .find(|f| f.mime() == mime)
    }

    /// Whether the extracted text is markdown (headings as `#`), for the splitter.
    pub fn is_markdown(self) -> bool {
        matches!(self, Format::Markdown | Format::Html | Format::Docx)
    }
}

/// What kind of file `bytes` is, or why it cannot be read.
pub fn detect(bytes: &[u8], filename: Option<&str>) -> Result<Format, String> {
    let extension = filename
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let named = |what: &str| match filename {
        Some(name) => format!("{name} ({what})"),
        None => what.to_string(),
    };
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let is_word = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map(|archive| archive.index_for_name("word/document.xml").is_some())
            .unwrap_or(false);
        return if is_word {
            Ok(Format::Docx)
        } else {
            Err(format!(
                "Unsupported file type: {} is a ZIP archive but not a Word document. Supported types: {SUPPORTED}.",
                named("zip")
            ))
        };
    }
    if extension.as_deref() == Some("pdf") {
        return Err(format!(
            "{} is not a PDF: it lacks the %PDF- header. Supported types: {SUPPORTED}.",
            named("the file")
        ));
    }
    if !looks_like_text(bytes) {
        return Err(format!(
            "Unsupported file type: {} is binary. Supported types: {SUPPORTED}.",
            named(extension.as_deref().unwrap_or("no extension"))
        ));
    }
    if looks_like_html(bytes) && !matches!(extension.as_deref(), Some("md" | "markdown" | "mdx")) {
        return Ok(Format::Html);
    }
    match extension.as_deref() {
        Some("md" | "markdown" | "mdx") => Ok(Format::Markdown),
        Some("html" | "htm" | "xhtml") => Ok(Format::Html),
        Some("csv" | "tsv") => Ok(Format::Csv),
        Some("json" | "jsonl" | "ndjson") => Ok(Format::Json),
        Some("txt" | "text" | "log" | "rst" | "org") | None => Ok(Format::Text),
        Some(other) => Err(format!(
            "Unsupported file type: .{other}. Supported types: {SUPPORTED}."
        )),
    }
}

/// Text has no NUL bytes, unless it is UTF-16 with a byte-order mark.
fn looks_like_text(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\xFF\xFE")
        || bytes.starts_with(b"\xFE\xFF")
        || !bytes[..bytes.len().min(8192)].contains(&0)
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Text in any common encoding, as UTF-8: a byte-order mark decides; else
/// valid UTF-8 is taken as it is; else `chardetng` guesses (GBK/GB18030, Big5,
/// Shift-JIS, EUC-KR, Windows-125x, …).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some((encoding, bom_length)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_length..]);
        return text.into_owned();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_string();
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let encoding = detector.guess(None, true);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// The text of a document, and where its pages start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// Byte offsets in `text` where each page begins (page 1 first); empty
    /// for formats without pages.
    pub page_starts: Vec<usize>,
}

impl From<String> for Extracted {
    fn from(text: String) -> Self {
        Self {
            text,
            page_starts: Vec::new(),
        }
    }
}

/// The text of a document, on the calling thread.
pub fn extract(format: Format, bytes: &[u8]) -> Result<Extracted, String> {
    match format {
        Format::Text | Format::Markdown | Format::Csv | Format::Json => {
            Ok(decode_text(bytes).into())
        }
        Format::Html => Ok(html_to_text(&decode_text(bytes)).into()),
        Format::Pdf => pdf_extract::extract_text_from_mem_by_pages(bytes)
            .map(join_pages)
            .map_err(|e| format!("the PDF could not be read: {e}")),
        Format::Docx => docx_to_text(bytes, MAX_DOCX_XML_BYTES).map(Into::into),
    }
}

/// One text of all pages, a blank line between them, remembering where each starts.
fn join_pages(pages: Vec<String>) -> Extracted {
    let mut out = Extracted::default();
    for page in pages {
        if !out.text.is_empty() {
            out.text.push_str("\n\n");
        }
        out.page_starts.push(out.text.len());
        out.text.push_str(page.trim());
    }
    out
}

/// Readable text of an HTML page: no scripts, styles or other invisible
/// parts; headings become markdown headings so the splitter keeps sections.
pub fn html_to_text(html: &str) -> String {
    use scraper::node::Node;

    const SKIP: &[&str] = &[
        "script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object",
        "nav",
    ];
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

    fn walk(node: ego_tree::NodeRef<'_, Node>, out: &mut String) {
        match node.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(element) => {
                let name = element.name();
                if SKIP.contains(&name) {
                    return;
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
                for child in node.children() {
                    walk(child, out);
                }
                if block {
                    out.push('\n');
                }
                if matches!(name, "td" | "th") {
                    out.push(' ');
                }
            }
            _ => {
                for child in node.children() {
                    walk(child, out);
                }
            }
        }
    }

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

/// Paragraph text of a `.docx`: `word/document.xml`, paragraphs as lines,
/// `Heading N` styles as markdown headings. Refuses documents whose XML
/// inflates past `cap` bytes.
pub fn docx_to_text(bytes: &[u8], cap: u64) -> Result<String, String> {
    use quick_xml::events::Event;

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("the Word document is not a readable ZIP archive: {e}"))?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|e| format!("the Word document has no word/document.xml: {e}"))?;
    let too_big = || {
        format!(
            "the Word document inflates past {} MiB (a zip bomb?)",
            cap / (1024 * 1024)
        )
    };
    if entry.size() > cap {
        return Err(too_big());
    }
    let mut xml = Vec::new();
    // The declared size may lie: read at most one byte past the cap to know.
    entry
        .take(cap + 1)
        .read_to_end(&mut xml)
        .map_err(|e| format!("the Word document could not be inflated: {e}"))?;
    if xml.len() as u64 > cap {
        return Err(too_big());
    }
    let xml = String::from_utf8(xml).map_err(|_| "word/document.xml is not UTF-8".to_string())?;

    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out = String::new();
    let mut paragraph = String::new();
    let mut heading: Option<usize> = None;
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Err(e) => return Err(format!("word/document.xml is malformed: {e}")),
            Ok(Event::Eof) => break,
            Ok(Event::Start(tag)) => {
                if tag.local_name().as_ref() == b"t" {
                    in_text = true;
                }
            }
            Ok(Event::Empty(tag)) => match tag.local_name().as_ref() {
                b"tab" => paragraph.push('\t'),
                b"br" | b"cr" => paragraph.push('\n'),
                b"pStyle" => {
                    heading = tag.attributes().flatten().find_map(|a| {
                        if a.key.local_name().as_ref() != b"val" {
                            return None;
                        }
                        let value = String::from_utf8_lossy(&a.value).to_ascii_lowercase();
                        let level = value
                            .strip_prefix("heading")?
                            .trim()
                            .parse::<usize>()
                            .ok()?;
                        Some(level.clamp(1, 6))
                    });
                }
                _ => {}
            },
            Ok(Event::Text(text)) if in_text => {
                paragraph.push_str(
                    &text
                        .decode()
                        .map_err(|e| format!("bad text in the Word document: {e}"))?,
                );
            }
            Ok(Event::GeneralRef(reference)) if in_text => {
                let name = reference
                    .decode()
                    .map_err(|e| format!("bad text in the Word document: {e}"))?;
                if let Some(code) = name.strip_prefix('#') {
                    let parsed = match code.strip_prefix('x') {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => code.parse::<u32>().ok(),
                    };
                    paragraph.extend(parsed.and_then(char::from_u32));
                } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(&name) {
                    paragraph.push_str(text);
                }
            }
            Ok(Event::End(tag)) => match tag.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let text = paragraph.trim();
                    if !text.is_empty() {
                        if let Some(level) = heading {
                            out.push('\n');
                            out.push_str(&"#".repeat(level));
                            out.push(' ');
                        }
                        out.push_str(text);
                        out.push('\n');
                        if heading.is_some() {
                            out.push('\n');
                        }
                    }
                    paragraph.clear();
                    heading = None;
                }
                _ => {}
            },
            Ok(_) => {}
        }
    }
    Ok(out.trim().to_string())
}

/// [`extract`] on the blocking pool, under `catch_unwind` and a time limit.
///
/// A parser stuck in a loop keeps its blocking thread (threads cannot be
/// killed), but the document fails on time and the server goes on.
pub async fn extract_isolated(
    format: Format,
    bytes: Bytes,
    limit: Duration,
) -> Result<Extracted, String> {
    let task = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(|| extract(format, &bytes)))
    });
    match tokio::time::timeout(limit, task).await {
        Err(_) => Err(format!(
            "text extraction took longer than {} s (RAGWAY_EXTRACT_TIMEOUT_SECS)",
            limit.as_secs()
        )),
        Ok(Err(join_error)) => Err(format!("text extraction was aborted: {join_error}")),
        Ok(Ok(Err(panic))) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(format!(
                "the {} parser crashed on this file: {message}",
                format.mime()
            ))
        }
        Ok(Ok(Ok(result))) => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docx(document_xml: &str) -> Vec<u8> {
        use std::io::Write;
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", options).unwrap();
        zip.write_all(b"<Types/>").unwrap();
        zip.start_file("word/document.xml", options).unwrap();
        zip.write_all(document_xml.as_bytes()).unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }

    const WORD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Safety rules</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Wear a helmet </w:t></w:r><w:r><w:t>&amp; gloves.</w:t></w:r></w:p>
<w:p><w:r><w:t>安全第一</w:t></w:r></w:p>
</w:body></w:document>"#;

    #[test]
    fn detection_prefers_content() {
        assert_eq!(detect(b"%PDF-1.4 ...", Some("x.txt")), Ok(Format::Pdf));
        assert_eq!(detect(b"# Title", Some("a.MD")), Ok(Format::Markdown));
        assert_eq!(detect(b"hello", None), Ok(Format::Text));
        assert_eq!(
            detect(b"<!DOCTYPE html><p>x", Some("page.txt")),
            Ok(Format::Html)
        );
        assert_eq!(detect(b"<p>x</p>", Some("page.htm")), Ok(Format::Html));
        assert_eq!(detect(b"a,b\n1,2", Some("t.csv")), Ok(Format::Csv));
        assert_eq!(detect(b"{\"a\":1}", Some("t.json")), Ok(Format::Json));
        assert_eq!(detect(&docx(WORD), Some("report.bin")), Ok(Format::Docx));
        assert!(detect(b"hello", Some("a.pdf"))
            .unwrap_err()
            .contains("not a PDF"));
        assert!(detect(b"\x89PNG\r\n\x1a\n\0\0", Some("a.png"))
            .unwrap_err()
            .contains(SUPPORTED));
        assert!(detect(b"hello", Some("a.exe"))
            .unwrap_err()
            .contains(".exe"));
        let not_word = {
            use std::io::Write;
            let mut out = std::io::Cursor::new(Vec::new());
            let mut zip = zip::ZipWriter::new(&mut out);
            zip.start_file("xl/workbook.xml", zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"<x/>").unwrap();
            zip.finish().unwrap();
            out.into_inner()
        };
        assert!(detect(&not_word, Some("a.xlsx"))
            .unwrap_err()
            .contains("not a Word document"));
    }

    #[test]
    fn encodings_are_detected() {
        assert_eq!(decode_text(b"\xEF\xBB\xBFhi"), "hi");
        let (gbk, _, _) = encoding_rs::GBK.encode("年假制度：每位员工每年享有十五天带薪年假。");
        assert_eq!(
            decode_text(&gbk),
            "年假制度：每位员工每年享有十五天带薪年假。"
        );
        let (big5, _, _) =
            encoding_rs::BIG5.encode("員工每年享有十五天帶薪年假，未休完的年假可以順延。");
        assert_eq!(
            decode_text(&big5),
            "員工每年享有十五天帶薪年假，未休完的年假可以順延。"
        );
        let (sjis, _, _) =
            encoding_rs::SHIFT_JIS.encode("従業員は毎年十五日の有給休暇を取得できます。");
        assert_eq!(
            decode_text(&sjis),
            "従業員は毎年十五日の有給休暇を取得できます。"
        );
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("hello 你好".encode_utf16().flat_map(u16::to_le_bytes));
        assert!(looks_like_text(&utf16));
        assert_eq!(decode_text(&utf16), "hello 你好");
    }

    #[test]
    fn html_keeps_readable_text_only() {
        let html = r#"<html><head><title>Harbour</title><style>p{color:red}</style>
            <script>alert("x")</script></head><body><nav>Home | About</nav>
            <h2>Tides</h2><p>High   tide is at <b>noon</b>.</p><ul><li>one</li><li>two</li></ul>
            <noscript>enable js</noscript></body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "# Harbour\n\n## Tides\n\nHigh tide is at noon.\n\none\n\ntwo"
        );
    }

    #[test]
    fn docx_paragraphs_and_headings() {
        let text = docx_to_text(&docx(WORD), MAX_DOCX_XML_BYTES).unwrap();
        assert_eq!(text, "# Safety rules\n\nWear a helmet & gloves.\n安全第一");
    }

    #[test]
    fn docx_bombs_are_refused() {
        let big = format!("<w:document>{}</w:document>", "<w:p/>".repeat(1000));
        let err = docx_to_text(&docx(&big), 1024).unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");
    }

    #[tokio::test]
    async fn panics_are_contained() {
        // A Type0 font without descendant fonts makes pdf-extract panic.
        let bytes = Bytes::from_static(include_bytes!("../../fixtures/crash.pdf"));
        let err = extract_isolated(Format::Pdf, bytes, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(err.contains("crashed"), "{err}");
    }

    #[tokio::test]
    async fn pdf_text_is_extracted() {
        let bytes = Bytes::from_static(include_bytes!("../../fixtures/lighthouse.pdf"));
        let text = extract_isolated(Format::Pdf, bytes, Duration::from_secs(30))
            .await
            .unwrap()
            .text;
        assert!(text.contains("lighthouse keeper"), "{text}");
    }

    #[tokio::test]
    async fn pdf_pages_are_located() {
        let bytes = Bytes::from_static(include_bytes!("../../fixtures/tides.pdf"));
        let doc = extract_isolated(Format::Pdf, bytes, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(doc.page_starts.len(), 3, "{doc:?}");
        assert_eq!(doc.page_starts[0], 0);
        let third = &doc.text[doc.page_starts[2]..];
        assert!(third.trim_start().starts_with("Fog procedures"), "{third}");
        assert!(!doc.text[..doc.page_starts[2]].contains("Fog"));
    }
}
