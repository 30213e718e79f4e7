-- An avatar's language. Keep semantically equal to sqlite/0024_avatar_language.sql.
-- Chooses how its memories' words are keyed (core/stem.h): en (WordNet lemmas), de, es, fr, it, pt
-- or nl (Snowball stems); auto guesses it from the memories' function words, as before.
ALTER TABLE avatars ADD COLUMN language TEXT NOT NULL DEFAULT 'auto';
