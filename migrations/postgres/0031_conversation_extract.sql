-- LLM extraction from conversations with an avatar (--llm-extract). extracted_through: the id of
-- the last message already read for facts (the high-water mark: no turn is read twice),
-- extract_queued: 1 while a conversation.extract job for it is waiting (a new turn queues none
-- more). A fact memory read from a conversation names it and the ids of the messages it came from
-- (a JSON array of ids), no foreign key: the fact stays the avatar's when the conversation goes.
-- Keep semantically equal to the other dialect's 0031_conversation_extract.sql.
ALTER TABLE conversations ADD COLUMN extracted_through TEXT;
ALTER TABLE conversations ADD COLUMN extract_queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memories ADD COLUMN conversation_id TEXT;
ALTER TABLE memories ADD COLUMN message_ids TEXT;

-- Personality evidence the same extraction pass finds (a trait, how strong, the words that show
-- it), blended into the profile GET /avatars/{id}/profile computes. Append-only, each row naming
-- where it was read: the profile can always be recomputed from what it came from. Evidence from a
-- deleted media item goes with it.
CREATE TABLE personality_evidence (
    id TEXT NOT NULL PRIMARY KEY,
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    trait TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    evidence TEXT NOT NULL,
    media_id TEXT REFERENCES media(id) ON DELETE CASCADE,
    conversation_id TEXT,
    message_ids TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX personality_evidence_avatar ON personality_evidence (avatar_id, trait);
