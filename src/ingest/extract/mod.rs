//! Text extraction as the server runs it: the extractors of the
//! `ragway-extract` crate (type detection, encodings, one parser per format),
//! each parser run in a child process with resource limits ([`child`]),
//! forked from a long-lived zygote ([`zygote`]), so that a hostile file
//! fails alone. Plain text (txt, md, csv, json) is only decoded, in-process.

mod answer;
pub mod child;
pub mod zygote;

pub use answer::run_child;
pub use child::Extractor;
pub use ragway_extract::*;
