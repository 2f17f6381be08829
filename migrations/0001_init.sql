-- Portable DDL: runs on SQLite and PostgreSQL alike.
-- Ids are TEXT (UUIDs), times are BIGINT milliseconds since the Unix epoch.

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    collection   TEXT NOT NULL,
    title        TEXT NOT NULL,
    filename     TEXT,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    status       TEXT NOT NULL,
    chunk_count  BIGINT NOT NULL DEFAULT 0,
    error        TEXT,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE INDEX documents_status_created ON documents (status, created_at);
CREATE INDEX documents_collection ON documents (collection);
