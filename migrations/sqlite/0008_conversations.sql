-- Conversations with an avatar and their messages. Keep equal to postgres/0008_conversations.sql.
CREATE TABLE conversations (
    id TEXT NOT NULL PRIMARY KEY,
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX conversations_avatar_user ON conversations (avatar_id, user_id, id);

CREATE TABLE messages (
    id TEXT NOT NULL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'avatar')),
    text TEXT NOT NULL,
    citations TEXT,                   -- JSON array [{memory_id, text, source}]
    brain TEXT,                       -- which brain answered (avatar messages)
    created_at TEXT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
