-- Duplicate detection looks documents up by collection and content hash.
CREATE INDEX documents_collection_sha256 ON documents (collection, sha256);
