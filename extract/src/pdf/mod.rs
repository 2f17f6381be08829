//! Text of a PDF, page by page, read as leniently as poppler's `pdftotext`:
//!
//! 1. Open: lopdf's lenient reader; when it fails (a broken cross-reference
//!    table or trailer) or finds no page, again over a repaired copy
//!    ([`repair`]: objects found by scanning, a new table appended). An
//!    encrypted file opens with the empty user password; an AES-128 file
//!    (`/V 4`) that omits its key length gets the 128 bits the standard
//!    implies (lopdf would assume 40).
//! 2. Check that the pages' content streams do not inflate past a cap:
//!    lopdf inflates a page's content streams whole and without a limit,
//!    and a page may name one small FlateDecode stream many times (a 1 MB
//!    file asks for gigabytes). Each distinct stream is inflated once,
//!    counting bytes up to the cap, and charged for every mention. (The
//!    extraction child's memory limit is the backstop for what this does
//!    not see: fonts, images, form XObjects.)
//! 3. Extract with pdf-extract (the better layout); when it fails, panics
//!    (an unsupported CMap) or finds no text, with lopdf's own text
//!    extraction (other font decoding, other text operators), and keep
//!    whichever found text.

pub mod raw;
pub mod repair;

use std::collections::HashMap;
use std::io::Read;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use pdf_extract::{Document, Object, ObjectId};

use super::Extracted;

/// The text of each page of a PDF, or why it cannot be read; refuses files
/// whose page content inflates past `max_inflated` bytes in all.
pub fn pdf_to_text(bytes: &[u8], max_inflated: u64) -> Result<Extracted, String> {
    // The file as it is first; then repaired copies, each only when what
    // came before found no text.
    let first = read(bytes, max_inflated);
    match &first {
        Ok(extracted) if has_text(extracted) => return first.map_err(Failure::into_reason),
        Err(Failure::Refused(reason)) => return Err(reason.clone()),
        _ => {}
    }
    let repaired = repair::rebuilt(bytes);
    let aes_fixed = repair::with_aes128_key_length(bytes);
    for copy in [repaired.as_deref(), aes_fixed.as_deref()]
        .into_iter()
        .flatten()
    {
        match read(copy, max_inflated) {
            Ok(extracted) if has_text(&extracted) => return Ok(extracted),
            Err(Failure::Refused(reason)) => return Err(reason),
            _ => {}
        }
    }
    // Too broken to open: whatever page content the file's streams hold
    // (not for an encrypted file: its streams are ciphertext, and one that
    // only claims to be encrypted is refused as pdftotext refuses it).
    if !bytes.windows(8).any(|w| w == b"/Encrypt") {
        let text = raw::scan_streams(bytes, max_inflated);
        if !text.trim().is_empty() {
            return Ok(join_pages(vec![text]));
        }
    }
    match first {
        Ok(extracted) => Ok(extracted),
        // The child reports the panic's own message.
        Err(Failure::Panicked(panic)) => resume_unwind(panic),
        Err(failure) => Err(failure.into_reason()),
    }
}

/// Why one reading of a file gave no text.
enum Failure {
    /// Not to be tried again in any form (a decompression bomb).
    Refused(String),
    /// Unreadable as it is.
    Unreadable(String),
    /// A parser panicked (its payload, for the child to report).
    Panicked(Box<dyn std::any::Any + Send>),
}

impl Failure {
    fn into_reason(self) -> String {
        match self {
            Failure::Refused(reason) | Failure::Unreadable(reason) => reason,
            Failure::Panicked(_) => "the PDF parser crashed on this file".into(),
        }
    }
}

