-- UsageDesk local cache: the whole customer index marked at once.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/migrate.rs.
-- Depends only on migrations 0001-0011.

-- A row: every instance and customer is to be indexed again, whatever the marks of
-- `customer_dirty_instances` and `customer_dirty_accounts` say. Clearing the cache (before a
-- full sync) sets it, and the pages of that sync then mark nothing one row at a time (at
-- 100,000 accounts, 350,000 marks and half a second).
CREATE TABLE IF NOT EXISTS customer_dirty_all (one INTEGER PRIMARY KEY CHECK (one = 1));
