-- OpenAI's Files and Vector Stores over ragway's documents. A file is a
-- document (the same row, blob and chunks); `purpose` is what the Files API
-- was told (NULL: uploaded through /v1/documents, shown as `assistants`).
ALTER TABLE documents ADD COLUMN purpose TEXT;

-- A file chunked with other sizes than the server's (a vector store's
-- `static` chunking strategy): a variant document of it, with those sizes,
-- in the hidden collection `~variants` (never searched by chats), its chunks
-- cut from the file's own bytes. It goes when its file goes.
ALTER TABLE documents ADD COLUMN variant_of TEXT;
ALTER TABLE documents ADD COLUMN chunk_tokens BIGINT;
ALTER TABLE documents ADD COLUMN chunk_overlap BIGINT;
CREATE UNIQUE INDEX documents_variant ON documents (variant_of, chunk_tokens, chunk_overlap)
    WHERE variant_of IS NOT NULL;

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
-- chunking they were asked with. `document_id` holds the chunks: the file
-- itself (a file in several stores is embedded once), or its variant with
-- the sizes asked for. `status` is `cancelled` once its batch was cancelled
-- before it was done; otherwise (NULL) it follows that document's.
CREATE TABLE vector_store_files (
    store_id    TEXT NOT NULL,
    file_id     TEXT NOT NULL,
    document_id TEXT NOT NULL,
    batch_id    TEXT,
    attributes  TEXT NOT NULL DEFAULT '{}',
    chunking    TEXT NOT NULL,
    status      TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (store_id, file_id)
);
CREATE INDEX vector_store_files_file ON vector_store_files (file_id);
CREATE INDEX vector_store_files_document ON vector_store_files (document_id);
CREATE INDEX vector_store_files_batch ON vector_store_files (batch_id);

-- File batches: which files were added together; `cancelled` once cancelled.
CREATE TABLE vector_store_file_batches (
    id         TEXT PRIMARY KEY,
    store_id   TEXT NOT NULL,
    status      TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX vector_store_file_batches_store ON vector_store_file_batches (store_id);
