//! Turning uploaded bytes into text: type detection by content first and file
//! name second, and extraction isolated from the server (blocking pool,
//! `catch_unwind`, time limit) so a hostile file fails alone.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use bytes::Bytes;

/// The formats ragway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Pdf,
}

/// The list shown when a file cannot be read.
pub const SUPPORTED: &str = "txt, md, pdf";

impl Format {
    /// The MIME type stored with the document.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
            Format::Pdf => "application/pdf",
        }
    }

    /// The format stored as `mime`.
    pub fn from_mime(mime: &str) -> Option<Format> {
        match mime {
            "text/plain" => Some(Format::Text),
            "text/markdown" => Some(Format::Markdown),
            "application/pdf" => Some(Format::Pdf),
            _ => None,
        }
    }
}

/// What kind of file `bytes` is, or why it cannot be read.
pub fn detect(bytes: &[u8], filename: Option<&str>) -> Result<Format, String> {
    let extension = filename
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Format::Pdf);
    }
    let named = |what: &str| match filename {
        Some(name) => format!("{name} ({what})"),
        None => what.to_string(),
    };
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
    match extension.as_deref() {
        Some("md" | "markdown" | "mdx") => Ok(Format::Markdown),
        Some("txt" | "text" | "log" | "csv" | "json" | "rst" | "org") | None => Ok(Format::Text),
        Some(other) => Err(format!(
            "Unsupported file type: .{other}. Supported types: {SUPPORTED}."
        )),
    }
}

/// Text has no NUL bytes (UTF-16 is handled by the ingestion issue's encoding detection).
fn looks_like_text(bytes: &[u8]) -> bool {
    !bytes[..bytes.len().min(8192)].contains(&0)
}

/// The text of a document, on the calling thread.
pub fn extract(format: Format, bytes: &[u8]) -> Result<String, String> {
    match format {
        Format::Text | Format::Markdown => {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            Ok(String::from_utf8_lossy(bytes).into_owned())
        }
        Format::Pdf => pdf_extract::extract_text_from_mem(bytes)
            .map_err(|e| format!("the PDF could not be read: {e}")),
    }
}

/// [`extract`] on the blocking pool, under `catch_unwind` and a time limit.
///
/// A parser stuck in a loop keeps its blocking thread (threads cannot be
/// killed), but the document fails on time and the server goes on.
pub async fn extract_isolated(
    format: Format,
    bytes: Bytes,
    limit: Duration,
) -> Result<String, String> {
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

    #[test]
    fn detection_prefers_content() {
        assert_eq!(detect(b"%PDF-1.4 ...", Some("x.txt")), Ok(Format::Pdf));
        assert_eq!(detect(b"# Title", Some("a.MD")), Ok(Format::Markdown));
        assert_eq!(detect(b"hello", None), Ok(Format::Text));
        assert!(detect(b"hello", Some("a.pdf"))
            .unwrap_err()
            .contains("not a PDF"));
        assert!(detect(b"PK\x03\x04\0\0", Some("a.docx"))
            .unwrap_err()
            .contains(SUPPORTED));
        assert!(detect(b"hello", Some("a.exe"))
            .unwrap_err()
            .contains(".exe"));
    }

    #[test]
    fn bom_is_stripped() {
        assert_eq!(extract(Format::Text, b"\xEF\xBB\xBFhi").unwrap(), "hi");
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
            .unwrap();
        assert!(text.contains("lighthouse keeper"), "{text}");
    }
}
