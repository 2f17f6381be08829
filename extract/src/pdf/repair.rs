//! A repairing pass for PDFs whose cross-reference table or trailer is
//! broken (a wrong `startxref`, offsets off by a few bytes, a truncated
//! trailer): the objects are found by scanning for `N G obj`, and a new
//! cross-reference table and trailer are appended, as poppler and pdf.js do
//! before giving up. Objects inside object streams are reached through
//! their stream, which the scan finds like any other object.

use std::collections::BTreeMap;

/// The most objects a rebuilt table lists; more is not a PDF worth reading.
const MAX_OBJECTS: usize = 1_000_000;

/// `bytes` with a rebuilt cross-reference table and trailer appended, or
/// `None` when no object or no document catalog can be found.
pub fn rebuilt(bytes: &[u8]) -> Option<Vec<u8>> {
    let objects = scan_objects(bytes);
    if objects.is_empty() {
        return None;
    }
    let root = last_reference(bytes, b"/Root")
        .filter(|(number, _)| objects.contains_key(number))
        .or_else(|| find_catalog(bytes, &objects))?;
    let mut out = bytes.to_vec();
    out.extend_from_slice(b"\n");
    let xref = out.len();
    out.extend_from_slice(b"xref\n0 1\n0000000000 65535 f \n");
    // One subsection per run of consecutive object numbers.
    let numbers: Vec<u32> = objects.keys().copied().collect();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i + 1;
        while j < numbers.len() && numbers[j] == numbers[j - 1] + 1 {
            j += 1;
        }
        out.extend_from_slice(format!("{} {}\n", numbers[i], j - i).as_bytes());
        for number in &numbers[i..j] {
            let (offset, generation) = objects[number];
            out.extend_from_slice(format!("{offset:010} {generation:05} n \n").as_bytes());
        }
        i = j;
    }
    let size = numbers.last().map_or(1, |n| n + 1);
    // An encryption dictionary written into the trailer itself cannot be
    // carried over: a copy without it would read ciphertext as text.
    if find(bytes, b"/Encrypt").is_some() && last_reference(bytes, b"/Encrypt").is_none() {
        return None;
    }
    let mut trailer = format!("trailer\n<< /Size {size} /Root {} {} R", root.0, root.1);
    for key in [&b"/Info"[..], b"/Encrypt"] {
        if let Some((number, generation)) = last_reference(bytes, key) {
            trailer.push_str(&format!(
                " {} {number} {generation} R",
                String::from_utf8_lossy(key)
            ));
        }
    }
    if let Some(id) = last_id(bytes) {
        trailer.push_str(&format!(" /ID {id}"));
    }
    trailer.push_str(&format!(" >>\nstartxref\n{xref}\n%%EOF\n"));
    out.extend_from_slice(trailer.as_bytes());
    Some(out)
}

/// `bytes` with `/Length 128` put into an AES-128 (`/V 4`, `/AESV2`)
/// encryption dictionary that leaves it out (the standard implies 128 bits;
/// lopdf assumes 40 and cannot decrypt), the table rebuilt for the shifted
/// offsets; `None` when the file is not such a case.
pub fn with_aes128_key_length(bytes: &[u8]) -> Option<Vec<u8>> {
    let (number, _) = last_reference(bytes, b"/Encrypt")?;
    let objects = scan_objects(bytes);
    let &(offset, _) = objects.get(&number)?;
    let body = &bytes[offset..bytes.len().min(offset + 4096)];
    let body = &body[..find(body, b"endobj").unwrap_or(body.len())];
    let squeezed: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let v4 = find(&squeezed, b"/V4").is_some() && find(&squeezed, b"/AESV2").is_some();
    // Only the crypt filter's /Length (in bytes, inside /CF) may be there.
    let lengths = squeezed.windows(7).filter(|w| w == b"/Length").count();
    let filter_lengths = usize::from(find(&squeezed, b"/CF").is_some());
    if !v4 || lengths > filter_lengths {
        return None;
    }
    let open = offset + find(body, b"<<")? + 2;
    let mut patched = bytes[..open].to_vec();
    patched.extend_from_slice(b" /Length 128 ");
    patched.extend_from_slice(&bytes[open..]);
    rebuilt(&patched)
}

