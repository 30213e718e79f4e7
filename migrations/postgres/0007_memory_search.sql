-- Memory search: a full-text index over memories (ts_rank_cd ranking) and the versions of edited
-- memories. Keep semantically equal to sqlite/0007_memory_search.sql.
ALTER TABLE memories ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED;
CREATE INDEX memories_tsv ON memories USING GIN (tsv);

-- Every earlier text of an edited memory (the current one lives in memories).
CREATE TABLE memory_versions (
    memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    kind TEXT NOT NULL,
    importance DOUBLE PRECISION NOT NULL,
    edited_by TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (memory_id, version)
);
