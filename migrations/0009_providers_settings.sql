-- Providers saved through the admin (one row per role: chat, embeddings,
-- images, rerank; the API key sealed with the server secret), and the
-- runtime settings the admin changes (one row per setting, the value as JSON).
CREATE TABLE providers (
    role       TEXT PRIMARY KEY,
    base_url   TEXT,
    model      TEXT,
    api_key    TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
