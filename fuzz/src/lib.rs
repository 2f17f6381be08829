//! What the fuzz targets share.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

/// Runs `f`, treating a panic as an answer rather than a crash: libfuzzer-sys
/// aborts on every panic, but a panic in the extraction child is contained
/// (the document fails with the panic's message).
pub fn ignore_panics(f: impl FnOnce()) {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _ = catch_unwind(AssertUnwindSafe(f));
}
