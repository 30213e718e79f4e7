-- Memory vectors and the memory revision of an avatar. Keep semantically equal to
-- sqlite/0009_memory_vectors.sql.
-- embedding: float32 little-endian, unit length, written when an embedding provider is
-- configured (NULL until then, or until the memory.embed job fills it); embedding_model says
-- which model made it, so a model change is noticed and the vectors are made again.
ALTER TABLE memories ADD COLUMN embedding bytea;
ALTER TABLE memories ADD COLUMN embedding_model TEXT;

-- Bumped by every change to an avatar's memories, so that in-process caches of them (vectors,
-- counts) know when to reload — across processes too, at the price of one primary-key read.
ALTER TABLE avatars ADD COLUMN memory_rev BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION memories_bump_rev() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = OLD.avatar_id;
    ELSE
        UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = NEW.avatar_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER memories_rev AFTER INSERT OR UPDATE OR DELETE ON memories
    FOR EACH ROW EXECUTE FUNCTION memories_bump_rev();

-- The memory.embed job finds what is missing quickly.
CREATE INDEX memories_unembedded ON memories (avatar_id) WHERE embedding IS NULL;
