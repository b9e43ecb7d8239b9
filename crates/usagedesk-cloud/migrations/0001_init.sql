-- Cloud reporting service, schema version 1. Never edit once landed: add 0002_….sql instead.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE plans (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    parent_id  TEXT REFERENCES accounts(id) DEFERRABLE INITIALLY DEFERRED,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX accounts_parent ON accounts(parent_id);

-- Every (ancestor, descendant) pair, each account its own ancestor at depth 0.
CREATE TABLE closure (
    ancestor   TEXT NOT NULL,
    descendant TEXT NOT NULL,
    depth      INTEGER NOT NULL,
    PRIMARY KEY (ancestor, descendant)
) WITHOUT ROWID;
CREATE INDEX closure_descendant ON closure(descendant);

CREATE TABLE daily_usage (
    account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    date                TEXT NOT NULL,
    plan                TEXT NOT NULL REFERENCES plans(id),
    users_registered    INTEGER NOT NULL CHECK (users_registered >= 0),
    users_with_token    INTEGER NOT NULL CHECK (users_with_token >= 0),
    users_with_activity INTEGER NOT NULL CHECK (users_with_activity >= 0),
    PRIMARY KEY (account_id, date)
) WITHOUT ROWID;

-- Derived: the last daily snapshot of each (account, month).
CREATE TABLE month_usage (
    account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    month               TEXT NOT NULL,
    plan                TEXT NOT NULL,
    snapshot_date       TEXT NOT NULL,
    users_registered    INTEGER NOT NULL,
    users_with_token    INTEGER NOT NULL,
    users_with_activity INTEGER NOT NULL,
    PRIMARY KEY (account_id, month)
) WITHOUT ROWID;

-- The change feed: one row per entity, moved to a new seq whenever the entity changes.
-- kind: 'account' (month = ''), 'month' (month = 'YYYY-MM'), 'tombstone' (month = '').
CREATE TABLE feed (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    account_id TEXT NOT NULL,
    month      TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, kind, month)
);

-- Which scopes saw a tombstoned account (its ancestors when it left).
CREATE TABLE tombstone_scope (
    ancestor TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (ancestor, seq)
) WITHOUT ROWID;

CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('manager', 'ingest')),
    created_at TEXT NOT NULL
) WITHOUT ROWID;
