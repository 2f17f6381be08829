//! Any bytes as a `POST /v1/chat/completions` body, through what the server
//! does with one before any I/O: parsing, the caps, the roles. Nothing may
//! panic (a request handler's panic is a dropped connection, not an
//! answer), and each check must refuse exactly what it is meant to (see
//! `ragway_fuzz::check_messages`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragway_protocol::ChatRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ChatRequest>(data) else {
        return;
    };
    // The fields ragway reads are never also passed through as they came.
    for field in ["model", "messages", "stream"] {
        assert!(!request.rest.contains_key(field), "{field} in rest");
    }
    ragway_fuzz::check_messages(&ragway_fuzz::CAPS, &request.messages);
});
