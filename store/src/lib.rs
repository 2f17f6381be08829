//! Where state lives: SQL rows ([`sql`]), the registry of vector indexes ([`indexes`]), chunk vectors ([`vectors`]) and original files ([`blobs`]); [`s3`] configures both stores' `s3://` URLs; [`leases`] lets one replica at a time do shared upkeep.

pub mod blobs;
pub mod indexes;
pub mod leases;
pub mod migrate;
pub mod s3;
pub mod sql;
pub mod vectors;

/// The three stores together, borrowed: what a function that keeps rows,
/// chunks and files in step (a document's delete, say) takes.
#[derive(Debug, Clone, Copy)]
pub struct Stores<'a> {
    pub db: &'a sqlx::AnyPool,
    pub vectors: &'a vectors::VectorStore,
    pub blobs: &'a blobs::BlobStore,
}
