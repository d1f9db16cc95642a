-- Schema version 1: runs, their journal, the service inventory and idempotency keys.
--
-- Timestamps are RFC 3339 text in UTC with at most microsecond precision; JSON values are text.
-- Kept to what PostgreSQL also accepts where that costs nothing; `seq` is the exception (an
-- identity column there).

CREATE TABLE runs (
    -- Creation order: `runs` lists newest first, `unfinished_runs` oldest first.
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    operation  TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    request    TEXT    NOT NULL,
    service    TEXT,
    error      TEXT,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

CREATE INDEX runs_by_state ON runs (state, seq);

CREATE TABLE steps (
    run_id      TEXT    NOT NULL REFERENCES runs (id),
    step_index  INTEGER NOT NULL CHECK (step_index >= 0),
    name        TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('started', 'done', 'failed')),
    attempts    INTEGER NOT NULL CHECK (attempts >= 0),
    detail      TEXT,
    error       TEXT,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (run_id, step_index)
);

-- One service per name, ever: the UNIQUE key is what makes concurrent creations safe.
CREATE TABLE services (
    name              TEXT NOT NULL PRIMARY KEY,
    kind              TEXT NOT NULL,
    blueprint_version TEXT NOT NULL,
    owner             TEXT,
    description       TEXT NOT NULL,
    -- JSON array of repository names.
    repos             TEXT NOT NULL,
    run_id            TEXT NOT NULL REFERENCES runs (id),
    created_at        TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    key         TEXT NOT NULL PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    created_at  TEXT NOT NULL
);
