-- Accounts: organisations, users, sessions (refresh-token families), TOTP recovery codes, audit log.
-- Keep semantically equal to postgres/0002_accounts.sql.
CREATE TABLE orgs (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Every instance has a default organisation that open sign-ups join.
INSERT INTO orgs (id, name, created_at) VALUES ('default', 'Default', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'member')),
    totp_secret TEXT,                         -- base32; set by totp/setup, trusted once enabled
    totp_enabled INTEGER NOT NULL DEFAULT 0,
    totp_last_step BIGINT NOT NULL DEFAULT 0, -- a code's time step is accepted once
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY,             -- the family: every refresh token of one login
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL,
    revoked_at TEXT,
    revoke_reason TEXT,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash TEXT NOT NULL PRIMARY KEY,           -- hex SHA-256 of the token; the token is never stored
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    used_at TEXT,
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE audit_log (
    id TEXT NOT NULL PRIMARY KEY,             -- UUIDv7: sorts by time
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT,
    target_id TEXT,
    org_id TEXT,
    ip TEXT,
    detail TEXT                               -- JSON; never a password, token or code
);
CREATE INDEX audit_log_action ON audit_log (action);
