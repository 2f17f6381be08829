//! Text extraction as the server runs it: the extractors of the
//! `ragway-extract` crate (type detection, encodings, one parser per format),
//! each run in a child process with resource limits ([`child`]), forked
//! from a long-lived zygote ([`zygote`]), so that a hostile file fails alone.

pub mod child;
pub mod zygote;

pub use child::Extractor;
pub use ragway_extract::*;
