-- Device capture: one row per recording a device streams. Keep equal to postgres/0021_capture.sql.
-- The audio itself lives in the data directory while the recording is open (capture/<id>.pcm,
-- synced before every ack) and in the blob store (a WAV) once it is closed; durable_bytes and
-- last_seq are brought up to date when it closes (the open file is their truth until then).
CREATE TABLE recordings (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,          -- <user suffix>-<device name>
    device_name TEXT NOT NULL,
    codec TEXT NOT NULL CHECK (codec IN ('pcm', 'opus')), -- what the device sent; stored as PCM16
    mode TEXT NOT NULL CHECK (mode IN ('streaming', 'batch')),
    rate INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    durable_bytes BIGINT NOT NULL DEFAULT 0,
    last_seq BIGINT NOT NULL DEFAULT -1,
    blob_key TEXT,                    -- the WAV once closed
    close_reason TEXT,                -- audio-stop | request | idle | replaced | audio-start | max-length
    started_at TEXT NOT NULL,         -- device time for a back-fill (mode batch), else arrival
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX recordings_user ON recordings (user_id, id);
CREATE INDEX recordings_open ON recordings (user_id, client_id) WHERE status = 'open';
