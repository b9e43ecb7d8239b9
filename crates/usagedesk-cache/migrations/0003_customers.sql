-- UsageDesk local cache, schema version 3: customer reporting (licenses, instance reports,
-- instance events, install attempts), as the change feed sends them.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

-- Composite values (features, seats, cluster details, steps) are kept as the feed's JSON.
CREATE TABLE licenses (
    id         TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    body       TEXT NOT NULL                -- the License, JSON
) WITHOUT ROWID;
CREATE INDEX licenses_by_account ON licenses (account_id);

CREATE TABLE instance_reports (
    instance_id TEXT PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL               -- the InstanceReport, JSON
) WITHOUT ROWID;

CREATE TABLE instance_events (
    instance_id TEXT NOT NULL,
    received_at TEXT NOT NULL,              -- RFC 3339, sorts as text
    field       TEXT NOT NULL,
    previous    TEXT,
    new         TEXT NOT NULL,
    PRIMARY KEY (instance_id, received_at, field)
) WITHOUT ROWID;

CREATE TABLE install_attempts (
    id         TEXT PRIMARY KEY NOT NULL,
    license_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    body       TEXT NOT NULL                -- the InstallAttempt, JSON
) WITHOUT ROWID;
CREATE INDEX install_attempts_by_license ON install_attempts (license_id, started_at);
