-- Memory vectors and the memory revision of an avatar. Keep semantically equal to
-- postgres/0009_memory_vectors.sql.
-- embedding: float32 little-endian, unit length, written when an embedding provider is
-- configured (NULL until then, or until the memory.embed job fills it); embedding_model says
-- which model made it, so a model change is noticed and the vectors are made again.
ALTER TABLE memories ADD COLUMN embedding BLOB;
ALTER TABLE memories ADD COLUMN embedding_model TEXT;

-- Bumped by every change to an avatar's memories, so that in-process caches of them (vectors,
-- counts) know when to reload — across processes too, at the price of one primary-key read.
ALTER TABLE avatars ADD COLUMN memory_rev INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER memories_rev_insert AFTER INSERT ON memories BEGIN
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = new.avatar_id;
END;
CREATE TRIGGER memories_rev_update AFTER UPDATE ON memories BEGIN
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = new.avatar_id;
END;
CREATE TRIGGER memories_rev_delete AFTER DELETE ON memories BEGIN
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = old.avatar_id;
END;

-- The memory.embed job finds what is missing quickly.
CREATE INDEX memories_unembedded ON memories (avatar_id) WHERE embedding IS NULL;
