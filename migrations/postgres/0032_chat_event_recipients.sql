-- Chat events found through the chats they belong to. Keep equal to
-- sqlite/0032_chat_event_recipients.sql (but for the JSON and string functions and WITHOUT ROWID).
-- A 1 -> 100 fan-out wrote one reference row per recipient into a per-user index: one B-tree leaf
-- dirtied per recipient, ≈ 570 KB of WAL per message. Now the event row carries its recipients and
-- their numbers ("user seq\n" lines) and is indexed by its chat: a user's events since N are the
-- events of the chats they are (or were) in, read from a mark at or before N. A mark (every 32nd
-- number of a user) is the only row written per recipient, and only for one recipient in 32.
ALTER TABLE chat_events ADD COLUMN chat_id TEXT;
ALTER TABLE chat_events ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
CREATE INDEX user_event_refs_event ON user_event_refs (event_id);
UPDATE chat_events SET chat_id = data::jsonb ->> 'chat_id',
    recipients = COALESCE((SELECT string_agg(r.user_id || ' ' || r.seq || E'\n', '')
                           FROM user_event_refs r WHERE r.event_id = chat_events.id), '');
CREATE INDEX chat_events_chat ON chat_events (chat_id, id);
-- Where a user's log is at every 32nd number (1, 33, 65, ...): a read of the events after N starts
-- at the mark at or before N + 1, so it scans at most 32 of the user's events it does not return.
CREATE TABLE user_event_marks (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
INSERT INTO user_event_marks (user_id, seq, event_id)
    SELECT user_id, seq, event_id FROM user_event_refs WHERE (seq - 1) % 32 = 0;
DROP TABLE user_event_refs;
