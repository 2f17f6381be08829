//! The child's side of extraction: what `ragway extract-child` and a
//! zygote's fork run. Read the upload, extract it, answer with a JSON
//! header line and the text ([`super::child`] reads it); a panic leaves one
//! line on stderr that the server can find.

use std::io::{Read, Write};

use super::child::Header;
use super::{extract, Format};

/// The allocator settings of every extraction process (an environment
/// variable; the executable's allocator is jemalloc, its names prefixed).
/// By default jemalloc keeps freed memory mapped, to reuse it: a zygote
/// that once read a large upload would hold that much address space for
/// good, and every fork of it would start with part of its memory limit
/// (`RLIMIT_DATA` counts address space) already spent. Here freed memory
/// goes back at once, so a limit measures one document, not the largest
/// seen. Extraction is not allocation-bound; the cost does not show.
pub(super) const MALLOC_CONF: (&str, &str) = (
    "_RJEM_MALLOC_CONF",
    "retain:false,dirty_decay_ms:0,muzzy_decay_ms:0",
);

/// The child's side: read the upload from stdin, extract, answer on stdout.
/// Returns the process exit status.
pub fn run_child(mime: &str, max_inflated: u64) -> i32 {
    install_panic_hook();
    let Some(format) = Format::from_mime(mime) else {
        eprintln!("unknown type {mime}");
        return 2;
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        if e.kind() == std::io::ErrorKind::OutOfMemory {
            // Worded as Rust's own allocation failure, which the parent recognises.
            eprintln!(
                "memory allocation of the upload ({} bytes read) failed",
                bytes.len()
            );
        } else {
            eprintln!("cannot read stdin: {e}");
        }
        return 2;
    }
    answer(format, bytes, max_inflated)
}

/// One line a parent can find on stderr for a panic; the default hook's
/// text is for people.
pub(super) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panic: {}{place}", message.replace('\n', " "));
    }));
}

/// Extracts `bytes` and writes the answer (header line, text) to stdout;
/// the exit status to end with.
fn answer(format: Format, bytes: Vec<u8>, max_inflated: u64) -> i32 {
    answer_to(&mut std::io::stdout().lock(), format, bytes, max_inflated)
}

/// Extracts `bytes` and writes the answer (header line, text) to `out`;
/// the exit status to end with (0: answered, the process may read more).
pub(super) fn answer_to(
    out: &mut impl Write,
    format: Format,
    bytes: Vec<u8>,
    max_inflated: u64,
) -> i32 {
    let (header, text) = match extract(format, &bytes, max_inflated) {
        Ok(extracted) => (
            Header {
                ok: true,
                error: None,
                text_bytes: extracted.text.len(),
                page_starts: extracted.page_starts,
            },
            extracted.text,
        ),
        Err(error) => (
            Header {
                ok: false,
                error: Some(error),
                page_starts: Vec::new(),
                text_bytes: 0,
            },
            String::new(),
        ),
    };
    drop(bytes);
    let mut line = serde_json::to_vec(&header).expect("a header serializes");
    line.push(b'\n');
    let written = out
        .write_all(&line)
        .and_then(|()| out.write_all(text.as_bytes()))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cannot write the answer: {e}");
            3
        }
    }
}

pub(super) fn set_limit(
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a plain system call on a value we own.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
