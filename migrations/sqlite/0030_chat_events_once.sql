-- Chat events stored once. Keep equal to postgres/0030_chat_events_once.sql (but for the id column
-- and WITHOUT ROWID).
-- An event reaching a group of 100 was written 100 times (its JSON in every member's log): 42 % of
-- the server's CPU in a 1 -> 100 fan-out. Now the event is one row and each recipient's log holds a
-- reference under the recipient's own number, so ?since=N replays and gap fills read the same.
CREATE TABLE chat_events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    data TEXT NOT NULL,               -- the event's JSON
    created_at TEXT NOT NULL
);
-- Every event a user must not miss, numbered per user. event_id has no foreign key: events are
-- never deleted, and a key would cost a lookup per recipient on every append.
CREATE TABLE user_event_refs (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
INSERT INTO chat_events (id, type, data, created_at)
    SELECT ROW_NUMBER() OVER (ORDER BY user_id, seq), type, data, created_at FROM user_events;
INSERT INTO user_event_refs (user_id, seq, event_id)
    SELECT user_id, seq, ROW_NUMBER() OVER (ORDER BY user_id, seq) FROM user_events;
DROP TABLE user_events;
