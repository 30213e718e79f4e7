-- Visitors of a legacy page talk to a link/public avatar without an account. Keep semantically
-- equal to sqlite/0014_visitors.sql.
-- visitor_talk: the owner lets visitors talk (1, the default for a published avatar) or not (0).
ALTER TABLE avatars ADD COLUMN visitor_talk INTEGER NOT NULL DEFAULT 1;
-- A visitor's conversation has no user: it is held by whoever has the token handed out when it
-- started; only the token's hex SHA-256 is kept.
ALTER TABLE conversations ADD COLUMN visitor_hash TEXT;
