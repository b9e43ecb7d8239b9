-- UsageDesk local cache, schema version 6: entitlements (docs/entitlements.md). Each plan's
-- seat metric, as the change feed sends the catalog.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.

ALTER TABLE plans ADD COLUMN seat_metric TEXT NOT NULL DEFAULT 'users_registered'
    CHECK (seat_metric IN ('users_registered', 'users_with_token', 'users_with_activity'));

-- What the entitlement queries read besides month_usage and plans, derived from licenses
-- and the tree (src/entitlements.rs rebuilds all three when ent_dirty has its row).

-- A license's months in force: created on or before the month's last day
-- (first_month = the month of created_at) and not expired before the month's last day
-- (last_month: the last such month; NULL: never expires).
CREATE TABLE ent_licenses (
    license_id  TEXT PRIMARY KEY NOT NULL,
    account_k   INTEGER NOT NULL,           -- the holder (accounts.k)
    first_month TEXT NOT NULL,              -- YYYY-MM
    last_month  TEXT,                       -- YYYY-MM
    expires_at  TEXT                        -- RFC 3339
) WITHOUT ROWID;
CREATE INDEX ent_licenses_by_account ON ent_licenses (account_k, first_month, last_month);

-- Seats per license and plan.
CREATE TABLE ent_seats (
    license_id TEXT NOT NULL,
    plan       TEXT NOT NULL,
    seats      INTEGER NOT NULL,
    PRIMARY KEY (license_id, plan)
) WITHOUT ROWID;

-- Every account with each of its ancestors-or-self that holds a license (any, in force or
-- not), by distance: the nearest one in force in a month is the account's license holder.
CREATE TABLE ent_cover (
    account_k INTEGER NOT NULL,
    depth     INTEGER NOT NULL,              -- 0: the account holds a license itself
    holder_k  INTEGER NOT NULL,
    PRIMARY KEY (account_k, depth)
) WITHOUT ROWID;
CREATE INDEX ent_cover_by_holder ON ent_cover (holder_k, account_k);

-- One row while the three tables above lag behind licenses or the tree.
CREATE TABLE ent_dirty (one INTEGER PRIMARY KEY CHECK (one = 1));
INSERT INTO ent_dirty VALUES (1);
