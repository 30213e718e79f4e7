-- The log of memory changes. Keep semantically equal to sqlite/0019_memory_changes.sql.
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

CREATE OR REPLACE FUNCTION memories_bump_rev() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed_id TEXT;
    changed_avatar TEXT;
    new_rev BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed_id := OLD.id;
        changed_avatar := OLD.avatar_id;
    ELSE
        changed_id := NEW.id;
        changed_avatar := NEW.avatar_id;
    END IF;
    UPDATE avatars SET memory_rev = memory_rev + 1 WHERE id = changed_avatar RETURNING memory_rev INTO new_rev;
    IF FOUND THEN
        INSERT INTO memory_changes (avatar_id, rev, memory_id) VALUES (changed_avatar, new_rev, changed_id);
        DELETE FROM memory_changes WHERE avatar_id = changed_avatar AND rev <= new_rev - 1024;
    END IF;
    RETURN NULL;
END
$$;
