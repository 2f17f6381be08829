-- Named leases: work that one replica at a time may do (the vector store's
-- upkeep: compaction and index maintenance). The holder renews its lease
-- before it runs out; when a holder dies, another takes over after `until_ms`.
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
