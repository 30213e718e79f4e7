-- When a memory was said or happened (RFC 3339 text, UTC), distinct from created_at (when it was
-- stored): given through the API; search boosts a question's year with it and the recall brain
-- answers "when" questions from it. NULL: not known. Keep semantically equal to the other
-- dialect's 0016_memory_occurred_at.sql.
ALTER TABLE memories ADD COLUMN occurred_at TEXT;
CREATE INDEX memories_avatar_occurred ON memories (avatar_id, occurred_at);
