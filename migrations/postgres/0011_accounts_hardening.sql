-- Accounts hardening. Keep semantically equal to sqlite/0011_accounts_hardening.sql.
-- E-mail addresses compare case-insensitively: the server stores them with ASCII letters
-- lower-cased (translate, not lower(), which would also fold non-ASCII letters by the locale,
-- unlike the server). A legacy pair of accounts whose addresses differ only in case keeps its
-- spellings (the unique index would refuse them); an admin deletes one.
UPDATE users SET email = translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
WHERE email <> translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
  AND NOT EXISTS (
    SELECT 1 FROM users o
    WHERE o.id <> users.id
      AND translate(o.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
        = translate(users.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));

-- A spent refresh token remembers when (ms since the epoch) and from which client address it was
-- spent: the same client presenting it again within the reuse grace (two tabs refreshing at once)
-- gets a fresh pair of the same session instead of having the session revoked.
ALTER TABLE refresh_tokens ADD COLUMN spent_at_ms BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN spent_ip TEXT;
