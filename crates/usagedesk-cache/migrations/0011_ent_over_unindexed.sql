-- UsageDesk local cache: ent_over without its index by overage.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.
-- Depends only on migrations 0001-0010.

-- No query read through it: the list of licenses over their seats and Attention's over-seats
-- kind select a month by the primary key and sort that month's rows (about 25,000 at 100,000
-- accounts). Kept up to date it cost a full sync half a second (614k rows, 19 MB).
DROP INDEX IF EXISTS ent_over_by_overage;
