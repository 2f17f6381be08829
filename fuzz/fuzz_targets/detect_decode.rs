//! Any bytes and file name through type detection and text decoding, as an
//! upload meets them before it is stored.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_extract::{decode_text, detect};

fuzz_target!(|input: (&str, &[u8])| {
    let (name, bytes) = input;
    let _ = detect(bytes, Some(name));
    let _ = detect(bytes, None);
    let _ = decode_text(bytes);
});
