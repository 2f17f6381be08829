//! Turning uploaded bytes into text: type detection by content first and file
//! name second, encoding detection for text files, one extractor per format
//! (`html`, `pdf`, `docx`).
//!
//! A crate of its own so that it builds in seconds: the fuzz targets in
//! `fuzz/` link it alone. The server never calls [`extract`] on its own
//! threads; it runs it in a child process with resource limits
//! (`ragway::ingest::extract::child`), so a hostile file fails alone.

pub mod docx;
pub mod html;
pub mod pdf;

pub use docx::{docx_to_text, MAX_DOCX_XML_BYTES};
pub use html::html_to_text;

use serde::{Deserialize, Serialize};

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

    /// Whether reading it is only decoding (no parser runs).
    pub fn is_plain_text(self) -> bool {
        matches!(
            self,
            Format::Text | Format::Markdown | Format::Csv | Format::Json
        )
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// The text of a document, on the calling thread: what the extraction
/// child runs (the server itself runs it only in that child). A PDF whose
/// page content inflates past `max_inflated` bytes is refused.
pub fn extract(format: Format, bytes: &[u8], max_inflated: u64) -> Result<Extracted, String> {
    match format {
        Format::Text | Format::Markdown | Format::Csv | Format::Json => {
            Ok(decode_text(bytes).into())
        }
        Format::Html => Ok(html_to_text(&decode_text(bytes)).into()),
        Format::Pdf => pdf::pdf_to_text(bytes, max_inflated),
        Format::Docx => docx_to_text(bytes, MAX_DOCX_XML_BYTES).map(Into::into),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            detect(&docx::tests::docx(docx::tests::WORD), Some("report.bin")),
            Ok(Format::Docx)
        );
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
}