/// One reading of `bytes`: open, check the inflated size, then pdf-extract,
/// lopdf's extractor and the raw text operators, until one finds text.
fn read(bytes: &[u8], max_inflated: u64) -> Result<Extracted, Failure> {
    let doc = open(bytes).map_err(Failure::Unreadable)?;
    let pages = doc.get_pages();
    check_inflated_size(&doc, pages.values().copied(), max_inflated).map_err(Failure::Refused)?;
    let numbers: Vec<u32> = pages.keys().copied().collect();
    let first = catch_unwind(AssertUnwindSafe(|| by_pdf_extract(&doc, &numbers)));
    if let Ok(Ok(extracted)) = &first {
        if has_text(extracted) {
            return Ok(extracted.clone());
        }
    }
    let second = catch_unwind(AssertUnwindSafe(|| by_lopdf(&doc, &numbers)));
    if let Ok(Ok(extracted)) = second {
        if has_text(&extracted) {
            return Ok(extracted);
        }
    }
    let third = catch_unwind(AssertUnwindSafe(|| by_raw_content(&doc, &pages)));
    match (first, third) {
        (_, Ok(extracted)) if has_text(&extracted) => Ok(extracted),
        // None found text: the first one's answer (the worker calls an empty text a scan).
        (Ok(answer), _) => answer.map_err(Failure::Unreadable),
        (Err(panic), _) => Err(Failure::Panicked(panic)),
    }
}

fn unreadable(e: &dyn std::fmt::Display) -> String {
    format!("the PDF could not be read: {e}")
}

/// The document, decrypted with the empty user password if it is encrypted.
fn open(bytes: &[u8]) -> Result<Document, String> {
    let mut doc = catch_unwind(|| Document::load_mem(bytes))
        .map_err(|_| "the PDF could not be read: the parser crashed".to_string())?
        .map_err(|e| unreadable(&e))?;
    if doc.is_encrypted() {
        // Files with an owner password only open with the empty user password.
        doc.decrypt("").map_err(|e| unreadable(&e))?;
    }
    break_parent_cycles(&mut doc);
    Ok(doc)
}

/// The most levels a page's `/Parent` chain is followed.
const MAX_TREE_DEPTH: usize = 256;

/// Cuts every `/Parent` link that closes a cycle (a page that is its own
/// parent, found by fuzzing): pdf-extract follows the chain for inherited
/// resources without end, looping until the time limit.
fn break_parent_cycles(doc: &mut Document) {
    let pages: Vec<ObjectId> = doc.get_pages().values().copied().collect();
    for page in pages {
        let mut seen = std::collections::HashSet::new();
        let mut current = page;
        for _ in 0..MAX_TREE_DEPTH {
            seen.insert(current);
            let parent = doc
                .get_dictionary(current)
                .ok()
                .and_then(|dict| dict.get(b"Parent").ok())
                .and_then(|parent| parent.as_reference().ok());
            let Some(parent) = parent else { break };
            if seen.contains(&parent) {
                if let Ok(dict) = doc.get_dictionary_mut(current) {
                    dict.remove(b"Parent");
                }
                break;
            }
            current = parent;
        }
    }
}

fn has_text(extracted: &Extracted) -> bool {
    extracted.text.chars().any(|c| !c.is_whitespace())
}

