-- Cloud reporting service, schema version 2: instances and the air-gapped exchange
-- (docs/airgap-format.md). Never edit once landed: add 0003_….sql instead.

-- The feed's third key column now names more than months:
-- kind 'account' and 'tombstone': key = ''; 'month': key = 'YYYY-MM';
-- 'instance': key = the instance id (account_id is the instance's account, for scoping).
ALTER TABLE feed RENAME COLUMN month TO key;

-- The vendor root key (role 'vendor_root', created with the database, never sent anywhere)
-- and the cloud's own delegated key (role 'cloud', with its certificate as compact JSON),
-- as `ed25519-secret:` text.
CREATE TABLE signing_keys (
    role        TEXT PRIMARY KEY CHECK (role IN ('vendor_root', 'cloud')),
    secret      TEXT NOT NULL,
    certificate TEXT,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Instances of the vendor's product at customers (instances.csv), with what the exchange
-- learnt: the pinned instance key, the high-water mark, the last accepted report.
CREATE TABLE instances (
    id              TEXT PRIMARY KEY,
    license_id      TEXT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    airgapped       INTEGER NOT NULL CHECK (airgapped IN (0, 1)),
    public_key      TEXT,
    high_water_mark INTEGER NOT NULL DEFAULT 0 CHECK (high_water_mark >= 0),
    last_report_at  TEXT
) WITHOUT ROWID;
CREATE INDEX instances_account ON instances(account_id);

-- Delegation certificates given to managers' keys (an audit trail).
CREATE TABLE delegations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    public_key  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    token_name  TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- Sync keys the cloud issued itself (the agent's online mode), by nonce.
CREATE TABLE online_sync_keys (
    nonce       TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    sync_key    TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX online_sync_keys_instance ON online_sync_keys(instance_id, expires_at);

-- The instance record that last wrote each daily row (rows from usage data files only), so a
-- file that arrives late cannot overwrite a day with an older record of the same instance.
CREATE TABLE daily_sources (
    account_id  TEXT NOT NULL,
    date        TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (account_id, date)
) WITHOUT ROWID;

-- Every accepted usage data file, by its SHA-256: makes imports idempotent, and one nonce
-- answerable by one file only.
CREATE TABLE usage_files (
    sha256           TEXT PRIMARY KEY,
    nonce            TEXT NOT NULL UNIQUE,
    instance_id      TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    via              TEXT NOT NULL CHECK (via IN ('import', 'online')),
    accepted_by      TEXT NOT NULL,
    received         INTEGER NOT NULL,
    new              INTEGER NOT NULL,
    already_present  INTEGER NOT NULL,
    changed          INTEGER NOT NULL,
    high_water_mark  INTEGER NOT NULL,
    verification_key TEXT NOT NULL,
    accepted_at      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX usage_files_instance ON usage_files(instance_id, accepted_at);
