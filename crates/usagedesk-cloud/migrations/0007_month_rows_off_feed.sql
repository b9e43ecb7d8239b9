-- Cloud schema version 7: a month row's position on the change feed is kept on the row
-- (`month_usage.seq`, drawn from the feed's AUTOINCREMENT counter in `sqlite_sequence`, like
-- every entry's); `feed` holds the other kinds. Feed pages and their count read month rows by
-- `month_usage_seq` and the rest by `feed`'s key, merged by position (as PostgreSQL's schema
-- 6 does). A first load at 100k accounts wrote 2M month entries into `feed` besides the rows
-- themselves (1.4 s, the feed and its key index 212 MB of the 724 MB file), and every later
-- month change wrote both.
-- Every row takes its entry's position (the entry was what pages served); a row never put
-- on the feed (none should be) takes a new position after every other, so it is sent.
-- Never edit a released migration: add migrations/000N_*.sql and list it in src/storage/sqlite.rs.

ALTER TABLE month_usage ADD COLUMN seq INTEGER;

UPDATE month_usage SET seq = (
    SELECT f.seq FROM feed f
    WHERE f.kind = 'month' AND f.account_id = month_usage.account_id
      AND f.key = month_usage.month);

-- The counter exists once anything was put on the feed; a feed never written has none.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'feed', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'feed');

UPDATE month_usage AS m SET seq = n.base + n.n
FROM (SELECT account_id, month,
             row_number() OVER (ORDER BY account_id, month) AS n,
             (SELECT seq FROM sqlite_sequence WHERE name = 'feed') AS base
      FROM month_usage WHERE seq IS NULL) AS n
WHERE m.account_id = n.account_id AND m.month = n.month;

UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM month_usage)
WHERE name = 'feed' AND seq < (SELECT MAX(seq) FROM month_usage);

DELETE FROM feed WHERE kind = 'month';

CREATE UNIQUE INDEX month_usage_seq ON month_usage (seq);
