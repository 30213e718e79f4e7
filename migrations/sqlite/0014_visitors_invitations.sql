-- Visitors of a legacy page talk to a link/public avatar without an account. Keep semantically
-- equal to postgres/0014_visitors_invitations.sql.
-- visitor_talk: the owner lets visitors talk (1, the default for a published avatar) or not (0).
ALTER TABLE avatars ADD COLUMN visitor_talk INTEGER NOT NULL DEFAULT 1;
-- A visitor's conversation has no user: it is held by whoever has the token handed out when it
-- started; only the token's hex SHA-256 is kept.
ALTER TABLE conversations ADD COLUMN visitor_hash TEXT;

-- An avatar shared with an e-mail address that has no account (yet): a sign-up with that address
-- and the invitation's token (handed to the owner, who passes it on) joins the avatar's
-- organisation, and the invitation becomes a share. Only the token's hex SHA-256 is kept.
CREATE TABLE avatar_invitations (
    avatar_id TEXT NOT NULL REFERENCES avatars(id) ON DELETE CASCADE,
    email TEXT NOT NULL,              -- lower case
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor')),
    invited_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (avatar_id, email)
);
CREATE INDEX avatar_invitations_email ON avatar_invitations (email);
