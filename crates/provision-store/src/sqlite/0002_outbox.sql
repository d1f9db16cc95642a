-- Schema version 2: the outbox, e-mails waiting to be delivered exactly once.
--
-- Unlike the tables of version 1, the outbox's times are compared ("due at or before now"), so
-- they are written fixed-width (`2026-11-22T10:00:00.000000Z`: always six fractional digits),
-- which orders as text exactly as in time. They are the callers' clock, not the store's.

CREATE TABLE outbox (
    -- Enqueue order: ties between messages due at the same time go to the older one.
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The caller's key (`workspace-ready/<uid>`): one message per key, for ever.
    key             TEXT    NOT NULL UNIQUE,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL,
    html_body       TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    -- Attempts started: a claim counts one, and names it, so a late report of an attempt whose
    -- lease was taken over is recognised.
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    -- Set while an attempt is under way: nobody else claims the message before it has passed.
    leased_until    TEXT,
    sent_at         TEXT
);

-- What a dispatcher looks for: the pending messages, by when they are due.
CREATE INDEX outbox_due ON outbox (next_attempt_at, seq) WHERE state = 'pending';
