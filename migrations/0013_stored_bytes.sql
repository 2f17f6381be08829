-- Bytes of conversation messages stored (each message's JSON body and
-- sources), per conversation and per key, kept as running totals by every
-- save and delete so the per-key cap (RAGWAY_MAX_KEY_STORED_BYTES) is one
-- read by primary key. Totals are kept per key id (the admin's browser
-- session files its conversations under one that is not an api_keys row).
-- Messages stored before this migration are counted in characters (LENGTH
-- is portable; for most text that is close to its bytes).
ALTER TABLE conversations ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;

UPDATE conversations SET stored_bytes = (
    SELECT COALESCE(SUM(LENGTH(body) + COALESCE(LENGTH(sources), 0)), 0)
    FROM messages WHERE messages.conversation_id = conversations.id
);

CREATE TABLE key_stored_bytes (
    key_id TEXT PRIMARY KEY,
    bytes  BIGINT NOT NULL
);

INSERT INTO key_stored_bytes (key_id, bytes)
    SELECT key_id, SUM(stored_bytes) FROM conversations GROUP BY key_id;
