-- UsageDesk local cache, schema version 1.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

-- The plan catalog, in catalog order (export columns follow it).
CREATE TABLE plans (
    position INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    name     TEXT NOT NULL
);

-- The tenant tree as last synced. parent_id has no foreign key: a child may arrive before
-- its parent, and the scope root's parent lies outside the token's view.
CREATE TABLE accounts (
    k          INTEGER PRIMARY KEY AUTOINCREMENT, -- local key, never reused; tables below use it
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    name_fold  TEXT NOT NULL,               -- lower-cased name, for case-insensitive search
    parent_id  TEXT,
    status     TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at TEXT NOT NULL,               -- YYYY-MM-DD
    is_root    INTEGER NOT NULL DEFAULT 0   -- 1: parent_id is NULL or names no cached account
);
CREATE INDEX accounts_by_parent ON accounts (parent_id, name, id);
CREATE INDEX accounts_roots ON accounts (name, id) WHERE is_root = 1;

-- Month-end usage: one row per account and month.
CREATE TABLE month_usage (
    account_k           INTEGER NOT NULL REFERENCES accounts (k) ON DELETE CASCADE,
    month               TEXT NOT NULL,      -- YYYY-MM
    plan                TEXT NOT NULL,
    snapshot_date       TEXT NOT NULL,      -- YYYY-MM-DD
    users_registered    INTEGER NOT NULL,
    users_with_token    INTEGER NOT NULL,
    users_with_activity INTEGER NOT NULL,
    PRIMARY KEY (account_k, month)
) WITHOUT ROWID;

-- Month-end rows received by apply_page and not yet folded into month_usage: one compact
-- blob per applied page (format in src/stage.rs), in arrival order, so applying a page
-- writes one row however many it holds. The rebuild folds them in key order (month_usage is
-- written front to back); rows whose account has not arrived yet are staged again.
CREATE TABLE staged_pages (
    seq  INTEGER PRIMARY KEY,
    rows INTEGER NOT NULL,
    data BLOB NOT NULL
);

-- Months present in month_usage, as of the last rebuild.
CREATE TABLE months (
    month TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

-- Subtree aggregates (accounts by their local key k) of every account that has child accounts (a leaf's subtree is itself:
-- its own month_usage row is its aggregate). Availability counts and per-metric sums over
-- all plans (for sorting); a row exists for every such account and every month in months.
CREATE TABLE subtree_month (
    month               TEXT NOT NULL,
    account_k           INTEGER NOT NULL,
    ok                  INTEGER NOT NULL,
    not_available       INTEGER NOT NULL,
    non_existent        INTEGER NOT NULL,
    users_registered    INTEGER NOT NULL,
    users_with_token    INTEGER NOT NULL,
    users_with_activity INTEGER NOT NULL,
    PRIMARY KEY (month, account_k)
) WITHOUT ROWID;

-- Per-plan subtree sums of the same accounts; only plans with a non-zero sum (absent = 0).
CREATE TABLE subtree_plan (
    month               TEXT NOT NULL,
    account_k           INTEGER NOT NULL,
    plan                TEXT NOT NULL,
    users_registered    INTEGER NOT NULL,
    users_with_token    INTEGER NOT NULL,
    users_with_activity INTEGER NOT NULL,
    PRIMARY KEY (month, account_k, plan)
) WITHOUT ROWID;

-- Months whose aggregates must be rebuilt; '*' means every month (the tree changed).
CREATE TABLE dirty_months (
    month TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

-- Sync bookkeeping: cursor, server_url, last_synced_at, scope_account_id, ...
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sync_log (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
    rows        INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
