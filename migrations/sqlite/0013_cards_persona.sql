-- Cards and personas. Keep semantically equal to postgres/0013_cards_persona.sql.
-- The dialogue an utterance belongs to when it has no media: lines imported from a character
-- card share one (a new id per dialogue of the card), so that recall can still answer a line said
-- to the avatar with the avatar's next turn. Utterances transcribed from media use media_id.
ALTER TABLE memories ADD COLUMN dialogue TEXT;
CREATE INDEX memories_dialogue ON memories (dialogue, seq) WHERE dialogue IS NOT NULL;

-- Media the owner marked as the avatar's own words (letters, diaries, its side of a chat): their
-- text feeds the personality profile. 0 or 1.
ALTER TABLE media ADD COLUMN own_words INTEGER NOT NULL DEFAULT 0;
