//! Any bytes through the pdf extractor: it must end, within the fuzzer's
//! memory and time limits, without aborting or overflowing its stack. A
//! panic is let through: the server's extraction child turns one into a
//! clean "the parser crashed on this file" (pdf-extract panics on many
//! malformed files), while an abort, an overflow, a hang or a runaway
//! allocation is what the fuzzer is here to find (see scripts/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_extract::{extract, Format};

fuzz_target!(|data: &[u8]| {
    ragway_fuzz::ignore_panics(|| {
        // The server's cap for its 50 MiB default upload limit is 400 MiB; the
        // fuzzer's -rss_limit_mb is the backstop, as the child's memory limit is.
        let _ = extract(Format::Pdf, data, 64 * 1024 * 1024);
    });
});
