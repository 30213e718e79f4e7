-- The instance table: one row naming this Doppel installation (keep equal to sqlite/0001).
CREATE TABLE instance (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

INSERT INTO instance (id, name, created_at)
VALUES ('instance', 'doppel',
        to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
