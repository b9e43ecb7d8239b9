-- PostgreSQL schema version 4: each month row keeps its position on the change feed, the
-- `seq` of its `feed` entry, set by the statement that moves it there. A feed page's month rows
-- are then one range scan of `month_usage_seq` instead of one primary-key lookup per row.
-- NULL only for a row never put on the feed (none is: every writer of month rows touches it).
-- Never edit a released migration: add migrations/postgres/000N_*.sql and list it in
-- src/storage/postgres/migrate.rs.

ALTER TABLE month_usage ADD COLUMN seq BIGINT;
UPDATE month_usage m SET seq = f.seq
FROM feed f
WHERE f.kind = 'month' AND f.account_id = m.account_id AND f.key = m.month;
CREATE UNIQUE INDEX month_usage_seq ON month_usage (seq);
