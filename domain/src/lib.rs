//! The shared vocabulary every layer may import, and which imports none of
//! them: collection names and the private-space rule, document status,
//! ingest events, and the clock. Dependencies point down to it.

pub mod clock;
pub mod collections;
pub mod events;
pub mod page;
pub mod status;

pub use events::{IngestEvent, Subject};
pub use status::DocumentStatus;
