-- OpenAI's Files and Vector Stores over ragway's documents. A file is a
-- document (the same row, blob and chunks); `purpose` is what the Files API
-- was told (NULL: uploaded through /v1/documents, shown as `assistants`).
ALTER TABLE documents ADD COLUMN purpose TEXT;

-- A vector store: a named set of files searched together. `owner` is the key
-- whose private store it is, or NULL for a shared one (made by an admin key,
-- searched by every key, changed by admin keys only).
CREATE TABLE vector_stores (
    id             TEXT PRIMARY KEY,
    owner          TEXT,
    name           TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    metadata       TEXT NOT NULL DEFAULT '{}',
    expires_days   BIGINT,
    last_active_at BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX vector_stores_owner ON vector_stores (owner, id);

-- The files of each store, with their attributes (a JSON object) and the
-- chunking they were asked with. The file's chunks are its document's: a
-- file in several stores is embedded once. `status` is `cancelled` once its
-- batch was cancelled before it was done; otherwise (NULL) it follows the
-- document's.
CREATE TABLE vector_store_files (
    store_id   TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    batch_id   TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    chunking   TEXT NOT NULL,
    status     TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (store_id, file_id)
);
CREATE INDEX vector_store_files_file ON vector_store_files (file_id);
CREATE INDEX vector_store_files_batch ON vector_store_files (batch_id);

-- File batches: which files were added together; `cancelled` once cancelled.
CREATE TABLE vector_store_file_batches (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL,
    status     TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX vector_store_file_batches_store ON vector_store_file_batches (store_id);
