-- Portraits. Keep semantically equal to postgres/0022_portraits.sql.
-- An avatar's picture: one of its own image media (uploaded, or the picture of an imported card).
-- Deleting that media takes the portrait away, never the avatar.
ALTER TABLE avatars ADD COLUMN portrait_media_id TEXT REFERENCES media(id) ON DELETE SET NULL;
