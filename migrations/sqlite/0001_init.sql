-- The instance table: one row naming this Doppel installation (keep equal to postgres/0001).
CREATE TABLE instance (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

INSERT INTO instance (id, name, created_at)
VALUES ('instance', 'doppel', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
