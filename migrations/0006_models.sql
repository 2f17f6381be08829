-- The public model names clients choose from, each mapped to an upstream
-- chat model with its own system prompt, knowledge collections and
-- retrieval settings. Booleans are integers (0/1) and lists are JSON text,
-- so SQLite and PostgreSQL read them alike. NULL means "the global setting".
CREATE TABLE models (
    name            TEXT PRIMARY KEY,
    upstream_model  TEXT,
    system_prompt   TEXT,
    collections     TEXT NOT NULL DEFAULT '[]',
    retrieval       BIGINT NOT NULL DEFAULT 1,
    top_k           BIGINT,
    score_threshold DOUBLE PRECISION,
    rerank          BIGINT NOT NULL DEFAULT 0,
    drawing         BIGINT NOT NULL DEFAULT 0,
    draw_triggers   TEXT,
    max_messages    BIGINT,
    citation_footer BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
