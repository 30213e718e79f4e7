-- Avatars, their shares, media and memories. Keep semantically equal to sqlite/0004_avatars.sql.
CREATE TABLE avatars (
    id TEXT NOT NULL PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('self', 'legacy', 'character', 'trainer')),
    description TEXT NOT NULL DEFAULT '',
    personality TEXT NOT NULL DEFAULT '',
    scenario TEXT NOT NULL DEFAULT '',
    greeting TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL CHECK (visibility IN ('private', 'org', 'link', 'public')),
    brain TEXT NOT NULL CHECK (brain IN ('recall', 'generative')),
    slug TEXT UNIQUE,                 -- the legacy page address, for link/public avatars
    publish TEXT NOT NULL DEFAULT '["name","description","greeting"]', -- fields the legacy page shows
    extensions TEXT,                  -- JSON kept for card round-trips
    deleted_at TEXT,                  -- set at once on delete; the rest goes in a job
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX avatars_owner ON avatars (owner_id);
CREATE INDEX avatars_org ON avatars (org_id, visibility);

CREATE TABLE avatar_shares (
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (avatar_id, user_id)
);
CREATE INDEX avatar_shares_user ON avatar_shares (user_id);

CREATE TABLE media (
    id TEXT NOT NULL PRIMARY KEY,
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL,           -- who uploaded it
    blob_key TEXT NOT NULL,           -- SHA-256 of the bytes in the blob store
    size BIGINT NOT NULL,
    mime TEXT NOT NULL,               -- sniffed, never the client's word
    kind TEXT NOT NULL CHECK (kind IN ('text', 'document', 'audio', 'video', 'image')),
    filename TEXT,
    status TEXT NOT NULL,             -- queued | processing | ready | failed
    status_detail TEXT,               -- what the status means for this file, in words
    meta TEXT,                        -- JSON: duration_ms, width, height, pages, passages …
    job_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX media_avatar ON media (avatar_id);
CREATE INDEX media_blob ON media (blob_key);

CREATE TABLE memories (
    id TEXT NOT NULL PRIMARY KEY,
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('fact', 'utterance', 'passage', 'qa')),
    text TEXT NOT NULL,
    media_id TEXT REFERENCES media(id) ON DELETE CASCADE,
    start_ms BIGINT,                  -- position in a recording
    end_ms BIGINT,
    char_start BIGINT,                -- position in a document's text
    char_end BIGINT,
    page INTEGER,
    speaker TEXT,                     -- dialogue: who said it
    seq BIGINT,                       -- dialogue / document order
    importance DOUBLE PRECISION NOT NULL DEFAULT 0.5,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX memories_avatar ON memories (avatar_id, id);
CREATE INDEX memories_media ON memories (media_id);
