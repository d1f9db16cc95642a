-- Schema version 3: the API's bearer tokens, kept as their SHA-256, never as the token.
--
-- Times are the callers' clock, written fixed-width like the outbox's, so `last_used_at` can
-- be compared as text. Tokens are never deleted: a revoked token stays, with when it was.

CREATE TABLE tokens (
    -- Insertion order: listings are oldest first.
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The token's public name, part of its text.
    id           TEXT    NOT NULL UNIQUE,
    -- The SHA-256 of the whole token as 64 lowercase hex digits; anything else (a plain token
    -- stored by mistake) is refused.
    sha256       TEXT    NOT NULL UNIQUE
                         CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    -- The holder's normalized address.
    email        TEXT    NOT NULL,
    admin        INTEGER NOT NULL CHECK (admin IN (0, 1)),
    created_at   TEXT    NOT NULL,
    -- Set when the token is first presented: it reached its holder ("confirmed").
    last_used_at TEXT,
    revoked_at   TEXT
);

-- Listing a person's tokens and asking whether they hold a confirmed one.
CREATE INDEX tokens_email ON tokens (email, seq);
