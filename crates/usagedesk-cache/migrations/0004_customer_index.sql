-- UsageDesk local cache, schema version 4: what the customer list and the customer page page
-- through, kept up to date in the same transaction as the changes they come from (each feed
-- page, each local import). Times are nanoseconds since 1970 (saturating past 2262), so that
-- comparing them in SQL is exact.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

-- One row per instance: who owns it (the account holding its license, else its own account)
-- and the facts that do not depend on the time of asking.
CREATE TABLE customer_instances (
    instance_id   TEXT PRIMARY KEY NOT NULL,
    owner         TEXT NOT NULL,
    license_id    TEXT NOT NULL,
    has_report    INTEGER NOT NULL,         -- 0: never checked in
    ready         INTEGER NOT NULL,         -- its last status is Ready
    severity      INTEGER,                  -- of its last status: Ready 0 .. Missing 4
    last_check_in INTEGER,                  -- ns
    airgapped     INTEGER NOT NULL,
    verified_at   INTEGER                   -- ns: latest usage file (imported here or via the cloud)
) WITHOUT ROWID;
-- The customer page: its instances, active first (fresh check-in), then by id.
CREATE INDEX customer_instances_by_owner ON customer_instances (owner, instance_id);

-- One row per customer (an account holding at least one license that is in the cache).
CREATE TABLE customers (
    account_id   TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    search       TEXT NOT NULL,             -- lower-cased name, id and license ids, U+001F apart
    license_types INTEGER NOT NULL,         -- bit per type: prod 1, trial 2, dev 4, community 8
    licenses     INTEGER NOT NULL,
    expiry_min   INTEGER,                   -- ns, over the licenses that end
    expiry_max   INTEGER,
    no_expiry    INTEGER NOT NULL,          -- licenses that never end
    expiries     TEXT NOT NULL,             -- JSON array of every end, ns
    instances    INTEGER NOT NULL,
    not_ready    INTEGER NOT NULL,
    airgapped    INTEGER NOT NULL,
    airgap_never INTEGER NOT NULL,          -- air-gapped instances with no usage file ever
    airgap_oldest INTEGER                   -- ns: the oldest latest usage file among the others
) WITHOUT ROWID;
CREATE INDEX customers_by_name ON customers (name, account_id);
CREATE INDEX customers_by_attention ON customers (not_ready DESC, name, account_id);
CREATE INDEX customers_by_expiry ON customers (expiry_min, name, account_id);

-- Instances by license: who changes owner when a license arrives or goes.
CREATE INDEX instances_by_license ON instances (license_id);

-- What changed since the last refresh (emptied in the same transaction).
CREATE TABLE customer_dirty_instances (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE customer_dirty_accounts (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;

-- Caches synced before this version: index everything at the first refresh.
INSERT INTO customer_dirty_instances SELECT id FROM instances;
INSERT INTO customer_dirty_accounts SELECT DISTINCT account_id FROM licenses;
