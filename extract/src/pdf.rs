//! Text of a PDF, page by page (pdf-extract over lopdf), after a check that
//! its pages' content streams do not inflate past a cap.
//!
//! lopdf inflates a page's content streams whole and without a limit, and a
//! page may name one small FlateDecode stream many times: a 1 MB file asks
//! for gigabytes. The check inflates each distinct content stream once,
//! counting bytes and stopping at the cap, and charges a page for every time
//! it names a stream. (The child process's memory limit is the backstop for
//! what the check does not see: fonts, images, form XObjects.)

use std::collections::HashMap;
use std::io::Read;

use pdf_extract::{Document, Object, ObjectId};

use super::Extracted;

/// The text of each page of a PDF, or why it cannot be read; refuses files
/// whose page content inflates past `max_inflated` bytes in all.
pub fn pdf_to_text(bytes: &[u8], max_inflated: u64) -> Result<Extracted, String> {
    let unreadable = |e: &dyn std::fmt::Display| format!("the PDF could not be read: {e}");
    let mut doc = Document::load_mem(bytes).map_err(|e| unreadable(&e))?;
    if doc.is_encrypted() {
        // Files with an owner password only open with the empty user password.
        doc.decrypt("").map_err(|e| unreadable(&e))?;
    }
    let pages = doc.get_pages();
    check_inflated_size(&doc, pages.values().copied(), max_inflated)?;
    let mut texts = Vec::with_capacity(pages.len());
    let mut first_error = None;
    for &number in pages.keys() {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        match pdf_extract::output_doc_page(&doc, &mut output, number) {
            Ok(()) => texts.push(text),
            // One bad page costs its own text, not the document's.
            Err(e) => {
                first_error.get_or_insert(e);
                texts.push(String::new());
            }
        }
    }
    match first_error {
        Some(e) if texts.iter().all(|t| t.trim().is_empty()) => Err(unreadable(&e)),
        _ => Ok(join_pages(texts)),
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

/// Refuses a document whose pages' content streams, each counted as often as
/// a page names it, inflate past `cap` bytes.
fn check_inflated_size(
    doc: &Document,
    pages: impl Iterator<Item = ObjectId>,
    cap: u64,
) -> Result<(), String> {
    let mut sizes: HashMap<ObjectId, u64> = HashMap::new();
    let mut total: u64 = 0;
    for page in pages {
        for stream_id in doc.get_page_contents(page) {
            let size = match sizes.get(&stream_id) {
                Some(&size) => size,
                None => {
                    let size = inflated_size(doc, stream_id, cap.saturating_sub(total));
                    sizes.insert(stream_id, size);
                    size
                }
            };
            total = total.saturating_add(size);
            if total > cap {
                return Err(format!(
                    "the PDF's page content inflates past {} MiB (a decompression bomb?)",
                    cap / (1024 * 1024)
                ));
            }
        }
    }
    Ok(())
}

/// The inflated size of one content stream, counted up to one byte past
/// `budget` (enough to know it is too big). Streams that are not
/// FlateDecode count their stored size: other filters are left to the
/// memory limit.
fn inflated_size(doc: &Document, id: ObjectId, budget: u64) -> u64 {
    let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
        return 0;
    };
    let stored = stream.content.len() as u64;
    let flate_first = stream
        .filters()
        .ok()
        .and_then(|filters| filters.first().map(|f| *f == b"FlateDecode"))
        .unwrap_or(false);
    if !flate_first {
        return stored;
    }
    let decoder = flate2::read::ZlibDecoder::new(stream.content.as_slice());
    // Read errors (a truncated stream) end the count: lopdf then falls back
    // to the stored bytes or what it could inflate, no more than counted.
    std::io::copy(&mut decoder.take(budget + 1), &mut std::io::sink())
        .unwrap_or(stored)
        .max(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_text_is_extracted() {
        let text = pdf_to_text(include_bytes!("../../fixtures/lighthouse.pdf"), 1 << 30)
            .unwrap()
            .text;
        assert!(text.contains("lighthouse keeper"), "{text}");
    }

    #[test]
    fn pdf_pages_are_located() {
        let doc = pdf_to_text(include_bytes!("../../fixtures/tides.pdf"), 1 << 30).unwrap();
        assert_eq!(doc.page_starts.len(), 3, "{doc:?}");
        assert_eq!(doc.page_starts[0], 0);
        let third = &doc.text[doc.page_starts[2]..];
        assert!(third.trim_start().starts_with("Fog procedures"), "{third}");
        assert!(!doc.text[..doc.page_starts[2]].contains("Fog"));
    }

    #[test]
    fn inflation_past_the_cap_is_refused() {
        // The lighthouse fixture's text is a few hundred bytes inflated.
        let err = pdf_to_text(include_bytes!("../../fixtures/lighthouse.pdf"), 10).unwrap_err();
        assert!(err.contains("decompression bomb"), "{err}");
    }
}
