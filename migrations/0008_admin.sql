-- The admin account (one row, id 1: the first visitor's password, argon2id)
-- and its server-side sessions (only a hash of each cookie is kept).

CREATE TABLE admin_account (
    id            BIGINT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE admin_sessions (
    token_hash   TEXT PRIMARY KEY,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
