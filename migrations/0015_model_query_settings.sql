-- Two retrieval settings of a public model: the floor on the rerank
-- model's relevance score (sources below it are left out, so a question the
-- knowledge base cannot answer gets none), and the upstream chat model that
-- rewrites a follow-up into a standalone search query (NULL: no rewrite).
ALTER TABLE models ADD COLUMN rerank_threshold DOUBLE PRECISION;
ALTER TABLE models ADD COLUMN condense_model TEXT;
