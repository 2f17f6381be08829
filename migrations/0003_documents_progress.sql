-- Ingest progress: chunks embedded so far out of the document's total.
ALTER TABLE documents ADD COLUMN chunks_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN chunks_total BIGINT NOT NULL DEFAULT 0;
