-- The voice a remote synthesizer speaks an avatar with. Keep semantically equal to sqlite/0026_avatar_voices.sql.
-- An ElevenLabs voice id, an OpenAI voice name, a Piper voice: the provider's word, one per avatar
-- (a table of its own: most avatars have none, and the avatars row stays as it is).
CREATE TABLE avatar_voices (
    avatar_id TEXT PRIMARY KEY REFERENCES avatars(id) ON DELETE CASCADE,
    tts_voice TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
