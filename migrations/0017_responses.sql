-- Responses of the Responses API (`POST /v1/responses` with `store`), each
-- one key's: the response object as it was returned, and where its
-- exchange sits in its conversation. The input items are the
-- conversation's messages from `input_from` up to the answer (the last of
-- the `message_count` messages it held once the exchange was saved), not a
-- second copy of them.
CREATE TABLE responses (
    id              TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    input_from      BIGINT NOT NULL,
    message_count   BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    body            TEXT NOT NULL
);
CREATE INDEX responses_conversation ON responses (conversation_id);
