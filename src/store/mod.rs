//! Where state lives: SQL rows ([`sql`]), the registry of vector indexes ([`indexes`]), chunk vectors ([`vectors`]) and original files ([`blobs`]).

pub mod blobs;
pub mod indexes;
pub mod sql;
pub mod vectors;