/// Where each object starts (`N G obj` at a line start or after
/// whitespace), the last definition of a number winning as in an
/// incremental update.
fn scan_objects(bytes: &[u8]) -> BTreeMap<u32, (usize, u16)> {
    let mut objects = BTreeMap::new();
    let mut at = 0;
    while let Some(found) = find(&bytes[at..], b"obj") {
        let keyword = at + found;
        at = keyword + 3;
        // `obj` must end a token (not `objects`, not `endobj`).
        if bytes
            .get(keyword + 3)
            .is_some_and(u8::is_ascii_alphanumeric)
            || keyword >= 3 && &bytes[keyword - 3..keyword] == b"end"
        {
            continue;
        }
        let Some((generation, before_generation)) = number_before(bytes, keyword) else {
            continue;
        };
        let Some((number, start)) = number_before(bytes, before_generation) else {
            continue;
        };
        let at_line_start = start == 0 || bytes[start - 1].is_ascii_whitespace();
        if at_line_start && generation <= u16::MAX as u64 && number <= u32::MAX as u64 {
            objects.insert(number as u32, (start, generation as u16));
            if objects.len() > MAX_OBJECTS {
                break;
            }
        }
    }
    objects
}

/// The unsigned number ending just before `end` (after optional
/// whitespace): its value and where it starts.
fn number_before(bytes: &[u8], end: usize) -> Option<(u64, usize)> {
    let mut digits_end = end;
    while digits_end > 0 && bytes[digits_end - 1].is_ascii_whitespace() {
        digits_end -= 1;
    }
    if digits_end == end {
        return None; // no whitespace between the tokens
    }
    let mut start = digits_end;
    while start > 0 && bytes[start - 1].is_ascii_digit() && digits_end - start < 10 {
        start -= 1;
    }
    if start == digits_end {
        return None;
    }
    let text = std::str::from_utf8(&bytes[start..digits_end]).ok()?;
    Some((text.parse().ok()?, start))
}

/// The object a key such as `/Root` names last in the file (`/Root 1 0 R`).
fn last_reference(bytes: &[u8], key: &[u8]) -> Option<(u32, u16)> {
    let mut found = None;
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], key) {
        let after = at + offset + key.len();
        at = after;
        if let Some(reference) = reference_at(&bytes[after..]) {
            found = Some(reference);
        }
    }
    found
}

/// `N G R` at the start of `bytes`, after optional whitespace.
fn reference_at(bytes: &[u8]) -> Option<(u32, u16)> {
    let head = &bytes[..bytes.len().min(40)];
    let text = String::from_utf8_lossy(head);
    let mut words = text.split_ascii_whitespace();
    let number = words.next()?.parse().ok()?;
    let generation = words.next()?.parse().ok()?;
    let r = words.next()?;
    r.starts_with('R').then_some((number, generation))
}

/// The document's `/ID [<…> <…>]`, as written.
fn last_id(bytes: &[u8]) -> Option<String> {
    let mut found = None;
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], b"/ID") {
        let start = at + offset + 3;
        at = start;
        let rest = &bytes[start..bytes.len().min(start + 200)];
        let open = rest.iter().position(|&b| !b.is_ascii_whitespace())?;
        if rest[open] != b'[' {
            continue;
        }
        if let Some(close) = rest.iter().position(|&b| b == b']') {
            found = Some(String::from_utf8_lossy(&rest[open..=close]).into_owned());
        }
    }
    found
}

/// An object whose dictionary says `/Type /Catalog`.
fn find_catalog(bytes: &[u8], objects: &BTreeMap<u32, (usize, u16)>) -> Option<(u32, u16)> {
    objects.iter().find_map(|(&number, &(offset, generation))| {
        let body = &bytes[offset..bytes.len().min(offset + 4096)];
        let end = find(body, b"endobj").unwrap_or(body.len());
        let squeezed: Vec<u8> = body[..end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        find(&squeezed, b"/Type/Catalog").map(|_| (number, generation))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROKEN: &[u8] = b"%PDF-1.4\n\
1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
3 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n\
xref\n0 4\ngarbage\ntrailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n99999\n%%EOF\n";

    #[test]
    fn objects_are_found_and_a_table_appended() {
        let objects = scan_objects(BROKEN);
        assert_eq!(objects.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(&BROKEN[objects[&2].0..objects[&2].0 + 7], b"2 0 obj");
        let fixed = rebuilt(BROKEN).unwrap();
        let tail = String::from_utf8_lossy(&fixed[BROKEN.len()..]);
        assert!(
            tail.contains("xref\n0 1\n0000000000 65535 f \n1 3\n"),
            "{tail}"
        );
        assert!(tail.contains("/Root 1 0 R"), "{tail}");
    }

    #[test]
    fn the_catalog_is_found_without_a_trailer() {
        let cut = &BROKEN[..find(BROKEN, b"trailer").unwrap()];
        assert!(last_reference(cut, b"/Root").is_none());
        let fixed = rebuilt(cut).unwrap();
        assert!(String::from_utf8_lossy(&fixed).contains("/Root 1 0 R"));
    }

    #[test]
    fn nothing_to_rebuild_from_is_none() {
        assert!(rebuilt(b"%PDF-1.4\nno objects here").is_none());
    }
}
