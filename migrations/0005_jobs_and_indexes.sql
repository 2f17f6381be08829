-- Ingest work as leased jobs, so several workers (and replicas) share it and
-- a job whose worker died is taken over once its lease runs out. A row exists
-- while the work is `pending` or `running`; the outcome is recorded on the
-- document (ingest) or the vector index (reindex).
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    document_id TEXT,
    status      TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE INDEX jobs_status_created ON jobs (status, created_at);
CREATE INDEX jobs_document ON jobs (document_id);

-- Documents queued or interrupted before jobs existed.
INSERT INTO jobs (id, kind, document_id, status, created_at, updated_at)
    SELECT id, 'ingest', id, 'pending', created_at, updated_at
    FROM documents WHERE status IN ('pending', 'processing');

-- The LanceDB tables chunks live in, each embedded by one model. One is
-- `active` (searched); while the embedding model changes, a second one is
-- `building` (written alongside, filled by the reindex job) until it takes over.
CREATE TABLE vector_indexes (
    id              TEXT PRIMARY KEY,
    table_name      TEXT NOT NULL UNIQUE,
    model           TEXT NOT NULL,
    dimension       BIGINT,
    state           TEXT NOT NULL,
    documents_total BIGINT NOT NULL DEFAULT 0,
    documents_done  BIGINT NOT NULL DEFAULT 0,
    resume_after    TEXT NOT NULL DEFAULT '',
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE UNIQUE INDEX vector_indexes_one_active ON vector_indexes (state) WHERE state = 'active';
CREATE UNIQUE INDEX vector_indexes_one_building ON vector_indexes (state) WHERE state = 'building';

-- The job working on a document now: only its outcome is recorded, so a
-- run overtaken by a replacement cannot mark the document with old content.
ALTER TABLE documents ADD COLUMN job_id TEXT;
