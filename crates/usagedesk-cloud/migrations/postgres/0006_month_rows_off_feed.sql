-- PostgreSQL schema version 6: a month row's position on the change feed is kept on the row
-- alone (`month_usage.seq`, drawn from `feed_seq` like every entry's); `feed` holds the other
-- kinds. Feed pages, their summary and the count read month rows by `month_usage_seq` and the
-- rest by `feed`'s key, merged by position. A first load at 100k accounts wrote 2M month
-- entries into `feed` besides the rows themselves (1.0 s of copying, 1.6 s of building the
-- feed's two keys, 200 MB), and every later month change wrote both.
-- Rows whose position differed from their entry's take the entry's (the entry was what pages
-- served); a row never put on the feed (none should be) takes a new position, so it is sent.
-- Never edit a released migration: add migrations/postgres/000N_*.sql and list it in
-- src/storage/postgres/migrate.rs.

UPDATE month_usage m SET seq = f.seq
FROM feed f
WHERE f.kind = 'month' AND f.account_id = m.account_id AND f.key = m.month
  AND m.seq IS DISTINCT FROM f.seq;
UPDATE month_usage SET seq = nextval('feed_seq') WHERE seq IS NULL;
DELETE FROM feed WHERE kind = 'month';
ALTER TABLE month_usage ALTER COLUMN seq SET NOT NULL;
