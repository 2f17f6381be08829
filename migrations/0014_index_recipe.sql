-- How an index's vectors were made besides the model: what each chunk's
-- embedding input holds (title, heading path, the document's lede), the
-- document prefix and whether input_type was sent. An index whose recipe
-- differs from the configured one is reported like a changed model, and a
-- reindex re-embeds it. Indexes made before this column carry '' (an older
-- recipe: no lede).
ALTER TABLE vector_indexes ADD COLUMN recipe TEXT NOT NULL DEFAULT '';