/// pdf-extract, page by page: one bad page costs its own text only.
fn by_pdf_extract(doc: &Document, numbers: &[u32]) -> Result<Extracted, String> {
    let mut texts = Vec::with_capacity(numbers.len());
    let mut first_error = None;
    for &number in numbers {
        let mut text = String::new();
        let mut output = pdf_extract::PlainTextOutput::new(&mut text);
        match pdf_extract::output_doc_page(doc, &mut output, number) {
            Ok(()) => texts.push(text),
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

/// The strings of each page's text operators, read straight from its
/// (already size-checked) content; kept only where they read as text.
fn by_raw_content(doc: &Document, pages: &std::collections::BTreeMap<u32, ObjectId>) -> Extracted {
    let texts = pages
        .values()
        .map(|&page| {
            let content = doc.get_page_content(page).unwrap_or_default();
            let text = raw::content_text(&content);
            if raw::readable(&text) {
                text
            } else {
                String::new()
            }
        })
        .collect();
    join_pages(texts)
}

/// lopdf's own text extraction, page by page.
fn by_lopdf(doc: &Document, numbers: &[u32]) -> Result<Extracted, String> {
    let texts = numbers
        .iter()
        .map(|&number| doc.extract_text(&[number]).unwrap_or_default())
        .collect();
    Ok(join_pages(texts))
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
        let text = pdf_to_text(include_bytes!("../../../fixtures/lighthouse.pdf"), 1 << 30)
            .unwrap()
            .text;
        assert!(text.contains("lighthouse keeper"), "{text}");
    }

    #[test]
    fn pdf_pages_are_located() {
        let doc = pdf_to_text(include_bytes!("../../../fixtures/tides.pdf"), 1 << 30).unwrap();
        assert_eq!(doc.page_starts.len(), 3, "{doc:?}");
        assert_eq!(doc.page_starts[0], 0);
        let third = &doc.text[doc.page_starts[2]..];
        assert!(third.trim_start().starts_with("Fog procedures"), "{third}");
        assert!(!doc.text[..doc.page_starts[2]].contains("Fog"));
    }

    /// A one-page PDF showing `content` in Helvetica, with a correct table
    /// (`xref: true`) or a broken one and a trailer that points nowhere.
    fn one_page(content: &str, xref: bool) -> Vec<u8> {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
             /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
                .to_string(),
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        ];
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend(format!("{} 0 obj\n{object}\nendobj\n", i + 1).into_bytes());
        }
        let start = pdf.len();
        pdf.extend(b"xref\n0 6\n0000000000 65535 f \n");
        for offset in offsets {
            let offset = if xref { offset } else { offset + 3 };
            pdf.extend(format!("{offset:010} 00000 n \n").into_bytes());
        }
        let start = if xref { start } else { start + 1000 };
        pdf.extend(
            format!("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{start}\n%%EOF\n").into_bytes(),
        );
        pdf
    }

    #[test]
    fn a_broken_table_and_trailer_are_repaired() {
        let pdf = one_page(
            "BT /F1 12 Tf 72 720 Td (Repaired harbour notes) Tj ET",
            false,
        );
        assert!(Document::load_mem(&pdf).map_or(true, |d| d.get_pages().is_empty()));
        let text = pdf_to_text(&pdf, 1 << 30).unwrap().text;
        assert!(text.contains("Repaired harbour notes"), "{text:?}");
    }

    #[test]
    fn text_shown_outside_bt_is_read() {
        let pdf = one_page(
            "/F1 12 Tf 210 110 Td (Loose text) Tj 0 20 Td (on two lines) Tj",
            true,
        );
        let text = pdf_to_text(&pdf, 1 << 30).unwrap().text;
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(words, "Loose text on two lines", "{text:?}");
    }

    #[test]
    fn objects_too_broken_to_open_still_give_their_page_content() {
        let pdf = b"%PDF-1.1\n4 0 obj\n/Type /Page\nendobj\n5 0 obj\n<< /Length 44 >>\nstream\n\
BT /F1 12 Tf 100 700 Td (test example) Tj ET\nendstream\nendobj\n%%EOF\n";
        assert_eq!(pdf_to_text(pdf, 1 << 30).unwrap().text, "test example");
    }

    #[test]
    fn a_page_that_is_its_own_parent_does_not_loop() {
        // Found by scripts/fuzz.sh: pdf-extract followed /Parent for ever.
        let mut pdf = one_page("BT /F1 12 Tf 72 720 Td (Own parent) Tj ET", true);
        let at = pdf.windows(13).position(|w| w == b"/Parent 2 0 R").unwrap();
        pdf[at + 8] = b'3';
        let text = pdf_to_text(&pdf, 1 << 30).unwrap().text;
        assert!(text.contains("Own parent"), "{text:?}");
    }

    #[test]
    fn inflation_past_the_cap_is_refused() {
        // The lighthouse fixture's text is a few hundred bytes inflated.
        let err = pdf_to_text(include_bytes!("../../../fixtures/lighthouse.pdf"), 10).unwrap_err();
        assert!(err.contains("decompression bomb"), "{err}");
    }
}
