//! Paragraph text of a Word document (`.docx`), refusing zip bombs.

use std::io::Read;

/// The most text a Word document may inflate to; more is treated as a zip bomb.
pub const MAX_DOCX_XML_BYTES: u64 = 100 * 1024 * 1024;

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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn docx(document_xml: &str) -> Vec<u8> {
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

    pub(crate) const WORD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Safety rules</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Wear a helmet </w:t></w:r><w:r><w:t>&amp; gloves.</w:t></w:r></w:p>
<w:p><w:r><w:t>安全第一</w:t></w:r></w:p>
</w:body></w:document>"#;

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
}
