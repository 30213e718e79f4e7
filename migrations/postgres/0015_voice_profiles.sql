-- Voice profiles: what each sample of an avatar's voice sounded like. Keep semantically equal to
-- sqlite/0015_voice_profiles.sql.
-- A sample is a training recording (media_id NULL: only its measurements are kept, not the audio)
-- or an audio/video file marked as the avatar's own voice (one row per file, replaced when it is
-- processed again, gone with it). The profile is their mean weighted by seconds of speech.
CREATE TABLE voice_samples (
    id TEXT NOT NULL PRIMARY KEY,
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    media_id TEXT REFERENCES media(id) ON DELETE CASCADE,
    speech_ms BIGINT NOT NULL,
    features TEXT NOT NULL,           -- JSON: f0_mean_hz, f0_std_hz, energy_db, rate_sps, mfcc[13], voiced_ms
    created_at TEXT NOT NULL
);
CREATE INDEX voice_samples_avatar ON voice_samples (avatar_id);
CREATE INDEX voice_samples_media ON voice_samples (media_id);
