-- Durable background jobs: claimed with a lease, retried with backoff, dead after max_attempts.
-- Keep semantically equal to sqlite/0003_jobs.sql.
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,             -- UUIDv7: sorts by creation time
    kind TEXT NOT NULL,                       -- handler name, e.g. "avatar.delete"
    payload TEXT NOT NULL DEFAULT '{}',       -- JSON object given to the handler
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'retrying', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,      -- runs started (incremented when claimed)
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    last_error TEXT,
    owner_id TEXT,                            -- who may see it (no foreign key: jobs outlive users)
    org_id TEXT,
    run_at BIGINT NOT NULL,                   -- ms since the epoch: due from then (queued, retrying)
    lease_until BIGINT,                       -- ms since the epoch: a running job's lease ends then
    lease_token TEXT,                         -- the claim holding the lease; finishing updates match it
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_lease ON jobs (status, lease_until);
CREATE INDEX jobs_owner ON jobs (owner_id, id);
