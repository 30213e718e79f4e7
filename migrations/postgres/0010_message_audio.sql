-- The recording a reply can be heard from. Keep semantically equal to sqlite/0010_message_audio.sql.
-- audio_memory_id: the memory whose source span (a recording of the avatar) the reply quotes; set
-- when the reply is stored, so reading a message costs nothing more. Deleting the memory (or its
-- recording, which deletes the memory) takes the audio away from the reply.
ALTER TABLE messages ADD COLUMN audio_memory_id TEXT REFERENCES memories(id) ON DELETE SET NULL;
-- The ON DELETE SET NULL above looks messages up by memory.
CREATE INDEX messages_audio_memory ON messages (audio_memory_id) WHERE audio_memory_id IS NOT NULL;
