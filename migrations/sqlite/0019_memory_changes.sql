-- The log of memory changes. Keep semantically equal to postgres/0019_memory_changes.sql.
-- Every change to an avatar's memories moves avatars.memory_rev on by one (0009) and, in the same
-- trigger, logs which memory changed at that revision, so that an in-process text index built at
-- revision R catches up to revision S by re-reading only the memories logged in (R, S]: a memory
-- is searchable right after it is written, without reading the avatar's other memories again.
-- One row per revision: a gap (rows pruned, or written before this table existed) is noticed by
-- counting, and the index is then built whole. The log keeps an avatar's last 1024
-- revisions (a writer prunes what falls out).
CREATE TABLE memory_changes (
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    rev BIGINT NOT NULL,
    memory_id TEXT NOT NULL,
    PRIMARY KEY (avatar_id, rev)
);

DROP TRIGGER memories_rev_insert;
DROP TRIGGER memories_rev_update;
DROP TRIGGER memories_rev_delete;
CREATE TRIGGER memories_rev_insert AFTER INSERT ON memories BEGIN
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = new.avatar_id;
    INSERT INTO memory_changes (avatar_id, rev, memory_id)
        SELECT id, memory_rev, new.id FROM avatars WHERE id = new.avatar_id;
    DELETE FROM memory_changes WHERE avatar_id = new.avatar_id
        AND rev <= (SELECT memory_rev FROM avatars WHERE id = new.avatar_id) - 1024;
END;
CREATE TRIGGER memories_rev_update AFTER UPDATE ON memories BEGIN
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = new.avatar_id;
    INSERT INTO memory_changes (avatar_id, rev, memory_id)
        SELECT id, memory_rev, new.id FROM avatars WHERE id = new.avatar_id;
    DELETE FROM memory_changes WHERE avatar_id = new.avatar_id
        AND rev <= (SELECT memory_rev FROM avatars WHERE id = new.avatar_id) - 1024;
END;
CREATE TRIGGER memories_rev_delete AFTER DELETE ON memories BEGIN
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = old.avatar_id;
    INSERT INTO memory_changes (avatar_id, rev, memory_id)
        SELECT id, memory_rev, old.id FROM avatars WHERE id = old.avatar_id;
    DELETE FROM memory_changes WHERE avatar_id = old.avatar_id
        AND rev <= (SELECT memory_rev FROM avatars WHERE id = old.avatar_id) - 1024;
END;
