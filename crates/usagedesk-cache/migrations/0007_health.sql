-- UsageDesk local cache, schema version 7: account health and the renewal calendar
-- (docs/health.md). Both tables are derived: usagedesk-health recomputes them as of one UTC
-- day (`health_state`) whenever the synced data changed (`health_dirty`) or the day asked for
-- is another, so a page of the list is one indexed read, not 95k scores.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

-- One row per customer (an account holding a license): the score, each factor's score
-- (NULL: no data, the factor is left out) for sorting, and the factors as JSON for display.
CREATE TABLE health (
    account_id TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    score      INTEGER NOT NULL,
    f_usage_trend         REAL,
    f_utilization         REAL,
    f_instance_status     REAL,
    f_version_lag         REAL,
    f_license_expiry      REAL,
    f_reporting_freshness REAL,
    factors    TEXT NOT NULL             -- JSON array of the FactorScore
) WITHOUT ROWID;
CREATE INDEX health_by_score ON health (score, name, account_id);
CREATE INDEX health_by_usage_trend ON health (f_usage_trend, name, account_id);
CREATE INDEX health_by_utilization ON health (f_utilization, name, account_id);
CREATE INDEX health_by_instance_status ON health (f_instance_status, name, account_id);
CREATE INDEX health_by_version_lag ON health (f_version_lag, name, account_id);
CREATE INDEX health_by_license_expiry ON health (f_license_expiry, name, account_id);
CREATE INDEX health_by_reporting_freshness ON health (f_reporting_freshness, name, account_id);

-- One row per license that ends: its utilization in the last completed month (summed over
-- its plans) and its forecast at expiry (summed over the plans that have one).
CREATE TABLE health_renewals (
    license_id    TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL,
    license_type  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,          -- RFC 3339, UTC: sorts as text
    seats         INTEGER NOT NULL,
    used          INTEGER NOT NULL,
    forecast      REAL,
    forecast_over INTEGER NOT NULL,       -- a plan's forecast exceeds its seats
    plans         TEXT NOT NULL           -- JSON array of the plans' entitlements
) WITHOUT ROWID;
CREATE INDEX health_renewals_by_expiry ON health_renewals (expires_at, license_id);

-- The UTC day both tables were computed for, and a row while they lag behind the data.
CREATE TABLE health_state (one INTEGER PRIMARY KEY CHECK (one = 1), as_of TEXT NOT NULL);
CREATE TABLE health_dirty (one INTEGER PRIMARY KEY CHECK (one = 1));
INSERT INTO health_dirty VALUES (1);
