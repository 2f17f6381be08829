//! Where state lives: SQL rows ([`sql`]), chunk vectors ([`vectors`]) and original files ([`blobs`]).

pub mod blobs;
pub mod sql;
pub mod vectors;
