-- Named collections; every document belongs to one. `default` always exists.
CREATE TABLE collections (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

INSERT INTO collections (name, description, created_at) VALUES ('default', 'Documents uploaded without a collection', 0);

-- Collections that documents already name.
INSERT INTO collections (name, created_at)
    SELECT DISTINCT collection, 0 FROM documents WHERE collection <> 'default';
