-- Upstream keys the provider refused (401/403): blocked on every replica
-- until an admin enables them again. A key is named by its fingerprint (the
-- first 8 hex digits of its SHA-256), never stored itself here.
CREATE TABLE upstream_key_blocks (
    role        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    reason      TEXT NOT NULL,
    blocked_at  BIGINT NOT NULL,
    PRIMARY KEY (role, fingerprint)
);
