-- UsageDesk local cache: used seats and overage materialized (docs/entitlements.md).
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.
-- Depends only on migrations 0001-0008.

-- Per license holder, month and plan: the plan's seat metric summed over the accounts the
-- holder covers that month (those whose nearest ancestor-or-self holding a license in force
-- that month is the holder), for every month with month-end rows in which the holder has a
-- license in force. Every license of the holder in force that month uses these seats.
-- Rebuilt whole when the entitlement tables are (licenses, tree), and per month when the
-- month-end aggregates of that month are (src/entitlements.rs, `refresh_used`).
CREATE TABLE ent_used (
    holder_k INTEGER NOT NULL,          -- accounts.k
    month    TEXT NOT NULL,             -- YYYY-MM
    plan     TEXT NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (holder_k, month, plan)
) WITHOUT ROWID;

-- The (license, plan) pairs of each month whose used seats exceed the seats (a plan without
-- seats: any use), from ent_used: the over-seats list of a month (Attention, licenses over
-- their seats) is a range of the index below. Complete for every month: a month without
-- month-end rows has no use, so no pair over its seats.
CREATE TABLE ent_over (
    month      TEXT NOT NULL,           -- YYYY-MM
    license_id TEXT NOT NULL,
    plan       TEXT NOT NULL,
    account_k  INTEGER NOT NULL,        -- the holder
    seats      INTEGER,                 -- NULL: none for the plan
    used       INTEGER NOT NULL,
    overage    INTEGER NOT NULL,        -- used - coalesce(seats, 0), > 0
    PRIMARY KEY (month, license_id, plan)
) WITHOUT ROWID;
CREATE INDEX ent_over_by_overage ON ent_over (month, overage DESC, license_id, plan);

-- A cache synced before this table existed fills it once on open.
INSERT OR IGNORE INTO ent_dirty VALUES (1);
