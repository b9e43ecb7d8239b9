-- UsageDesk local cache: the air-gapped outbox keeps every imported file until the cloud
-- accepts it, bound to the cloud and account it was queued for; a per-instance summary of
-- the ledger, so the Air-gapped view pages, filters and sorts in SQL.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

-- Where a queued file goes (the cloud URL and the token's account when it was imported),
-- how its uploads went, and, once the cloud refused it for good, the HTTP status. A refused
-- file stays here until it is retried (back to queued) or discarded by hand.
ALTER TABLE airgap_outbox ADD COLUMN cloud_url TEXT NOT NULL DEFAULT '';
ALTER TABLE airgap_outbox ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
ALTER TABLE airgap_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE airgap_outbox ADD COLUMN last_attempt_at TEXT;   -- RFC 3339
ALTER TABLE airgap_outbox ADD COLUMN next_attempt_at TEXT;   -- after a transient failure
ALTER TABLE airgap_outbox ADD COLUMN last_error TEXT;        -- the last failure, as said
ALTER TABLE airgap_outbox ADD COLUMN refused_status INTEGER; -- set: refused for good
-- Files queued before this version were bound to the cache's source of the time.
UPDATE airgap_outbox SET
    cloud_url = coalesce((SELECT value FROM sync_state WHERE key = 'server_url'), ''),
    account_id = coalesce((SELECT value FROM sync_state WHERE key = 'scope_account_id'), '');
CREATE INDEX airgap_outbox_by_source ON airgap_outbox (cloud_url, account_id, ledger_id);

-- A refused import discarded by hand: its file is gone from the outbox, the ledger says so.
ALTER TABLE airgap_ledger ADD COLUMN discarded_at TEXT;
ALTER TABLE airgap_ledger ADD COLUMN discarded_by TEXT;

-- Per instance, what the ledger and outbox say; written with them, in their transactions.
-- Survives clearing the cache, like the ledger it summarises.
CREATE TABLE airgap_summary (
    instance_id      TEXT PRIMARY KEY NOT NULL,
    last_import_at   TEXT,                 -- latest file imported here
    last_sync_key_at TEXT,                 -- latest sync key issued here
    imported_mark    INTEGER,              -- highest mark of an import not refused
    pending_uploads  INTEGER NOT NULL DEFAULT 0,  -- queued (or retrying) files
    refused_uploads  INTEGER NOT NULL DEFAULT 0   -- files refused for good, kept
) WITHOUT ROWID;
INSERT INTO airgap_summary (instance_id, last_import_at, last_sync_key_at, imported_mark,
                            pending_uploads, refused_uploads)
SELECT l.instance_id,
       max(CASE WHEN l.event = 'usage_imported' THEN l.at END),
       max(CASE WHEN l.event = 'sync_key_issued' THEN l.at END),
       max(CASE WHEN l.event = 'usage_imported' AND l.upload IS NOT 'rejected'
                THEN l.high_water_mark END),
       (SELECT count(*) FROM airgap_outbox o JOIN airgap_ledger x ON x.id = o.ledger_id
         WHERE x.instance_id = l.instance_id AND o.refused_status IS NULL),
       0
FROM airgap_ledger l GROUP BY l.instance_id;

-- Bumped by every write of the ledger or the outbox: with the sync cursor it tells a
-- reader paging through the instances or the ledger that the data changed under it.
CREATE TABLE airgap_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO airgap_generation VALUES (1, 0);

CREATE INDEX instances_by_kind ON instances (airgapped, id);
