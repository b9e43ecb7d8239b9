-- UsageDesk agent state, schema version 1.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/db.rs.

-- This instance (one row): who it is, whom it trusts, and its two marks.
CREATE TABLE instance (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    instance_id    TEXT NOT NULL,
    license_id     TEXT NOT NULL,
    vendor_key     TEXT NOT NULL,          -- the vendor root public key, ed25519:...
    public_key     TEXT NOT NULL,          -- this instance's key (the secret is in instance.key)
    created_at     TEXT NOT NULL,          -- RFC 3339
    last_seq       INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),       -- the last seq given out
    confirmed_mark INTEGER NOT NULL DEFAULT 0 CHECK (confirmed_mark >= 0), -- the vendor holds up to it
    confirmed_at   TEXT                    -- when the mark last moved
);

-- The records the vendor has not confirmed: what exports carry. At most one per account and
-- day (a changed day gets a new seq and its older version leaves the queue). Rows with
-- seq <= instance.confirmed_mark are deleted.
CREATE TABLE records (
    seq                 INTEGER PRIMARY KEY CHECK (seq > 0),
    account_id          TEXT NOT NULL,
    date                TEXT NOT NULL,     -- YYYY-MM-DD
    plan                TEXT NOT NULL,
    users_registered    INTEGER NOT NULL CHECK (users_registered >= 0),
    users_with_token    INTEGER NOT NULL CHECK (users_with_token >= 0),
    users_with_activity INTEGER NOT NULL CHECK (users_with_activity >= 0),
    UNIQUE (account_id, date)
);

-- Every account and day ever recorded: the seq and a SHA-256 of its latest values (plan and
-- counts). Kept after the values are dropped, so recording the same values again is a no-op.
CREATE TABLE recorded (
    account_id TEXT NOT NULL,
    date       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    digest     BLOB NOT NULL,
    PRIMARY KEY (account_id, date)
) WITHOUT ROWID;

-- Every usage data file written (by file or online), with what a verification key must
-- confirm. The file text is kept until it is confirmed (and for the latest few only).
CREATE TABLE exports (
    id                INTEGER PRIMARY KEY,
    via               TEXT NOT NULL CHECK (via IN ('file', 'online')),
    nonce             TEXT NOT NULL,       -- of the sync key answered
    sync_key_sha256   TEXT NOT NULL,
    issued_by         TEXT NOT NULL,       -- who issued the sync key
    above_mark        INTEGER NOT NULL,    -- the sync key's high-water mark
    usage_file_sha256 TEXT NOT NULL UNIQUE,
    highest_seq_sent  INTEGER NOT NULL,    -- above_mark when no record was sent
    record_count      INTEGER NOT NULL,
    remaining_records INTEGER NOT NULL,
    created_at        TEXT NOT NULL,       -- RFC 3339
    sync_key          TEXT NOT NULL,
    usage_file        TEXT,                -- NULL once confirmed or superseded
    confirmed_at      TEXT,                -- first confirmation
    accepted_mark     INTEGER              -- what its verification key accepted
);
CREATE INDEX exports_by_nonce ON exports (nonce);
