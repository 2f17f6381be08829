//! Where state lives: SQL rows ([`sql`]), the registry of vector indexes ([`indexes`]), chunk vectors ([`vectors`]) and original files ([`blobs`]); [`s3`] configures both stores' `s3://` URLs; [`leases`] lets one replica at a time do shared upkeep.

pub mod blobs;
pub mod indexes;
pub mod leases;
pub mod migrate;
pub mod s3;
pub mod sql;
pub mod vectors;
