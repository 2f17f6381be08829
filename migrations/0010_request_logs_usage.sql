-- One row per API request (written in batches, off the request path), the
-- per-key daily usage the batches add up to, and per-key limits.
-- Booleans are integers (0/1); times are milliseconds since the epoch.
CREATE TABLE request_logs (
    id                TEXT PRIMARY KEY,
    created_at        BIGINT NOT NULL,
    key_id            TEXT,
    method            TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    model             TEXT,
    upstream_model    TEXT,
    client_ip         TEXT,
    user_agent        TEXT,
    request_bytes     BIGINT NOT NULL,
    response_bytes    BIGINT NOT NULL,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    total_tokens      BIGINT,
    stream            BIGINT NOT NULL,
    status            BIGINT NOT NULL,
    error             TEXT,
    latency_ms        BIGINT NOT NULL,
    ttft_ms           BIGINT,
    retrieval_ms      BIGINT,
    upstream_key      TEXT,
    retries           BIGINT NOT NULL,
    conversation_id   TEXT
);
CREATE INDEX request_logs_created_at ON request_logs (created_at);
CREATE INDEX request_logs_key ON request_logs (key_id, id);

CREATE TABLE usage_daily (
    key_id            TEXT NOT NULL,
    day               TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens      BIGINT NOT NULL,
    PRIMARY KEY (key_id, day)
);

ALTER TABLE api_keys ADD COLUMN requests_per_minute BIGINT;
ALTER TABLE api_keys ADD COLUMN tokens_per_day BIGINT;
