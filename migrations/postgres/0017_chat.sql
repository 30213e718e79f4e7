-- User-to-user chat: chats, members, messages, blocks, contact requests, preferences and each
-- user's event log (what a reconnecting client catches up on). Keep semantically equal to
-- sqlite/0017_chat.sql.
CREATE TABLE chats (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    title TEXT NOT NULL DEFAULT '',
    direct_key TEXT UNIQUE,           -- 'a:b' (sorted user ids) of a one-to-one chat: one per pair
    created_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL DEFAULT 0, -- the chat's last message sequence number
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL          -- the last message's time (lists sort by it)
);

CREATE TABLE chat_members (
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at TEXT NOT NULL,
    left_at TEXT,                     -- set on leave: history stays, nothing new arrives
    muted INTEGER NOT NULL DEFAULT 0,
    last_read_seq BIGINT NOT NULL DEFAULT 0, -- one "last read" per member
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members (user_id);

CREATE TABLE chat_messages (
    id TEXT NOT NULL PRIMARY KEY,
    chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    sender_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT,                   -- the sender's id for the send: a retry finds the first
    text TEXT,                        -- NULL once deleted for everyone
    reply_to TEXT,
    attachments TEXT,                 -- JSON array of {media_id, kind, mime, size, filename}
    edited_at TEXT,
    deleted_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (chat_id, seq),
    UNIQUE (sender_id, client_id)
);

CREATE TABLE chat_blocks (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX chat_blocks_blocked ON chat_blocks (blocked_id);

-- A request to talk from someone the recipient could not otherwise be reached by; accepted, the
-- two may start chats.
CREATE TABLE chat_contacts (
    from_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    to_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX chat_contacts_to ON chat_contacts (to_id);

CREATE TABLE chat_prefs (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    hide_presence INTEGER NOT NULL DEFAULT 0,
    send_receipts INTEGER NOT NULL DEFAULT 1,
    last_seen TEXT
);

-- Every event a user must not miss, numbered per user; kept for a while after delivery.
CREATE TABLE user_events (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,               -- the event's JSON
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE TABLE user_event_seq (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL
);
