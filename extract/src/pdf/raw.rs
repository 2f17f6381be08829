//! The last resort for PDFs the structured readers get no text from: the
//! strings shown by text operators (`Tj`, `TJ`, `'`, `"`), read straight
//! from content streams, inside `BT … ET` or not (some writers leave it
//! out), as bytes of a simple font (Latin-1). From a document's pages when
//! it opens; else from every stream in the file that looks like page
//! content (a file whose objects are too broken to open, such as
//! dictionaries without their `<< >>`).

use std::io::Read;

/// The most operands kept before an operator; more is not a content stream.
const MAX_OPERANDS: usize = 4096;

/// The text shown by the text operators of one content stream.
pub fn content_text(content: &[u8]) -> String {
    let mut out = String::new();
    let mut strings: Vec<Vec<u8>> = Vec::new();
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        match b {
            b'(' => {
                let (string, next) = literal(content, i + 1);
                if strings.len() < MAX_OPERANDS {
                    strings.push(string);
                }
                i = next;
                continue;
            }
            b'<' if content.get(i + 1) == Some(&b'<') => {
                i += 2; // a dictionary (marked content, inline image): not a string
                continue;
            }
            b'<' => {
                let end = content[i..]
                    .iter()
                    .position(|&c| c == b'>')
                    .map_or(content.len(), |p| i + p);
                if strings.len() < MAX_OPERANDS {
                    strings.push(hex(&content[i + 1..end]));
                }
                i = end + 1;
                continue;
            }
            b'%' => {
                while i < content.len() && content[i] != b'\n' && content[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'-' | b'0'..=b'9' | b'.' => {
                // A TJ adjustment of more than a fifth of an em reads as a space.
                let start = i;
                while i < content.len() && matches!(content[i], b'-' | b'0'..=b'9' | b'.') {
                    i += 1;
                }
                let number = std::str::from_utf8(&content[start..i])
                    .ok()
                    .and_then(|n| n.parse::<f64>().ok());
                if number.is_some_and(|n| n < -200.0) && !strings.is_empty() {
                    strings.push(b" ".to_vec());
                }
                continue;
            }
            b if b.is_ascii_alphabetic() || b == b'\'' || b == b'"' || b == b'*' => {
                let start = i;
                while i < content.len()
                    && (content[i].is_ascii_alphanumeric()
                        || matches!(content[i], b'\'' | b'"' | b'*'))
                {
                    i += 1;
                }
                match &content[start..i] {
                    b"Tj" | b"TJ" | b"'" | b"\"" => {
                        if matches!(&content[start..i], b"'" | b"\"") {
                            out.push('\n');
                        }
                        for string in strings.drain(..) {
                            out.extend(string.iter().map(|&c| latin1(c)));
                        }
                    }
                    b"Td" | b"TD" | b"T*" | b"ET" | b"Tm" => {
                        if !out.ends_with('\n') && !out.is_empty() {
                            out.push('\n');
                        }
                        strings.clear();
                    }
                    _ => strings.clear(),
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// A literal string's bytes from just after its `(`, escapes resolved and
/// nested parentheses kept; and where it ends.
fn literal(content: &[u8], mut i: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut depth = 1;
    while i < content.len() {
        let b = content[i];
        i += 1;
        match b {
            b'\\' if i < content.len() => {
                let e = content[i];
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' | b'f' => {}
                    b'0'..=b'7' => {
                        let mut value = (e - b'0') as u32;
                        for _ in 0..2 {
                            match content.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    value = value * 8 + (d - b'0') as u32;
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(value as u8);
                    }
                    b'\r' | b'\n' => {}
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    (out, i)
}

fn hex(digits: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> = digits
        .iter()
        .filter_map(|&d| (d as char).to_digit(16).map(|v| v as u8))
        .collect();
    digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair.get(1).copied().unwrap_or(0))
        .collect()
}

/// A byte of a simple font's string as text: printable Latin-1, else nothing.
fn latin1(byte: u8) -> char {
    match byte {
        b'\n' | b'\t' | b' '..=b'~' | 0xA0..=0xFF => byte as char,
        _ => ' ',
    }
}

/// Whether `text` reads as text: mostly letters, digits, punctuation and
/// spaces (not glyph ids of a CID font read as Latin-1).
pub fn readable(text: &str) -> bool {
    let total = text.chars().filter(|c| !c.is_whitespace()).count();
    let plain = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
        .count();
    total > 0 && plain * 10 >= total * 8
}

/// The text of every stream in `bytes` that reads as page content, in file
/// order; FlateDecode streams inflated within `budget` bytes in all.
pub fn scan_streams(bytes: &[u8], mut budget: u64) -> String {
    let mut out = String::new();
    let mut at = 0;
    while let Some(found) = find(&bytes[at..], b"stream") {
        let keyword = at + found;
        at = keyword + 6;
        if keyword >= 3 && &bytes[keyword - 3..keyword] == b"end" {
            continue;
        }
        let mut start = keyword + 6;
        if bytes.get(start) == Some(&b'\r') {
            start += 1;
        }
        if bytes.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(length) = find(&bytes[start..], b"endstream") else {
            break;
        };
        let data = &bytes[start..start + length];
        at = start + length + 9;
        let dictionary = &bytes[keyword.saturating_sub(1024)..keyword];
        let content = if find(dictionary, b"FlateDecode").is_some() {
            let mut inflated = Vec::new();
            let decoder = flate2::read::ZlibDecoder::new(data);
            // A truncated stream gives what inflated before the break.
            let _ = decoder.take(budget).read_to_end(&mut inflated);
            budget = budget.saturating_sub(inflated.len() as u64);
            inflated
        } else {
            data.to_vec()
        };
        if find(&content, b"Tj").is_some() || find(&content, b"TJ").is_some() {
            let text = content_text(&content);
            if readable(&text) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text.trim());
            }
        }
        if budget == 0 {
            break;
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_operators_are_read_in_or_out_of_bt() {
        let content = b"0.3 0 0 rg /F1 12 Tf 210 110 Td (Hello PDF\\041) Tj 105 210 Td \
            [(Ker) -30 (ned) -500 (words)] TJ BT (in \\(parens\\)) ' ET <48 69> Tj";
        assert_eq!(
            content_text(content),
            "Hello PDF!\nKerned words\nin (parens)\nHi"
        );
    }

    #[test]
    fn streams_are_found_without_a_readable_structure() {
        let file = b"%PDF-1.1\n5 0 obj\n/Length 56\nstream\nBT /F1 12 Tf 100 700 Td (test example) Tj ET\nendstream\nendobj\n";
        assert_eq!(scan_streams(file, 1 << 20), "test example");
        assert!(!readable("\u{1}\u{2}ÿþ"));
    }
}
