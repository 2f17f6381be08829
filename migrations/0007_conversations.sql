-- Conversations, each owned by one API key, and their messages.
-- `history_hash` is the hash of the stored non-system messages, so a client
-- that resends the whole history finds its conversation with one indexed
-- lookup. `system` is the JSON array of the client's latest system messages.
CREATE TABLE conversations (
    id            TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL,
    model         TEXT NOT NULL,
    title         TEXT NOT NULL,
    system        TEXT NOT NULL DEFAULT '[]',
    history_hash  TEXT NOT NULL,
    message_count BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE INDEX conversations_key_updated ON conversations (key_id, updated_at, id);
CREATE INDEX conversations_key_history ON conversations (key_id, history_hash);

-- `body` is the message as the client sent it or the upstream answered
-- (role, content, tool calls…) in JSON; `seq` orders a conversation.
CREATE TABLE messages (
    conversation_id   TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    role              TEXT NOT NULL,
    body              TEXT NOT NULL,
    sources           TEXT,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    total_tokens      BIGINT,
    incomplete        BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
