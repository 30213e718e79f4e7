-- Capture conversations. Keep equal to sqlite/0029_capture_conversations.sql.
-- A recording is one conversation: it opens on the device's stream, closes after a silence
-- (after speech) and is then transcribed by the capture.transcribe job into utterance memories of
-- the user's self avatar, through a media row of that avatar holding the recording's audio.
ALTER TABLE recordings ADD COLUMN conversation TEXT;       -- NULL until processed: silent | transcribed | failed
ALTER TABLE recordings ADD COLUMN conversation_error TEXT; -- why it could not be filed (failed: the quota)
ALTER TABLE recordings ADD COLUMN speech_ms BIGINT;        -- speech the VAD heard in it
ALTER TABLE recordings ADD COLUMN segments TEXT;           -- JSON [[start_ms, end_ms], ...] of speech
ALTER TABLE recordings ADD COLUMN media_id TEXT REFERENCES media(id) ON DELETE SET NULL;
-- How long a silence after speech closes a device's conversation: device_name '' is the user's
-- default for all their devices; a device's own row overrides it. No row: --capture-silence-close.
CREATE TABLE capture_settings (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_name TEXT NOT NULL,
    silence_close_s INTEGER NOT NULL CHECK (silence_close_s BETWEEN 2 AND 14400),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, device_name)
);
-- The devices each user has connected (their live state is in the cache, per instance, with
-- expiry): GET /clients/active looks up these devices' keys.
CREATE TABLE capture_devices (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_name TEXT NOT NULL,
    last_connected_at TEXT NOT NULL,
    PRIMARY KEY (user_id, device_name)
);
