-- Personality training: the samples an avatar's profile is computed from. Keep equal to postgres/0005.
CREATE TABLE personality_samples (
    id TEXT NOT NULL PRIMARY KEY,
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX personality_samples_avatar ON personality_samples (avatar_id, id);

-- The computed profile (a cache of the analysis of every sample; recomputed on each new one).
CREATE TABLE avatar_profiles (
    avatar_id TEXT NOT NULL PRIMARY KEY REFERENCES avatars(id) ON DELETE CASCADE,
    personality TEXT NOT NULL,   -- JSON: progress, samples, method, style, traits
    updated_at TEXT NOT NULL
);
