-- API keys of the OpenAI-compatible facade, and the history hash of its conversations. Keep semantically equal to sqlite/0027_api_keys.sql.
-- A key is a bearer secret a user makes for an OpenAI client: shown once, only its SHA-256 kept.
-- Each key has a session of its own, so revoking it (or every session of the user) ends it on
-- every instance through the session checks every request already makes.
CREATE TABLE api_keys (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,                     -- the first characters, to tell keys apart
    hash TEXT NOT NULL UNIQUE,                -- hex SHA-256 of the key; the key is never stored
    avatars TEXT,                             -- JSON array of the avatar ids it may reach; NULL: all the user's
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id, id);

-- The OpenAI-compatible facade's clients keep the conversation and send it whole each time: the
-- hash of what a conversation holds (talk_history_step) finds it again when the same history
-- comes back, so that one chat in a client is one conversation here.
ALTER TABLE conversations ADD COLUMN history_hash TEXT;
CREATE INDEX conversations_history ON conversations (history_hash);
