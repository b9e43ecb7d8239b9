-- UsageDesk local cache, schema version 2: instances and the air-gapped exchange.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

-- Instances of the product at customers, as last synced (air-gapped ones report by file).
CREATE TABLE instances (
    id              TEXT PRIMARY KEY NOT NULL,
    license_id      TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    airgapped       INTEGER NOT NULL,
    public_key      TEXT,                  -- the cloud's pinned key, once known
    high_water_mark INTEGER NOT NULL,      -- highest record seq the cloud holds
    last_report_at  TEXT                   -- RFC 3339
) WITHOUT ROWID;
CREATE INDEX instances_by_account ON instances (account_id);

-- The exchange ledger: every sync key issued and every usage data file imported here.
CREATE TABLE airgap_ledger (
    id              INTEGER PRIMARY KEY,
    instance_id     TEXT NOT NULL,
    event           TEXT NOT NULL CHECK (event IN ('sync_key_issued', 'usage_imported')),
    at              TEXT NOT NULL,         -- RFC 3339
    by              TEXT NOT NULL,         -- who issued or imported (the certificate subject)
    nonce           TEXT NOT NULL,         -- of the sync key (issued or answered)
    file_sha256     TEXT NOT NULL,         -- the sync key's, or the usage data file's
    expires_at      TEXT,                  -- sync keys only
    high_water_mark INTEGER NOT NULL,      -- named by the sync key / accepted by the import
    records         INTEGER NOT NULL DEFAULT 0,
    new_records     INTEGER NOT NULL DEFAULT 0,
    already_present INTEGER NOT NULL DEFAULT 0,
    changed         INTEGER NOT NULL DEFAULT 0,
    document        TEXT NOT NULL,         -- the sync key, or the verification key issued
    upload          TEXT CHECK (upload IN ('pending', 'uploaded', 'rejected')),  -- imports only
    upload_error    TEXT                   -- why the cloud refused it (upload = 'rejected')
);
CREATE INDEX airgap_ledger_by_instance ON airgap_ledger (instance_id, id);
CREATE UNIQUE INDEX airgap_sync_keys ON airgap_ledger (nonce) WHERE event = 'sync_key_issued';
CREATE UNIQUE INDEX airgap_imports ON airgap_ledger (file_sha256) WHERE event = 'usage_imported';
-- One import per sync key: two files answering one nonce cannot both commit.
CREATE UNIQUE INDEX airgap_answers ON airgap_ledger (nonce) WHERE event = 'usage_imported';

-- Imported usage data files waiting to be pushed to the cloud (on the next sync).
CREATE TABLE airgap_outbox (
    ledger_id  INTEGER PRIMARY KEY NOT NULL REFERENCES airgap_ledger (id) ON DELETE CASCADE,
    sync_key   TEXT NOT NULL,
    usage_data TEXT NOT NULL
);

-- Daily records imported from usage data files, by key: merging overlapping files and
-- telling new, already present and changed records apart.
CREATE TABLE airgap_records (
    instance_id         TEXT NOT NULL,
    account_id          TEXT NOT NULL,
    date                TEXT NOT NULL,     -- YYYY-MM-DD
    seq                 INTEGER NOT NULL,
    plan                TEXT NOT NULL,
    users_registered    INTEGER NOT NULL,
    users_with_token    INTEGER NOT NULL,
    users_with_activity INTEGER NOT NULL,
    PRIMARY KEY (instance_id, account_id, date)
) WITHOUT ROWID;
CREATE INDEX airgap_records_by_account ON airgap_records (account_id, date);

-- Month-end rows written from imported files that the cloud has not accepted yet.
CREATE TABLE pending_month_usage (
    account_id TEXT NOT NULL,
    month      TEXT NOT NULL,              -- YYYY-MM
    ledger_id  INTEGER NOT NULL REFERENCES airgap_ledger (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, month)
) WITHOUT ROWID;
