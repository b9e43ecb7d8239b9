-- UsageDesk local cache: ent_used keeps the sums of shared license holders only
-- (docs/entitlements.md).
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.
-- Depends only on migrations 0001-0009.

-- Whether the license's holder covers accounts other than itself (ent_cover): set whenever the
-- entitlement tables are rebuilt (src/entitlements.rs, REBUILD).
ALTER TABLE ent_licenses ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
UPDATE ent_licenses SET shared = 1
WHERE account_k IN (SELECT holder_k FROM ent_cover WHERE account_k <> holder_k);

-- A holder that covers only itself uses its own month-end row, which the entitlement queries
-- read from month_usage; ent_used keeps the sums of the holders that cover other accounts (at
-- 100,000 accounts 30k rows of 1.9M). The rows of the others go.
DELETE FROM ent_used WHERE holder_k NOT IN (
    SELECT holder_k FROM ent_cover WHERE account_k <> holder_k);
